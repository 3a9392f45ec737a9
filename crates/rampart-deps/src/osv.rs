//! OSV records: the parts Rampart keeps, parsed leniently from OSV JSON.
//!
//! Unknown fields are ignored (the schema grows), `null` reads as empty, and problems that affect
//! only part of a record (an unknown event, a version the ecosystem rejects) become warnings on the
//! record instead of losing it.

use crate::Ecosystem;
use rampart_core::Severity;
use serde::Deserialize;
use serde_json::Value;

/// A vulnerability or malicious-package advisory, reduced to what matching and reporting need.
#[derive(Clone, Debug, PartialEq)]
pub struct Advisory {
    /// OSV id (`GHSA-…`, `PYSEC-…`, `RUSTSEC-…`, `GO-…`, `MAL-…`).
    pub id: String,
    /// Other ids of the same problem (CVEs, GHSAs…).
    pub aliases: Vec<String>,
    /// One line; the first line of `details` when the record has no summary.
    pub summary: String,
    /// RFC 3339 time of the last change.
    pub modified: String,
    /// RFC 3339 time of publication, empty when absent.
    pub published: String,
    /// Withdrawn advisories are kept in the database but never matched.
    pub withdrawn: bool,
    /// A malicious-package report (`MAL-…` or carrying `malicious-packages-origins`).
    pub malicious: bool,
    /// Severity from the CVSS v3/v2 base score where present, else from `database_specific`.
    pub severity: Option<Severity>,
    /// The CVSS vector the severity came from (or the only one present), empty when none.
    pub cvss: String,
    /// Where the record came from (`import`, `update:PyPI`, …).
    pub origin: String,
    /// The affected packages.
    pub affected: Vec<Affected>,
}

/// One `affected[]` entry: a package and the versions of it that are affected.
#[derive(Clone, Debug, PartialEq)]
pub struct Affected {
    /// OSV ecosystem string, with release suffix (`PyPI`, `Debian:12`).
    pub ecosystem: String,
    /// Package name as the advisory spells it.
    pub name: String,
    /// Version ranges.
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions.
    pub versions: Vec<String>,
    /// The listed versions in canonical form (see [`crate::version::canonical`]), sorted, for
    /// binary search; versions the ecosystem's rules reject appear as `=` + the raw string.
    /// Filled by the parser and the database; may be left empty by hand-built values.
    pub canonical: Vec<String>,
}

/// The sorted canonical list for `versions` (see [`Affected::canonical`]).
pub fn canonical_versions(ecosystem: &str, versions: &[String]) -> Vec<String> {
    let eco = Ecosystem::from_osv(ecosystem);
    let mut out: Vec<String> = versions
        .iter()
        .map(|v| crate::version::canonical(eco, v).unwrap_or_else(|_| format!("={v}")))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// How the events of a range are to be ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeKind {
    /// SemVer 2.0 ordering.
    Semver,
    /// The ecosystem's own ordering.
    Ecosystem,
    /// Git commits: not evaluable offline from a version string; other ranges still apply.
    Git,
    /// A type this version of Rampart does not know.
    Unknown,
}

/// One range of an `affected` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    /// Type of the range.
    pub kind: RangeKind,
    /// Events in file order.
    pub events: Vec<Event>,
}

/// A range event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Affected from this version on (`0` = from the beginning).
    Introduced(String),
    /// Not affected from this version on.
    Fixed(String),
    /// Affected up to and including this version.
    LastAffected(String),
    /// Nothing at or above this version is in the range.
    Limit(String),
}

