//! Geometry on the sphere and the propagation-speed constants every judgement rests on.
//!
//! Distances are great-circle distances on a sphere of the IUGG mean Earth radius. The sphere
//! differs from the WGS-84 ellipsoid by at most ~0.56 % (Lambert), so wherever a distance is used to
//! prove something impossible it is first shrunk by [`SPHERE_ERROR`].

/// Speed of light in vacuum, km per millisecond (exact, by definition of the metre).
pub const C_VACUUM_KM_PER_MS: f64 = 299.792_458;

/// Group index of standard single-mode fibre (ITU-T G.652, ~1.4682 at 1550 nm).
pub const FIBRE_GROUP_INDEX: f64 = 1.4682;

/// One-way speed of light in fibre, km/ms (≈ 204.2; "about 200 km per ms").
pub const C_FIBRE_KM_PER_MS: f64 = C_VACUUM_KM_PER_MS / FIBRE_GROUP_INDEX;

/// Largest distance (km) a **round trip** of 1 ms can span at the vacuum speed of light:
/// `c / 2` ≈ 149.9 km per ms of RTT. This is the bound behind the `impossible` verdict: nothing,
/// not radio, microwave or laser links between satellites, moves information faster.
pub const KM_PER_RTT_MS_VACUUM: f64 = C_VACUUM_KM_PER_MS / 2.0;

/// Largest distance (km) a round trip of 1 ms can span in fibre: ≈ 102.1 km per ms of RTT
/// (the "~100 km per ms of round trip"). Beating it needs a non-fibre path (microwave,
/// satellite laser links), so a violation is `suspicious`, not `impossible`.
pub const KM_PER_RTT_MS_FIBRE: f64 = C_FIBRE_KM_PER_MS / 2.0;

/// Mean Earth radius (IUGG), km.
pub const EARTH_RADIUS_KM: f64 = 6_371.008_8;

/// Factor applied to spherical distances before they are used to prove impossibility: the
/// ellipsoidal (true) geodesic can be up to ~0.56 % shorter than the spherical estimate.
pub const SPHERE_ERROR: f64 = 0.994;

/// A point on Earth in degrees.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatLon {
    /// Latitude, degrees north, in [-90, 90].
    pub lat: f64,
    /// Longitude, degrees east, in [-180, 180].
    pub lon: f64,
}

impl LatLon {
    /// A point; `None` when a coordinate is not finite or out of range.
    pub fn new(lat: f64, lon: f64) -> Option<LatLon> {
        if lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon)
        {
            Some(LatLon { lat, lon })
        } else {
            None
        }
    }

    /// Unit vector of this point (x towards 0°N 0°E, z towards the north pole).
    pub fn to_unit(self) -> [f64; 3] {
        let (la, lo) = (self.lat.to_radians(), self.lon.to_radians());
        [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
    }

    /// The point of a (not necessarily unit) vector.
    pub fn from_vec(v: [f64; 3]) -> LatLon {
        let h = (v[0] * v[0] + v[1] * v[1]).sqrt();
        LatLon {
            lat: v[2].atan2(h).to_degrees(),
            lon: if h == 0.0 {
                0.0
            } else {
                v[1].atan2(v[0]).to_degrees()
            },
        }
    }
}

/// Great-circle distance in km (haversine; accurate at all distances on the sphere).
pub fn distance_km(a: LatLon, b: LatLon) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = p2 - p1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    let h = h.clamp(0.0, 1.0);
    2.0 * EARTH_RADIUS_KM * h.sqrt().atan2((1.0 - h).sqrt())
}

/// Distance in km between two unit vectors.
pub fn unit_distance_km(a: [f64; 3], b: [f64; 3]) -> f64 {
    // atan2 of |a×b| and a·b is accurate for small and antipodal angles alike.
    let c = [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ];
    let s = (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt();
    let d = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    EARTH_RADIUS_KM * s.atan2(d)
}

/// Initial bearing from `a` to `b`, degrees clockwise from north in (−180, 180].
pub fn bearing_deg(a: LatLon, b: LatLon) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dl = (b.lon - a.lon).to_radians();
    let y = dl.sin() * p2.cos();
    let x = p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos();
    y.atan2(x).to_degrees()
}

/// The point reached from `from` after `dist_km` along the initial bearing `bearing_deg`.
pub fn destination(from: LatLon, bearing_deg: f64, dist_km: f64) -> LatLon {
    let d = dist_km / EARTH_RADIUS_KM;
    let (p1, l1, th) = (
        from.lat.to_radians(),
        from.lon.to_radians(),
        bearing_deg.to_radians(),
    );
    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * th.cos())
        .clamp(-1.0, 1.0)
        .asin();
    let l2 = l1 + (th.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
    let mut lon = l2.to_degrees();
    lon = ((lon + 540.0) % 360.0) - 180.0;
    LatLon {
        lat: p2.to_degrees(),
        lon,
    }
}

