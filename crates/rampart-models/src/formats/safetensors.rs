//! safetensors header validation: an 8-byte little-endian header length, a JSON object of
//! `{name: {dtype, shape, data_offsets: [begin, end]}}` plus optional `__metadata__` (string to
//! string), tensors that exactly tile the data section without gaps, overlaps or running past
//! the end, and sizes that match dtype × shape. Duplicate JSON keys are reported too: parsers
//! disagree on which copy wins.

use crate::{Emit, Sink};
use rampart_core::Severity;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The safetensors library's own limit on the header.
pub const MAX_HEADER: u64 = 100_000_000;

/// Cheap sniff: length prefix that fits, followed by `{`.
pub fn looks_like(b: &[u8]) -> bool {
    if b.len() < 10 {
        return false;
    }
    let n = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    b[8] == b'{' && n >= 2 && (n <= MAX_HEADER || b[9] == b'"')
}

struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = m.next_entry::<String, Value>()? {
                    v.push((k, x));
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

fn dtype_size(d: &str) -> Option<(u64, u64)> {
    // (bits per element numerator, denominator 1) expressed as bits.
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => (8, 1),
        "I16" | "U16" | "F16" | "BF16" => (16, 1),
        "I32" | "U32" | "F32" => (32, 1),
        "I64" | "U64" | "F64" | "C64" => (64, 1),
        "C128" => (128, 1),
        "F4" | "F4_E2M1" => (4, 1),
        "F6_E2M3" | "F6_E3M2" => (6, 1),
        _ => return None,
    })
}

/// Problems with a safetensors file's header (empty when valid).
pub fn check_safetensors(b: &[u8]) -> Vec<String> {
    let mut p = Vec::new();
    if b.len() < 8 {
        p.push(format!(
            "file of {} bytes is shorter than the 8-byte header length",
            b.len()
        ));
        return p;
    }
    let n = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    if n > MAX_HEADER {
        p.push(format!(
            "header length {n} exceeds the {MAX_HEADER}-byte limit"
        ));
        return p;
    }
    if n > (b.len() - 8) as u64 {
        p.push(format!(
            "header length {n} runs past the end of the {}-byte file",
            b.len()
        ));
        return p;
    }
    let header = &b[8..8 + n as usize];
    let data_len = (b.len() - 8 - n as usize) as u64;
    if header.first() != Some(&b'{') {
        p.push("header does not start with `{`".into());
        return p;
    }
    let text = match std::str::from_utf8(header) {
        Ok(t) => t.trim_end_matches(' '),
        Err(e) => {
            p.push(format!("header is not UTF-8 ({e})"));
            return p;
        }
    };
    let entries = match serde_json::from_str::<Entries>(text) {
        Ok(e) => e.0,
        Err(e) => {
            p.push(format!("header is not a JSON object ({e})"));
            return p;
        }
    };
    let mut seen = std::collections::HashSet::new();
    let mut spans: Vec<(u64, u64, String)> = Vec::new();
    for (name, v) in &entries {
        if !seen.insert(name.as_str()) {
            p.push(format!("key `{name}` appears more than once"));
            continue;
        }
        if name == "__metadata__" {
            match v.as_object() {
                Some(m) => {
                    if let Some((k, _)) = m.iter().find(|(_, x)| !x.is_string()) {
                        p.push(format!("__metadata__ value `{k}` is not a string"));
                    }
                }
                None => p.push("__metadata__ is not an object".into()),
            }
            continue;
        }
        let Some(o) = v.as_object() else {
            p.push(format!("tensor `{name}` is not an object"));
            continue;
        };
        if let Some(k) = o
            .keys()
            .find(|k| !matches!(k.as_str(), "dtype" | "shape" | "data_offsets"))
        {
            p.push(format!("tensor `{name}` has unknown field `{k}`"));
        }
        let dtype = o.get("dtype").and_then(Value::as_str);
        let Some((bits, _)) = dtype.and_then(dtype_size) else {
            p.push(format!(
                "tensor `{name}` has missing or unknown dtype {:?}",
                o.get("dtype")
            ));
            continue;
        };
        let shape: Option<Vec<u64>> = o
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect());
        let Some(shape) = shape else {
            p.push(format!(
                "tensor `{name}` has a missing or non-integer shape"
            ));
            continue;
        };
        let offs: Option<Vec<u64>> = o
            .get("data_offsets")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect());
        let Some(offs) = offs.filter(|o| o.len() == 2) else {
            p.push(format!(
                "tensor `{name}` has missing or malformed data_offsets"
            ));
            continue;
        };
        let (begin, end) = (offs[0], offs[1]);
        if end < begin {
            p.push(format!(
                "tensor `{name}` data_offsets [{begin}, {end}] end before they begin"
            ));
            continue;
        }
        let elems = shape.iter().try_fold(1u64, |a, d| a.checked_mul(*d));
        let bytes = elems
            .and_then(|e| e.checked_mul(bits))
            .map(|b| b.div_ceil(8));
        match bytes {
            None => p.push(format!("tensor `{name}` shape {shape:?} overflows")),
            Some(sz) if sz != end - begin => p.push(format!(
                "tensor `{name}`: {} {shape:?} needs {sz} bytes but data_offsets span {}",
                dtype.unwrap_or("?"),
                end - begin
            )),
            _ => {}
        }
        if end > data_len {
            p.push(format!("tensor `{name}` data_offsets [{begin}, {end}] run past the {data_len}-byte data section"));
        }
        if spans.len() < 1_000_000 {
            spans.push((begin, end, name.clone()));
        }
    }
    spans.sort();
    let mut cursor = 0u64;
    let mut prev = String::new();
    for (b0, e0, name) in &spans {
        if *b0 < cursor {
            p.push(format!("tensors `{prev}` and `{name}` overlap"));
        } else if *b0 > cursor {
            p.push(format!(
                "gap of {} bytes before tensor `{name}` (hidden data)",
                b0 - cursor
            ));
        }
        if *e0 > cursor {
            cursor = *e0;
            prev = name.clone();
        }
    }
    if cursor < data_len && !spans.is_empty() {
        p.push(format!(
            "{} bytes after the last tensor are not described by the header",
            data_len - cursor
        ));
    }
    p.truncate(16);
    p
}

