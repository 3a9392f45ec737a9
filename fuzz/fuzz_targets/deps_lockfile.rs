//! Every lockfile and package-metadata parser of rampart-deps, chosen by the first byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_core::{Detections, Detector, Item, Location};
use rampart_deps::DepsDetector;

const PATHS: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "node_modules/x/package.json",
    "requirements.txt",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "pdm.lock",
    "pylock.toml",
    "site-packages/x-1.0.dist-info/METADATA",
    "go.mod",
    "Gemfile.lock",
    "composer.lock",
    "var/lib/dpkg/status",
    "lib/apk/db/installed",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let path = PATHS[sel as usize % PATHS.len()];
    let det = DepsDetector::inventory_only();
    let loc = Location::file(path);
    let mut out = Detections::default();
    det.detect(
        &Item {
            path,
            data: rest,
            location: &loc,
        },
        &mut out,
    );
    // Includes resolved against an in-memory "filesystem" that returns the same bytes.
    if let Some(f) = rampart_deps::inventory::recognise(path) {
        let _ =
            rampart_deps::inventory::parse_with_includes(f, path, rest, &|_| Some(rest.to_vec()));
    }
    let _ = det.take_inventory();
});
