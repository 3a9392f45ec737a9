//! The human report.

use crate::Report;
use rampart_core::{Severity, terminal_safe as safe};
use std::io::{self, Write};

const SHOW_SKIPPED: usize = 20;

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn severity_code(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    }
}

pub(crate) fn write(r: &Report<'_>, w: &mut dyn Write) -> io::Result<()> {
    let c = r.color;
    for f in r.output_findings() {
        let sev = format!("{:<8}", f.severity.as_str().to_uppercase());
        writeln!(
            w,
            "{}  {}",
            paint(c, severity_code(f.severity), &sev),
            paint(c, "1", &safe(&f.message))
        )?;
        writeln!(w, "  {:<8}{}", "where", safe(&f.location.display()))?;
        if let Some(s) = &f.secret {
            let who = f.provider.as_deref().unwrap_or("");
            writeln!(
                w,
                "  {:<8}{}  ({who}, rule {})",
                "secret",
                paint(c, "35", &safe(s)),
                f.rule
            )?;
        } else {
            writeln!(w, "  {:<8}{}", "rule", f.rule)?;
        }
        if let Some(commit) = &f.location.commit {
            let mut line = commit.chars().take(12).collect::<String>();
            if let Some(a) = &f.location.author {
                line.push_str(&format!(" by {}", safe(a)));
            }
            if let Some(d) = &f.location.date {
                line.push_str(&format!(" on {d}"));
            }
            writeln!(w, "  {:<8}{line}", "commit")?;
        }
        if let Some(removed) = f.location.removed_in_layer_index {
            writeln!(
                w,
                "  {:<8}deleted in layer {removed}, but still in the image",
                "layer"
            )?;
        }
        for (k, v) in &f.extra {
            if let Some(s) = v.as_str() {
                // At least one space after a long key (`severity_source`).
                writeln!(w, "  {:<7} {}", k, safe(s))?;
            }
        }
        if let Some(fix) = &f.remediation {
            writeln!(w, "  {:<8}{}", "fix", safe(fix))?;
        }
        writeln!(w, "  {:<8}{}", "id", paint(c, "2", &f.fingerprint))?;
        writeln!(w)?;
    }
    if !r.skipped.is_empty() {
        writeln!(w, "{}", paint(c, "1", "Not scanned:"))?;
        for s in r.skipped.iter().take(SHOW_SKIPPED) {
            writeln!(w, "  {}: {}", safe(&s.path), safe(&s.reason))?;
        }
        if r.skipped.len() > SHOW_SKIPPED {
            writeln!(
                w,
                "  … and {} more (--format json lists them all)",
                r.skipped.len() - SHOW_SKIPPED
            )?;
        }
        writeln!(w)?;
    }
    let n = r.findings.len();
    let mut parts = Vec::new();
    for sev in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let k = r.findings.iter().filter(|f| f.severity == sev).count();
        if k > 0 {
            parts.push(format!("{k} {sev}"));
        }
    }
    let mut line = format!("{} finding{}", n, if n == 1 { "" } else { "s" });
    if !parts.is_empty() {
        line.push_str(&format!(" ({})", parts.join(", ")));
    }
    line.push_str(&format!(
        " · {} item{} scanned ({})",
        r.stats.items,
        if r.stats.items == 1 { "" } else { "s" },
        rampart_core::human_size(r.stats.bytes)
    ));
    if r.stats.suppressed > 0 {
        line.push_str(&format!(" · {} suppressed", r.stats.suppressed));
    }
    if !r.skipped.is_empty() {
        line.push_str(&format!(" · {} not scanned", r.skipped.len()));
    }
    writeln!(w, "{}", paint(c, "1", &line))
}
