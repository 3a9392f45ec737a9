//! Fuzz the landmarks-file parser (JSON array, JSON Lines or CSV) and the landmark plan built on
//! what it accepts: arbitrary bytes must never panic, every rejected entry comes with a message,
//! and a plan never names a landmark twice or one that does not exist.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_presence::Landmarks;
use rampart_presence::geo::LatLon;
use rampart_presence::plan::{PlanSpec, plan, uncovered};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (lms, errors) = Landmarks::parse(&text);
    for e in &errors {
        assert!(!e.message.is_empty());
    }
    let positions: Vec<LatLon> = lms.iter().map(|l| l.pos).collect();
    let claim = positions
        .first()
        .copied()
        .unwrap_or(LatLon { lat: 0.0, lon: 0.0 });
    let spec = PlanSpec {
        near: 2,
        ring: 4,
        ring_km: [100.0, 5_000.0],
        min_total: 7,
    };
    let p = plan(&positions, claim, &spec);
    assert!(p.len() <= positions.len());
    let mut seen = vec![false; positions.len()];
    for x in &p {
        assert!(!seen[x.index], "landmark {} planned twice", x.index);
        seen[x.index] = true;
    }
    let planned: Vec<LatLon> = p.iter().map(|x| positions[x.index]).collect();
    let _ = uncovered(claim, &planned, spec.ring_km, 45.0, 1_000_000);
});
