//! Fuzz the whole model detector (format sniffing, zip/tar/npy/keras/onnx/hdf5 paths).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_core::{Detections, Detector, Item, Location};

fuzz_target!(|data: &[u8]| {
    let det = rampart_models::ModelDetector::new();
    let loc = Location::file("fuzz.bin");
    let mut out = Detections::default();
    det.detect(&Item { path: "fuzz.bin", data, location: &loc }, &mut out);
});