/// Analyse a safetensors file and emit one finding listing its problems.
pub fn analyse(sink: &mut Sink, data: &[u8], member: Option<&str>) {
    let problems = check_safetensors(data);
    if problems.is_empty() {
        return;
    }
    sink.emit(Emit {
        rule: "safetensors-malformed",
        severity: Severity::High,
        message: format!("safetensors header is invalid: {}", problems.join("; ")),
        remediation: super::REM_STRUCT,
        format: "safetensors",
        member,
        globals: vec![],
        call_chain: problems,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut b = (header.len() as u64).to_le_bytes().to_vec();
        b.extend(header.as_bytes());
        b.extend(vec![0u8; data]);
        b
    }

    #[test]
    fn valid_and_invalid() {
        let ok = file(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}"#,
            8,
        );
        assert!(
            check_safetensors(&ok).is_empty(),
            "{:?}",
            check_safetensors(&ok)
        );
        let oob = file(
            r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
            8,
        );
        assert!(
            check_safetensors(&oob)
                .iter()
                .any(|p| p.contains("run past"))
        );
        let overlap = file(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            8,
        );
        assert!(
            check_safetensors(&overlap)
                .iter()
                .any(|p| p.contains("overlap"))
        );
        let dup = file(
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            4,
        );
        assert!(
            check_safetensors(&dup)
                .iter()
                .any(|p| p.contains("more than once"))
        );
        let mismatch = file(
            r#"{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}"#,
            8,
        );
        assert!(
            check_safetensors(&mismatch)
                .iter()
                .any(|p| p.contains("needs 6 bytes"))
        );
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.extend(b"{}");
        assert!(!check_safetensors(&huge).is_empty());
    }
}
