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
        let identity = item.location.identity();
        // Same rule and same secret twice in one item: number the occurrences so each has its
        // own fingerprint that survives edits elsewhere in the file.
        let mut ordinal: HashMap<(usize, Vec<u8>), u32> = HashMap::new();
        // Where the secrets found lie: the unescaped pass reports nothing that overlaps them.
        let mut raw: Vec<std::ops::Range<usize>> = Vec::new();
        for m in matches {
            raw.push(m.secret.clone());
            if m.allowed {
                continue;
            }
            let secret_bytes = &data[m.secret.clone()];
            let n = ordinal.entry((m.rule, secret_bytes.to_vec())).or_insert(0);
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
            out.findings.push(self.finding(
                m.rule,
                location,
                secret_bytes,
                &identity,
                &occurrence,
                "",
            ));
        }
        if pyc.is_none() {
            self.base64_findings(item, data, &identity, out);
            self.unescaped_findings(item, data, &identity, &raw, out);
        }
    }
}

impl SecretDetector {
    /// The finding for rule `rule` matching `secret` at `location`; `occurrence` numbers the same
    /// secret within the item (see `detect`), `note` follows "… found".
    fn finding(
        &self,
        rule: usize,
        location: rampart_core::Location,
        secret: &[u8],
        identity: &str,
        occurrence: &str,
        note: &str,
    ) -> Finding {
        let rule = &self.rules.rules()[rule];
        let mut f = Finding::new(
            Kind::Secret,
            rule.def.id.clone(),
            rule.def.severity,
            format!("{} found{note}", rule.def.name),
            location,
        );
        f.fingerprint = fingerprint(&[&rule.def.id, identity, occurrence], secret);
        f.secret = Some(String::from_utf8_lossy(secret).into_owned());
        f.provider = Some(rule.def.provider.clone());
        f.remediation = Some(rule.def.remediation.clone());
        f
    }

    /// JSON text escapes that hide a secret from the rules: `\/` (PHP's `json_encode` writes
    /// every `/` so, breaking URLs and AWS secret keys) and `\n` before a token that a rule wants
    /// at the start of a line. When the item holds `\/`, or is a JSON-like file holding `\n`,
    /// the rules run again on the text with those escapes undone; what they find that the first
    /// pass did not (nothing overlapping `raw`, its secrets) is reported at its place in the original.
    fn unescaped_findings(
        &self,
        item: &Item<'_>,
        data: &[u8],
        identity: &str,
        raw: &[std::ops::Range<usize>],
        out: &mut Detections,
    ) {
        let Some((view, map)) = unescaped(item.path, data) else {
            return;
        };
        let mut ordinal: HashMap<(usize, Vec<u8>), u32> = HashMap::new();
        for m in self.rules.scan(&view) {
            let secret_bytes = &view[m.secret.clone()];
            let at = map.get(m.secret.start).copied().unwrap_or(0);
            let end = map
                .get(m.secret.end.saturating_sub(1))
                .map_or(at, |e| e + 1);
            if m.allowed || raw.iter().any(|r| r.start < end && at < r.end) {
                continue;
            }
            let n = ordinal.entry((m.rule, secret_bytes.to_vec())).or_insert(0);
            let occurrence = format!("esc:{n}");
            *n += 1;
            out.findings.push(self.finding(
                m.rule,
                located(item, data, at),
                secret_bytes,
                identity,
                &occurrence,
                " (JSON-escaped)",
            ));
        }
    }

    /// Values that are base64 of text — a Kubernetes Secret's `data:`, a kubeconfig's
    /// `client-key-data:`, a Docker `auth`, an environment variable holding a whole `.env` or a
    /// service-account JSON — decoded and scanned (twice nested at most). A finding sits on the
    /// encoded value's line and column, names the encoding (`"encoding": "base64"`), and its
    /// secret is the decoded one.
    fn base64_findings(&self, item: &Item<'_>, data: &[u8], identity: &str, out: &mut Detections) {
        let mut values = Vec::new();
        base64_values(data, 0, 0, &mut values);
        if values.is_empty() {
            return;
        }
        let mut ordinal: HashMap<(usize, Vec<u8>), u32> = HashMap::new();
        for (at, text) in values {
            let matches = self.rules.scan(&text);
            if matches.is_empty() {
                continue;
            }
            let location = located(item, data, at);
            for m in matches {
                if m.allowed {
                    continue;
                }
                let secret_bytes = &text[m.secret.clone()];
                let n = ordinal.entry((m.rule, secret_bytes.to_vec())).or_insert(0);
                let occurrence = format!("b64:{n}");
                *n += 1;
                let mut f = self.finding(
                    m.rule,
                    location.clone(),
                    secret_bytes,
                    identity,
                    &occurrence,
                    " (base64-encoded)",
                );
                f.extra
                    .insert("encoding".into(), serde_json::Value::from("base64"));
                out.findings.push(f);
            }
        }
    }
}

