use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, nothing to fix.
    Info,
    /// Low risk.
    Low,
    /// Medium risk.
    Medium,
    /// High risk.
    High,
    /// Act now.
    Critical,
}

impl Severity {
    /// The lowercase name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity `{other}` (expected critical, high, medium, low or info)"
            )),
        }
    }
}

/// What sort of problem a finding is. New capabilities add variants; existing names never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A leaked credential.
    Secret,
    /// Code that Python runs at interpreter start-up (`.pth` lines, `sitecustomize.py`).
    StartupHook,
    /// Content that does not match its declared digest, or a structurally broken container.
    Integrity,
    /// A package version with a known vulnerability.
    Vulnerability,
    /// A package version published with malicious code.
    MaliciousPackage,
    /// A model file that runs code when loaded, or is built to evade scanners.
    UnsafeModel,
    /// A URL whose verdict is malicious.
    Url,
}

impl Kind {
    /// The kebab-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::StartupHook => "startup-hook",
            Kind::Integrity => "integrity",
            Kind::Vulnerability => "vulnerability",
            Kind::MaliciousPackage => "malicious-package",
            Kind::UnsafeModel => "unsafe-model",
            Kind::Url => "url",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a finding is. `path` is always present; the rest is filled in where the source knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// File path (lossily converted to UTF-8), `-` for stdin, or a path inside an image or archive.
    pub path: String,
    /// 1-based line of the start of the match.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u32>,
    /// 1-based column (in bytes) of the start of the match.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column: Option<u32>,
    /// 1-based line of the end of the match, when it differs from `line`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub end_line: Option<u32>,
    /// Git commit (full hex id) where the content first appeared.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub commit: Option<String>,
    /// Author of that commit, `Name <email>`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub author: Option<String>,
    /// Commit time of that commit, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date: Option<String>,
    /// Container image (file path or reference) the content came from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub image: Option<String>,
    /// Digest of the image layer holding the content.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub layer: Option<String>,
    /// 0-based index of that layer in the image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub layer_index: Option<u32>,
    /// Digest of the later layer that deleted the file (it is still in the image).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub removed_in_layer: Option<String>,
    /// 0-based index of the layer that deleted the file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub removed_in_layer_index: Option<u32>,
    /// Member path inside an archive (zip, wheel, tarball) that holds the content.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub member: Option<String>,
    /// A structured field rather than a file, e.g. `config.Env[3]`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
}

impl Location {
    /// A location that is just a path.
    pub fn file(path: impl Into<String>) -> Self {
        Location {
            path: path.into(),
            ..Default::default()
        }
    }

    /// The same location with a line and column.
    pub fn with_line(mut self, line: u32, column: u32) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// The identifying part of the location, without line and column: the fields that say which
    /// content this is (path, commit, layer, member, field). Used in fingerprints so that they
    /// survive edits that only move a secret within its file. The image's file name is left out:
    /// the layer digest already names the content, and renaming an archive changes nothing.
    pub fn identity(&self) -> String {
        let parts = [
            Some(self.path.as_str()),
            self.commit.as_deref(),
            self.layer.as_deref(),
            self.member.as_deref(),
            self.field.as_deref(),
        ];
        let mut s = String::new();
        for p in parts {
            s.push_str(p.unwrap_or(""));
            s.push('\u{1f}');
        }
        s
    }

    /// A short human form: `path:line:column`, with `@commit` or `[layer N]` when known.
    pub fn display(&self) -> String {
        let mut s = String::new();
        if let Some(img) = &self.image {
            s.push_str(img);
            if let Some(i) = self.layer_index {
                s.push_str(&format!("[layer {i}]"));
            }
            s.push(':');
        }
        s.push_str(&self.path);
        if let Some(m) = &self.member {
            s.push('!');
            s.push_str(m);
        }
        if let Some(f) = &self.field {
            s.push('#');
            s.push_str(f);
        }
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
            if let Some(c) = self.column {
                s.push_str(&format!(":{c}"));
            }
        }
        if let Some(c) = &self.commit {
            s.push_str(&format!(" @{}", &c[..c.len().min(12)]));
        }
        s
    }
}

