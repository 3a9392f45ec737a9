//! ONNX: tensors whose `external_data` `location` escapes the model directory (absolute paths,
//! `..` climbing above it, drive letters, URLs). Loading such a model makes the runtime read
//! (and embed) an arbitrary file such as `/etc/shadow` or `~/.ssh/id_rsa`.
//!
//! The protobuf is walked by hand: only the messages on the path to a `TensorProto`
//! (`ModelProto.graph`, `GraphProto.initializer/sparse_initializer/node`, `NodeProto.attribute`,
//! `AttributeProto.t/g/tensors/graphs/sparse_tensor(s)`, `FunctionProto.node`) are decoded;
//! everything else is skipped by length. Depth and work are bounded.

use crate::{Emit, Sink};
use rampart_core::Severity;

fn varint(b: &[u8], p: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let x = *b.get(*p)?;
        *p += 1;
        v |= ((x & 0x7f) as u64) << (7 * i);
        if x & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

type Field<'a> = (u64, u8, &'a [u8], u64);

/// The fields of a message: `(field number, wire type, payload, varint value)`; fixed-width
/// fields are skipped. `None` when the bytes are not a well-formed message.
fn fields(b: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    each_field(b, |f| {
        if matches!(f.0, 1..=25) {
            out.push(f);
        }
    })?;
    Some(out)
}

fn each_field<'a>(b: &'a [u8], mut sink: impl FnMut(Field<'a>)) -> Option<()> {
    let mut p = 0;
    let mut n = 0usize;
    while p < b.len() {
        let key = varint(b, &mut p)?;
        let (f, wt) = (key >> 3, (key & 7) as u8);
        if f == 0 {
            return None;
        }
        match wt {
            0 => {
                let v = varint(b, &mut p)?;
                sink((f, wt, &b[0..0], v));
            }
            1 => {
                p = p.checked_add(8).filter(|e| *e <= b.len())?;
            }
            2 => {
                let n = varint(b, &mut p)? as usize;
                let e = p.checked_add(n).filter(|e| *e <= b.len())?;
                sink((f, wt, &b[p..e], 0));
                p = e;
            }
            5 => {
                p = p.checked_add(4).filter(|e| *e <= b.len())?;
            }
            _ => return None,
        }
        n += 1;
        if n > 50_000_000 {
            return None;
        }
    }
    Some(())
}

/// Cheap sniff: a `ModelProto` starts with `ir_version` (field 1, varint) and parses as a
/// message containing a graph (field 7) with known field numbers only.
pub fn looks_like(b: &[u8]) -> bool {
    if b.len() < 8 || b[0] != 0x08 || b[1] > 20 {
        return false;
    }
    let (mut graph, mut unknown) = (false, false);
    let ok = each_field(b, |(n, wt, _, _)| {
        graph |= n == 7 && wt == 2;
        unknown |= n > 30;
    });
    ok.is_some() && graph && !unknown
}

#[derive(Clone, Copy)]
enum Msg {
    Model,
    Graph,
    Node,
    Attribute,
    Tensor,
    SparseTensor,
    Function,
}