impl Event {
    /// The version the event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// A record could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum OsvError {
    /// Not JSON, or not shaped like an OSV record.
    #[error("{source_name}: not a valid OSV record (line {line}, column {column}): {message}")]
    Json {
        /// File (and zip member) name.
        source_name: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde's description.
        message: String,
    },
    /// Valid JSON without the fields every record needs.
    #[error("{source_name}: OSV record without {what}")]
    Missing {
        /// File (and zip member) name.
        source_name: String,
        /// Which field.
        what: &'static str,
    },
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct RawRecord {
    #[serde(default, deserialize_with = "null_default")]
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    modified: String,
    #[serde(default, deserialize_with = "null_default")]
    published: String,
    #[serde(default, deserialize_with = "null_default")]
    withdrawn: String,
    #[serde(default, deserialize_with = "null_default")]
    aliases: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    summary: String,
    #[serde(default, deserialize_with = "null_default")]
    details: String,
    #[serde(default, deserialize_with = "null_default")]
    severity: Vec<RawSeverity>,
    #[serde(default, deserialize_with = "null_default")]
    affected: Vec<RawAffected>,
    #[serde(default)]
    database_specific: Value,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    kind: String,
    #[serde(default, deserialize_with = "null_default")]
    score: String,
}

#[derive(Deserialize, Default)]
struct RawPackage {
    #[serde(default, deserialize_with = "null_default")]
    ecosystem: String,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
}

#[derive(Deserialize)]
struct RawAffected {
    #[serde(default, deserialize_with = "null_default")]
    package: RawPackage,
    #[serde(default, deserialize_with = "null_default")]
    ranges: Vec<RawRange>,
    #[serde(default, deserialize_with = "null_default")]
    versions: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    severity: Vec<RawSeverity>,
    #[serde(default)]
    database_specific: Value,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    kind: String,
    #[serde(default, deserialize_with = "null_default")]
    events: Vec<serde_json::Map<String, Value>>,
}

/// Parse one OSV record. `source_name` names the file (and zip member) in messages; warnings about
/// parts of the record that were dropped or cannot be evaluated are appended to `warnings`.
pub fn parse_record(
    bytes: &[u8],
    source_name: &str,
    origin: &str,
    warnings: &mut Vec<String>,
) -> Result<Advisory, OsvError> {
    let raw: RawRecord = serde_json::from_slice(bytes).map_err(|e| OsvError::Json {
        source_name: source_name.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    from_raw(raw, source_name, origin, warnings)
}

/// Parse a JSON document holding OSV records: a single record, an array of records, or an OSV API
/// response `{"vulns": [...]}`. Records that fail are reported in `errors` and skipped.
pub fn parse_document(
    bytes: &[u8],
    source_name: &str,
    origin: &str,
    warnings: &mut Vec<String>,
    errors: &mut Vec<OsvError>,
) -> Vec<Advisory> {
    let first = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace() && **b != 0xEF && **b != 0xBB && **b != 0xBF);
    let looks_list = first == Some(&b'[');
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            errors.push(OsvError::Json {
                source_name: source_name.to_string(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            });
            return Vec::new();
        }
    };
    let items: Vec<Value> = match v {
        Value::Array(a) if looks_list => a,
        Value::Object(mut o) if o.contains_key("vulns") && !o.contains_key("id") => {
            match o.remove("vulns") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            }
        }
        other => vec![other],
    };
    let many = items.len() > 1;
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let name = if many {
            format!("{source_name}[{i}]")
        } else {
            source_name.to_string()
        };
        match serde_json::from_value::<RawRecord>(item) {
            Ok(raw) => match from_raw(raw, &name, origin, warnings) {
                Ok(a) => out.push(a),
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(OsvError::Json {
                source_name: name,
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            }),
        }
    }
    out
}

