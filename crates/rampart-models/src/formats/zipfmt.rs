//! Zip containers: PyTorch (`*/data.pkl` under any prefix, every `.pkl`), TorchScript,
//! NumPy `.npz`, Keras v3 `.keras`, and generic zips whose members are models.
//!
//! Members are read with bounded decompression ([`crate::Limits::max_decompressed`]); stored
//! members are sliced from the input without copying. The central directory size and entry
//! count are checked from the end-of-central-directory record before the zip crate parses it,
//! so a directory bomb is a finding rather than an allocation.

use super::{REM_EVASION, REM_STRUCT, keras, npy, pickle_member};
use crate::pickle::StreamMode;
use crate::{Emit, Sink, sniff_named};
use rampart_core::Severity;
use std::borrow::Cow;
use std::io::{Cursor, Read};

/// True when an end-of-central-directory record sits in the last 64 KiB (a zip with data
/// prepended, e.g. a self-extracting archive or a polyglot).
pub fn has_trailing_eocd(b: &[u8]) -> bool {
    find_eocd(b).is_some()
}

fn find_eocd(b: &[u8]) -> Option<usize> {
    if b.len() < 22 {
        return None;
    }
    let start = b.len().saturating_sub(22 + 65535);
    let tail = &b[start..];
    let mut end = tail.len();
    // Walk candidates from the end; accept one whose comment length reaches the end exactly.
    while let Some(i) = memchr::memmem::rfind(&tail[..end], b"PK\x05\x06") {
        let at = start + i;
        if at + 22 <= b.len() {
            let clen = u16::from_le_bytes([b[at + 20], b[at + 21]]) as usize;
            if at + 22 + clen == b.len() {
                return Some(at);
            }
        }
        end = i;
    }
    None
}

/// `(entries, central directory size)` from the EOCD (zip64 when flagged).
fn eocd_counts(b: &[u8]) -> Option<(u64, u64)> {
    let at = find_eocd(b)?;
    let entries = u16::from_le_bytes([b[at + 10], b[at + 11]]) as u64;
    let cd = u32::from_le_bytes([b[at + 12], b[at + 13], b[at + 14], b[at + 15]]) as u64;
    if (entries == 0xffff || cd == 0xffff_ffff) && at >= 20 && &b[at - 20..at - 16] == b"PK\x06\x07"
    {
        let off = u64::from_le_bytes(b[at - 12..at - 4].try_into().ok()?) as usize;
        if off + 56 <= b.len() && &b[off..off + 4] == b"PK\x06\x06" {
            let e = u64::from_le_bytes(b[off + 32..off + 40].try_into().ok()?);
            let c = u64::from_le_bytes(b[off + 40..off + 48].try_into().ok()?);
            return Some((e, c));
        }
    }
    Some((entries, cd))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    PyTorch,
    TorchScript,
    Keras,
    Npz,
    Generic,
}

fn layout(names: &[String]) -> Layout {
    let base = |n: &str| n.rsplit('/').next().unwrap_or(n).to_string();
    if names
        .iter()
        .any(|n| n.ends_with(".keras") || n == "config.json")
        && names
            .iter()
            .any(|n| n == "metadata.json" || n.ends_with(".weights.h5") || n == "model.weights.h5")
    {
        return Layout::Keras;
    }
    let has_code = names
        .iter()
        .any(|n| n.contains("/code/__torch__") || n.starts_with("code/__torch__"));
    if has_code || names.iter().any(|n| base(n) == "constants.pkl") {
        return Layout::TorchScript;
    }
    if names.iter().any(|n| base(n) == "data.pkl") {
        return Layout::PyTorch;
    }
    if !names.is_empty()
        && names
            .iter()
            .all(|n| n.ends_with(".npy") || n.ends_with('/'))
    {
        return Layout::Npz;
    }
    Layout::Generic
}

/// Whether `config.json` bytes are a Keras model config: a JSON object with `class_name` and
/// `config`, naming Keras (`"module": "keras…"`) or one of its model classes.
fn keras_config(bytes: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return false;
    };
    let class = v["class_name"].as_str().unwrap_or_default();
    v["config"].is_object()
        && (v["module"].as_str().is_some_and(|m| m.starts_with("keras"))
            || matches!(class, "Functional" | "Sequential" | "Model"))
}

fn join(outer: Option<&str>, m: &str) -> String {
    match outer {
        Some(o) => format!("{o}!{m}"),
        None => m.to_string(),
    }
}

