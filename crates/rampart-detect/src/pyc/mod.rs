//! Compiled Python (`.pyc`): the string constants a secret can hide in.
//!
//! A `.pyc` is a 4-byte magic number ending in `\r\n`, a header, and a `marshal` stream. Each
//! string is stored as a type byte (`z`/`Z`: short ASCII with a 1-byte length; `a`/`A`/`u`/`t`/`s`:
//! with a 4-byte little-endian length; `0x80` set when the object may be referenced again)
//! followed by its bytes. Scanned raw, a constant runs into the type and length bytes around it:
//! a 51-character token stored as `z3ghp_…` no longer starts at a word boundary and is missed,
//! and `fw_compiler` + `z5` + `AotEagerAndRecordGraphs` looks like a Fireworks key. Compiled-only
//! images and PyInstaller bundles ship exactly these files.
//!
//! [`strings`] walks the bytes once and takes every length-prefixed run of printable UTF-8 as one
//! constant. It needs no per-version layout of code objects (which changes between Python
//! releases): a byte that is not a string tag, or a "string" whose bytes are not text
//! (bytecode, line tables), is stepped over one byte at a time.
//!
//! A constant assigned to a name (`API_KEY = "…"`, `self.password = "…"`, `{"token": "…"}`,
//! `connect(password="…")`) comes out as `API_KEY = "…"` on its line, so that rules that need
//! the name see it; the names are read from the bytecode by [`assignments`] for CPython 3.8–3.14.

mod marshal;

pub use marshal::{assignments, parses};

/// The strings of a `.pyc`, joined by `\n` so that each starts on its own line.
#[derive(Debug, Default)]
pub struct PycText {
    /// The constants, separated by `\n`.
    pub text: Vec<u8>,
    /// Where each constant starts in `text`, in order.
    pub starts: Vec<usize>,
}

impl PycText {
    /// The index of the constant holding byte `offset` of `text`.
    pub fn constant_at(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }
}

/// Shortest constant kept: names like `self` or `path` cannot hold a credential.
const MIN_LEN: usize = 8;

/// Whether `data` is a compiled Python file: a CPython 2.7 or 3.x magic number (`\r\n` in bytes
/// 2–3) and a code object (`c`, or `0xe3` with the reference flag) where the header of one of
/// the layouts ends (byte 8 for 2.7–3.2, 12 for 3.3–3.6, 16 since 3.7).
pub fn is_pyc(data: &[u8]) -> bool {
    if data.len() < 17 || &data[2..4] != b"\r\n" {
        return false;
    }
    let magic = u16::from_le_bytes([data[0], data[1]]);
    if !(magic == 62211 || (3000..5000).contains(&magic)) {
        return false;
    }
    [8, 12, 16].iter().any(|&o| matches!(data[o], b'c' | 0xe3))
}

/// The string constants of a `.pyc` (see the module docs); `None` when `data` is not one.
pub fn strings(data: &[u8]) -> Option<PycText> {
    if !is_pyc(data) {
        return None;
    }
    let names = marshal::assignments(data);
    let mut out = PycText::default();
    let mut i = 8;
    while i < data.len() {
        let tag = data[i] & 0x7f;
        let (len, start) = match tag {
            b'z' | b'Z' => match data.get(i + 1) {
                Some(&n) => (n as usize, i + 2),
                None => break,
            },
            b'a' | b'A' | b'u' | b't' | b's' => match data.get(i + 1..i + 5) {
                Some(b) => (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, i + 5),
                None => break,
            },
            _ => {
                i += 1;
                continue;
            }
        };
        let Some(s) = start.checked_add(len).and_then(|end| data.get(start..end)) else {
            i += 1;
            continue;
        };
        if len > 0 && is_text(s) {
            // Kept if long enough; a short name is stepped over whole all the same, so that its
            // bytes are not read as tags.
            if len >= MIN_LEN {
                if !out.text.is_empty() {
                    out.text.push(b'\n');
                }
                out.starts.push(out.text.len());
                if let Some(n) = names.get(s) {
                    out.text.extend_from_slice(n.as_bytes());
                    out.text.extend_from_slice(b" = \"");
                    out.text.extend_from_slice(s);
                    out.text.push(b'"');
                } else {
                    out.text.extend_from_slice(s);
                }
            }
            i = start + len;
        } else {
            i += 1;
        }
    }
    Some(out)
}

/// UTF-8 without control characters other than tab and line breaks.
fn is_text(s: &[u8]) -> bool {
    std::str::from_utf8(s).is_ok_and(|t| {
        t.chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3.11-style header and a code object whose constants are `consts` (as `z`/`a`/`u`
    /// strings between bytecode-like bytes).
    fn pyc(consts: &[(&[u8], u8)]) -> Vec<u8> {
        let mut p = vec![0xa7, 0x0d, b'\r', b'\n', 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        p.extend([0xe3, 0, 0, 0, 0, 0, 0, 0, 0]);
        p.extend([
            0xf3, 8, 0, 0, 0, 0x97, 0x00, 0x64, 0x00, 0x5a, 0x00, 0x64, 0x01,
        ]);
        for (s, tag) in consts {
            p.push(*tag);
            if tag & 0x7f == b'z' || tag & 0x7f == b'Z' {
                p.push(s.len() as u8);
            } else {
                p.extend((s.len() as u32).to_le_bytes());
            }
            p.extend(*s);
            p.extend([0x4e, 0x29, 0x02]);
        }
        p
    }

    #[test]
    fn constants_come_out_one_per_line() {
        let token = b"ghp_Zx4pQ9rT2vW8yB3nM6kL1cF5hJ7gD01Sz2sN123456789AB"; // 51 bytes: `3`
        let p = pyc(&[
            (token, 0xda),
            (b"fw_compiler", 0xfa),
            (b"AotEagerAndRecordGraphs", 0xda),
            (b"caf\xc3\xa9 \xe2\x86\x92 line\nnext", 0xf5),
            (b"self", 0xda),
        ]);
        // Raw, the token's length byte (51, `3`) runs into it.
        assert!(String::from_utf8_lossy(&p).contains("3ghp_"));
        let t = strings(&p).unwrap();
        let text = String::from_utf8(t.text.clone()).unwrap();
        assert_eq!(
            text,
            format!(
                "{}\nfw_compiler\nAotEagerAndRecordGraphs\ncafé → line\nnext",
                std::str::from_utf8(token).unwrap()
            )
        );
        assert_eq!(t.starts.len(), 4);
        assert_eq!(t.constant_at(0), 0);
        assert_eq!(t.starts[0], 0);
        let k = text.find("line\nnext").unwrap() + 6;
        assert_eq!(t.constant_at(k), 3);
    }

    #[test]
    fn not_a_pyc_and_truncated_input() {
        assert!(strings(b"password = 'hM2kq9Vz7Lw4Rt'\n").is_none()); // rampart:allow
        assert!(!is_pyc(b"\xa7\x0d\r\n"));
        let p = pyc(&[(b"sk-ant-api03-abcdefghijklmnop", 0xe1)]);
        for cut in 0..p.len() {
            let _ = strings(&p[..cut]);
        }
        // A length that runs past the end is not a string.
        let mut q = pyc(&[]);
        q.extend([0xe1, 0xff, 0xff, 0xff, 0x7f, b'x']);
        assert!(strings(&q).unwrap().text.is_empty());
    }
}
