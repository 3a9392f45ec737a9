//! Fuzz the container-image reader and the archive expander on arbitrary bytes (tar indexes,
//! manifests, configs, layer decompression, whiteouts, zip/tar members).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_core::{Finding, Item, Skipped};
use rampart_sources::{ArchiveLimits, Expanding, Sink, SourceOptions};

struct Null;
impl Sink for Null {
    fn item(&self, _: &Item<'_>) {}
    fn skipped(&self, _: Skipped) {}
    fn finding(&self, _: Finding) {}
}

fuzz_target!(|data: &[u8]| {
    let opts = SourceOptions { threads: 1, max_file_size: 1 << 20, ..Default::default() };
    let limits = ArchiveLimits { max_total: 8 << 20, max_member: 1 << 20, ..Default::default() };
    let sink = Null;
    let expanding = Expanding::new(&sink, limits);
    rampart_sources::scan_bytes("fuzz.tar", data, &opts, &expanding);
    rampart_sources::scan_bytes("fuzz.whl", data, &opts, &expanding);
    rampart_sources::scan_bytes("fuzz.tgz", data, &opts, &expanding);
});
