//! Likelihood-ratio test of a location claim.
//!
//! The constraint region ([`crate::region`]) treats every path inflation between 1× and
//! `gamma_max` as equally plausible, so a claim 1,000–2,000 km off often still fits. This test
//! uses *how* plausible each delay is. For a place `P` and a common access delay `a ≥ 0`, the
//! excess of landmark `i` over the fibre line is
//!
//! ```text
//!   vᵢ = rᵢ − a − dᵢ(P) / K        (K ≈ 102.1 km per ms of round trip in fibre)
//! ```
//!
//! and it is modelled as lognormal *shifted by the measurement noise*: `vᵢ + σᵢ` has median
//! `mᵢ + σᵢ`, with `mᵢ = (dᵢ M + DET) / K` (path inflation `γ − 1` around `M`, a routing detour of
//! about `DET` km), and log-SD
//!
//! ```text
//!   sᵢ = √(S² mᵢ² + (DET/K)² + σᵢ²) / (mᵢ + σᵢ)
//! ```
//!
//! the relative spread `S` of path inflation, the detour's own variability and the uncertainty
//! `σᵢ` of the measured minimum (taken from the session's queueing jitter, see [`jitter_ms`]), so
//! a near landmark with a noisy minimum carries little weight. Far from the claim (`mᵢ ≫ σᵢ`)
//! this is the plain lognormal of `vᵢ`. The shift matters near it: a plain lognormal whose
//! log-SD is widened by the noise (`σᵢ/mᵢ` ≫ 1; the model before stop 16) has a density that
//! grows without bound as `vᵢ → 0`, so the place search gained several nats by moving the place
//! until one near landmark's excess vanished, and genuine claims were rejected more often the
//! more landmarks were measured (1.7–1.9 % with 19 at the nominal 0.5 %). With the shift the
//! density of every landmark is bounded by `1 / (σᵢ sᵢ √(2π))`. Places faster than fibre are
//! infeasible. The statistic is
//! the generalised likelihood ratio
//!
//! ```text
//!   T = max over places P, access a of log L(P, a)  −  max over a of log L(claim, a)
//! ```
//!
//! (natural log). Under "the claim is right" and a correct model, `2T` is roughly χ² with two
//! degrees of freedom (Wilks), so `P(T > t) ≈ e^(−t)`: the default threshold `ln 200 ≈ 5.3` is a
//! nominal 0.5 % false-rejection rate, chosen from that, not from simulated data. A claim with
//! `T` above it is `suspicious` (model-based, never `impossible`).
//!
//! The place search is coarse-to-fine: a polar grid over the smallest fibre disk (every feasible
//! place lies inside it), then three rounds of refinement around the best few points and the
//! claim. The path model (`M`, `S`) is learnt without labels from every judged session (see
//! [`crate::baseline::learn_path`]), starting from the a-priori values below.

use crate::geo::{EARTH_RADIUS_KM, KM_PER_RTT_MS_FIBRE, offset, tangent_frame, unit_distance_km};
use crate::region::{self, Obs};

/// Settings of the likelihood-ratio test.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LikelihoodConfig {
    /// Run the test. Default true.
    pub enabled: bool,
    /// `T` above which the claim is `suspicious`, nats. Default ln 200 ≈ 5.30 (nominal 0.5 %).
    pub threshold: f64,
    /// ...when no measured landmark lies within [`crate::plan::NEAR_MAX_KM`] of the claim. Then
    /// the access delay is not pinned down: a place farther along the landmarks' direction with
    /// a larger access delay fits nearly as well, and `2T` is no longer χ² with 2 degrees of
    /// freedom (measured: 1–2 % of genuine claims above ln 200 on cloud-region landmarks).
    /// Default 6.42, half the 99.5 % point of χ² with 3 degrees of freedom: the access delay
    /// counted as a third free parameter.
    pub threshold_far: f64,
    /// Routing detour per path, km (the `DET` above). Default 200.
    pub detour_km: f64,
    /// The uncertainty of a landmark's minimum over `n` samples is this times `J / n`, where `J`
    /// is the session's queueing jitter (see [`jitter_ms`]). Default 1 (the SD of the minimum of
    /// `n` exponential delays with mean `J`).
    pub noise_factor: f64,
    /// ...and at least this, ms. Default 0.3.
    pub noise_floor_ms: f64,
    /// Rings of the coarse place grid. Default 8 (1–64).
    pub rings: usize,
    /// Points on the outer ring of the coarse grid. Default 16 (6–256).
    pub azimuths: usize,
}

