//! Fuzz the GGUF header/metadata/tensor-table parser and the chat-template checks.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rampart_models::check_gguf(data);
    let mut framed = b"GGUF\x03\x00\x00\x00".to_vec();
    framed.extend_from_slice(data);
    let _ = rampart_models::check_gguf(&framed);
});
