//! Opening arbitrary bytes as an advisory database, reading everything from it and matching the
//! packages it names. The header checksum is recomputed so that the fuzzer reaches the record
//! readers. Seed it with a real database to reach the matcher quickly:
//! `rampart db import --db fuzz/corpus/deps_db/seed.rdb crates/rampart-deps/tests/fixtures/osv`
//! (coverage 1,718 → 3,216 edges in 120 s when seeded).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_deps::Database;

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if bytes.len() >= 64 {
        let crc = crc32fast::hash(&bytes[64..]);
        bytes[12..16].copy_from_slice(&crc.to_le_bytes());
        let len = bytes.len() as u32;
        bytes[36..40].copy_from_slice(&len.to_le_bytes());
        bytes[0..8].copy_from_slice(b"RMPOSV01");
        bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    }
    if let Ok(db) = Database::from_bytes(bytes) {
        let _ = db.status();
        for (e, n) in [("PyPI", "django"), ("npm", "a"), ("Go", "stdlib")] {
            let _ = db.lookup(e, n);
        }
        // The matcher's own readers (listed-version search, range preparation, advisory cache)
        // on the packages the database names, with one of their listed versions.
        let named: Vec<(String, String, String)> = db
            .all_advisories()
            .map(|m| {
                m.values()
                    .flat_map(|a| a.affected.iter())
                    .map(|x| {
                        let v = x
                            .versions
                            .first()
                            .cloned()
                            .unwrap_or_else(|| "1.0.0".into());
                        (x.ecosystem.clone(), x.name.clone(), v)
                    })
                    .take(64)
                    .collect()
            })
            .unwrap_or_default();
        for (eco, name, version) in named {
            let pkg = rampart_deps::inventory::Package {
                ecosystem: rampart_deps::Ecosystem::from_osv(&eco),
                release: None,
                name,
                version,
                source_name: None,
                source_version: None,
                manifest: "fuzz".into(),
                line: None,
                dev: false,
                hashes: Vec::new(),
                license: None,
            };
            let _ = rampart_deps::matcher::match_package(&db, &pkg);
            let _ = rampart_deps::matcher::match_package_full(&db, &pkg);
        }
    }
});
