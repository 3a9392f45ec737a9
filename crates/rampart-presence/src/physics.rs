//! The physical bound: a measured round trip can be lengthened by anything but shortened by
//! nothing, so a minimum RTT that is too small for the claimed place disproves the claim.
//!
//! Two bounds are checked per landmark:
//!
//! * **vacuum** (`impossible`): distance ≤ `c/2 · (rtt + tolerance)` with `c` the vacuum speed of
//!   light (149.9 km per ms of RTT). The distance is first shrunk by the sphere-vs-ellipsoid error
//!   (0.6 %) and by the accuracy radii of the claim and of the landmark. To rule out a single
//!   corrupted sample, the verdict needs at least `min_samples` (default 2) samples below the bound.
//! * **fibre** (`suspicious`): the same with the speed of light in fibre (≈ 102 km per ms of RTT).
//!   Only non-fibre paths (microwave, satellite laser links) can beat it.

use crate::geo::{KM_PER_RTT_MS_FIBRE, KM_PER_RTT_MS_VACUUM, SPHERE_ERROR};

/// Settings of the physical checks.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PhysicsConfig {
    /// Added to every measured RTT before it bounds a distance: covers timers that truncate to
    /// whole milliseconds. Default 1 ms.
    pub rtt_tolerance_ms: f64,
    /// Samples that must each be below the vacuum bound for `impossible` (1–3; the analyzer
    /// keeps the three smallest samples per landmark). Default 2.
    pub min_samples: u32,
}

impl Default for PhysicsConfig {
    fn default() -> Self {
        PhysicsConfig {
            rtt_tolerance_ms: 1.0,
            min_samples: 2,
        }
    }
}

/// What one landmark's RTTs say about one claimed point.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BoundCheck {
    /// Great-circle distance claim → landmark, km.
    pub distance_km: f64,
    /// Distance used for the impossibility test (shrunk by the error margins), km.
    pub conservative_distance_km: f64,
    /// Smallest RTT sample, ms.
    pub min_rtt_ms: f64,
    /// Number of samples.
    pub samples: u32,
    /// Largest distance the smallest RTT allows at the vacuum speed of light, km.
    pub max_km_vacuum: f64,
    /// Largest distance the smallest RTT allows in fibre, km.
    pub max_km_fibre: f64,
    /// Smallest RTT physically possible from the claim, ms (vacuum speed of light).
    pub min_possible_rtt_ms: f64,
    /// At least `min_samples` samples are below the vacuum bound: the claim is impossible.
    pub impossible: bool,
    /// Fewer than `min_samples` samples exist and the smallest is below the vacuum bound.
    pub impossible_single_sample: bool,
    /// The smallest sample is below the fibre bound.
    pub below_fibre: bool,
}

/// Check a claim against one landmark. `sorted_low` holds the smallest samples in ascending
/// order (at least one); `samples` is the total number of samples.
pub fn check(
    distance_km: f64,
    claim_radius_km: f64,
    landmark_radius_km: f64,
    sorted_low: &[f64],
    samples: u32,
    cfg: &PhysicsConfig,
) -> BoundCheck {
    let min_rtt = sorted_low.first().copied().unwrap_or(f64::INFINITY);
    let slack = claim_radius_km + landmark_radius_km;
    let conservative = (distance_km * SPHERE_ERROR - slack).max(0.0);
    let tol = cfg.rtt_tolerance_ms.max(0.0);
    let below_vacuum = |r: f64| conservative > KM_PER_RTT_MS_VACUUM * (r + tol);
    let k = cfg.min_samples.clamp(1, 3) as usize;
    let impossible = sorted_low.len() >= k && sorted_low[..k].iter().all(|&r| below_vacuum(r));
    let impossible_single = !impossible && below_vacuum(min_rtt);
    let below_fibre = (distance_km - slack).max(0.0) > KM_PER_RTT_MS_FIBRE * (min_rtt + tol);
    BoundCheck {
        distance_km,
        conservative_distance_km: conservative,
        min_rtt_ms: min_rtt,
        samples,
        max_km_vacuum: KM_PER_RTT_MS_VACUUM * (min_rtt + tol) + slack,
        max_km_fibre: KM_PER_RTT_MS_FIBRE * (min_rtt + tol) + slack,
        min_possible_rtt_ms: conservative / KM_PER_RTT_MS_VACUUM,
        impossible,
        impossible_single_sample: impossible_single,
        below_fibre,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PhysicsConfig {
        PhysicsConfig::default()
    }

    #[test]
    fn ten_ms_cannot_come_from_two_thousand_km() {
        // 10 ms RTT (+1 ms tolerance) reaches at most 11 × 149.9 = 1,648.9 km even at c in vacuum;
        // 2,000 km × 0.994 = 1,988 km is beyond it.
        let c = check(2_000.0, 0.0, 0.0, &[10.0, 10.2], 2, &cfg());
        assert!(c.impossible, "{c:?}");
        assert!(c.below_fibre);
        assert!((c.max_km_vacuum - 1_648.86).abs() < 0.1);
        // One sample only: not enough for "impossible".
        let c = check(2_000.0, 0.0, 0.0, &[10.0], 1, &cfg());
        assert!(!c.impossible && c.impossible_single_sample);
        // Two samples, only one below the bound.
        let c = check(2_000.0, 0.0, 0.0, &[10.0, 40.0], 2, &cfg());
        assert!(!c.impossible && c.impossible_single_sample);
    }

    #[test]
    fn genuine_rtts_are_never_impossible() {
        // 20 ms from 2,000 km: slower than vacuum light (13.3 ms), and than fibre (19.6 ms).
        let c = check(2_000.0, 0.0, 0.0, &[20.0, 21.0], 2, &cfg());
        assert!(!c.impossible && !c.impossible_single_sample && !c.below_fibre);
        // 15 ms from 2,000 km: possible in vacuum, faster than fibre → only "below fibre".
        let c = check(2_000.0, 0.0, 0.0, &[15.0, 15.0], 2, &cfg());
        assert!(!c.impossible && c.below_fibre);
    }

    #[test]
    fn the_margins_are_applied() {
        // At the edge: 1,000 km needs ≥ 1,000/149.9 = 6.67 ms. With the 0.6 % sphere margin
        // (994 km) and the 1 ms tolerance, an RTT proves impossibility only below
        // 994/149.896 − 1 = 5.631 ms: 5.7 ms does not...
        let c = check(1_000.0, 0.0, 0.0, &[5.7, 5.7], 2, &cfg());
        assert!(!c.impossible, "{c:?}");
        // ...5.6 ms does: (5.6 + 1) × 149.896 = 989.3 < 994.
        let c = check(1_000.0, 0.0, 0.0, &[5.6, 5.6], 2, &cfg());
        assert!(c.impossible);
        // A 50 km claim radius rescues it: 944/149.896 − 1 = 5.30 ms.
        let c = check(1_000.0, 50.0, 0.0, &[5.6, 5.6], 2, &cfg());
        assert!(!c.impossible);
        let c = check(1_000.0, 0.0, 50.0, &[5.6, 5.6], 2, &cfg());
        assert!(!c.impossible);
    }
}
