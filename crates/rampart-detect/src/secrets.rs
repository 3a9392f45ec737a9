//! The secret detector: runs the rule set on an item and turns matches into findings.

use crate::RuleSet;
use rampart_core::{Detections, Detector, Finding, Item, Kind, Skipped, fingerprint, human_size};
use std::collections::HashMap;

/// Finds credentials in content with a [`RuleSet`].
#[derive(Debug)]
pub struct SecretDetector {
    rules: RuleSet,
    max_size: u64,
}

impl SecretDetector {
    /// A detector over the given rules.
    pub fn new(rules: RuleSet) -> Self {
        SecretDetector {
            rules,
            max_size: 256 << 20,
        }
    }

    /// Skip (with a reason) content larger than `bytes` (default 256 MiB).
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// The rules in use.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }
}

impl Detector for SecretDetector {
    fn name(&self) -> &'static str {
        "secrets"
    }

    fn detect(&self, item: &Item<'_>, out: &mut Detections) {
        if is_opaque(item.data) {
            return;
        }
        if item.data.len() as u64 > self.max_size {
            let mut what = item.location.clone();
            what.line = None;
            what.column = None;
            out.skipped.push(Skipped::new(
                what.display(),
                format!(
                    "file is {}, over the {} limit (--max-file-size)",
                    human_size(item.data.len() as u64),
                    human_size(self.max_size)
                ),
            ));
            return;
        }
        // Compiled Python: the string constants, one per line (see `crate::pyc`).
        let pyc = crate::pyc::strings(item.data);
        // UTF-16 text (PowerShell scripts, .reg exports, files saved by Windows tools) is
        // scanned as UTF-8; a UTF-8 byte-order mark is skipped, so that a rule anchored at the
        // start of a line still sees the first one.
        let utf16 = if pyc.is_none() {
            utf16_text(item.data)
        } else {
            None
        };
        let data: &[u8] = match (&pyc, &utf16) {
            (Some(p), _) => &p.text,
            (None, Some(t)) => t.as_bytes(),
            (None, None) => item.data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(item.data),
        };
        let matches = self.rules.scan(data);
        if matches.is_empty() {
            return;
        }
        let identity = item.location.identity();
        // Same rule and same secret twice in one item: number the occurrences so each has its
        // own fingerprint that survives edits elsewhere in the file.
        let mut ordinal: HashMap<(usize, &[u8]), u32> = HashMap::new();
        for m in matches {
            if m.allowed {
                continue;
            }
            let rule = &self.rules.rules()[m.rule];
            let secret_bytes = &data[m.secret.clone()];
            let n = ordinal.entry((m.rule, secret_bytes)).or_insert(0);
            let occurrence = n.to_string();
            *n += 1;
            let mut location = item.location.clone();
            location.line = Some(m.line);
            location.column = Some(m.column);
            location.end_line = (m.end_line != m.line).then_some(m.end_line);
            if let Some(p) = &pyc {
                // `file.pyc#constants:N:C`: the N-th string constant (a fixed field, so the
                // fingerprint does not move when constants before it are added).
                location.field = Some("constants".into());
                location.line = Some(p.constant_at(m.secret.start) as u32 + 1);
                location.end_line = None;
            }
            let mut f = Finding::new(
                Kind::Secret,
                rule.def.id.clone(),
                rule.def.severity,
                format!("{} found", rule.def.name),
                location,
            );
            f.fingerprint = fingerprint(&[&rule.def.id, &identity, &occurrence], secret_bytes);
            f.secret = Some(String::from_utf8_lossy(secret_bytes).into_owned());
            f.provider = Some(rule.def.provider.clone());
            f.remediation = Some(rule.def.remediation.clone());
            out.findings.push(f);
        }
    }
}

/// `data` as text when it is UTF-16: a byte-order mark (`FF FE` / `FE FF`) before text with
/// zero high bytes, or no mark and the first 512 bytes are ASCII text with every other byte
/// zero. `None` otherwise.
fn utf16_text(data: &[u8]) -> Option<String> {
    // With a mark, at least a third of the first 256 units must be ASCII or Latin-1 (high byte
    // zero), as any text with a credential in it is: `\xff\xfe garbage` is not UTF-16.
    let latin = |b: &[u8], high: usize| {
        let units: Vec<&[u8]> = b.chunks_exact(2).take(256).collect();
        !units.is_empty() && units.iter().filter(|u| u[high] == 0).count() * 3 >= units.len()
    };
    let (le, body) = if let Some(b) = data.strip_prefix(b"\xff\xfe")
        && latin(b, 1)
    {
        (true, b)
    } else if let Some(b) = data.strip_prefix(b"\xfe\xff")
        && latin(b, 0)
    {
        (false, b)
    } else {
        let head = &data[..data.len().min(512) & !1];
        if head.len() < 16 {
            return None;
        }
        let pairs = head.chunks_exact(2);
        let n = pairs.len();
        let ascii = |c: u8| (0x20..0x7f).contains(&c) || matches!(c, b'\t' | b'\n' | b'\r');
        let le = pairs.clone().filter(|p| p[1] == 0 && ascii(p[0])).count();
        let be = pairs.filter(|p| p[0] == 0 && ascii(p[1])).count();
        if le * 10 >= n * 9 {
            (true, data)
        } else if be * 10 >= n * 9 {
            (false, data)
        } else {
            return None;
        }
    };
    let units = body.chunks_exact(2).map(|p| {
        if le {
            u16::from_le_bytes([p[0], p[1]])
        } else {
            u16::from_be_bytes([p[0], p[1]])
        }
    });
    Some(
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

/// Compressed archives and media: their bytes are noise to text rules (archives are expanded by
/// the sources that understand them). Other binaries — executables, databases — are scanned raw,
/// since credentials sit in them as plain text.
pub fn is_opaque(data: &[u8]) -> bool {
    const MAGIC: &[&[u8]] = &[
        b"\x1f\x8b",           // gzip
        b"PK\x03\x04",         // zip, jar, wheel, docx
        b"\x28\xb5\x2f\xfd",   // zstd
        b"\xfd7zXZ\x00",       // xz
        b"BZh",                // bzip2
        b"7z\xbc\xaf\x27\x1c", // 7z
        b"\x89PNG\r\n\x1a\n",  // png
        b"\xff\xd8\xff",       // jpeg
        b"GIF87a",
        b"GIF89a",
        b"wOFF",
        b"wOF2",
        b"OggS",
        b"fLaC",
        b"ID3", // mp3
    ];
    if MAGIC.iter().any(|m| data.starts_with(m)) {
        return true;
    }
    // RIFF containers (webp, wav, avi) and ISO media (mp4, mov, heic).
    (data.len() >= 12 && data.starts_with(b"RIFF")) || (data.len() >= 12 && &data[4..8] == b"ftyp")
}

#[cfg(test)]
mod tests {
    use super::is_opaque;

    #[test]
    fn opaque_by_magic_not_by_name() {
        assert!(is_opaque(b"\x1f\x8b\x08\x00rest"));
        assert!(is_opaque(b"\x89PNG\r\n\x1a\n...."));
        assert!(!is_opaque(b"\x7fELF\x02\x01\x01"));
        assert!(!is_opaque(b"password=hunter2"));
        assert!(!is_opaque(b""));
    }
}