fn from_raw(
    raw: RawRecord,
    source_name: &str,
    origin: &str,
    warnings: &mut Vec<String>,
) -> Result<Advisory, OsvError> {
    if raw.id.trim().is_empty() {
        return Err(OsvError::Missing {
            source_name: source_name.to_string(),
            what: "an `id`",
        });
    }
    let id = raw.id.trim().to_string();
    let malicious = id.starts_with("MAL-")
        || raw
            .database_specific
            .get("malicious-packages-origins")
            .is_some();
    let summary = if raw.summary.trim().is_empty() {
        let line = raw.details.trim().lines().next().unwrap_or("").trim();
        let mut s: String = line.chars().take(200).collect();
        if line.chars().count() > 200 {
            s.push('…');
        }
        s
    } else {
        raw.summary.trim().to_string()
    };
    let mut sev_list: Vec<&RawSeverity> = raw.severity.iter().collect();
    for a in &raw.affected {
        sev_list.extend(a.severity.iter());
    }
    let (mut severity, cvss) = severity_of(&sev_list);
    if severity.is_none() {
        let ds = raw
            .database_specific
            .get("severity")
            .or_else(|| {
                raw.affected
                    .iter()
                    .find_map(|a| a.database_specific.get("severity"))
            })
            .and_then(|v| v.as_str());
        severity = ds.and_then(word_severity);
    }
    let mut affected = Vec::new();
    for (ai, a) in raw.affected.into_iter().enumerate() {
        let at = format!("{source_name}: {id} affected[{ai}]");
        if a.package.name.trim().is_empty() || a.package.ecosystem.trim().is_empty() {
            // Entries without a package (e.g. only git ranges on a repository) cannot match a
            // package inventory.
            if !a.ranges.iter().all(|r| r.kind == "GIT") {
                warnings.push(format!("{at}: no package name/ecosystem; entry ignored"));
            }
            continue;
        }
        let eco_str = a.package.ecosystem.trim().to_string();
        let eco = Ecosystem::from_osv(&eco_str);
        let mut ranges = Vec::new();
        for (ri, r) in a.ranges.into_iter().enumerate() {
            let kind = match r.kind.as_str() {
                "SEMVER" => RangeKind::Semver,
                "ECOSYSTEM" => RangeKind::Ecosystem,
                "GIT" => RangeKind::Git,
                other => {
                    warnings.push(format!(
                        "{at}.ranges[{ri}]: unknown range type `{other}`; range ignored"
                    ));
                    RangeKind::Unknown
                }
            };
            let mut events = Vec::new();
            for (ei, e) in r.events.into_iter().enumerate() {
                let mut ev = None;
                for (k, v) in e {
                    let Some(v) = v.as_str().map(|s| s.trim().to_string()) else {
                        warnings.push(format!(
                            "{at}.ranges[{ri}].events[{ei}].{k}: not a string; event ignored"
                        ));
                        continue;
                    };
                    let parsed = match k.as_str() {
                        "introduced" => Event::Introduced(v),
                        "fixed" => Event::Fixed(v),
                        "last_affected" => Event::LastAffected(v),
                        "limit" => Event::Limit(v),
                        other => {
                            warnings.push(format!(
                                "{at}.ranges[{ri}].events[{ei}]: unknown event `{other}`; ignored"
                            ));
                            continue;
                        }
                    };
                    if ev.is_some() {
                        warnings.push(format!(
                            "{at}.ranges[{ri}].events[{ei}]: more than one event in one object"
                        ));
                    }
                    ev = Some(parsed);
                }
                if let Some(ev) = ev {
                    // Check the version is understood, so that a bad version is reported at
                    // import rather than silently at match time.
                    let checkable = matches!(kind, RangeKind::Semver | RangeKind::Ecosystem)
                        && eco != Ecosystem::Other
                        && !(matches!(ev, Event::Introduced(_)) && ev.version() == "0")
                        && !(matches!(ev, Event::Limit(_)) && ev.version() == "*");
                    if checkable {
                        let r = if kind == RangeKind::Semver {
                            crate::version::parse_semver_range(ev.version())
                        } else {
                            crate::version::parse(eco, ev.version())
                        };
                        if let Err(e) = r {
                            warnings.push(format!(
                                "{at}.ranges[{ri}].events[{ei}]: {e}; this range cannot be evaluated"
                            ));
                        }
                    }
                    events.push(ev);
                }
            }
            ranges.push(Range { kind, events });
        }
        let versions: Vec<String> = a
            .versions
            .into_iter()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        let canonical = canonical_versions(&eco_str, &versions);
        affected.push(Affected {
            ecosystem: eco_str,
            name: a.package.name.trim().to_string(),
            ranges,
            versions,
            canonical,
        });
    }
    Ok(Advisory {
        id,
        aliases: raw.aliases,
        summary,
        modified: raw.modified,
        published: raw.published,
        withdrawn: !raw.withdrawn.trim().is_empty(),
        malicious,
        severity: if malicious {
            Some(Severity::Critical)
        } else {
            severity
        },
        cvss,
        origin: origin.to_string(),
        affected,
    })
}

fn word_severity(s: &str) -> Option<Severity> {
    match s.to_ascii_uppercase().as_str() {
        "CRITICAL" => Some(Severity::Critical),
        "HIGH" | "IMPORTANT" => Some(Severity::High),
        "MODERATE" | "MEDIUM" => Some(Severity::Medium),
        "LOW" | "NEGLIGIBLE" | "UNIMPORTANT" => Some(Severity::Low),
        _ => None,
    }
}

