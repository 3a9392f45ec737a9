//! Which landmarks to measure for a claim: the verifier's side of the location test.
//!
//! RTTs to landmarks that all sit near the claimed place cannot tell "here, on a slow access
//! link" from "1,000 km away on a fast one": the extra distance adds about the same delay to each
//! of them, as access delay does. A claim can be refuted only when some landmark lies roughly
//! towards wherever the user really is. The plan is therefore:
//!
//! * the few landmarks **nearest** the claim. If the user is there, they answer fast, and they
//!   pin down the access delay;
//! * a **ring** of farther landmarks spread evenly in bearing around the claim. Each one is picked
//!   greedily as the candidate whose bearing is farthest from those already chosen.
//!
//! BENCHMARKS ("Location — the landmark plan") measures how the rejection of false claims grows
//! with the ring: with 2–4 ring landmarks, claims 1,000–1,500 km off are the misses.
//!
//! [`plan`] is deterministic. The simulator uses it with per-session counts, and `rampart
//! presence plan` prints it for one claim. [`uncovered`] lists the cities of over a million
//! people on the ring with no landmark within 45° of their bearing: the populated directions a
//! false claim could come from untested. The analyzer notes them on a claim that stands; a
//! direction without such cities (an ocean) is not reported.

use crate::cities::{self, City};
use crate::geo::{EARTH_RADIUS_KM, LatLon, bearing_deg, distance_km};

/// A ring landmark covers the directions within this many degrees of its bearing (four
/// landmarks 90° apart cover every direction).
pub const COVER_DEG: f64 = 45.0;
/// A landmark within this distance of the claim pins down the access delay. Without one, an
/// access delay and a distance trade off against each other, and location judgements are weaker
/// both ways (measured on cloud-region landmarks: 1–2 % of genuine claims disputed against
/// 0.1–0.7 % with one, BENCHMARKS.md).
pub const NEAR_MAX_KM: f64 = 800.0;
/// Directions matter where people live: a direction is reported as untested only if a city of
/// at least this many people lies on the ring there.
pub const COVER_MIN_POPULATION: u64 = 1_000_000;

/// How many landmarks to pick, and where the ring lies.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanSpec {
    /// Landmarks nearest the claim.
    pub near: usize,
    /// Landmarks on the ring, spread in bearing.
    pub ring: usize,
    /// Distance band of the ring from the claim, km.
    pub ring_km: [f64; 2],
    /// If the ring has too few candidates, top the plan up with the nearest remaining landmarks
    /// until it has this many.
    pub min_total: usize,
}

impl Default for PlanSpec {
    /// 3 near + 8 on a ring 800–3,000 km out: the plan BENCHMARKS measures as "3 + 8".
    fn default() -> Self {
        PlanSpec {
            near: 3,
            ring: 8,
            ring_km: [800.0, 3_000.0],
            min_total: 11,
        }
    }
}

/// Why a landmark is in the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// One of the nearest to the claim.
    Near,
    /// On the ring, spread in bearing.
    Ring,
    /// Added because the ring had too few candidates.
    TopUp,
}

impl Role {
    /// The name used in output: `near`, `ring`, `top-up`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Near => "near",
            Role::Ring => "ring",
            Role::TopUp => "top-up",
        }
    }
}

/// One landmark of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// Index into the positions given to [`plan`].
    pub index: usize,
    /// Why it was picked.
    pub role: Role,
    /// Great-circle distance from the claim, km.
    pub distance_km: f64,
    /// Initial bearing from the claim, degrees clockwise from north.
    pub bearing_deg: f64,
}

