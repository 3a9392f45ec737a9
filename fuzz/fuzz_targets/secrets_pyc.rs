//! Fuzz the `.pyc` string walk and the secret scan of its constants. The input gets a CPython 3.11
//! header and a code-object byte, so every run reaches the marshal walk.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_core::{Detections, Detector, Item, Location};
use std::sync::OnceLock;

static DETECTOR: OnceLock<rampart_detect::SecretDetector> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let mut pyc = vec![0xa7, 0x0d, b'\r', b'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe3];
    pyc.extend_from_slice(data);
    let text = rampart_detect::pyc::strings(&pyc).expect("a pyc header");
    for (i, &s) in text.starts.iter().enumerate() {
        assert!(s <= text.text.len());
        assert_eq!(text.constant_at(s), i);
    }
    let det = DETECTOR.get_or_init(|| rampart_detect::SecretDetector::new(rampart_detect::RuleSet::builtin()));
    let loc = Location::file("fuzz.pyc");
    let mut out = Detections::default();
    det.detect(&Item { path: "fuzz.pyc", data: &pyc, location: &loc }, &mut out);
});
