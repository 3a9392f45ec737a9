//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `/work/shared/data/osv` (`../shared/data/osv` from the repository root), if present.
pub fn osv_corpus() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/osv");
    if root.is_dir() {
        Some(root)
    } else {
        eprintln!(
            "SKIP: {} is absent; tests on real OSV advisories did not run",
            root.display()
        );
        None
    }
}