impl Default for LikelihoodConfig {
    fn default() -> Self {
        LikelihoodConfig {
            enabled: true,
            threshold: 200f64.ln(),
            threshold_far: 6.419_078,
            detour_km: 200.0,
            noise_factor: 1.0,
            noise_floor_ms: 0.3,
            rings: 8,
            azimuths: 16,
        }
    }
}

impl LikelihoodConfig {
    /// The threshold for a claim whose nearest measured landmark is `nearest_km` away:
    /// [`Self::threshold_far`] beyond [`crate::plan::NEAR_MAX_KM`], else [`Self::threshold`].
    pub fn threshold_for(&self, nearest_km: Option<f64>) -> f64 {
        match nearest_km {
            Some(d) if d > crate::plan::NEAR_MAX_KM => self.threshold_far,
            _ => self.threshold,
        }
    }
}

/// Path model: `γ − 1` has median `median` and log-SD `sigma`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathModel {
    /// Median path inflation beyond straight fibre (`M`).
    pub median: f64,
    /// Log-SD of the inflation (`S`).
    pub sigma: f64,
    /// Routing detour, km.
    pub detour_km: f64,
}

/// The fit of one place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// Log-likelihood at the best access delay (`-inf` when the place is faster than fibre).
    pub ll: f64,
    /// That access delay, ms.
    pub access_ms: f64,
}

/// Outcome of the test for one claim.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Test {
    /// The statistic `T` (≥ 0), nats.
    pub t: f64,
    /// The most likely place found.
    pub best: [f64; 3],
    /// The fit at the claim.
    pub claim: Fit,
}

/// Precomputed per-landmark terms.
struct Lm {
    unit: [f64; 3],
    radius_km: f64,
    rtt_ms: f64,
    /// Uncertainty σ of the measured minimum, ms.
    noise: f64,
}

/// A session's landmarks prepared for repeated evaluation.
pub struct Model {
    lms: Vec<Lm>,
    /// The smallest fibre disk (centre, radius km): where the place search looks.
    disk: Option<([f64; 3], f64)>,
    path: PathModel,
    det_ms2: f64,
    s2: f64,
}

const V_FLOOR_MS: f64 = 0.02;
const MAX_LANDMARKS: usize = 64;

impl Model {
    /// Prepare `obs` (as passed to the region) under a path model. At most the 64 landmarks
    /// with the smallest RTTs are used.
    pub fn new(obs: &[Obs], path: PathModel, cfg: &LikelihoodConfig) -> Model {
        let mut sorted: Vec<&Obs> = obs.iter().collect();
        sorted.sort_by(|a, b| a.rtt_ms.total_cmp(&b.rtt_ms));
        sorted.truncate(MAX_LANDMARKS);
        let jitter = jitter_ms(obs);
        let lms = sorted
            .into_iter()
            .map(|o| {
                let n = match jitter {
                    Some(j) => cfg.noise_factor * j / f64::from(o.samples.max(1)),
                    None => 0.5 * o.spread_ms,
                }
                .max(cfg.noise_floor_ms);
                Lm {
                    unit: o.unit,
                    radius_km: o.radius_km,
                    rtt_ms: o.rtt_ms,
                    noise: n,
                }
            })
            .collect();
        let det = path.detour_km / KM_PER_RTT_MS_FIBRE;
        Model {
            lms,
            disk: region::smallest_disk(obs),
            path,
            det_ms2: det * det,
            s2: path.sigma * path.sigma,
        }
    }

