//! Keras models: the v3 `.keras` zip's `config.json`, and the legacy HDF5 `.h5`
//! `model_config` attribute.
//!
//! **HDF5 without libhdf5.** Keras (through h5py) stores `model_config` as a string attribute
//! of the root group: the JSON text sits contiguously in the file, inside the attribute message
//! (or, for large configs, a heap block). Rather than link libhdf5 or write an HDF5 reader, we
//! search the bytes (the first 64 MiB and the last 16 MiB) for the attribute name
//! `model_config`, parse the first JSON object that follows each occurrence, and analyse each
//! distinct one (a decoy attribute such as `model_config_note` may come first). If no parsable config is found but the bytes still contain a
//! `"class_name": "Lambda"` marker, that is reported on its own. The limits of this choice:
//! a config stored compressed (h5py never does this for attributes) or split across
//! non-contiguous heap blocks would not be parsed, and is reported only through the marker
//! search.

use crate::{Emit, Sink, Verdict};
use base64::Engine;
use rampart_core::Severity;
use serde_json::Value;

const REM_KERAS: &str = "Load the model only with keras.saving.load_model(..., safe_mode=True) and without custom objects \
from untrusted sources; rebuild Lambda layers as registered layer classes you control.";

const KERAS_FAMILY: &[&str] = &[
    "keras",
    "tensorflow",
    "tf_keras",
    "numpy",
    "keras_hub",
    "keras_nlp",
    "keras_cv",
];

/// Names that, found inside a Lambda layer's marshalled bytecode, show what it does.
const BYTECODE_NAMES: &[&str] = &[
    "system",
    "popen",
    "exec",
    "eval",
    "compile",
    "__import__",
    "subprocess",
    "os",
    "builtins",
    "socket",
    "open",
    "getattr",
    "importlib",
    "spawn",
    "check_output",
    "run",
    "Popen",
    "remove",
    "rmtree",
    "urlopen",
];

/// Analyse config JSON bytes (`config.json` of a `.keras` archive).
pub fn analyse_config_bytes(sink: &mut Sink, bytes: &[u8], member: Option<&str>, format: &str) {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => analyse_config(sink, &v, member, format),
        Err(e) => sink.skip(
            member,
            format!("Keras config is not valid JSON ({e}); not analysed"),
        ),
    }
}

struct Hit {
    rule: &'static str,
    severity: Severity,
    message: String,
    globals: Vec<String>,
    chain: Vec<String>,
}

/// Analyse a parsed Keras model config.
pub fn analyse_config(sink: &mut Sink, v: &Value, member: Option<&str>, format: &str) {
    let mut hits = Vec::new();
    let legacy = format == "keras-h5";
    // Explicit stack: configs can be deep, and recursion depth must not depend on input.
    let mut stack: Vec<(&Value, String)> = vec![(v, "$".to_string())];
    let mut visited = 0usize;
    while let Some((v, path)) = stack.pop() {
        visited += 1;
        if visited > 1_000_000 {
            break;
        }
        match v {
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate().rev() {
                    stack.push((x, format!("{path}[{i}]")));
                }
            }
            Value::Object(o) => {
                check_object(sink, o, &path, legacy, &mut hits);
                for (k, x) in o.iter() {
                    if matches!(x, Value::Object(_) | Value::Array(_)) {
                        stack.push((x, format!("{path}.{k}")));
                    }
                }
            }
            _ => {}
        }
    }
    for h in hits.into_iter().take(64) {
        sink.emit(Emit {
            rule: h.rule,
            severity: h.severity,
            message: h.message,
            remediation: REM_KERAS,
            format,
            member,
            globals: h.globals,
            call_chain: h.chain,
        });
    }
}

fn check_object(
    sink: &Sink,
    o: &serde_json::Map<String, Value>,
    path: &str,
    legacy: bool,
    hits: &mut Vec<Hit>,
) {
    let class = o.get("class_name").and_then(Value::as_str).unwrap_or("");
    let name = o
        .get("config")
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if class == "Lambda" || class == "__lambda__" && !path.ends_with(".function") {
        let cfg = o.get("config");
        let code = cfg.and_then(lambda_code);
        let names = code.as_deref().map(bytecode_names).unwrap_or_default();
        let severity = if !names.is_empty() || legacy {
            Severity::Critical
        } else {
            Severity::High
        };
        let what = if code.is_some() {
            "marshalled Python bytecode"
        } else {
            "a Python function reference"
        };
        let mut message = format!(
            "Keras Lambda layer `{name}` carries {what}, which runs when the model is loaded or called"
        );
        if !names.is_empty() {
            message.push_str(&format!(" (its code names {})", names.join(", ")));
        }
        hits.push(Hit {
            rule: "keras-lambda-layer",
            severity,
            message,
            globals: names,
            chain: vec![format!("{path} (Lambda `{name}`)")],
        });
    }
    if let Some(module) = o.get("module").and_then(Value::as_str) {
        let root = module.split('.').next().unwrap_or(module);
        let target = if class == "function" {
            o.get("config").and_then(Value::as_str).unwrap_or(class)
        } else {
            class
        };
        let full = if target.is_empty() {
            module.to_string()
        } else {
            format!("{module}.{target}")
        };
        let verdict = sink.det.policy.classify_full(&full);
        let family = KERAS_FAMILY.contains(&root);
        if verdict == Verdict::Dangerous || (!family && verdict != Verdict::Allowed) {
            let (rule, severity) = if verdict == Verdict::Dangerous {
                ("keras-unsafe-module", Severity::Critical)
            } else {
                ("keras-custom-object", Severity::High)
            };
            hits.push(Hit {
                rule,
                severity,
                message: format!("Keras config deserialises `{full}` from module `{module}`, outside keras/tensorflow/numpy: loading imports and runs it"),
                globals: vec![full],
                chain: vec![path.to_string()],
            });
        }
    }
    if let Some(reg) = o.get("registered_name").and_then(Value::as_str) {
        if let Some((pkg, _)) = reg.split_once('>') {
            let root = pkg.split('.').next().unwrap_or(pkg);
            if !KERAS_FAMILY.contains(&root)
                && sink.det.policy.classify_full(&reg.replace('>', ".")) != Verdict::Allowed
            {
                hits.push(Hit {
                    rule: "keras-custom-object",
                    severity: Severity::High,
                    message: format!("Keras config needs the custom object `{reg}` registered by package `{pkg}`: loading runs that package's code"),
                    globals: vec![reg.to_string()],
                    chain: vec![path.to_string()],
                });
            }
        }
    }
}

