//! Model files: find code hidden in pickle-based and other AI model formats before anyone
//! loads them.
//!
//! [`ModelDetector`] is a [`rampart_core::Detector`]. It recognises formats **by content**
//! (never by extension) and rejects everything else after looking at a few bytes, so the scanner
//! can hand it every file:
//!
//! | format | what is checked |
//! |---|---|
//! | raw pickle (protocols 0–5), joblib (plain, zlib, gzip) | full opcode walk ([`pickle`]) |
//! | PyTorch zip (any prefix), TorchScript | every `.pkl` member; TorchScript `code/` |
//! | legacy PyTorch (stacked pickles, tar) | every pickle in the stream / tar members |
//! | NumPy `.npy` / `.npz` | object-dtype arrays' pickles |
//! | Keras v3 `.keras` | `config.json` Lambda layers, foreign `module`s, bundled Python |
//! | Keras HDF5 `.h5` | the `model_config` attribute, found in the bytes without libhdf5 |
//! | GGUF | header/metadata bounds, tensor table, Jinja chat templates |
//! | safetensors | header length, JSON, dtypes, shapes vs offsets, overlaps, bounds |
//! | ONNX | external-data paths escaping the model directory |
//!
//! Pickle globals are judged **allowlist-first** ([`Policy`]): what ordinary PyTorch, NumPy,
//! scikit-learn, collections and datetime files need is allowed; known-dangerous globals are
//! `critical`; anything else is `high` and named exactly. A stream that does not parse to its
//! end, or that exceeds a cap ([`Limits`]), is itself a finding.
//!
//! ```
//! use rampart_core::{Detections, Detector, Item, Location, Severity};
//! use rampart_models::ModelDetector;
//!
//! let detector = ModelDetector::new();
//! // `pickle.dumps` of an object whose __reduce__ returns (os.system, ("id",)), protocol 0.
//! let data = b"cposix\nsystem\np0\n(Vid\np1\ntp2\nRp3\n.";
//! let location = Location::file("model.bin");
//! let mut out = Detections::default();
//! detector.detect(&Item { path: "model.bin", data, location: &location }, &mut out);
//! let f = &out.findings[0];
//! assert_eq!(f.rule, "pickle-dangerous-global");
//! assert_eq!(f.severity, Severity::Critical);
//! assert_eq!(f.extra["globals"][0], "posix.system");
//! assert_eq!(f.extra["call_chain"][0], "posix.system(\"id\")");
//! ```
#![deny(missing_docs)]

mod formats;
pub mod pickle;
pub mod policy;

pub use formats::gguf::check_gguf;
pub use formats::safetensors::check_safetensors;
pub use pickle::{Limits, PickleReport};
pub use policy::{Policy, PolicyError, Verdict};

use rampart_core::{Detections, Detector, Finding, Item, Kind, Location, Severity, Skipped};
use std::path::Path;

/// A model format recognised by content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A raw pickle stream (also plain joblib files and legacy `torch.save`).
    Pickle,
    /// A zip archive (PyTorch, TorchScript, `.npz`, `.keras`, or generic).
    Zip,
    /// A NumPy `.npy` array.
    Npy,
    /// A GGUF model.
    Gguf,
    /// An HDF5 file (legacy Keras `.h5`).
    Hdf5,
    /// A safetensors file.
    Safetensors,
    /// A POSIX tar archive (legacy PyTorch tar format).
    Tar,
    /// A zlib or gzip stream (compressed joblib).
    Compressed,
    /// An ONNX model (protobuf `ModelProto`).
    Onnx,
}

impl Format {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pickle => "pickle",
            Format::Zip => "zip",
            Format::Npy => "numpy",
            Format::Gguf => "gguf",
            Format::Hdf5 => "keras-h5",
            Format::Safetensors => "safetensors",
            Format::Tar => "tar",
            Format::Compressed => "compressed",
            Format::Onnx => "onnx",
        }
    }
}