/// Analyse a zip archive.
pub fn analyse(sink: &mut Sink, data: &[u8], outer: Option<&str>, depth: u32) {
    let limits = sink.det.limits.clone();
    if depth >= limits.max_archive_depth {
        sink.skip(
            outer,
            format!(
                "archive nested deeper than {} levels: not opened",
                limits.max_archive_depth
            ),
        );
        return;
    }
    if let Some((entries, cd)) = eocd_counts(data) {
        if entries > limits.max_members as u64 || cd > 64 << 20 {
            sink.emit(Emit {
                rule: "archive-cap-exceeded",
                severity: Severity::High,
                message: format!("zip declares {entries} entries in a {cd}-byte central directory, over the analysis caps ({} entries, 64 MiB): not opened", limits.max_members),
                remediation: REM_EVASION,
                format: "zip",
                member: outer,
                globals: vec![],
                call_chain: vec![],
            });
            return;
        }
    }
    let mut zip = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => {
            // torch and Python's zipfile both need the central directory; without one the file
            // cannot be loaded as a zip, but look at any pickle in local headers anyway.
            local_header_pickles(sink, data, outer, &[]);
            sink.skip(
                outer,
                format!("corrupt zip archive ({e}): members not analysed"),
            );
            return;
        }
    };
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|c| c.into_owned()).unwrap_or_default())
        .collect();
    let mut lay = layout(&names);
    // Keras 3 loads a `.keras` from `config.json` alone (weights in `.npz`, or none): a root
    // `config.json` that reads as a Keras model config makes the archive Keras whatever else
    // it holds.
    if lay == Layout::Generic
        && names.iter().any(|n| n == "config.json")
        && let Ok(mut f) = zip.by_name("config.json")
    {
        use std::io::Read;
        let mut head = Vec::new();
        if f.by_ref().take(1 << 20).read_to_end(&mut head).is_ok() && keras_config(&head) {
            lay = Layout::Keras;
        }
    }
    let format = match lay {
        Layout::PyTorch => "pytorch-zip",
        Layout::TorchScript => "torchscript",
        Layout::Keras => "keras-v3",
        Layout::Npz => "numpy-npz",
        Layout::Generic => "zip",
    };
    if let Some((entries, _)) = eocd_counts(data) {
        if entries as usize != zip.len() {
            sink.emit(Emit {
                rule: "archive-duplicate-member",
                severity: Severity::High,
                message: format!(
                    "{format} archive lists {entries} entries but only {} distinct names: duplicate member names make loaders disagree on which copy is read",
                    zip.len()
                ),
                remediation: REM_STRUCT,
                format,
                member: outer,
                globals: vec![],
                call_chain: vec![],
            });
            // Analyse every pickle in the local headers, including the shadowed copies.
            local_header_pickles(sink, data, outer, &[]);
        }
    }
    if lay == Layout::Generic && !sink.det.generic_archives {
        return;
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let (name, content, method) = {
            let mut f = match zip.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    let n = names.get(i).cloned().unwrap_or_default();
                    sink.skip(
                        Some(&join(outer, &n)),
                        format!("zip member not readable: {e}"),
                    );
                    continue;
                }
            };
            let name = f
                .name()
                .map(|c| c.into_owned())
                .unwrap_or_else(|_| names.get(i).cloned().unwrap_or_default());
            if f.is_dir() || !wants(lay, &name) {
                continue;
            }
            let declared = f.size();
            let csize = f.compressed_size();
            if csize > 0 && declared / csize.max(1) > 1000 && declared > limits.max_decompressed {
                sink.emit(Emit {
                    rule: "archive-bomb",
                    severity: Severity::High,
                    message: format!("zip member expands {csize} bytes to {declared} (ratio over 1000): not decompressed"),
                    remediation: REM_EVASION,
                    format,
                    member: Some(&join(outer, &name)),
                    globals: vec![],
                    call_chain: vec![],
                });
                continue;
            }
            let method = f.compression();
            let stored = method == zip::CompressionMethod::Stored;
            let content: Result<(Cow<[u8]>, bool), String> = match (stored, f.data_start()) {
                (true, Some(ds))
                    if (ds as usize)
                        .checked_add(csize as usize)
                        .is_some_and(|e| e <= data.len()) =>
                {
                    Ok((
                        Cow::Borrowed(&data[ds as usize..(ds + csize) as usize]),
                        false,
                    ))
                }
                _ => {
                    let budget = limits.max_decompressed.saturating_sub(total);
                    let mut buf = Vec::new();
                    match (&mut f).take(budget + 1).read_to_end(&mut buf) {
                        Ok(_) => {
                            let over = buf.len() as u64 > budget;
                            buf.truncate(budget as usize);
                            total += buf.len() as u64;
                            Ok((Cow::Owned(buf), over))
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
            };
            (name, content, method)
        };
        let member = join(outer, &name);
        let (bytes, truncated) = match content {
            Ok(c) => c,
            Err(e) if unscannable(lay, &name) && unknown_method(method).is_some() => {
                let m = unknown_method(method).unwrap_or_default();
                sink.emit(Emit {
                    rule: "model-unscannable-compression",
                    severity: Severity::Medium,
                    message: format!(
                        "{format} member {name} is compressed with {m}, which Python's zipfile reads (numpy.load, Keras) but Rampart cannot decompress ({e}): its content was not analysed"
                    ),
                    remediation: REM_UNSCANNED,
                    format,
                    member: Some(&member),
                    globals: vec![],
                    call_chain: vec![],
                });
                continue;
            }
            Err(e) => {
                sink.skip(
                    Some(&member),
                    format!("zip member could not be decompressed: {e}"),
                );
                continue;
            }
        };
        if truncated {
            sink.emit(Emit {
                rule: "archive-cap-exceeded",
                severity: Severity::High,
                message: format!(
                    "{format} member decompresses past the {} MiB analysis cap; only the first part was analysed",
                    limits.max_decompressed >> 20
                ),
                remediation: REM_EVASION,
                format,
                member: Some(&member),
                globals: vec![],
                call_chain: vec![],
            });
        }
        member_analysis(sink, lay, format, &name, &member, &bytes, depth);
    }
}

