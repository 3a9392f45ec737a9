//! Fuzz the secret engine: keyword automaton, windows, regexes, validators, overlap resolution.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_core::{Detections, Detector, Item, Location};
use std::sync::OnceLock;

static DETECTOR: OnceLock<rampart_detect::SecretDetector> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let det = DETECTOR.get_or_init(|| rampart_detect::SecretDetector::new(rampart_detect::RuleSet::builtin()));
    let loc = Location::file("fuzz.txt");
    let mut out = Detections::default();
    det.detect(&Item { path: "fuzz.txt", data, location: &loc }, &mut out);
    rampart_detect::StartupHookDetector.detect(&Item { path: "lib/site-packages/x.pth", data, location: &loc }, &mut out);
});
