//! Baselines and `.rampartignore` files.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use rampart_core::Finding;
use std::collections::HashSet;
use std::path::Path;

/// A baseline or ignore file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    /// The file cannot be read.
    #[error("{path}: {message}")]
    Read {
        /// File path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A line of an ignore file is not a valid glob or fingerprint.
    #[error("{path}:{line}: {message}")]
    Line {
        /// File path.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

fn is_fingerprint(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A parsed `.rampartignore`: gitignore-style globs (relative to the directory holding the file)
/// and finding fingerprints (32 hex characters), one per line; `#` starts a comment.
#[derive(Clone, Debug, Default)]
pub struct IgnoreFile {
    /// Glob patterns, already translated to match paths relative to the scan root.
    pub globs: Vec<String>,
    /// Fingerprints of findings not to report.
    pub fingerprints: HashSet<String>,
}

impl IgnoreFile {
    /// Parse the text of an ignore file; `name` is used in error messages.
    pub fn parse(name: &str, text: &str) -> Result<IgnoreFile, TriageError> {
        let mut out = IgnoreFile::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: &str| TriageError::Line {
                path: name.to_string(),
                line: i + 1,
                message: message.to_string(),
            };
            if is_fingerprint(line) {
                out.fingerprints.insert(line.to_string());
                continue;
            }
            if line.starts_with('!') {
                return Err(bad("negated patterns (`!`) are not supported"));
            }
            let dir_only = line.ends_with('/');
            let body = line.trim_end_matches('/');
            let anchored = body.starts_with('/') || body.contains('/');
            let body = body.trim_start_matches('/');
            if body.is_empty() {
                return Err(bad("empty pattern"));
            }
            let base = if anchored {
                body.to_string()
            } else {
                format!("**/{body}")
            };
            for g in [base.clone(), format!("{base}/**")] {
                GlobBuilder::new(&g)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| bad(&format!("invalid glob `{line}`: {e}")))?;
            }
            if !dir_only {
                out.globs.push(base.clone());
            }
            out.globs.push(format!("{base}/**"));
        }
        Ok(out)
    }

    /// Load `path` if it exists.
    pub fn load(path: &Path) -> Result<Option<IgnoreFile>, TriageError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&path.display().to_string(), &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TriageError::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// The globs compiled for path matching (`None` when there are none).
    pub fn globset(&self) -> Option<GlobSet> {
        if self.globs.is_empty() {
            return None;
        }
        let mut b = GlobSetBuilder::new();
        for g in &self.globs {
            if let Ok(glob) = GlobBuilder::new(g).literal_separator(true).build() {
                b.add(glob);
            }
        }
        b.build().ok()
    }
}

/// Fingerprints of findings already known: read from a previous JSON (or JSONL) report.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    fingerprints: HashSet<String>,
}

impl Baseline {
    /// Load a baseline written by `--write-baseline` or any `--format json|jsonl` report.
    pub fn load(path: &Path) -> Result<Baseline, TriageError> {
        let err = |message: String| TriageError::Read {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut fingerprints = HashSet::new();
        let mut add = |v: &serde_json::Value| {
            if let Some(fp) = v.get("fingerprint").and_then(|f| f.as_str()) {
                fingerprints.insert(fp.to_string());
            }
        };
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(doc) => {
                let list = doc
                    .get("findings")
                    .and_then(|f| f.as_array())
                    .ok_or_else(|| err("not a Rampart report: no `findings` array".into()))?;
                list.iter().for_each(&mut add);
            }
            Err(_) => {
                for (i, line) in text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                {
                    let v: serde_json::Value = serde_json::from_str(line)
                        .map_err(|e| err(format!("line {}: not JSON: {e}", i + 1)))?;
                    add(&v);
                }
            }
        }
        Ok(Baseline { fingerprints })
    }

    /// A baseline from fingerprints.
    pub fn from_fingerprints(fps: impl IntoIterator<Item = String>) -> Baseline {
        Baseline {
            fingerprints: fps.into_iter().collect(),
        }
    }

    /// Is this finding already known?
    pub fn contains(&self, f: &Finding) -> bool {
        self.fingerprints.contains(&f.fingerprint)
    }

    /// Number of fingerprints.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    /// No fingerprints at all.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }
}

/// Write `findings` (secrets redacted) as a baseline file: a JSON report.
pub fn write_baseline(path: &Path, findings: &[Finding]) -> std::io::Result<()> {
    let mut out = Vec::new();
    crate::Report::new(findings, &[]).write(crate::Format::Json, &mut out)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &out)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_follow_gitignore_conventions() {
        let f = IgnoreFile::parse(
            ".rampartignore",
            "# comment\n*.min.js\n/vendor/\ntests/fixtures/\n0123456789abcdef0123456789abcdef\n",
        )
        .unwrap();
        let g = f.globset().unwrap();
        assert!(g.is_match("a/b/app.min.js"));
        assert!(g.is_match("app.min.js"));
        assert!(g.is_match("vendor/x/y.go"));
        assert!(!g.is_match("src/vendor/x.go"));
        assert!(g.is_match("tests/fixtures/key.pem"));
        assert!(!g.is_match("src/app.js"));
        assert!(f.fingerprints.contains("0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn bad_lines_are_named() {
        let e = IgnoreFile::parse("ign", "ok\n!keep.txt\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ign:2: negated patterns (`!`) are not supported"
        );
    }
}