/// Recognise a model format from the first bytes (and, for zips with a prefix, the last 64 KiB).
/// Cheap: a handful of comparisons for anything that is not a model.
pub fn sniff(data: &[u8]) -> Option<Format> {
    sniff_inner(data, true)
}

/// [`sniff`] for a file or archive member called `name`: a pickle without `PROTO` that breaks off
/// after naming a global counts only under a model's extension (see
/// [`pickle::looks_like_pickle_with`]); text files whose first line happens to read as a
/// `GLOBAL` are not pickles.
pub fn sniff_named(name: &str, data: &[u8]) -> Option<Format> {
    sniff_inner(data, formats::model_extension(name))
}

fn sniff_inner(data: &[u8], lenient: bool) -> Option<Format> {
    if data.len() < 2 {
        return None;
    }
    let b = data;
    if b[0] == 0x80 && (1..=5).contains(&b[1]) {
        return Some(Format::Pickle);
    }
    if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        return Some(Format::Zip);
    }
    if b.starts_with(b"\x93NUMPY") {
        return Some(Format::Npy);
    }
    if b.starts_with(b"GGUF") {
        return Some(Format::Gguf);
    }
    // A stream that walks as a pickle from its first byte is one, whatever signatures its tail
    // holds: pickle.load stops at STOP and never reads them (polyglots; see `also_format`).
    if pickle::looks_like_pickle_with(b, false) {
        return Some(Format::Pickle);
    }
    if formats::hdf5_signature_offset(b).is_some() {
        return Some(Format::Hdf5);
    }
    if formats::safetensors::looks_like(b) {
        return Some(Format::Safetensors);
    }
    if b.len() >= 512 && &b[257..262] == b"ustar" {
        return Some(Format::Tar);
    }
    if formats::compress::looks_compressed(b) {
        return Some(Format::Compressed);
    }
    if formats::onnx::looks_like(b) {
        return Some(Format::Onnx);
    }
    if pickle::looks_like_pickle_with(b, lenient) {
        return Some(Format::Pickle);
    }
    if formats::zipfmt::has_trailing_eocd(b) {
        return Some(Format::Zip);
    }
    None
}

/// A second format in a file recognised as a pickle: a signature that another loader finds past
/// the pickle (HDF5 after a user block, `ustar` at 257, a zip's end record), so that both
/// readings of a polyglot are analysed.
fn also_format(data: &[u8]) -> Option<Format> {
    if formats::hdf5_signature_offset(data).is_some() {
        Some(Format::Hdf5)
    } else if data.len() >= 512 && &data[257..262] == b"ustar" {
        Some(Format::Tar)
    } else if formats::zipfmt::has_trailing_eocd(data) {
        Some(Format::Zip)
    } else {
        None
    }
}

/// The model-file detector. Cheap to call on every item; see the crate docs.
#[derive(Clone, Debug, Default)]
pub struct ModelDetector {
    policy: Policy,
    limits: Limits,
    generic_archives: bool,
}

impl ModelDetector {
    /// The built-in policy and default limits.
    pub fn new() -> Self {
        ModelDetector {
            policy: Policy::builtin(),
            limits: Limits::default(),
            generic_archives: true,
        }
    }

    /// A detector with the given policy.
    pub fn with_policy(policy: Policy) -> Self {
        ModelDetector {
            policy,
            ..Self::new()
        }
    }

    /// A detector for `--model-policy FILE` (built-in policy when `None`).
    pub fn from_policy_file(path: Option<&Path>) -> Result<Self, PolicyError> {
        Ok(match path {
            Some(p) => Self::with_policy(Policy::load(p)?),
            None => Self::new(),
        })
    }

    /// Replace the analysis caps.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether members of zips that are not a known model layout are examined (default on:
    /// a pickle inside any zip is analysed, as picklescan does). Turn off when the source
    /// already expands archives into items, to avoid reporting the same member twice.
    pub fn scan_generic_archives(mut self, on: bool) -> Self {
        self.generic_archives = on;
        self
    }

