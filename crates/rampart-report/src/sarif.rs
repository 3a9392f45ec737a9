//! SARIF 2.1.0 output with stable `partialFingerprints`.

use crate::Report;
use rampart_core::{Finding, Severity};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{self, Write};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning reads `security-severity` (0–10) to rank security results.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// A relative URI reference for a path: `/`-separated, percent-encoding what is not allowed.
pub(crate) fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out == "-" { "stdin".to_string() } else { out }
}

fn result(f: &Finding, rule_index: usize) -> Value {
    let mut region = serde_json::Map::new();
    if let Some(l) = f.location.line {
        region.insert("startLine".into(), l.into());
        if let Some(c) = f.location.column {
            region.insert("startColumn".into(), c.into());
        }
        if let Some(e) = f.location.end_line {
            region.insert("endLine".into(), e.into());
        }
    }
    let mut physical = json!({"artifactLocation": {"uri": uri(&f.location.path)}});
    if !region.is_empty() {
        physical["region"] = Value::Object(region);
    }
    let mut props = serde_json::Map::new();
    props.insert("kind".into(), f.kind.as_str().into());
    props.insert("severity".into(), f.severity.as_str().into());
    if let Some(s) = &f.secret {
        props.insert("secret".into(), s.clone().into());
    }
    if let Some(p) = &f.provider {
        props.insert("provider".into(), p.clone().into());
    }
    let loc = serde_json::to_value(&f.location).unwrap_or(Value::Null);
    if let Value::Object(m) = loc {
        for (k, v) in m {
            if !matches!(k.as_str(), "path" | "line" | "column" | "end_line") {
                props.insert(k, v);
            }
        }
    }
    for (k, v) in &f.extra {
        props.insert(k.clone(), v.clone());
    }
    let mut message = f.message.clone();
    if let Some(fix) = &f.remediation {
        message.push_str(". ");
        message.push_str(fix);
    }
    json!({
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": {"text": message},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {"rampart/v1": f.fingerprint},
        "properties": props,
    })
}

pub(crate) fn write(r: &Report<'_>, w: &mut dyn Write) -> io::Result<()> {
    let findings: Vec<_> = r.output_findings().collect();
    let mut rules: BTreeMap<&str, (usize, &Finding)> = BTreeMap::new();
    for f in &findings {
        let n = rules.len();
        rules.entry(f.rule.as_str()).or_insert((n, f));
    }
    let mut rule_list: Vec<(usize, Value)> = rules
        .iter()
        .map(|(id, (i, f))| {
            let name = f.message.trim_end_matches(" found");
            (
                *i,
                json!({
                    "id": id,
                    "name": id,
                    "shortDescription": {"text": name},
                    "help": {"text": f.remediation.clone().unwrap_or_else(|| name.to_string())},
                    "defaultConfiguration": {"level": level(f.severity)},
                    "properties": {
                        "security-severity": security_severity(f.severity),
                        "tags": ["security", f.kind.as_str()],
                    },
                }),
            )
        })
        .collect();
    rule_list.sort_by_key(|(i, _)| *i);
    let results: Vec<Value> = findings
        .iter()
        .map(|f| result(f, rules[f.rule.as_str()].0))
        .collect();
    let notifications: Vec<Value> = r
        .skipped
        .iter()
        .map(|s| {
            json!({
                "level": "warning",
                "message": {"text": format!("not scanned: {}", s.reason)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(&s.path)}}}],
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "rampart",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/rampart-sec/rampart",
                "rules": rule_list.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            }},
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}
