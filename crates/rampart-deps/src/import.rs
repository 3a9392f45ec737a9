//! Importing OSV data: JSON files, directories of them, `all.zip` exports, and downloading the
//! official per-ecosystem exports (`rampart db update`).

use crate::db::{self, Database, DbError};
use crate::osv::{self, Advisory};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The default location of the official OSV exports: `<base>/<ecosystem>/all.zip`.
pub const DEFAULT_BASE_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// Largest single JSON record accepted from a zip (guards against zip bombs).
const MAX_RECORD: u64 = 64 << 20;

/// What an import or update did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ImportReport {
    /// Records read successfully.
    pub records: u64,
    /// New advisories.
    pub added: u64,
    /// Advisories replaced by a record with the same id.
    pub replaced: u64,
    /// Incoming records ignored because the stored copy was modified later.
    pub kept_newer: u64,
    /// Advisories dropped because a fresh export of their ecosystem no longer has them.
    pub removed: u64,
    /// Files or records that could not be read (file, zip member, line), and why.
    pub errors: Vec<String>,
    /// Parts of records that were ignored or cannot be evaluated.
    pub warnings: Vec<String>,
    /// Advisories in the database after the import.
    pub total: u64,
}

/// Errors that stop an import as a whole (individual bad files do not).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The database could not be read or written.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A download failed.
    #[error("{url}: {message}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// Progress callback: (what is being read, records read so far).
pub type Progress<'a> = &'a mut dyn FnMut(&str, u64);

/// Read OSV records from `path`: a `.json` file (one record, an array, or `{"vulns": [...]}`), a
/// `.zip` export, or a directory (walked recursively for both). Problems are appended to the
/// report; nothing here fails as a whole.
pub fn read_path(
    path: &Path,
    origin: &str,
    report: &mut ImportReport,
    progress: Progress<'_>,
) -> Vec<Advisory> {
    let mut out = Vec::new();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            report.errors.push(format!("{}: {e}", path.display()));
            return out;
        }
    };
    if meta.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut files, report);
        files.sort();
        for f in files {
            out.extend(read_file(&f, origin, report, progress));
        }
    } else {
        out.extend(read_file(path, origin, report, progress));
    }
    out
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>, report: &mut ImportReport) {
    let rd = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            report.errors.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    for entry in rd.flatten() {
        let p = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            collect_files(&p, files, report);
        } else if ft.is_file() {
            let ext = p
                .extension()
                .and_then(|e| e.to_str())
                .map(|e| e.to_ascii_lowercase());
            if matches!(ext.as_deref(), Some("json" | "zip")) {
                files.push(p);
            }
        }
    }
}

fn read_file(
    path: &Path,
    origin: &str,
    report: &mut ImportReport,
    progress: Progress<'_>,
) -> Vec<Advisory> {
    let name = path.display().to_string();
    let is_zip = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if is_zip {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                report.errors.push(format!("{name}: {e}"));
                return Vec::new();
            }
        };
        return read_zip(
            std::io::BufReader::new(file),
            &name,
            origin,
            report,
            progress,
        );
    }
    match std::fs::read(path) {
        Ok(bytes) => {
            let mut errs = Vec::new();
            let v = osv::parse_document(&bytes, &name, origin, &mut report.warnings, &mut errs);
            report
                .errors
                .extend(errs.into_iter().map(|e| e.to_string()));
            report.records += v.len() as u64;
            progress(&name, report.records);
            v
        }
        Err(e) => {
            report.errors.push(format!("{name}: {e}"));
            Vec::new()
        }
    }
}

/// Read every `*.json` member of an OSV zip export. A corrupt archive or member is reported and
/// the readable rest is kept.
pub fn read_zip<R: std::io::Read + std::io::Seek>(
    reader: R,
    name: &str,
    origin: &str,
    report: &mut ImportReport,
    progress: Progress<'_>,
) -> Vec<Advisory> {
    let mut out = Vec::new();
    let mut zip = match zip::ZipArchive::new(reader) {
        Ok(z) => z,
        Err(e) => {
            report
                .errors
                .push(format!("{name}: not a readable zip archive: {e}"));
            return out;
        }
    };
    let mut buf = Vec::new();
    for i in 0..zip.len() {
        let mut member = match zip.by_index(i) {
            Ok(m) => m,
            Err(e) => {
                report.errors.push(format!("{name}: member #{i}: {e}"));
                continue;
            }
        };
        let mname = match member.name() {
            Ok(n) => n.to_string(),
            Err(e) => {
                report
                    .errors
                    .push(format!("{name}: member #{i}: bad name: {e}"));
                continue;
            }
        };
        if member.is_dir() || !mname.to_ascii_lowercase().ends_with(".json") {
            continue;
        }
        let member_name = format!("{name}!{mname}");
        buf.clear();
        let res = (&mut member).take(MAX_RECORD + 1).read_to_end(&mut buf);
        if let Err(e) = res {
            report
                .errors
                .push(format!("{member_name}: cannot decompress: {e}"));
            continue;
        }
        if buf.len() as u64 > MAX_RECORD {
            report.errors.push(format!(
                "{member_name}: larger than {MAX_RECORD} bytes; skipped"
            ));
            continue;
        }
        let mut errs = Vec::new();
        let v = osv::parse_document(&buf, &member_name, origin, &mut report.warnings, &mut errs);
        report
            .errors
            .extend(errs.into_iter().map(|e| e.to_string()));
        report.records += v.len() as u64;
        out.extend(v);
        if i % 256 == 0 {
            progress(name, report.records);
        }
    }
    progress(name, report.records);
    out
}