/// `data` with `\/` undone (and, in JSON-like files, `\n` `\r` `\t`), and for each byte of
/// the result its offset in `data`; `None` when there is nothing to undo.
fn unescaped(path: &str, data: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    let lower = path.to_ascii_lowercase();
    let json = [
        ".json", ".jsonl", ".ndjson", ".ipynb", ".har", ".map", ".log",
    ]
    .iter()
    .any(|e| lower.ends_with(e));
    let slash = memchr::memmem::find(data, b"\\/").is_some();
    let newline = json && memchr::memmem::find(data, b"\\n").is_some();
    if !(slash || newline) {
        return None;
    }
    let mut view = Vec::with_capacity(data.len());
    let mut map = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        if c == b'\\' && i + 1 < data.len() {
            let undone = match data[i + 1] {
                b'/' => Some(b'/'),
                b'n' if json => Some(b'\n'),
                b'r' if json => Some(b'\r'),
                b't' if json => Some(b'\t'),
                // `\\` stays two bytes, so `\\n` is not read as an escaped newline.
                b'\\' => {
                    view.extend_from_slice(b"\\\\");
                    map.extend([i, i + 1]);
                    i += 2;
                    continue;
                }
                _ => None,
            };
            if let Some(u) = undone {
                view.push(u);
                map.push(i);
                i += 2;
                continue;
            }
        }
        view.push(c);
        map.push(i);
        i += 1;
    }
    Some((view, map))
}

/// A value after `:` or `=` (or alone on its line), quoted or not, of 16+ base64 characters.
static BASE64_VALUE: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
    regex::bytes::Regex::new(
        r#"(?m)(?:[:=]|^)[ \t]{0,8}["']?([A-Za-z0-9+/]{16,}={0,2})["']?[ \t]*(?:[,}\r]|$)"#,
    )
    .unwrap_or_else(|_| regex::bytes::Regex::new("$^").expect("empty regex"))
});

/// Most base64 values decoded in one item, and the largest one.
const MAX_BASE64_VALUES: usize = 2_000;
const MAX_BASE64_LEN: usize = 1 << 20;

/// Base64 values in `data` that decode to text: (offset of the value in the top-level item,
/// decoded text); a decoded text is searched again (`depth` < 2), its values placed at the
/// outer value's offset `base`.
fn base64_values(data: &[u8], depth: u32, base: usize, out: &mut Vec<(usize, Vec<u8>)>) {
    use base64::Engine;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    for c in BASE64_VALUE.captures_iter(data) {
        if out.len() >= MAX_BASE64_VALUES {
            return;
        }
        let Some(v) = c.get(1) else { continue };
        if v.len() > MAX_BASE64_LEN {
            continue;
        }
        let Ok(text) = engine.decode(v.as_bytes()) else {
            continue;
        };
        if !is_text(&text) {
            continue;
        }
        let at = if depth == 0 { v.start() } else { base };
        if depth < 1 {
            base64_values(&text, depth + 1, at, out);
        }
        out.push((at, text));
    }
}

/// Decoded bytes that are text worth scanning: at least 8 bytes of UTF-8 with no control
/// characters but tab and line ends (a hash or a key's DER body is not).
fn is_text(b: &[u8]) -> bool {
    b.len() >= 8
        && std::str::from_utf8(b).is_ok_and(|t| {
            t.chars()
                .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        })
}

/// The item's location at offset `at` of `data` (its line and byte column).
fn located(item: &Item<'_>, data: &[u8], at: usize) -> rampart_core::Location {
    let (line, column) = line_col(data, at);
    let mut location = item.location.clone();
    location.line = Some(line);
    location.column = Some(column);
    location.end_line = None;
    location
}

/// 1-based line and byte column of offset `at` in `data`.
fn line_col(data: &[u8], at: usize) -> (u32, u32) {
    let before = &data[..at.min(data.len())];
    let line = 1 + memchr::memchr_iter(b'\n', before).count();
    let col = at
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line as u32, col as u32)
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