const REM_UNSCANNED: &str = "Do not load this file until it has been checked: re-save it with the default compression \
(zip deflate, or joblib compress='zlib'/'gzip'), which Rampart analyses, or scan it with a tool that decompresses this method.";

/// A compression method the zip crate here cannot read: its name, for a finding.
fn unknown_method(m: zip::CompressionMethod) -> Option<String> {
    use zip::CompressionMethod as M;
    if m == M::Stored || m == M::Deflated {
        return None;
    }
    Some(
        [
            (M::DEFLATE64, "Deflate64 (method 9)"),
            (M::BZIP2, "bzip2 (method 12)"),
            (M::LZMA, "LZMA (method 14)"),
            (M::ZSTD, "zstd (method 93)"),
            (M::XZ, "xz (method 95)"),
            (M::PPMD, "PPMd (method 98)"),
            (M::AES, "AES encryption (method 99)"),
        ]
        .iter()
        .find(|(k, _)| *k == m)
        .map_or_else(
            || format!("compression method {m:?}"),
            |(_, n)| n.to_string(),
        ),
    )
}

/// A member whose content matters to a model loader: anything the layout's loader reads, or a
/// generic zip's member with a model extension.
fn unscannable(lay: Layout, name: &str) -> bool {
    lay != Layout::Generic || super::model_extension(name)
}

/// Which members a layout's loader reads (and so which we analyse).
fn wants(lay: Layout, name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    match lay {
        Layout::PyTorch => lower.ends_with(".pkl"),
        Layout::TorchScript => {
            lower.ends_with(".pkl") || (lower.contains("code/") && lower.ends_with(".py"))
        }
        Layout::Keras => {
            lower == "config.json"
                || lower.ends_with(".py")
                || lower.ends_with(".pyc")
                || lower.ends_with(".pkl")
        }
        Layout::Npz => lower.ends_with(".npy"),
        Layout::Generic => true,
    }
}

fn member_analysis(
    sink: &mut Sink,
    lay: Layout,
    format: &str,
    name: &str,
    member: &str,
    bytes: &[u8],
    depth: u32,
) {
    let lower = name.to_ascii_lowercase();
    match lay {
        Layout::PyTorch => pickle_member(sink, bytes, StreamMode::Multi, format, Some(member)),
        Layout::TorchScript => {
            if lower.ends_with(".pkl") {
                torchscript_pickle(sink, bytes, member);
            } else {
                torchscript_code(sink, bytes, member);
            }
        }
        Layout::Keras => {
            if lower == "config.json" {
                keras::analyse_config_bytes(sink, bytes, Some(member), "keras-v3");
            } else if lower.ends_with(".pkl") {
                pickle_member(sink, bytes, StreamMode::Multi, format, Some(member));
            } else {
                sink.emit(Emit {
                    rule: "keras-bundled-python",
                    severity: Severity::High,
                    message: format!("Keras archive bundles Python code ({name}); a .keras file needs none"),
                    remediation: "Do not load the model with custom code from an untrusted source; review the bundled file, and load with safe_mode=True.",
                    format,
                    member: Some(member),
                    globals: vec![],
                    call_chain: vec![],
                });
            }
        }
        Layout::Npz => npy::analyse(sink, bytes, Some(member), "numpy-npz"),
        Layout::Generic => {
            if let Some(f) = sniff_named(member, bytes) {
                super::analyse(sink, f, bytes, Some(member), depth + 1);
            }
        }
    }
}