/// One problem found by any Rampart capability.
///
/// The JSON form is a contract: fields are added, never renamed or removed. Kind-specific data that
/// only some kinds have lives in `extra`, flattened into the object.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What sort of problem this is.
    pub kind: Kind,
    /// Id of the rule that fired, e.g. `github-pat-classic`.
    pub rule: String,
    /// How bad it is.
    pub severity: Severity,
    /// Stable identity for baselines and ignores (32 hex characters).
    pub fingerprint: String,
    /// One human sentence.
    pub message: String,
    /// Where it is.
    pub location: Location,
    /// The matched secret. Reporters redact it unless the user asks otherwise.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub secret: Option<String>,
    /// The service the secret belongs to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub provider: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub remediation: Option<String>,
    /// Kind-specific fields (package, fixed_in, globals, …), flattened into the JSON object.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finding")
            .field("kind", &self.kind)
            .field("rule", &self.rule)
            .field("severity", &self.severity)
            .field("fingerprint", &self.fingerprint)
            .field("location", &self.location)
            .field("secret", &self.secret.as_deref().map(crate::redact))
            .finish_non_exhaustive()
    }
}

impl Finding {
    /// A finding with the required fields; fingerprint empty until the caller sets it.
    pub fn new(
        kind: Kind,
        rule: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
        location: Location,
    ) -> Self {
        Finding {
            kind,
            rule: rule.into(),
            severity,
            fingerprint: String::new(),
            message: message.into(),
            location,
            secret: None,
            provider: None,
            remediation: None,
            extra: serde_json::Map::new(),
        }
    }

    /// A copy whose secret is redacted (see [`crate::redact`]).
    pub fn redacted(&self) -> Finding {
        let mut f = self.clone();
        if let Some(s) = &f.secret {
            f.secret = Some(crate::redact(s));
        }
        f
    }
}

/// Something that was not scanned, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// What was not scanned (a path, `repo@commit:path`, `image[layer]:path`…).
    pub path: String,
    /// Why, in words a user can act on.
    pub reason: String,
}

impl Skipped {
    /// A skip entry.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Skipped {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// A stable 128-bit fingerprint (32 hex characters) of identifying `parts` and a secret.
///
/// The secret enters only through its own SHA-256, and parts are separated by NUL so that
/// `["ab", "c"]` and `["a", "bc"]` differ.
pub fn fingerprint(parts: &[&str], secret: &[u8]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.update(Sha256::digest(secret));
    hex(&h.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_orders_and_parses() {
        assert!(Severity::Info < Severity::Low && Severity::High < Severity::Critical);
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!("urgent".parse::<Severity>().is_err());
    }

    #[test]
    fn fingerprint_separates_parts() {
        let a = fingerprint(&["ab", "c"], b"s");
        let b = fingerprint(&["a", "bc"], b"s");
        assert_ne!(a, b);
        assert_eq!(a, fingerprint(&["ab", "c"], b"s"));
        assert_ne!(a, fingerprint(&["ab", "c"], b"t"));
    }

    #[test]
    fn json_contract_shape() {
        let mut f = Finding::new(
            Kind::MaliciousPackage,
            "MAL-2026-2144",
            Severity::Critical,
            "m",
            Location::file("requirements.txt").with_line(2, 1),
        );
        f.extra
            .insert("package".into(), serde_json::json!({"name": "litellm"}));
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["kind"], "malicious-package");
        assert_eq!(v["location"]["line"], 2);
        assert_eq!(v["package"]["name"], "litellm");
        assert!(v.get("secret").is_none());
        let back: Finding = serde_json::from_value(v).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn debug_never_shows_secret() {
        let mut f = Finding::new(Kind::Secret, "r", Severity::High, "m", Location::file("p"));
        f.secret = Some("supersecretvalue123".into());
        assert!(!format!("{f:?}").contains("supersecretvalue123"));
    }
}