/// Local north and east unit vectors at a point.
pub fn tangent_frame(c: [f64; 3]) -> ([f64; 3], [f64; 3]) {
    let mut east = [-c[1], c[0], 0.0];
    let en = (east[0] * east[0] + east[1] * east[1]).sqrt();
    if en < 1e-12 {
        east = [0.0, 1.0, 0.0];
    } else {
        east = [east[0] / en, east[1] / en, 0.0];
    }
    let north = [
        c[1] * east[2] - c[2] * east[1],
        c[2] * east[0] - c[0] * east[2],
        c[0] * east[1] - c[1] * east[0],
    ];
    (north, east)
}

/// The point at angular distance `ang` (radians) from `c` towards bearing `th`.
pub fn offset(c: [f64; 3], north: [f64; 3], east: [f64; 3], ang: f64, th: f64) -> [f64; 3] {
    let (sa, ca) = ang.sin_cos();
    let (st, ct) = th.sin_cos();
    [
        ca * c[0] + sa * (ct * north[0] + st * east[0]),
        ca * c[1] + sa * (ct * north[1] + st * east[1]),
        ca * c[2] + sa * (ct * north[2] + st * east[2]),
    ]
}

/// Largest distance (km) consistent with a measured round trip of `rtt_ms` at the vacuum speed
/// of light.
pub fn max_distance_vacuum_km(rtt_ms: f64) -> f64 {
    rtt_ms.max(0.0) * KM_PER_RTT_MS_VACUUM
}

/// Largest distance (km) consistent with a measured round trip of `rtt_ms` in fibre.
pub fn max_distance_fibre_km(rtt_ms: f64) -> f64 {
    rtt_ms.max(0.0) * KM_PER_RTT_MS_FIBRE
}

/// Smallest RTT (ms) physically possible over `dist_km` (vacuum speed of light).
pub fn min_rtt_vacuum_ms(dist_km: f64) -> f64 {
    dist_km.max(0.0) / KM_PER_RTT_MS_VACUUM
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).unwrap()
    }

    #[test]
    fn constants_are_what_the_docs_say() {
        assert!((KM_PER_RTT_MS_VACUUM - 149.896_229).abs() < 1e-6);
        assert!((KM_PER_RTT_MS_FIBRE - 102.1).abs() < 0.1);
        // A 10 ms round trip cannot come from 2,000 km away, not even at the speed of light.
        assert!(max_distance_vacuum_km(10.0) < 2_000.0);
        assert!((max_distance_vacuum_km(10.0) - 1_498.96).abs() < 0.01);
        // The fibre rule of thumb: ~100 km per ms of RTT.
        assert!((max_distance_fibre_km(10.0) - 1_021.0).abs() < 1.0);
    }

    #[test]
    fn distances_match_hand_computed_values() {
        // One degree of latitude along a meridian = R·π/180.
        let one_deg = EARTH_RADIUS_KM * std::f64::consts::PI / 180.0;
        assert!((distance_km(p(0.0, 0.0), p(1.0, 0.0)) - one_deg).abs() < 1e-6);
        // Quarter of the equator.
        let quarter = EARTH_RADIUS_KM * std::f64::consts::FRAC_PI_2;
        assert!((distance_km(p(0.0, 0.0), p(0.0, 90.0)) - quarter).abs() < 1e-6);
        // Antipodes.
        assert!((distance_km(p(10.0, 20.0), p(-10.0, -160.0)) - 2.0 * quarter).abs() < 1e-3);
        // London–New York ≈ 5,570 km.
        let d = distance_km(p(51.5074, -0.1278), p(40.7128, -74.0060));
        assert!((d - 5_570.0).abs() < 15.0, "{d}");
        // The vector form agrees.
        let dv = unit_distance_km(
            p(51.5074, -0.1278).to_unit(),
            p(40.7128, -74.0060).to_unit(),
        );
        assert!((d - dv).abs() < 1e-6);
    }

    #[test]
    fn destination_inverts_distance() {
        let a = p(33.45, -112.07);
        for bearing in [0.0, 45.0, 133.0, 270.0] {
            for dist in [1.0, 500.0, 2_000.0, 9_000.0] {
                let b = destination(a, bearing, dist);
                assert!((distance_km(a, b) - dist).abs() < 1e-6, "{bearing} {dist}");
            }
        }
        assert!(LatLon::new(91.0, 0.0).is_none());
        assert!(LatLon::new(f64::NAN, 0.0).is_none());
        assert!(LatLon::new(0.0, 180.5).is_none());
    }
}