    /// Log-likelihood of the excesses at a place given its landmark distances, profiled over the
    /// access delay.
    fn profile(&self, dist: &[f64]) -> Fit {
        if self.lms.is_empty() {
            return Fit {
                ll: 0.0,
                access_ms: 0.0,
            };
        }
        let k = KM_PER_RTT_MS_FIBRE;
        // Largest access delay the physics allows (every excess ≥ 0).
        let mut a_hi = f64::INFINITY;
        for (l, &d) in self.lms.iter().zip(dist) {
            a_hi = a_hi.min(l.rtt_ms - d / k);
        }
        if a_hi.is_nan() || a_hi < 0.0 {
            return Fit {
                ll: f64::NEG_INFINITY,
                access_ms: 0.0,
            };
        }
        // Per-landmark constants: ln(m + σ), 1/(2 s²), ln s, σ.
        let mut c = [[0.0f64; 4]; MAX_LANDMARKS];
        for ((l, &d), ci) in self.lms.iter().zip(dist).zip(c.iter_mut()) {
            let m = (d * self.path.median + self.path.detour_km) / k;
            let my = m + l.noise;
            let s2 = (self.s2 * m * m + self.det_ms2 + l.noise * l.noise) / (my * my);
            *ci = [my.ln(), 0.5 / s2, 0.5 * s2.ln(), l.noise];
        }
        let ll = |a: f64| -> f64 {
            let mut sum = 0.0;
            for ((l, &d), ci) in self.lms.iter().zip(dist).zip(c.iter()) {
                let v = (l.rtt_ms - a - d / k).max(V_FLOOR_MS);
                let lv = (v + ci[3]).ln();
                let z = lv - ci[0];
                sum -= lv + ci[2] + z * z * ci[1];
            }
            sum
        };
        // Scan, then golden-section search around the best step.
        const STEPS: usize = 8;
        let step = a_hi / STEPS as f64;
        let (mut best_a, mut best) = (0.0, f64::NEG_INFINITY);
        for j in 0..=STEPS {
            let a = j as f64 * step;
            let v = ll(a);
            if v > best {
                (best_a, best) = (a, v);
            }
        }
        if step > 0.0 {
            let (mut lo, mut hi) = ((best_a - step).max(0.0), (best_a + step).min(a_hi));
            const G: f64 = 0.618_033_988_749_894_9;
            let mut x1 = hi - G * (hi - lo);
            let mut x2 = lo + G * (hi - lo);
            let (mut f1, mut f2) = (ll(x1), ll(x2));
            for _ in 0..8 {
                if f1 >= f2 {
                    hi = x2;
                    (x2, f2) = (x1, f1);
                    x1 = hi - G * (hi - lo);
                    f1 = ll(x1);
                } else {
                    lo = x1;
                    (x1, f1) = (x2, f2);
                    x2 = lo + G * (hi - lo);
                    f2 = ll(x2);
                }
            }
            for (a, v) in [(x1, f1), (x2, f2)] {
                if v > best {
                    (best_a, best) = (a, v);
                }
            }
        }
        Fit {
            ll: best,
            access_ms: best_a,
        }
    }

    /// The fit at a point. If some landmark is faster than fibre from the point itself, the
    /// distances are shortened by the point's `radius_km` and each landmark's position
    /// uncertainty and the fit is retried, so a claim counts as faster than fibre only if it is
    /// so everywhere within its accuracy radius.
    pub fn fit_at(&self, p: [f64; 3], radius_km: f64) -> Fit {
        let mut dist = [0.0f64; MAX_LANDMARKS];
        let n = self.lms.len();
        for (l, d) in self.lms.iter().zip(dist.iter_mut()) {
            *d = unit_distance_km(l.unit, p);
        }
        let fit = self.profile(&dist[..n]);
        let slack = radius_km + self.lms.iter().map(|l| l.radius_km).fold(0.0, f64::max);
        if fit.ll.is_finite() || slack <= 0.0 {
            return fit;
        }
        // Faster than fibre at the point itself: allow the uncertainty radii.
        for (l, d) in self.lms.iter().zip(dist.iter_mut()) {
            *d = (*d - radius_km - l.radius_km).max(0.0);
        }
        self.profile(&dist[..n])
    }

