//! Version parsing and ordering of every ecosystem: total order properties on arbitrary pairs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_deps::{Ecosystem, version};

const ECOS: &[Ecosystem] = &[
    Ecosystem::PyPI,
    Ecosystem::Npm,
    Ecosystem::CratesIo,
    Ecosystem::Go,
    Ecosystem::Debian,
    Ecosystem::Alpine,
    Ecosystem::RubyGems,
    Ecosystem::Packagist,
];

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = s.split_once('\n').unwrap_or((s, "1.0"));
    for &eco in ECOS {
        if let (Ok(x), Ok(y)) = (version::parse(eco, a), version::parse(eco, b)) {
            assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            let same = x == y;
            let canon = version::canonical(eco, a).ok() == version::canonical(eco, b).ok();
            assert_eq!(same, canon, "{eco:?}: {a:?} vs {b:?}");
        }
    }
});