fn severity_of(list: &[&RawSeverity]) -> (Option<Severity>, String) {
    let mut fallback = String::new();
    // Prefer v3, then v2; v4 vectors are kept but not scored.
    for want in ["CVSS_V3", "CVSS_V2"] {
        for s in list.iter().filter(|s| s.kind == want) {
            let score = if want == "CVSS_V3" {
                cvss::v3_base_score(&s.score)
            } else {
                cvss::v2_base_score(&s.score)
            };
            if let Some(score) = score {
                return (Some(cvss::rating(score)), s.score.clone());
            }
        }
    }
    if let Some(s) = list.first() {
        fallback = s.score.clone();
    }
    (None, fallback)
}

/// CVSS base-score arithmetic (v3.0/v3.1 and v2), enough to turn vectors into severities.
pub mod cvss {
    use rampart_core::Severity;

    /// The qualitative rating of a base score (CVSS v3 table; v2 scores use the same bands).
    pub fn rating(score: f64) -> Severity {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::Info
        }
    }

    fn metrics(vector: &str) -> std::collections::HashMap<&str, &str> {
        vector
            .split('/')
            .filter_map(|p| p.split_once(':'))
            .collect()
    }

    fn roundup(x: f64) -> f64 {
        let i = (x * 100_000.0).round() as i64;
        if i % 10_000 == 0 {
            i as f64 / 100_000.0
        } else {
            ((i / 10_000) + 1) as f64 / 10.0
        }
    }

    /// Base score of a `CVSS:3.x/...` vector, `None` when a base metric is missing or unknown.
    pub fn v3_base_score(vector: &str) -> Option<f64> {
        if !vector.starts_with("CVSS:3.") {
            return None;
        }
        let m = metrics(vector);
        let av = match *m.get("AV")? {
            "N" => 0.85,
            "A" => 0.62,
            "L" => 0.55,
            "P" => 0.2,
            _ => return None,
        };
        let ac = match *m.get("AC")? {
            "L" => 0.77,
            "H" => 0.44,
            _ => return None,
        };
        let changed = match *m.get("S")? {
            "U" => false,
            "C" => true,
            _ => return None,
        };
        let pr = match (*m.get("PR")?, changed) {
            ("N", _) => 0.85,
            ("L", false) => 0.62,
            ("L", true) => 0.68,
            ("H", false) => 0.27,
            ("H", true) => 0.5,
            _ => return None,
        };
        let ui = match *m.get("UI")? {
            "N" => 0.85,
            "R" => 0.62,
            _ => return None,
        };
        let cia = |k: &str| -> Option<f64> {
            match *m.get(k)? {
                "H" => Some(0.56),
                "L" => Some(0.22),
                "N" => Some(0.0),
                _ => None,
            }
        };
        let (c, i, a) = (cia("C")?, cia("I")?, cia("A")?);
        let iss = 1.0 - ((1.0 - c) * (1.0 - i) * (1.0 - a));
        let impact = if changed {
            7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
        } else {
            6.42 * iss
        };
        let expl = 8.22 * av * ac * pr * ui;
        if impact <= 0.0 {
            return Some(0.0);
        }
        Some(if changed {
            roundup((1.08 * (impact + expl)).min(10.0))
        } else {
            roundup((impact + expl).min(10.0))
        })
    }

    /// Base score of a CVSS v2 vector (`AV:N/AC:L/Au:N/C:P/I:P/A:P`).
    pub fn v2_base_score(vector: &str) -> Option<f64> {
        let m = metrics(vector);
        let av = match *m.get("AV")? {
            "L" => 0.395,
            "A" => 0.646,
            "N" => 1.0,
            _ => return None,
        };
        let ac = match *m.get("AC")? {
            "H" => 0.35,
            "M" => 0.61,
            "L" => 0.71,
            _ => return None,
        };
        let au = match *m.get("Au")? {
            "M" => 0.45,
            "S" => 0.56,
            "N" => 0.704,
            _ => return None,
        };
        let cia = |k: &str| -> Option<f64> {
            match *m.get(k)? {
                "N" => Some(0.0),
                "P" => Some(0.275),
                "C" => Some(0.660),
                _ => None,
            }
        };
        let (c, i, a) = (cia("C")?, cia("I")?, cia("A")?);
        let impact = 10.41 * (1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a));
        let expl = 20.0 * av * ac * au;
        let f = if impact == 0.0 { 0.0 } else { 1.176 };
        let score = ((0.6 * impact) + (0.4 * expl) - 1.5) * f;
        Some((score * 10.0).round() / 10.0)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn v3_scores_match_nvd() {
            for (v, s) in [
                ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
                ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1),
                ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
                ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H", 5.5),
                ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
                ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
            ] {
                assert_eq!(v3_base_score(v), Some(s), "{v}");
            }
            assert_eq!(v3_base_score("CVSS:3.1/AV:X"), None);
            assert_eq!(v3_base_score("CVSS:4.0/AV:N/AC:L/AT:N"), None);
        }

        #[test]
        fn v2_scores_match_nvd() {
            assert_eq!(v2_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"), Some(7.5));
            assert_eq!(v2_base_score("AV:N/AC:M/Au:N/C:N/I:P/A:N"), Some(4.3));
            assert_eq!(v2_base_score("AV:N/AC:L/Au:N/C:C/I:C/A:C"), Some(10.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_about_unknown_and_null() {
        let rec = br#"{"id":"X-1","future_field":{"a":1},"aliases":null,"summary":null,
            "details":"First line.\nMore.","affected":[{"package":{"ecosystem":"PyPI","name":"Foo"},
            "versions":null,"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"not a version!"},{"weird":"1"}]},
            {"type":"NEW_KIND","events":[]}]}]}"#;
        let mut w = Vec::new();
        let a = parse_record(rec, "x.json", "import", &mut w).unwrap();
        assert_eq!(a.summary, "First line.");
        assert_eq!(a.affected[0].ranges.len(), 2);
        assert_eq!(a.affected[0].ranges[1].kind, RangeKind::Unknown);
        assert!(
            w.iter()
                .any(|m| m.contains("not a version!") && m.contains("x.json")),
            "{w:?}"
        );
        assert!(w.iter().any(|m| m.contains("unknown event `weird`")));
        assert!(w.iter().any(|m| m.contains("NEW_KIND")));
    }

    #[test]
    fn bad_json_names_file_and_line() {
        let mut w = Vec::new();
        let e = parse_record(b"{\n\"id\": \"A\",\n oops}", "dir/a.json", "import", &mut w)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dir/a.json") && e.contains("line 3"), "{e}");
        let e = parse_record(b"{\"affected\": []}", "b.json", "import", &mut w)
            .unwrap_err()
            .to_string();
        assert!(e.contains("without an `id`"), "{e}");
    }

    #[test]
    fn documents_with_many_records() {
        let doc = br#"{"vulns":[{"id":"A"},{"id":""},{"id":"B","affected":"nope"}]}"#;
        let (mut w, mut e) = (Vec::new(), Vec::new());
        let v = parse_document(doc, "resp.json", "import", &mut w, &mut e);
        assert_eq!(v.len(), 1);
        assert_eq!(e.len(), 2);
        assert!(e[1].to_string().contains("resp.json[2]"));
    }

    #[test]
    fn malicious_and_severity() {
        let mut w = Vec::new();
        let a = parse_record(
            br#"{"id":"MAL-1","affected":[{"package":{"ecosystem":"npm","name":"x"},"versions":["1.0.0"]}]}"#,
            "m.json",
            "import",
            &mut w,
        )
        .unwrap();
        assert!(a.malicious);
        assert_eq!(a.severity, Some(Severity::Critical));
        let b = parse_record(
            br#"{"id":"G","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N"},{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}]}"#,
            "g.json",
            "import",
            &mut w,
        )
        .unwrap();
        assert_eq!(b.severity, Some(Severity::Medium));
        assert!(b.cvss.starts_with("CVSS:3.1"));
        let c = parse_record(
            br#"{"id":"H","database_specific":{"severity":"HIGH"}}"#,
            "h.json",
            "import",
            &mut w,
        )
        .unwrap();
        assert_eq!(c.severity, Some(Severity::High));
    }
}