    /// For learning the path model: `ln((excess km − DET) / d)` of each landmark at least
    /// `min_km` from `p`, with the access delay of `fit` (landmarks whose excess does not exceed
    /// the detour are skipped).
    pub fn log_inflations(&self, p: [f64; 3], fit: &Fit, min_km: f64) -> Vec<f64> {
        let k = KM_PER_RTT_MS_FIBRE;
        self.lms
            .iter()
            .filter_map(|l| {
                let d = unit_distance_km(l.unit, p);
                let extra = (l.rtt_ms - fit.access_ms - d / k) * k - self.path.detour_km;
                (d >= min_km && extra > 0.0).then(|| (extra / d).ln())
            })
            .collect()
    }

    /// The test for a claim (unit vector and accuracy radius).
    pub fn test(&self, claim: [f64; 3], radius_km: f64, cfg: &LikelihoodConfig) -> Test {
        if self.lms.is_empty() {
            let claim_fit = Fit {
                ll: 0.0,
                access_ms: 0.0,
            };
            return Test {
                t: 0.0,
                best: claim,
                claim: claim_fit,
            };
        }
        let at = self.fit_at(claim, radius_km);
        let (best, ll) = self.search(claim, cfg);
        let t = if at.ll.is_finite() {
            (ll - at.ll).max(0.0)
        } else {
            // Faster than fibre at the claim: the physics checks report it; T is unbounded.
            f64::INFINITY
        };
        Test { t, best, claim: at }
    }

    /// Coarse-to-fine search for the most likely place; also refines around `seed`.
    fn search(&self, seed: [f64; 3], cfg: &LikelihoodConfig) -> ([f64; 3], f64) {
        let Some((centre, radius)) = self.disk else {
            return (seed, f64::NEG_INFINITY);
        };
        let radius = radius.max(1.0);
        let rings = cfg.rings.clamp(1, 64);
        let az_max = cfg.azimuths.clamp(6, 256);
        let mut pts: Vec<([f64; 3], f64)> = Vec::with_capacity(rings * az_max);
        let eval = |p: [f64; 3]| (p, self.fit_at(p, 0.0).ll);
        pts.push(eval(centre));
        let (north, east) = tangent_frame(centre);
        for j in 1..=rings {
            let ang = radius * j as f64 / rings as f64 / EARTH_RADIUS_KM;
            let n_az = ((az_max as f64 * j as f64 / rings as f64).round() as usize).max(6);
            for q in 0..n_az {
                let th = std::f64::consts::TAU * (q as f64 + 0.5 * (j % 2) as f64) / n_az as f64;
                pts.push(eval(offset(centre, north, east, ang, th)));
            }
        }
        let mut step = radius / rings as f64 / EARTH_RADIUS_KM;
        let mut seeds: Vec<([f64; 3], f64)> = top(&pts, 2);
        seeds.push(eval(seed));
        let mut best = seeds
            .iter()
            .copied()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((seed, f64::NEG_INFINITY));
        for _ in 0..4 {
            step /= 2.0;
            let mut next = Vec::with_capacity(seeds.len() * 9);
            for &(p, ll) in &seeds {
                next.push((p, ll));
                let (n, e) = tangent_frame(p);
                for q in 0..8 {
                    let th = std::f64::consts::TAU * q as f64 / 8.0;
                    let r = if q % 2 == 1 {
                        step * std::f64::consts::SQRT_2
                    } else {
                        step
                    };
                    next.push(eval(offset(p, n, e, r, th)));
                }
            }
            seeds = top(&next, 2);
            if let Some(&b) = seeds.first()
                && b.1 > best.1
            {
                best = b;
            }
        }
        best
    }
}