/// The base64 bytecode of a Lambda's function, Keras 3 (`{"class_name": "__lambda__",
/// "config": {"code": …}}`) or Keras 2 (`"function": ["<b64>", defaults, closure]`).
fn lambda_code(cfg: &Value) -> Option<Vec<u8>> {
    let f = cfg.get("function")?;
    let b64 = match f {
        Value::Array(a) => a.first()?.as_str()?.to_string(),
        Value::String(s) => s.clone(),
        Value::Object(_) => f.get("config")?.get("code")?.as_str()?.to_string(),
        _ => return None,
    };
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(clean.as_bytes()))
        .ok()
}

/// Identifier strings in marshalled bytecode that name process, file or import APIs.
fn bytecode_names(code: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = Vec::new();
    for &b in code.iter().chain(std::iter::once(&0u8)) {
        if b.is_ascii_alphanumeric() || b == b'_' {
            cur.push(b);
            continue;
        }
        if !cur.is_empty() {
            let s = String::from_utf8_lossy(&cur).into_owned();
            if BYTECODE_NAMES.contains(&s.as_str()) && !out.contains(&s) {
                out.push(s);
            }
            cur.clear();
        }
    }
    out
}

/// Legacy Keras HDF5: find and analyse the `model_config` attribute (see the module docs).
pub fn analyse_h5(sink: &mut Sink, data: &[u8], member: Option<&str>) {
    // h5py writes the root group's attributes near the start of the file; a continuation block
    // can sit at the end. Searching only the first 64 MiB and the last 16 MiB keeps a multi-GB
    // weights file from being read whole.
    let head_end = data.len().min(64 << 20);
    let tail_start = data.len().saturating_sub(16 << 20).max(head_end);
    let mut found = false;
    // Spans of JSON already analysed, so a layer inside a config is not taken for a config.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut seen: Vec<Value> = Vec::new();
    let mut try_at = |start: usize, sink: &mut Sink| -> bool {
        if spans.iter().any(|&(a, b)| a <= start && start < b) {
            return false;
        }
        let end = (start + (64 << 20)).min(data.len());
        let mut it = serde_json::Deserializer::from_slice(&data[start..end]).into_iter::<Value>();
        let Some(Ok(v)) = it.next() else {
            return false;
        };
        if v.get("class_name").is_none() && v.get("config").is_none() {
            return false;
        }
        spans.push((start, start + it.byte_offset()));
        if !seen.contains(&v) {
            analyse_config(sink, &v, member, "keras-h5");
            seen.push(v);
        }
        true
    };
    let windows = [(0, head_end), (tail_start, data.len())];
    // Where a config may start: the first `{` after each `model_config` name, and — because
    // h5py keeps attribute values in a heap in its own order, so the JSON after a name may be
    // another attribute's (a decoy such as `model_config_note` written first) — every
    // `{"class_name"` / `{"module"`. Taken in file order, so that a config is parsed before the
    // layers inside it, which its span then covers.
    let mut starts: Vec<usize> = Vec::new();
    let finder = memchr::memmem::Finder::new(b"model_config");
    for &(a, b) in &windows {
        for at in finder.find_iter(&data[a..b]).take(32) {
            let at = at + a;
            let window_end = (at + 4096).min(data.len());
            if let Some(brace) = memchr::memchr(b'{', &data[at..window_end]) {
                starts.push(at + brace);
            }
        }
        for pat in [&b"{\"class_name\""[..], b"{\"module\""] {
            let f = memchr::memmem::Finder::new(pat);
            starts.extend(f.find_iter(&data[a..b]).take(256).map(|i| i + a));
        }
    }
    starts.sort_unstable();
    starts.dedup();
    for start in starts {
        found |= try_at(start, sink);
    }
    if !found {
        for marker in [
            &b"\"class_name\": \"Lambda\""[..],
            b"\"class_name\":\"Lambda\"",
        ] {
            let windows = [&data[..head_end], &data[tail_start..]];
            if windows
                .iter()
                .any(|w| memchr::memmem::find(w, marker).is_some())
            {
                sink.emit(Emit {
                    rule: "keras-lambda-layer",
                    severity: Severity::High,
                    message: "HDF5 file contains a Keras Lambda layer definition, but its model_config could not be parsed from the raw bytes".into(),
                    remediation: REM_KERAS,
                    format: "keras-h5",
                    member,
                    globals: vec![],
                    call_chain: vec![],
                });
                break;
            }
        }
    }
}
