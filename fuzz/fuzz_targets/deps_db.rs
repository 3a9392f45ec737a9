//! Opening arbitrary bytes as an advisory database and reading everything from it. The header
//! checksum is recomputed so that the fuzzer reaches the record readers.
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
        let _ = db.all_advisories();
        for (e, n) in [("PyPI", "django"), ("npm", "a"), ("Go", "stdlib")] {
            let _ = db.lookup(e, n);
        }
    }
});
