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
        let data: &[u8] = pyc.as_ref().map_or(item.data, |p| &p.text);
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
