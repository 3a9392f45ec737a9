//! Fuzz the safetensors header validator (raw bytes, and a valid length prefix around fuzzed JSON).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rampart_models::check_safetensors(data);
    let mut framed = (data.len() as u64).to_le_bytes().to_vec();
    framed.extend_from_slice(data);
    framed.extend_from_slice(&[0u8; 64]);
    let _ = rampart_models::check_safetensors(&framed);
});