/// External-data locations that escape the model directory: `(tensor name, location)`.
pub fn escaping_locations(b: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut stack: Vec<(&[u8], Msg, u32)> = vec![(b, Msg::Model, 0)];
    let mut work = 0usize;
    while let Some((m, kind, depth)) = stack.pop() {
        work += 1;
        if depth > 64 || work > 1_000_000 {
            return Err("ONNX graph nesting or size exceeds the analysis cap".into());
        }
        if stack.len() > 1_000_000 {
            return Err("ONNX graph has more than a million pending messages".into());
        }
        if !matches!(kind, Msg::Tensor) {
            let ok = each_field(m, |(f, wt, p, _)| {
                if wt != 2 {
                    return;
                }
                let next = match (kind, f) {
                    (Msg::Model, 7) => Some(Msg::Graph),
                    (Msg::Model, 25) => Some(Msg::Function),
                    (Msg::Function, 7) => Some(Msg::Node),
                    (Msg::Graph, 1) => Some(Msg::Node),
                    (Msg::Graph, 5) => Some(Msg::Tensor),
                    (Msg::Graph, 15) => Some(Msg::SparseTensor),
                    (Msg::Node, 5) => Some(Msg::Attribute),
                    (Msg::Attribute, 5 | 10) => Some(Msg::Tensor),
                    (Msg::Attribute, 6 | 11) => Some(Msg::Graph),
                    (Msg::Attribute, 22 | 23) => Some(Msg::SparseTensor),
                    (Msg::SparseTensor, 1 | 2) => Some(Msg::Tensor),
                    _ => None,
                };
                if let Some(k) = next {
                    stack.push((p, k, depth + 1));
                }
            });
            if ok.is_none() {
                return Err("ONNX protobuf is malformed".into());
            }
            continue;
        }
        let Some(fs) = fields(m) else {
            return Err("ONNX tensor protobuf is malformed".into());
        };
        // Only tensors reach here.
        let mut name = String::new();
        let mut external = false;
        let mut location = None;
        for (f, wt, p, v) in &fs {
            match (f, wt) {
                (8, 2) => name = String::from_utf8_lossy(p).into_owned(),
                (14, 0) => external = *v == 1,
                (13, 2) => {
                    let Some(kv) = fields(p) else { continue };
                    let key = kv.iter().find(|(n, _, _, _)| *n == 1).map(|x| x.2);
                    let val = kv.iter().find(|(n, _, _, _)| *n == 2).map(|x| x.2);
                    if key == Some(b"location".as_slice()) {
                        location = val.map(|v| String::from_utf8_lossy(v).into_owned());
                    }
                }
                _ => {}
            }
        }
        if let Some(loc) = location {
            if (external || !loc.is_empty()) && escapes(&loc) && out.len() < 1000 {
                out.push((name, loc));
            }
        }
    }
    Ok(out)
}

/// True when a relative external-data path leaves the directory it is resolved against.
pub fn escapes(loc: &str) -> bool {
    if loc.is_empty() {
        return false;
    }
    if loc.starts_with('/') || loc.starts_with('\\') || loc.starts_with('~') || loc.contains('\0') {
        return true;
    }
    let b = loc.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return true;
    }
    if loc.contains("://") {
        return true;
    }
    let mut depth: i64 = 0;
    for part in loc.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// Analyse an ONNX model and emit findings.
pub fn analyse(sink: &mut Sink, data: &[u8], member: Option<&str>) {
    match escaping_locations(data) {
        Ok(v) if !v.is_empty() => {
            let globals: Vec<String> = v.iter().map(|(_, l)| l.clone()).collect();
            let chain: Vec<String> = v
                .iter()
                .take(16)
                .map(|(n, l)| format!("tensor `{n}` external_data location = {l:?}"))
                .collect();
            sink.emit(Emit {
                rule: "onnx-external-data-escape",
                severity: Severity::High,
                message: format!(
                    "ONNX model reads external tensor data from outside its directory: {}",
                    globals.iter().take(4).cloned().collect::<Vec<_>>().join(", ")
                ),
                remediation: "Do not load the model: the runtime would read (and may expose) the named files. Re-export with external data next to the model.",
                format: "onnx",
                member,
                globals,
                call_chain: chain,
            });
        }
        Ok(_) => {}
        Err(e) => sink.skip(member, format!("ONNX model not fully analysed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::escapes;

    #[test]
    fn escape_rules() {
        assert!(escapes("/etc/passwd"));
        assert!(escapes("../../x"));
        assert!(escapes("a/../../x"));
        assert!(escapes("C:\\Windows\\x"));
        assert!(escapes("..\\x"));
        assert!(!escapes("weights.bin"));
        assert!(!escapes("sub/../weights.bin"));
        assert!(!escapes("./data/w.bin"));
    }
}
