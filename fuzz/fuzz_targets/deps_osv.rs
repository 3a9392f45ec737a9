//! OSV record parsing (single records, arrays, API responses) and matching of what was parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_deps::{Ecosystem, matcher, osv};

fuzz_target!(|data: &[u8]| {
    let (mut w, mut e) = (Vec::new(), Vec::new());
    for adv in osv::parse_document(data, "fuzz.json", "fuzz", &mut w, &mut e) {
        for aff in &adv.affected {
            let eco = Ecosystem::from_osv(&aff.ecosystem);
            for v in ["0", "1.0.0", "v1.2.3-rc.1", "1:2.3-4", "1.0_rc1-r2"] {
                let _ = matcher::check(aff, eco, v);
            }
        }
    }
});