    /// The policy in use.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

impl Detector for ModelDetector {
    fn name(&self) -> &'static str {
        "models"
    }

    fn detect(&self, item: &Item<'_>, out: &mut Detections) {
        let model_ext = formats::model_extension(item.path);
        if item.data.is_empty() {
            if model_ext {
                out.skipped.push(Skipped::new(
                    item.location.display(),
                    "empty file with a model extension: nothing to analyse",
                ));
            }
            return;
        }
        let Some(format) = sniff_inner(item.data, model_ext) else {
            if model_ext {
                let d = item.data;
                let algo = if d.starts_with(b"BZh") {
                    Some("bz2")
                } else if d.starts_with(b"\xfd7zXZ\x00") || d.starts_with(b"\x5d\x00\x00") {
                    Some("xz/lzma")
                } else if d.starts_with(b"\x04\x22\x4d\x18") {
                    Some("lz4")
                } else {
                    None
                };
                if let Some(a) = algo {
                    let location = item.location;
                    let mut sink = Sink {
                        det: self,
                        location,
                        out,
                    };
                    sink.emit(Emit {
                        rule: "model-unscannable-compression",
                        severity: Severity::Medium,
                        message: format!(
                            "{a}-compressed model file (e.g. joblib compress='{a}', which joblib.load decompresses and unpickles) cannot be decompressed by Rampart: its content was not analysed"
                        ),
                        remediation: "Do not load this file until it has been checked: re-save it with joblib compress='zlib' or 'gzip' (or without compression), which Rampart analyses, or scan it with a tool that decompresses this format.",
                        format: "compressed",
                        member: None,
                        globals: vec![],
                        call_chain: vec![],
                    });
                }
            }
            return;
        };
        let mut sink = Sink {
            det: self,
            location: item.location,
            out,
        };
        formats::analyse(&mut sink, format, item.data, None, 0);
        if format == Format::Pickle {
            if let Some(other) = also_format(item.data) {
                formats::analyse(&mut sink, other, item.data, None, 0);
            }
        }
    }
}

/// Where analysers put their results: knows the item's location and the detector's settings.
pub(crate) struct Sink<'a, 'o> {
    pub det: &'a ModelDetector,
    pub location: &'a Location,
    pub out: &'o mut Detections,
}

/// One finding to emit.
pub(crate) struct Emit<'m> {
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub remediation: &'static str,
    pub format: &'m str,
    pub member: Option<&'m str>,
    pub globals: Vec<String>,
    pub call_chain: Vec<String>,
}

impl Sink<'_, '_> {
    pub fn emit(&mut self, e: Emit<'_>) {
        let mut loc = self.location.clone();
        if let Some(m) = e.member {
            loc.member = Some(match &loc.member {
                Some(outer) => format!("{outer}!{m}"),
                None => m.to_string(),
            });
        }
        let member = loc.member.clone().unwrap_or_default();
        let mut f = Finding::new(Kind::UnsafeModel, e.rule, e.severity, e.message, loc);
        let globals = e.globals.join(",");
        let what = if globals.is_empty() {
            f.message.as_str()
        } else {
            globals.as_str()
        };
        f.fingerprint =
            rampart_core::fingerprint(&[e.rule, &self.location.path, &member, what], b"");
        f.remediation = Some(e.remediation.to_string());
        f.extra.insert("format".into(), e.format.into());
        f.extra.insert("globals".into(), e.globals.into());
        f.extra.insert("call_chain".into(), e.call_chain.into());
        self.out.findings.push(f);
    }

    pub fn skip(&mut self, member: Option<&str>, reason: impl Into<String>) {
        let mut p = self.location.display();
        if let Some(m) = member {
            p.push('!');
            p.push_str(m);
        }
        self.out.skipped.push(Skipped::new(p, reason.into()));
    }
}
