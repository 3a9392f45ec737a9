//! Reports: everything between a list of findings and the user.
//!
//! Writers for a human table and for JSON, JSONL and SARIF 2.1.0; baselines (a previous JSON
//! report whose fingerprints are not reported again); `.rampartignore` files (globs and
//! fingerprints); and the exit code. Reporters never re-derive a finding: they format, filter and
//! redact what detectors produced.
//!
//! ```
//! use rampart_core::{Finding, Kind, Location, Severity};
//! use rampart_report::{Format, Report, exit_code};
//!
//! let mut f = Finding::new(Kind::Secret, "github-pat-classic", Severity::Critical,
//!     "GitHub personal access token (classic) found", Location::file("ci.yml").with_line(4, 12));
//! f.secret = Some("ghp_Zx4pQ9rT2vW8yB3nM6kL1cF5hJ7gD01Sz2sN".into());
//! let findings = vec![f];
//! let report = Report::new(&findings, &[]);
//! let mut out = Vec::new();
//! report.write(Format::Json, &mut out).unwrap();
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.contains("ghp_…sN") && !text.contains("ghp_Zx4p"));
//! assert_eq!(exit_code(&findings, Some(Severity::Low)), 1);
//! ```
#![deny(missing_docs)]

mod sarif;
mod table;
mod triage;

pub use triage::{Baseline, IgnoreFile, TriageError, write_baseline};

use rampart_core::{Finding, Severity, Skipped};
use std::io::{self, Write};

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A human table.
    Table,
    /// One JSON object: `{"findings": [...], "skipped": [...]}`.
    Json,
    /// One finding per line, then one `{"skipped": …}` object per skipped item.
    Jsonl,
    /// SARIF 2.1.0.
    Sarif,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "jsonl" => Ok(Format::Jsonl),
            "sarif" => Ok(Format::Sarif),
            o => Err(format!(
                "unknown format `{o}` (expected table, json, jsonl or sarif)"
            )),
        }
    }
}

/// Counters shown in summaries.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Stats {
    /// Items (files, blobs, members) handed to detectors.
    pub items: u64,
    /// Bytes handed to detectors.
    pub bytes: u64,
    /// Findings suppressed by a baseline, ignore file or inline allow comment.
    pub suppressed: u64,
}

/// A report ready to write.
#[derive(Debug)]
pub struct Report<'a> {
    findings: &'a [Finding],
    skipped: &'a [Skipped],
    show_secrets: bool,
    color: bool,
    stats: Stats,
}

impl<'a> Report<'a> {
    /// A report of `findings` and `skipped`, secrets redacted, no colour.
    pub fn new(findings: &'a [Finding], skipped: &'a [Skipped]) -> Self {
        Report {
            findings,
            skipped,
            show_secrets: false,
            color: false,
            stats: Stats::default(),
        }
    }

    /// Print secrets in full (`--show-secrets`).
    pub fn show_secrets(mut self, yes: bool) -> Self {
        self.show_secrets = yes;
        self
    }

    /// Use ANSI colour in the table.
    pub fn color(mut self, yes: bool) -> Self {
        self.color = yes;
        self
    }

    /// Attach scan counters for the summary.
    pub fn stats(mut self, stats: Stats) -> Self {
        self.stats = stats;
        self
    }

    /// The findings as they will be written (redacted unless asked otherwise).
    fn output_findings(&self) -> impl Iterator<Item = std::borrow::Cow<'a, Finding>> + '_ {
        self.findings.iter().map(move |f| {
            if self.show_secrets || f.secret.is_none() {
                std::borrow::Cow::Borrowed(f)
            } else {
                std::borrow::Cow::Owned(f.redacted())
            }
        })
    }

    /// Write the report in `format`.
    pub fn write(&self, format: Format, w: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Table => table::write(self, w),
            Format::Json => {
                let findings: Vec<_> = self.output_findings().collect();
                let doc = serde_json::json!({
                    "version": 1,
                    "tool": {"name": "rampart", "version": env!("CARGO_PKG_VERSION")},
                    "findings": findings,
                    "skipped": self.skipped,
                    "summary": summary(self.findings, self.skipped, self.stats),
                });
                serde_json::to_writer_pretty(&mut *w, &doc)?;
                writeln!(w)
            }
            Format::Jsonl => {
                for f in self.output_findings() {
                    serde_json::to_writer(&mut *w, &*f)?;
                    writeln!(w)?;
                }
                for s in self.skipped {
                    serde_json::to_writer(&mut *w, &serde_json::json!({ "skipped": s }))?;
                    writeln!(w)?;
                }
                Ok(())
            }
            Format::Sarif => sarif::write(self, w),
        }
    }
}

fn summary(findings: &[Finding], skipped: &[Skipped], stats: Stats) -> serde_json::Value {
    let mut by = serde_json::Map::new();
    for sev in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let n = findings.iter().filter(|f| f.severity == sev).count();
        by.insert(sev.as_str().into(), n.into());
    }
    serde_json::json!({
        "findings": findings.len(),
        "by_severity": by,
        "skipped": skipped.len(),
        "items_scanned": stats.items,
        "bytes_scanned": stats.bytes,
        "suppressed": stats.suppressed,
    })
}

/// The process exit code for `findings`: 1 when any is at or above `fail_on`, else 0.
/// `fail_on = None` never fails on findings. (2, usage or fatal error, is the caller's.)
pub fn exit_code(findings: &[Finding], fail_on: Option<Severity>) -> u8 {
    match fail_on {
        Some(t) if findings.iter().any(|f| f.severity >= t) => 1,
        _ => 0,
    }
}

/// Sort findings for stable output: by path, line, column, rule.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (
            a.location.path.as_str(),
            a.location.commit.as_deref(),
            a.location.layer_index,
            a.location.line,
            a.location.column,
            a.rule.as_str(),
        )
            .cmp(&(
                b.location.path.as_str(),
                b.location.commit.as_deref(),
                b.location.layer_index,
                b.location.line,
                b.location.column,
                b.rule.as_str(),
            ))
    });
}
