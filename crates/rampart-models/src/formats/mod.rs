//! Format dispatch and the conversion of analyses into findings.

pub mod compress;
pub mod gguf;
pub mod keras;
pub mod npy;
pub mod onnx;
pub mod safetensors;
pub mod tar;
pub mod zipfmt;

use crate::pickle::{self, Issue, PickleReport, StreamMode};
use crate::{Emit, Format, Sink, Verdict};
use rampart_core::Severity;

pub(crate) const REM_PICKLE: &str = "Do not load this file with pickle, torch.load, joblib.load or numpy.load(allow_pickle=True). \
Obtain the model as safetensors (or another format without code), or load it in an isolated sandbox; \
if the named globals are expected, add them to a --model-policy allowlist.";
pub(crate) const REM_EVASION: &str = "Treat the file as hostile: it is built so that scanners stop early or misread it, while \
Python may still execute it. Do not load it; obtain the model from a trusted source in a code-free format.";
pub(crate) const REM_STRUCT: &str = "Do not load this file: its structure is inconsistent, which loaders may handle \
differently (or unsafely). Re-export it from the original source.";

/// Extensions that announce a model (used only to decide whether an empty or undecodable file
/// deserves a `skipped` entry; formats are never recognised by extension).
pub fn model_extension(path: &str) -> bool {
    let l = path.to_ascii_lowercase();
    [
        ".pt",
        ".pth",
        ".bin",
        ".ckpt",
        ".pkl",
        ".pickle",
        ".joblib",
        ".npy",
        ".npz",
        ".keras",
        ".h5",
        ".hdf5",
        ".gguf",
        ".safetensors",
        ".onnx",
        ".dill",
        ".sav",
        ".model",
    ]
    .iter()
    .any(|e| l.ends_with(e))
}

/// Offset of the HDF5 superblock signature (0 or a 512·2ⁿ user-block offset).
pub fn hdf5_signature_offset(b: &[u8]) -> Option<usize> {
    const SIG: &[u8] = b"\x89HDF\r\n\x1a\n";
    if b.starts_with(SIG) {
        return Some(0);
    }
    let mut off = 512usize;
    while off + 8 <= b.len() && off <= 1 << 20 {
        if &b[off..off + 8] == SIG {
            return Some(off);
        }
        off *= 2;
    }
    None
}

/// Analyse `data` of a known `format`. `member` is the archive member path when nested.
pub(crate) fn analyse(
    sink: &mut Sink,
    format: Format,
    data: &[u8],
    member: Option<&str>,
    depth: u32,
) {
    match format {
        Format::Pickle => {
            let r = pickle::analyse(data, &sink.det.policy, &sink.det.limits);
            let label = if r.torch_legacy {
                "pytorch-legacy"
            } else if r.joblib_arrays > 0 {
                "joblib"
            } else {
                "pickle"
            };
            emit_pickle(sink, &r, label, member);
        }
        Format::Zip => zipfmt::analyse(sink, data, member, depth),
        Format::Npy => npy::analyse(sink, data, member, "numpy"),
        Format::Gguf => gguf::analyse(sink, data, member),
        Format::Hdf5 => keras::analyse_h5(sink, data, member),
        Format::Safetensors => safetensors::analyse(sink, data, member),
        Format::Tar => tar::analyse(sink, data, member, depth),
        Format::Compressed => compress::analyse(sink, data, member, depth),
        Format::Onnx => onnx::analyse(sink, data, member),
    }
}

/// Analyse a pickle stream in a given mode and emit its findings.
pub(crate) fn pickle_member(
    sink: &mut Sink,
    data: &[u8],
    mode: StreamMode,
    format: &str,
    member: Option<&str>,
) {
    let r = pickle::analyse_mode(data, &sink.det.policy, &sink.det.limits, mode);
    emit_pickle(sink, &r, format, member);
}

fn chain_of(g: &crate::pickle::GlobalUse) -> Vec<String> {
    let mut c: Vec<String> = g.call_chain.clone();
    if c.is_empty() {
        c.push(format!(
            "{} (named by {} @{}, not called directly)",
            g.full, g.opcode, g.offset
        ));
    }
    if let Some(n) = &g.nested {
        c.insert(0, n.clone());
    }
    c
}