/// The landmarks to measure for a claim at `claim`, out of `positions`: the `near` nearest, then
/// `ring` spread in bearing among those `ring_km` away, then the nearest others up to
/// `min_total` (never more than there are). Non-finite distances are never chosen.
pub fn plan(positions: &[LatLon], claim: LatLon, spec: &PlanSpec) -> Vec<Planned> {
    let mut by_dist: Vec<(f64, usize)> = positions
        .iter()
        .enumerate()
        .map(|(i, p)| (distance_km(claim, *p), i))
        .filter(|(d, _)| d.is_finite())
        .collect();
    by_dist.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<Planned> = Vec::new();
    let mut taken = vec![false; positions.len()];
    fn take(out: &mut Vec<Planned>, taken: &mut [bool], (d, i): (f64, usize), b: f64, role: Role) {
        taken[i] = true;
        out.push(Planned {
            index: i,
            role,
            distance_km: d,
            bearing_deg: b,
        });
    }
    for &x in by_dist.iter().take(spec.near) {
        take(
            &mut out,
            &mut taken,
            x,
            bearing_deg(claim, positions[x.1]),
            Role::Near,
        );
    }
    // Ring candidates with their bearings, nearest first; `None` once taken.
    let mut ring: Vec<Option<((f64, usize), f64)>> = by_dist
        .iter()
        .filter(|(d, i)| *d >= spec.ring_km[0] && *d <= spec.ring_km[1] && !taken[*i])
        .map(|&x| Some((x, bearing_deg(claim, positions[x.1]))))
        .collect();
    let mut bearings: Vec<f64> = Vec::new();
    for _ in 0..spec.ring {
        // The ring landmark whose bearing is farthest from those already chosen (the last of
        // equals, i.e. the farthest out, on the first pick).
        let best = ring
            .iter()
            .enumerate()
            .filter_map(|(k, c)| c.map(|c| (k, c)))
            .map(|(k, (x, b))| {
                let sep = bearings
                    .iter()
                    .map(|&o| bearing_sep(b, o))
                    .fold(360.0, f64::min);
                (sep, k, x, b)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let Some((_, k, x, b)) = best else { break };
        ring[k] = None;
        take(&mut out, &mut taken, x, b, Role::Ring);
        bearings.push(b);
    }
    for &x in &by_dist {
        if out.len() >= spec.min_total {
            break;
        }
        if !taken[x.1] {
            take(
                &mut out,
                &mut taken,
                x,
                bearing_deg(claim, positions[x.1]),
                Role::TopUp,
            );
        }
    }
    out
}

/// A populated place towards which no ring landmark lies.
#[derive(Clone, Debug, PartialEq)]
pub struct Uncovered {
    /// The city.
    pub city: City,
    /// Its distance from the claim, km.
    pub distance_km: f64,
    /// Its bearing from the claim, degrees clockwise from north in [0, 360).
    pub bearing_deg: f64,
}

/// Angle between two bearings, degrees in [0, 180].
fn bearing_sep(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d)
}

/// Cities of at least `min_population` that lie `ring_km` from the claim with none of the
/// `landmarks` that also lie `ring_km` from it within `cover_deg` of their bearing: populated
/// directions in which a false claim would go untested. Most populous first. Oceans and deserts
/// without such cities are not reported, so a coastal claim is not faulted for its sea side.
pub fn uncovered(
    claim: LatLon,
    landmarks: &[LatLon],
    ring_km: [f64; 2],
    cover_deg: f64,
    min_population: u64,
) -> Vec<Uncovered> {
    let ring_bearings: Vec<f64> = landmarks
        .iter()
        .filter(|p| (ring_km[0]..=ring_km[1]).contains(&distance_km(claim, **p)))
        .map(|p| bearing_deg(claim, *p))
        .collect();
    // The band as bounds on the dot product of unit vectors: one multiply-add per city.
    let u = claim.to_unit();
    let cos = |km: f64| {
        (km / EARTH_RADIUS_KM)
            .clamp(0.0, std::f64::consts::PI)
            .cos()
    };
    let (dot_far, dot_near) = (cos(ring_km[1]), cos(ring_km[0]));
    cities::all()
        .iter()
        .zip(cities::units())
        .take_while(|(c, _)| c.population >= min_population)
        .filter_map(|(c, v)| {
            let dot = u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
            if dot < dot_far - 1e-12 || dot > dot_near + 1e-12 {
                return None;
            }
            let b = bearing_deg(claim, c.pos).rem_euclid(360.0);
            ring_bearings
                .iter()
                .all(|&r| bearing_sep(r, b) > cover_deg)
                .then(|| Uncovered {
                    city: *c,
                    distance_km: distance_km(claim, c.pos),
                    bearing_deg: b,
                })
        })
        .collect()
}

/// The widest gap between the bearings of a plan's ring landmarks, degrees (360 with fewer than
/// two): the sector in which a user's true place has no landmark towards it.
pub fn widest_gap_deg(p: &[Planned]) -> f64 {
    widest_gap(
        p.iter()
            .filter(|x| x.role == Role::Ring)
            .map(|x| x.bearing_deg),
    )
}

/// The widest gap between bearings, degrees (360 with fewer than two).
fn widest_gap(bearings_deg: impl IntoIterator<Item = f64>) -> f64 {
    let mut b: Vec<f64> = bearings_deg
        .into_iter()
        .filter(|x| x.is_finite())
        .map(|x| x.rem_euclid(360.0))
        .collect();
    b.sort_by(f64::total_cmp);
    match b.as_slice() {
        [first, .., last] => b
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(first + 360.0 - last, f64::max),
        _ => 360.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::destination;

    fn ll(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).unwrap()
    }

    #[test]
    fn nearest_first_then_a_ring_spread_in_bearing() {
        let claim = ll(48.0, 11.0);
        let mut pos = vec![
            destination(claim, 10.0, 40.0),
            destination(claim, 200.0, 90.0),
            destination(claim, 100.0, 150.0),
            destination(claim, 300.0, 400.0), // neither near nor on the ring
        ];
        // Twelve ring candidates, three at each of four bearings 90° apart, plus a crowd at 5°.
        for (k, b) in [0.0, 90.0, 180.0, 270.0].iter().enumerate() {
            for j in 0..3 {
                pos.push(destination(claim, b + j as f64, 1_000.0 + 100.0 * k as f64));
            }
        }
        for j in 0..5 {
            pos.push(destination(claim, 5.0 + j as f64, 2_000.0));
        }
        let spec = PlanSpec {
            near: 3,
            ring: 4,
            ring_km: [800.0, 3_000.0],
            min_total: 7,
        };
        let p = plan(&pos, claim, &spec);
        assert_eq!(p.len(), 7);
        assert_eq!(
            p[..3].iter().map(|x| x.index).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert!(p[..3].iter().all(|x| x.role == Role::Near));
        assert!((p[0].distance_km - 40.0).abs() < 0.01);
        // One ring landmark per quadrant, whatever the crowd at 5° does.
        let mut quadrants: Vec<i64> = p[3..]
            .iter()
            .map(|x| {
                assert_eq!(x.role, Role::Ring);
                assert!((800.0..=3_000.0).contains(&x.distance_km));
                ((x.bearing_deg.rem_euclid(360.0) + 45.0) / 90.0).floor() as i64 % 4
            })
            .collect();
        quadrants.sort();
        assert_eq!(quadrants, [0, 1, 2, 3]);
        assert!(widest_gap_deg(&p) < 100.0, "{}", widest_gap_deg(&p));
    }

    #[test]
    fn a_thin_ring_is_topped_up_with_the_nearest_and_says_so() {
        let claim = ll(-33.9, 18.4);
        let pos = vec![
            destination(claim, 0.0, 10.0),
            destination(claim, 0.0, 500.0),
            destination(claim, 90.0, 1_500.0),
            destination(claim, 0.0, 600.0),
        ];
        let spec = PlanSpec {
            near: 1,
            ring: 3,
            ring_km: [800.0, 3_000.0],
            min_total: 4,
        };
        let p = plan(&pos, claim, &spec);
        let got: Vec<(usize, Role)> = p.iter().map(|x| (x.index, x.role)).collect();
        assert_eq!(
            got,
            [
                (0, Role::Near),
                (2, Role::Ring),
                (1, Role::TopUp),
                (3, Role::TopUp)
            ]
        );
        assert_eq!(widest_gap_deg(&p), 360.0);
    }

    #[test]
    fn the_widest_gap_wraps_around_north() {
        assert_eq!(widest_gap([]), 360.0);
        assert_eq!(widest_gap([90.0]), 360.0);
        let g = widest_gap([350.0, 20.0, 100.0]);
        assert!((g - 250.0).abs() < 1e-9, "{g}");
        let g = widest_gap([-10.0, 100.0, 170.0]);
        assert!((g - 180.0).abs() < 1e-9, "{g}");
    }

    #[test]
    fn uncovered_directions_are_the_populated_ones_without_a_ring_landmark() {
        // Lisbon, with a ring band of 400–3,000 km: Madrid, Paris, Algiers… lie in it; to the
        // west there is only the Atlantic.
        let lisbon = ll(38.7223, -9.1393);
        let paris = ll(48.8566, 2.3522);
        let band = [400.0, 3_000.0];
        // No ring landmark at all: every big city in the band is uncovered, Paris among them,
        // most populous first; nothing out in the Atlantic.
        let all = uncovered(lisbon, &[], band, 45.0, 1_000_000);
        assert!(all.iter().any(|u| u.city.name == "Paris"), "{all:?}");
        assert!(
            all.windows(2)
                .all(|w| w[0].city.population >= w[1].city.population)
        );
        assert!(
            all.iter()
                .all(|u| (400.0..=3_000.0).contains(&u.distance_km))
        );
        assert!(
            all.iter()
                .all(|u| !(200.0..=340.0).contains(&u.bearing_deg)),
            "{all:?}"
        );
        // A landmark in Paris covers Paris (and what lies within 45° of it), not Algiers; one
        // in Lisbon itself is not on the ring and covers nothing.
        let some = uncovered(lisbon, &[paris, lisbon], band, 45.0, 1_000_000);
        assert!(!some.iter().any(|u| u.city.name == "Paris"), "{some:?}");
        assert!(some.iter().any(|u| u.city.name == "Algiers"), "{some:?}");
        assert!(some.len() < all.len());
    }

    #[test]
    fn never_more_than_there_are_and_nothing_from_nothing() {
        let claim = ll(0.0, 0.0);
        assert!(plan(&[], claim, &PlanSpec::default()).is_empty());
        let p = plan(&[ll(1.0, 1.0)], claim, &PlanSpec::default());
        assert_eq!(p.len(), 1);
        let spec = PlanSpec {
            near: 0,
            ring: 0,
            ring_km: [0.0, 0.0],
            min_total: 0,
        };
        assert!(plan(&[ll(1.0, 1.0)], claim, &spec).is_empty());
    }
}