/// The session's queueing jitter `J`, ms: every landmark is reached over the same access link,
/// so the gaps between each landmark's smallest samples estimate one common scale. For `n`
/// exponential delays with mean `J`, the gap between the smallest and the `k`-th smallest has
/// mean `J · Σ_{j=1}^{k−1} 1/(n − j)`; each landmark with ≥ 2 samples gives one estimate, and
/// the median of them is used. `None` when no landmark has two samples.
pub fn jitter_ms(obs: &[Obs]) -> Option<f64> {
    let mut est: Vec<f64> = obs
        .iter()
        .filter(|o| o.samples >= 2 && o.spread_ms.is_finite() && o.spread_ms >= 0.0)
        .map(|o| {
            let n = f64::from(o.samples);
            let k = o.samples.min(3);
            let w: f64 = (1..k).map(|j| 1.0 / (n - f64::from(j))).sum();
            o.spread_ms / w
        })
        .collect();
    if est.is_empty() {
        return None;
    }
    est.sort_by(f64::total_cmp);
    let m = est.len() / 2;
    Some(if est.len() % 2 == 1 {
        est[m]
    } else {
        (est[m - 1] + est[m]) / 2.0
    })
}

/// The `n` highest finite entries, best first.
fn top(pts: &[([f64; 3], f64)], n: usize) -> Vec<([f64; 3], f64)> {
    let mut v: Vec<_> = pts.iter().copied().filter(|p| p.1.is_finite()).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v.truncate(n);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::{LatLon, destination, distance_km};

    const PHOENIX: LatLon = LatLon {
        lat: 33.4484,
        lon: -112.074,
    };

    /// Landmarks at (bearing, km) from `truth` answering with the model's median delay: access +
    /// fibre line + (d M + DET) / K, with `n` samples whose three smallest span `spread` ms.
    fn obs(truth: LatLon, at: &[(f64, f64)], access: f64, m: f64, det: f64) -> Vec<Obs> {
        at.iter()
            .map(|&(b, km)| {
                let l = destination(truth, b, km);
                let d = distance_km(truth, l);
                Obs {
                    unit: l.to_unit(),
                    radius_km: 0.0,
                    rtt_ms: access + d / KM_PER_RTT_MS_FIBRE + (d * m + det) / KM_PER_RTT_MS_FIBRE,
                    spread_ms: 0.6,
                    samples: 8,
                }
            })
            .collect()
    }

    fn path() -> PathModel {
        PathModel {
            median: 0.5,
            sigma: 0.5,
            detour_km: 200.0,
        }
    }

    const PLAN: [(f64, f64); 6] = [
        (10.0, 60.0),
        (200.0, 250.0),
        (80.0, 1_100.0),
        (170.0, 1_600.0),
        (260.0, 900.0),
        (330.0, 2_400.0),
    ];

    #[test]
    fn the_true_place_fits_and_a_claim_1500_km_off_does_not() {
        let cfg = LikelihoodConfig::default();
        let o = obs(PHOENIX, &PLAN, 12.0, 0.5, 200.0);
        let m = Model::new(&o, path(), &cfg);
        let at_truth = m.test(PHOENIX.to_unit(), 10.0, &cfg);
        assert!(at_truth.t < 1.0, "{at_truth:?}");
        // The access delay that fits at the truth is the one used.
        assert!(
            (at_truth.claim.access_ms - 12.0).abs() < 3.0,
            "{at_truth:?}"
        );
        // The search lands near the truth.
        let best = LatLon::from_vec(at_truth.best);
        assert!(distance_km(best, PHOENIX) < 250.0, "{best:?}");
        for bearing in [0.0, 90.0, 180.0, 270.0] {
            let claim = destination(PHOENIX, bearing, 1_500.0);
            let t = m.test(claim.to_unit(), 10.0, &cfg);
            assert!(t.t > cfg.threshold, "bearing {bearing}: {t:?}");
            assert!(
                distance_km(LatLon::from_vec(t.best), PHOENIX) < 400.0,
                "{t:?}"
            );
        }
    }

    #[test]
    fn a_claim_faster_than_fibre_is_unbounded_and_an_empty_session_is_neutral() {
        let cfg = LikelihoodConfig::default();
        let o = obs(PHOENIX, &PLAN, 2.0, 0.5, 200.0);
        let m = Model::new(&o, path(), &cfg);
        // 5,000 km away: the 60 km landmark's ~4 ms RTT cannot come from there.
        let far = destination(PHOENIX, 45.0, 5_000.0);
        let t = m.test(far.to_unit(), 10.0, &cfg);
        assert!(
            t.t.is_infinite() && t.claim.ll == f64::NEG_INFINITY,
            "{t:?}"
        );
        let empty = Model::new(&[], path(), &cfg);
        assert_eq!(empty.test(far.to_unit(), 10.0, &cfg).t, 0.0);
    }

    #[test]
    fn one_badly_routed_landmark_does_not_make_a_true_claim_unlikely() {
        // The landmark 60 km away answers 40 ms slower than the model's median (a trombone
        // route), over a clean link and over a jittery one (3 samples spread over 25 ms).
        let cfg = LikelihoodConfig::default();
        let mut clean = obs(PHOENIX, &PLAN, 12.0, 0.5, 200.0);
        clean[0].rtt_ms += 40.0;
        let mut noisy = clean.clone();
        for o in &mut noisy {
            o.spread_ms = 25.0;
            o.samples = 3;
        }
        let truth = PHOENIX.to_unit();
        for o in [clean, noisy] {
            let t = Model::new(&o, path(), &cfg).test(truth, 10.0, &cfg);
            assert!(t.t < 2.0, "{t:?}");
        }
    }

    #[test]
    fn genuine_claims_are_rejected_near_the_nominal_rate_with_many_noisy_landmarks() {
        // 400 genuine sessions drawn from the test's own path model (inflation median 0.55,
        // log-SD 0.65, no detour) over 4G-like links (35–80 ms access, exponential queueing of
        // mean 14 ms, 4–10 samples per landmark), each measuring 3 near landmarks (5–500 km)
        // and 16 on a ring at 800–3,000 km: the nominal false-rejection rate is 0.5 %. The
        // lognormal widened by the noise (before stop 16) rejected 18 % of such claims: its
        // density grew without bound as a near landmark's excess vanished.
        use rand::{RngExt, SeedableRng, rngs::Xoshiro256PlusPlus};
        use rand_distr::{Distribution, Exp1, StandardNormal};
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(16);
        let cfg = LikelihoodConfig::default();
        let path = PathModel {
            median: 0.55,
            sigma: 0.65,
            detour_km: 1.0,
        };
        let (mut rejected, mut caught, sessions) = (0, 0, 400);
        for _ in 0..sessions {
            let truth = LatLon {
                lat: rng.random_range(30.0..55.0),
                lon: rng.random_range(-10.0..30.0),
            };
            let access = rng.random_range(35.0..80.0);
            let mut spots = vec![
                (rng.random_range(0.0..360.0), rng.random_range(5.0..60.0)),
                (rng.random_range(0.0..360.0), rng.random_range(150.0..300.0)),
                (rng.random_range(0.0..360.0), rng.random_range(300.0..500.0)),
            ];
            for i in 0..16 {
                let b = f64::from(i) * 22.5 + rng.random_range(0.0..20.0);
                spots.push((b, rng.random_range(800.0..3_000.0)));
            }
            let mut o = Vec::new();
            for (b, km) in spots {
                let l = destination(truth, b, km);
                let d = distance_km(truth, l);
                let n: f64 = StandardNormal.sample(&mut rng);
                let base = access
                    + d / KM_PER_RTT_MS_FIBRE
                    + d * path.median * (path.sigma * n).exp() / KM_PER_RTT_MS_FIBRE;
                let k: u32 = rng.random_range(4..=10);
                let mut samples: Vec<f64> = (0..k)
                    .map(|_| {
                        let e: f64 = Exp1.sample(&mut rng);
                        base + 14.0 * e
                    })
                    .collect();
                samples.sort_by(f64::total_cmp);
                o.push(Obs {
                    unit: l.to_unit(),
                    radius_km: 0.0,
                    rtt_ms: samples[0],
                    spread_ms: samples[2] - samples[0],
                    samples: k,
                });
            }
            let model = Model::new(&o, path, &cfg);
            let t = model.test(truth.to_unit(), 0.0, &cfg);
            rejected += usize::from(t.t > cfg.threshold);
            // ...while the same RTTs still reject a claim 1,000 km away.
            let off = destination(truth, rng.random_range(0.0..360.0), 1_000.0);
            caught += usize::from(model.test(off.to_unit(), 0.0, &cfg).t > cfg.threshold);
        }
        // 7 here; 37 of 4,000 (0.9 %) with more sessions, against 74 of 400 before.
        assert!(
            rejected <= 12,
            "{rejected} of {sessions} genuine claims rejected"
        );
        assert!(
            caught >= 396,
            "{caught} of {sessions} false claims rejected"
        );
    }

    #[test]
    fn degenerate_geometry_never_gives_nan() {
        // Poles, the antimeridian, antipodes, duplicate landmarks, zero and huge RTTs, no
        // samples: T is a number or +∞, never NaN, and the best place is a unit vector.
        let cfg = LikelihoodConfig::default();
        let pts = [
            (90.0, 0.0),
            (-90.0, 0.0),
            (0.0, 180.0),
            (0.0, -180.0),
            (0.0, 0.0),
            (45.0, 179.9),
            (45.0, -179.9),
        ];
        for &(rtt, spread, samples) in
            &[(0.0, 0.0, 0), (1.0, 0.0, 1), (80.0, 5.0, 3), (1e6, 1e6, 2)]
        {
            let obs: Vec<Obs> = pts
                .iter()
                .chain(pts.iter())
                .map(|&(lat, lon)| Obs {
                    unit: LatLon { lat, lon }.to_unit(),
                    radius_km: 0.0,
                    rtt_ms: rtt,
                    spread_ms: spread,
                    samples,
                })
                .collect();
            let m = Model::new(&obs, path(), &cfg);
            for &(lat, lon) in &pts {
                let t = m.test(LatLon { lat, lon }.to_unit(), 50.0, &cfg);
                assert!(!t.t.is_nan() && t.t >= 0.0, "{rtt} {lat} {lon}: {t:?}");
                let n = t.best.iter().map(|x| x * x).sum::<f64>();
                assert!((n - 1.0).abs() < 1e-9, "{t:?}");
            }
        }
    }

    #[test]
    fn jitter_is_estimated_from_the_gaps_between_smallest_samples() {
        let o = |spread_ms: f64, samples: u32| Obs {
            unit: [1.0, 0.0, 0.0],
            radius_km: 0.0,
            rtt_ms: 10.0,
            spread_ms,
            samples,
        };
        // n = 3: gap(1st, 3rd) has mean J (1/2 + 1/1) = 1.5 J → J = 2; n = 2: gap = J → 4;
        // n = 10: J (1/9 + 1/8) → 0.4722 / 0.23611 = 2. Median of {2, 4, 2} = 2.
        let j = jitter_ms(&[o(3.0, 3), o(4.0, 2), o(0.236_111_111, 10)]).unwrap();
        assert!((j - 2.0).abs() < 1e-6, "{j}");
        // A lone sample says nothing.
        assert_eq!(jitter_ms(&[o(5.0, 1)]), None);
        let j2 = jitter_ms(&[o(3.0, 3), o(4.0, 2)]).unwrap();
        assert!((j2 - 3.0).abs() < 1e-9, "{j2}");
    }
}
