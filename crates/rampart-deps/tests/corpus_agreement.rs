//! Every `versions` enumeration in the real OSV corpora must agree with the range evaluation of
//! the same `affected` entry: a listed version must fall in one of its SEMVER/ECOSYSTEM ranges.
//!
//! Disagreements are counted by cause and printed (run with `--nocapture` to see them). Causes
//! that are faults of the data, not of Rampart, are allowed and explained in `classify`; anything
//! else fails the test.

mod common;

use rampart_deps::matcher;
use rampart_deps::osv::{self, Affected, Event, RangeKind};
use rampart_deps::version::Version;
use rampart_deps::{Ecosystem, version};
use std::collections::BTreeMap;

/// Why a listed version is outside the ranges. Every cause but `UNEXPLAINED` is a fault of the
/// record (the `versions` list was enumerated differently from what its ranges say), checked here
/// mechanically rather than by listing advisory ids.
fn classify(aff: &Affected, eco: Ecosystem, v: &str) -> &'static str {
    let Ok(pv) = version::parse(eco, v) else {
        // e.g. PyPI `2.0.0-final`, `0.1-bulbasaur`: legacy, non-PEP 440 versions. They still match
        // through the `versions` list by exact string.
        return "listed version is not valid under the ecosystem's rules (legacy version string)";
    };
    let events = || {
        aff.ranges
            .iter()
            .filter(|r| matches!(r.kind, RangeKind::Semver | RangeKind::Ecosystem))
            .flat_map(|r| r.events.iter())
    };
    // A pre-release of an `introduced` version: PEP 440 orders 3.2a1 before 3.2, so a range
    // starting at 3.2 excludes it, but the enumeration included it.
    if let Version::Pep440(p) = &pv {
        if p.is_prerelease() {
            for e in events() {
                if let Event::Introduced(i) = e {
                    if let Ok(Version::Pep440(iv)) = version::parse(eco, i) {
                        let trim = |r: &[u64]| {
                            let mut r = r.to_vec();
                            while r.last() == Some(&0) {
                                r.pop();
                            }
                            r
                        };
                        if trim(iv.release()) == trim(p.release())
                            && pv < Version::Pep440(iv.clone())
                        {
                            return "pre-release of an `introduced` version (PEP 440 orders it before the release)";
                        }
                    }
                }
            }
        }
    }
    // Enumerated from a GIT range: tags at or after an ECOSYSTEM `fixed` version.
    if aff.ranges.iter().any(|r| r.kind == RangeKind::Git) {
        for e in events() {
            if let Event::Fixed(f) = e {
                if version::parse(eco, f).is_ok_and(|fv| pv >= fv) {
                    return "enumerated from the GIT range, at or after the ECOSYSTEM range's `fixed` version";
                }
            }
        }
    }
    "UNEXPLAINED"
}

#[test]
fn versions_lists_agree_with_ranges() {
    let Some(root) = common::osv_corpus() else {
        return;
    };
    let mut checked = 0u64;
    let mut entries = 0u64;
    let mut causes: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for sub in ["crates.io", "PyPI", "Go", "malicious"] {
        let dir = root.join(sub);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let mut w = Vec::new();
            let adv = osv::parse_record(&bytes, &f.display().to_string(), "test", &mut w)
                .unwrap_or_else(|e| panic!("{e}"));
            for aff in &adv.affected {
                let has_ranges = aff
                    .ranges
                    .iter()
                    .any(|r| matches!(r.kind, RangeKind::Semver | RangeKind::Ecosystem));
                if aff.versions.is_empty() || !has_ranges {
                    continue;
                }
                entries += 1;
                let eco = Ecosystem::from_osv(&aff.ecosystem);
                let ranges_only = Affected {
                    versions: Vec::new(),
                    ..aff.clone()
                };
                for v in &aff.versions {
                    checked += 1;
                    let verdict = matcher::check(&ranges_only, eco, v);
                    if !verdict.affected {
                        causes
                            .entry(classify(aff, eco, v))
                            .or_default()
                            .push(format!("{} {} {}", adv.id, aff.name, v));
                    }
                }
            }
        }
    }
    eprintln!("checked {checked} listed versions in {entries} affected entries");
    for (cause, list) in &causes {
        eprintln!("{} disagreement(s): {cause}", list.len());
        for x in list.iter().take(400) {
            eprintln!("    {x}");
        }
    }
    assert!(
        checked > 10_000,
        "the corpus should have many enumerations, saw {checked}"
    );
    assert!(
        !causes.contains_key("UNEXPLAINED"),
        "unexplained disagreements: {:?}",
        causes.get("UNEXPLAINED")
    );
}
