//! Compressed joblib files: joblib writes zlib or gzip streams around the pickle when
//! `compress=` is set. They are decompressed with a hard cap ([`crate::Limits::max_decompressed`])
//! and analysed only when the result is a pickle. bz2, lzma/xz and lz4 joblib files are not
//! decompressed; when their name says they are models, the detector reports them as the
//! finding `model-unscannable-compression` (medium), naming the compression.

use super::REM_EVASION;
use crate::pickle::looks_like_pickle;
use crate::{Emit, Format, Sink};
use rampart_core::Severity;
use std::io::Read;

/// zlib (with a valid header checksum) or gzip.
pub fn looks_compressed(b: &[u8]) -> bool {
    if b.len() < 3 {
        return false;
    }
    if b[0] == 0x1f && b[1] == 0x8b && b[2] == 8 {
        return true;
    }
    b[0] == 0x78
        && (b[0] as u16 * 256 + b[1] as u16) % 31 == 0
        && matches!(b[1], 0x01 | 0x5e | 0x9c | 0xda)
}

fn decoder<'a>(b: &'a [u8]) -> Box<dyn Read + 'a> {
    if b[0] == 0x1f {
        Box::new(flate2::read::MultiGzDecoder::new(b))
    } else {
        Box::new(flate2::read::ZlibDecoder::new(b))
    }
}

/// Analyse a zlib/gzip stream whose content is a pickle (compressed joblib).
pub fn analyse(sink: &mut Sink, data: &[u8], member: Option<&str>, depth: u32) {
    let mut head = Vec::new();
    if decoder(data).take(4096).read_to_end(&mut head).is_err() || !looks_like_pickle_head(&head) {
        return;
    }
    let cap = sink.det.limits.max_decompressed;
    let mut buf = Vec::new();
    if let Err(e) = decoder(data).take(cap + 1).read_to_end(&mut buf) {
        sink.skip(
            member,
            format!("compressed pickle stream is corrupt ({e}); analysed the readable part"),
        );
    }
    if buf.len() as u64 > cap {
        buf.truncate(cap as usize);
        sink.emit(Emit {
            rule: "archive-cap-exceeded",
            severity: Severity::High,
            message: format!("compressed pickle expands past the {} MiB analysis cap; only the first part was analysed", cap >> 20),
            remediation: REM_EVASION,
            format: "joblib",
            member,
            globals: vec![],
            call_chain: vec![],
        });
    }
    if looks_like_pickle(&buf) {
        let _ = depth;
        let r = crate::pickle::analyse(&buf, &sink.det.policy, &sink.det.limits);
        super::emit_pickle(sink, &r, "joblib", member);
    } else if let Some(f) = crate::sniff(&buf) {
        if f != Format::Compressed && depth < 2 {
            super::analyse(sink, f, &buf, member, depth + 1);
        }
    }
}

/// Worth decompressing in full: the start of a pickle (with or without `PROTO`) or an `.npy`
/// array.
fn looks_like_pickle_head(h: &[u8]) -> bool {
    crate::pickle::looks_like_pickle_prefix(h) || h.starts_with(b"\x93NUMPY")
}
