//! GGUF: header, metadata and tensor-table bounds, and Jinja chat templates that reach Python
//! internals (server-side template injection when a runtime renders the template with Jinja2,
//! as llama-cpp-python did before CVE-2024-34359 was fixed).
//!
//! The parser never allocates in proportion to a count read from the file: arrays are skipped
//! by bounds arithmetic, and only chat-template strings are copied (capped).

use crate::{Emit, Sink};
use rampart_core::Severity;

/// One problem found in a GGUF file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GgufProblem {
    /// The structure is broken or out of bounds.
    Malformed(String),
    /// A chat template reaches Python internals.
    Template {
        /// The metadata key.
        key: String,
        /// What was found.
        detail: String,
        /// True for dunder access (critical); false for computed-attribute tricks (high).
        dunder: bool,
    },
}

struct Rd<'a> {
    b: &'a [u8],
    p: usize,
    v1: bool,
}

impl<'a> Rd<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], String> {
        let rem = (self.b.len() - self.p) as u64;
        if n > rem {
            return Err(format!(
                "{what} at offset {} needs {n} bytes, {rem} remain",
                self.p
            ));
        }
        let s = &self.b[self.p..self.p + n as usize];
        self.p += n as usize;
        Ok(s)
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let s = self.take(4, what)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let s = self.take(8, what)?;
        Ok(u64::from_le_bytes(s.try_into().map_err(|_| "short read")?))
    }
    fn count(&mut self, what: &str) -> Result<u64, String> {
        if self.v1 {
            self.u32(what).map(u64::from)
        } else {
            self.u64(what)
        }
    }
    fn string(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.count(what)?;
        self.take(n, what)
    }
}