/// Turn a pickle report into findings.
pub(crate) fn emit_pickle(sink: &mut Sink, r: &PickleReport, format: &str, member: Option<&str>) {
    for (verdict, rule, sev) in [
        (
            Verdict::Dangerous,
            "pickle-dangerous-global",
            Severity::Critical,
        ),
        (Verdict::Unknown, "pickle-unknown-global", Severity::High),
    ] {
        let gs: Vec<_> = r.globals.iter().filter(|g| g.verdict == verdict).collect();
        if gs.is_empty() {
            continue;
        }
        let mut names: Vec<String> = Vec::new();
        for g in &gs {
            if !names.contains(&g.full) {
                names.push(g.full.clone());
            }
        }
        let mut chain = Vec::new();
        for g in gs.iter().take(8) {
            for c in chain_of(g) {
                if !chain.contains(&c) {
                    chain.push(c);
                }
            }
        }
        let shown: Vec<&str> = names.iter().take(6).map(String::as_str).collect();
        let more = if names.len() > 6 {
            format!(" and {} more", names.len() - 6)
        } else {
            String::new()
        };
        let message = if verdict == Verdict::Dangerous {
            format!(
                "{format} pickle imports dangerous global{} {}{more}: loading it runs code",
                if names.len() > 1 { "s" } else { "" },
                shown.join(", ")
            )
        } else {
            format!(
                "{format} pickle imports global{} not on the allowlist: {}{more}",
                if names.len() > 1 { "s" } else { "" },
                shown.join(", ")
            )
        };
        sink.emit(Emit {
            rule,
            severity: sev,
            message,
            remediation: REM_PICKLE,
            format,
            member,
            globals: names,
            call_chain: chain,
        });
    }
    for issue in &r.issues {
        let (rule, sev, message, rem) = match issue {
            Issue::Parse {
                offset,
                message,
                nested,
            } => (
                "pickle-parse-error",
                Severity::High,
                format!(
                    "{format} pickle does not parse to the end ({message}{}); Python runs every opcode before the break, and scanners that stop there miss what follows",
                    nested
                        .as_ref()
                        .map(|n| format!(", in {n}"))
                        .unwrap_or_default()
                ) + &format!(" [offset {offset}]"),
                REM_EVASION,
            ),
            Issue::Cap {
                what,
                limit,
                offset,
            } => (
                "pickle-cap-exceeded",
                Severity::High,
                format!(
                    "{format} pickle exceeds the analysis cap on {what} ({limit}) at offset {offset}; the rest was not analysed"
                ),
                REM_EVASION,
            ),
            Issue::DynamicGlobal { offset, detail } => (
                "pickle-dynamic-global",
                Severity::Critical,
                format!(
                    "{format} pickle imports a global whose name is computed at load time (STACK_GLOBAL on {detail}) at offset {offset}"
                ),
                REM_PICKLE,
            ),
            Issue::Extension { offset, code } => (
                "pickle-extension-code",
                Severity::High,
                format!(
                    "{format} pickle imports through copyreg extension code {code} at offset {offset}; what it resolves to depends on the loading process"
                ),
                REM_PICKLE,
            ),
            Issue::OpaqueNested {
                offset,
                loader,
                detail,
            } => (
                "pickle-opaque-nested-load",
                Severity::High,
                format!(
                    "{format} pickle calls {loader} at offset {offset} on a value computed at load time ({detail}): it unpickles data the scanner cannot see"
                ),
                REM_PICKLE,
            ),
            Issue::Trailing {
                offset,
                len,
                message,
            } => (
                "pickle-trailing-data",
                Severity::Medium,
                format!(
                    "{format} pickle is followed by {len} bytes at offset {offset} that are not a pickle ({message})"
                ),
                REM_EVASION,
            ),
        };
        sink.emit(Emit {
            rule,
            severity: sev,
            message,
            remediation: rem,
            format,
            member,
            globals: Vec::new(),
            call_chain: Vec::new(),
        });
    }
}