fn load_existing(
    db_path: &Path,
) -> Result<(BTreeMap<String, Advisory>, serde_json::Value), DbError> {
    match Database::open(db_path) {
        Ok(db) => Ok((db.all_advisories()?, db.metadata())),
        Err(DbError::Missing(_)) => Ok((BTreeMap::new(), serde_json::Value::Null)),
        Err(e) => Err(e),
    }
}

/// `rampart db import`: read `inputs` and merge them into the database at `db_path` (created if
/// absent; emptied first when `replace`). The file is rewritten atomically.
pub fn import_paths(
    db_path: &Path,
    inputs: &[PathBuf],
    replace: bool,
    progress: Progress<'_>,
) -> Result<ImportReport, ImportError> {
    let (mut all, meta) = if replace {
        (BTreeMap::new(), serde_json::Value::Null)
    } else {
        load_existing(db_path)?
    };
    let mut report = ImportReport::default();
    let mut sources = Vec::new();
    for input in inputs {
        let before = report.records;
        let recs = read_path(input, "import", &mut report, progress);
        db::merge(&mut all, recs, &mut report);
        sources.push(serde_json::json!({
            "kind": "import",
            "path": input.display().to_string(),
            "records": report.records - before,
            "at": db::now_rfc3339(),
        }));
    }
    let meta = db::metadata_for(&all, &meta, &sources);
    db::write_atomic(db_path, &db::build(&all, &meta)?)?;
    report.total = all.len() as u64;
    Ok(report)
}

/// Download `url` into `into` (streamed; no size limit beyond the disk).
fn download(url: &str, into: &mut std::fs::File) -> Result<u64, ImportError> {
    let err = |message: String| ImportError::Download {
        url: url.to_string(),
        message,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(1800)))
        .timeout_connect(Some(std::time::Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent.get(url).call().map_err(|e| err(e.to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(err(format!("HTTP {status}")));
    }
    let mut reader = resp.body_mut().as_reader();
    std::io::copy(&mut reader, into).map_err(|e| err(format!("reading the body: {e}")))
}

/// `rampart db update`: download `<base_url>/<ecosystem>/all.zip` for each ecosystem and make the
/// database hold exactly those exports' records for them (advisories an earlier update brought for
/// that ecosystem and that the new export lacks are removed; imported records are kept). An
/// ecosystem whose download or archive fails keeps its previous records.
pub fn update(
    db_path: &Path,
    base_url: &str,
    ecosystems: &[String],
    progress: Progress<'_>,
) -> Result<ImportReport, ImportError> {
    let (mut all, meta) = load_existing(db_path)?;
    let mut report = ImportReport::default();
    let mut sources = Vec::new();
    let mut any_ok = false;
    let base = base_url.trim_end_matches('/');
    for eco in ecosystems {
        let url = format!("{base}/{}/all.zip", encode_path_segment(eco));
        progress(&format!("downloading {url}"), report.records);
        let mut tmp = match tempfile::tempfile() {
            Ok(f) => f,
            Err(e) => {
                report.errors.push(format!("{url}: temporary file: {e}"));
                continue;
            }
        };
        let bytes = match download(&url, &mut tmp) {
            Ok(n) => n,
            Err(e) => {
                report
                    .errors
                    .push(format!("{e}; kept the previous {eco} records"));
                continue;
            }
        };
        use std::io::Seek;
        if let Err(e) = tmp.seek(std::io::SeekFrom::Start(0)) {
            report.errors.push(format!("{url}: {e}"));
            continue;
        }
        let origin = format!("update:{eco}");
        let errors_before = report.errors.len();
        let before = report.records;
        let recs = read_zip(
            std::io::BufReader::new(tmp),
            &url,
            &origin,
            &mut report,
            progress,
        );
        let archive_failed = recs.is_empty() && report.errors.len() > errors_before;
        if archive_failed {
            report.errors.push(format!(
                "{url}: no records read; kept the previous {eco} records"
            ));
            continue;
        }
        any_ok = true;
        let fresh: std::collections::HashSet<&str> = recs.iter().map(|a| a.id.as_str()).collect();
        let stale: Vec<String> = all
            .values()
            .filter(|a| a.origin == origin && !fresh.contains(a.id.as_str()))
            .map(|a| a.id.clone())
            .collect();
        report.removed += stale.len() as u64;
        for id in stale {
            all.remove(&id);
        }
        let recs_count = recs.len();
        // An update is authoritative for its records: replace regardless of `modified`.
        for a in recs {
            if all.insert(a.id.clone(), a).is_some() {
                report.replaced += 1;
            } else {
                report.added += 1;
            }
        }
        sources.push(serde_json::json!({
            "kind": "update",
            "ecosystem": eco,
            "url": url,
            "bytes": bytes,
            "records": recs_count,
            "read": report.records - before,
            "at": db::now_rfc3339(),
        }));
    }
    if any_ok {
        let meta = db::metadata_for(&all, &meta, &sources);
        db::write_atomic(db_path, &db::build(&all, &meta)?)?;
    }
    report.total = all.len() as u64;
    Ok(report)
}

fn encode_path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_ecosystem_names() {
        assert_eq!(encode_path_segment("crates.io"), "crates.io");
        assert_eq!(encode_path_segment("Debian:12"), "Debian%3A12");
    }

    #[test]
    fn corrupt_zip_is_reported() {
        let mut r = ImportReport::default();
        let v = read_zip(
            std::io::Cursor::new(b"PK\x03\x04garbage".to_vec()),
            "bad.zip",
            "import",
            &mut r,
            &mut |_, _| {},
        );
        assert!(v.is_empty());
        assert!(
            r.errors[0].starts_with("bad.zip: not a readable zip"),
            "{:?}",
            r.errors
        );
    }
}