fn scalar_size(t: u32) -> Option<u64> {
    match t {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// (block bytes, elements per block) of ggml tensor types.
fn ggml_type(t: u32) -> Option<(u64, u64)> {
    Some(match t {
        0 => (4, 1),
        1 => (2, 1),
        2 => (18, 32),
        3 => (20, 32),
        6 => (22, 32),
        7 => (24, 32),
        8 => (34, 32),
        9 => (36, 32),
        10 => (84, 256),
        11 => (110, 256),
        12 => (144, 256),
        13 => (176, 256),
        14 => (210, 256),
        15 => (292, 256),
        16 => (66, 256),
        17 => (74, 256),
        18 => (98, 256),
        19 => (50, 256),
        20 => (18, 32),
        21 => (110, 256),
        22 => (82, 256),
        23 => (136, 256),
        24 => (1, 1),
        25 => (2, 1),
        26 => (4, 1),
        27 => (8, 1),
        28 => (8, 1),
        29 => (56, 256),
        30 => (2, 1),
        34 => (54, 256),
        35 => (66, 256),
        39 => (17, 32),
        _ => return None,
    })
}

const MAX_TEMPLATE: usize = 1 << 20;

/// Check a GGUF file's structure and chat templates. Never panics; bounded work.
pub fn check_gguf(b: &[u8]) -> Vec<GgufProblem> {
    let mut out = Vec::new();
    let mut templates: Vec<(String, String)> = Vec::new();
    if let Err(e) = parse(b, &mut templates) {
        out.push(GgufProblem::Malformed(e));
    }
    for (key, t) in templates {
        out.extend(check_template(&key, &t));
    }
    out
}

fn parse(b: &[u8], templates: &mut Vec<(String, String)>) -> Result<(), String> {
    if !b.starts_with(b"GGUF") {
        return Err("missing GGUF magic".into());
    }
    let mut r = Rd { b, p: 4, v1: false };
    let version = r.u32("version")?;
    if !(1..=3).contains(&version) {
        return Err(format!("unsupported GGUF version {version}"));
    }
    r.v1 = version == 1;
    let n_tensors = r.count("tensor count")?;
    let n_kv = r.count("metadata count")?;
    // Each KV needs at least a key length, a type and a value: 8+4+1 bytes (v1: 4+4+1).
    let remaining = (b.len() - r.p) as u64;
    if n_kv > remaining / 9 {
        return Err(format!(
            "metadata count {n_kv} cannot fit in the {remaining} bytes that remain"
        ));
    }
    if n_tensors > remaining / 24 {
        return Err(format!(
            "tensor count {n_tensors} cannot fit in the {remaining} bytes that remain"
        ));
    }
    let mut alignment: u64 = 32;
    for i in 0..n_kv {
        let key = r.string(&format!("metadata key #{i}"))?;
        let key = String::from_utf8_lossy(key).into_owned();
        let t = r.u32(&format!("type of {key}"))?;
        match t {
            8 => {
                let s = r.string(&format!("value of {key}"))?;
                if key.starts_with("tokenizer.chat_template") {
                    let s = &s[..s.len().min(MAX_TEMPLATE)];
                    if templates.len() < 64 {
                        templates.push((key.clone(), String::from_utf8_lossy(s).into_owned()));
                    }
                }
            }
            9 => {
                let et = r.u32(&format!("array type of {key}"))?;
                let n = r.count(&format!("array length of {key}"))?;
                match et {
                    8 => {
                        for j in 0..n {
                            r.string(&format!("{key}[{j}]"))?;
                        }
                    }
                    9 => return Err(format!("{key}: nested arrays are not valid GGUF")),
                    _ => {
                        let sz = scalar_size(et)
                            .ok_or_else(|| format!("{key}: unknown array element type {et}"))?;
                        let total = n
                            .checked_mul(sz)
                            .ok_or_else(|| format!("{key}: array size overflows"))?;
                        r.take(total, &format!("array {key}"))?;
                    }
                }
            }
            _ => {
                let sz = scalar_size(t).ok_or_else(|| format!("{key}: unknown value type {t}"))?;
                let v = r.take(sz, &format!("value of {key}"))?;
                if key == "general.alignment" && t == 4 {
                    alignment = u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as u64;
                    if alignment == 0 || !alignment.is_power_of_two() {
                        return Err(format!(
                            "general.alignment {alignment} is not a power of two"
                        ));
                    }
                }
            }
        }
    }
    let mut tensors: Vec<(u64, u64, String)> = Vec::new();
    for i in 0..n_tensors {
        let name = String::from_utf8_lossy(r.string(&format!("tensor #{i} name"))?).into_owned();
        let nd = r.u32(&format!("tensor {name} dims"))?;
        if nd > 4 {
            return Err(format!("tensor {name} has {nd} dimensions (max 4)"));
        }
        let mut elems: u64 = 1;
        for _ in 0..nd {
            let d = r.u64(&format!("tensor {name} shape"))?;
            elems = elems
                .checked_mul(d)
                .ok_or_else(|| format!("tensor {name}: element count overflows"))?;
        }
        let ty = r.u32(&format!("tensor {name} type"))?;
        let off = r.u64(&format!("tensor {name} offset"))?;
        if off % alignment != 0 {
            return Err(format!(
                "tensor {name} offset {off} is not aligned to {alignment}"
            ));
        }
        if let Some((bs, per)) = ggml_type(ty) {
            if elems % per != 0 {
                return Err(format!(
                    "tensor {name}: {elems} elements is not a multiple of the type's block size {per}"
                ));
            }
            let size = (elems / per)
                .checked_mul(bs)
                .ok_or_else(|| format!("tensor {name}: size overflows"))?;
            if tensors.len() < 1_000_000 {
                tensors.push((off, size, name));
            }
        } else {
            return Err(format!("tensor {name} has unknown ggml type {ty}"));
        }
    }
    let data_start =
        r.p.div_ceil(alignment as usize)
            .saturating_mul(alignment as usize);
    let data_len = (b.len() as u64).saturating_sub(data_start as u64);
    tensors.sort();
    let mut prev_end = 0u64;
    let mut prev_name = String::new();
    for (off, size, name) in &tensors {
        let end = off
            .checked_add(*size)
            .ok_or_else(|| format!("tensor {name}: offset + size overflows"))?;
        if end > data_len {
            return Err(format!(
                "tensor {name} spans [{off}, {end}) but the data section has {data_len} bytes"
            ));
        }
        if *off < prev_end {
            return Err(format!("tensors {prev_name} and {name} overlap"));
        }
        prev_end = end;
        prev_name = name.clone();
    }
    Ok(())
}

/// Jinja constructs in a chat template that reach Python internals.
pub fn check_template(key: &str, t: &str) -> Vec<GgufProblem> {
    let mut out = Vec::new();
    // Decode the escapes Jinja string literals accept, so "\x5f\x5fclass\x5f\x5f" is seen.
    let decoded = decode_escapes(t);
    // Join string concatenations: "__cla" + "ss__", "__cla" ~ "ss__".
    let mut joined = decoded.clone();
    for sep in [
        "' + '", "\" + \"", "'+'", "\"+\"", "' ~ '", "\" ~ \"", "'~'", "\"~\"",
    ] {
        joined = joined.replace(sep, "");
    }
    let dunders = [
        "__class__",
        "__globals__",
        "__subclasses__",
        "__builtins__",
        "__import__",
        "__mro__",
        "__base__",
        "__bases__",
        "__init__",
        "__getattribute__",
        "__dict__",
        "__code__",
        "__func__",
        "__self__",
        "__module__",
        "__reduce__",
        "__reduce_ex__",
        "__getitem__",
        "__loader__",
        "__spec__",
        "func_globals",
        "mro(",
    ];
    let mut found: Vec<&str> = dunders
        .iter()
        .copied()
        .filter(|d| joined.contains(d))
        .collect();
    // Any other dunder identifier.
    let has_other_dunder = joined.match_indices("__").any(|(i, _)| {
        let rest = &joined[i + 2..];
        let id: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        id.len() >= 3
            && id.ends_with("__")
            && !found.iter().any(|f| f.contains(id.trim_end_matches('_')))
    });
    if has_other_dunder && found.is_empty() {
        found.push("dunder attribute");
    }
    if !found.is_empty() {
        out.push(GgufProblem::Template {
            key: key.to_string(),
            detail: format!("reaches Python internals through {}", found.join(", ")),
            dunder: true,
        });
        return out;
    }
    let mut tricks = Vec::new();
    if t.contains("|attr") || t.contains("| attr") {
        tricks.push("the `attr` filter (attribute access by computed name)");
    }
    if decoded != t && (t.contains("\\x5f") || t.contains("\\u005f") || t.contains("\\137")) {
        tricks.push("escaped underscores");
    }
    for g in [
        "cycler",
        "joiner",
        "lipsum",
        "self._TemplateReference",
        "request.application",
        "config.items",
    ] {
        if t.contains(g) {
            tricks.push("Jinja globals used as gadgets (cycler/joiner/lipsum/self)");
            break;
        }
    }
    if !tricks.is_empty() {
        out.push(GgufProblem::Template {
            key: key.to_string(),
            detail: format!("uses {}", tricks.join(", ")),
            dunder: false,
        });
    }
    out
}

fn decode_escapes(t: &str) -> String {
    let b = t.as_bytes();
    let mut out = String::with_capacity(t.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let (n, radix, skip) = match b[i + 1] {
                b'x' => (2, 16, 2),
                b'u' => (4, 16, 2),
                b'U' => (8, 16, 2),
                b'0'..=b'7' => (3, 8, 1),
                _ => (0, 0, 0),
            };
            if n > 0 {
                if let Some(h) = t.get(i + skip..i + skip + n) {
                    if let Some(c) = u32::from_str_radix(h, radix).ok().and_then(char::from_u32) {
                        out.push(c);
                        i += skip + n;
                        continue;
                    }
                }
            }
        }
        let c = t[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(c);
        i += c.len_utf8().max(1);
    }
    out
}

/// Analyse a GGUF file and emit findings.
pub fn analyse(sink: &mut Sink, data: &[u8], member: Option<&str>) {
    for p in check_gguf(data) {
        let (rule, severity, message, rem) = match p {
            GgufProblem::Malformed(m) => (
                "gguf-malformed",
                Severity::High,
                format!("GGUF structure is invalid: {m}"),
                super::REM_STRUCT,
            ),
            GgufProblem::Template {
                key,
                detail,
                dunder,
            } => (
                if dunder {
                    "gguf-chat-template-injection"
                } else {
                    "gguf-chat-template-suspicious"
                },
                if dunder {
                    Severity::Critical
                } else {
                    Severity::High
                },
                format!(
                    "GGUF chat template `{key}` {detail}: rendering it with Jinja2 can run code"
                ),
                "Do not serve this model with a runtime that renders its chat template outside a Jinja sandbox; replace the template with a known-good one.",
            ),
        };
        sink.emit(Emit {
            rule,
            severity,
            message,
            remediation: rem,
            format: "gguf",
            member,
            globals: vec![],
            call_chain: vec![],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let benign = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
        assert!(check_template("k", benign).is_empty());
        let evil = "{{ ''.__class__.__mro__[1].__subclasses__() }}";
        assert!(matches!(
            &check_template("k", evil)[0],
            GgufProblem::Template { dunder: true, .. }
        ));
        let hidden = "{{ ''|attr('\\x5f\\x5fcla' ~ 'ss\\x5f\\x5f') }}";
        assert!(matches!(
            &check_template("k", hidden)[0],
            GgufProblem::Template { dunder: true, .. }
        ));
        let attr = "{{ x|attr(name) }}";
        assert!(matches!(
            &check_template("k", attr)[0],
            GgufProblem::Template { dunder: false, .. }
        ));
    }

    #[test]
    fn bounds() {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(u64::MAX.to_le_bytes());
        assert!(matches!(&check_gguf(&b)[0], GgufProblem::Malformed(_)));
        let mut ok = b"GGUF".to_vec();
        ok.extend(3u32.to_le_bytes());
        ok.extend(0u64.to_le_bytes());
        ok.extend(0u64.to_le_bytes());
        assert!(check_gguf(&ok).is_empty());
    }
}