/// TorchScript pickles name TorchScript classes (`__torch__.…`) resolved from the archive's
/// own code by the C++ unpickler; those are not Python imports.
fn torchscript_pickle(sink: &mut Sink, bytes: &[u8], member: &str) {
    let mut r = crate::pickle::analyse(bytes, &sink.det.policy, &sink.det.limits);
    for g in &mut r.globals {
        if g.full.starts_with("__torch__.") && g.verdict == crate::Verdict::Unknown {
            g.verdict = crate::Verdict::Allowed;
        }
    }
    super::emit_pickle(sink, &r, "torchscript", Some(member));
}

/// TorchScript code is compiled by TorchScript, which has no `__import__`, `eval` or attribute
/// walks into Python internals; seeing them means the archive was crafted.
fn torchscript_code(sink: &mut Sink, bytes: &[u8], member: &str) {
    let text = String::from_utf8_lossy(bytes);
    let needles = [
        "__import__",
        "__builtins__",
        "__globals__",
        "__subclasses__",
        "__class__",
        "__getattribute__",
        "eval(",
        "exec(",
        "compile(",
        "os.system",
        "subprocess",
        "import os",
        "import subprocess",
        "torch.ops.load_library",
        "ctypes",
    ];
    let hits: Vec<String> = needles
        .iter()
        .filter(|n| text.contains(*n))
        .map(|s| s.to_string())
        .collect();
    if !hits.is_empty() {
        sink.emit(Emit {
            rule: "torchscript-suspicious-code",
            severity: Severity::Critical,
            message: format!(
                "TorchScript code references Python internals or process APIs: {}",
                hits.join(", ")
            ),
            remediation: super::REM_PICKLE,
            format: "torchscript",
            member: Some(member),
            globals: hits,
            call_chain: vec![],
        });
    }
}

/// Walk local file headers and analyse every `.pkl` member found there (stored or deflated).
fn local_header_pickles(sink: &mut Sink, data: &[u8], outer: Option<&str>, _seen: &[u64]) {
    let limits = sink.det.limits.clone();
    let mut pos = 0usize;
    let mut count = 0usize;
    while let Some(i) = memchr::memmem::find(&data[pos..], b"PK\x03\x04") {
        let at = pos + i;
        pos = at + 4;
        count += 1;
        if count > limits.max_members {
            break;
        }
        let Some(h) = data.get(at..at + 30) else {
            break;
        };
        let flags = u16::from_le_bytes([h[6], h[7]]);
        let method = u16::from_le_bytes([h[8], h[9]]);
        let mut csize = u32::from_le_bytes([h[18], h[19], h[20], h[21]]) as usize;
        let nlen = u16::from_le_bytes([h[26], h[27]]) as usize;
        let xlen = u16::from_le_bytes([h[28], h[29]]) as usize;
        let Some(name) = data.get(at + 30..at + 30 + nlen) else {
            break;
        };
        let name = String::from_utf8_lossy(name).into_owned();
        if !name.to_ascii_lowercase().ends_with(".pkl") {
            continue;
        }
        let start = at + 30 + nlen + xlen;
        if flags & 8 != 0 && csize == 0 {
            // Sizes follow the data in a descriptor: the member ends where the next record starts
            // (a deflate stream and a pickle both know their own end anyway).
            let rest = data.get(start..).unwrap_or(&[]);
            csize = [&b"PK\x07\x08"[..], b"PK\x03\x04", b"PK\x01\x02"]
                .iter()
                .filter_map(|sig| memchr::memmem::find(rest, sig))
                .min()
                .unwrap_or(rest.len());
        }
        let Some(body) = data.get(start..start.saturating_add(csize).min(data.len())) else {
            continue;
        };
        let member = join(outer, &format!("{name} (local header @{at})"));
        match method {
            0 => pickle_member(sink, body, StreamMode::Multi, "zip", Some(&member)),
            8 => {
                let mut out = Vec::new();
                let d = flate2::read::DeflateDecoder::new(body);
                if d.take(limits.max_decompressed)
                    .read_to_end(&mut out)
                    .is_ok()
                {
                    pickle_member(sink, &out, StreamMode::Multi, "zip", Some(&member));
                }
            }
            _ => {}
        }
    }
}
