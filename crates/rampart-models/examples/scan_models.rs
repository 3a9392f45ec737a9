//! A stand-in for `rampart scan` while it is being wired: walk files and directories, run the
//! [`ModelDetector`] on every file, and print one JSON object per file with findings
//! (`{"path", "findings", "skipped"}`) to stdout, and a summary to stderr.
//!
//! ```text
//! cargo run --release -p rampart-models --example scan_models -- [--policy FILE] PATH...
//! ```
//! Exit code: 0 when nothing was found, 1 when any finding was reported, 2 on usage errors.

use rampart_core::{Detections, Detector, Item, Location};
use rampart_models::ModelDetector;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            walk(&e, out);
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut policy = None;
    let mut roots = Vec::new();
    while let Some(a) = args.next() {
        if a == "--policy" {
            policy = args.next().map(PathBuf::from);
        } else {
            roots.push(PathBuf::from(a));
        }
    }
    if roots.is_empty() {
        eprintln!("usage: scan_models [--policy FILE] PATH...");
        std::process::exit(2);
    }
    let det = match ModelDetector::from_policy_file(policy.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("scan_models: {e}");
            std::process::exit(2);
        }
    };
    let mut files = Vec::new();
    for r in &roots {
        walk(r, &mut files);
    }
    let start = Instant::now();
    let (mut bytes, mut flagged) = (0u64, 0usize);
    for f in &files {
        // Memory-map like the scanner core does: untouched pages (tensor data) are never read.
        let map = std::fs::File::open(f).and_then(|file| {
            if file.metadata()?.len() == 0 {
                return Ok(None);
            }
            // SAFETY: the file is only read; a concurrent truncation would fault, as in any mmap reader.
            unsafe { memmap2::Mmap::map(&file) }.map(Some)
        });
        let map = match map {
            Ok(m) => m,
            Err(e) => {
                eprintln!("scan_models: {}: {e}", f.display());
                continue;
            }
        };
        let data: &[u8] = map.as_deref().unwrap_or(&[]);
        bytes += data.len() as u64;
        let path = f.to_string_lossy().into_owned();
        let loc = Location::file(path.clone());
        let mut out = Detections::default();
        det.detect(
            &Item {
                path: &path,
                data,
                location: &loc,
            },
            &mut out,
        );
        if !out.findings.is_empty() {
            flagged += 1;
        }
        if !out.findings.is_empty() || !out.skipped.is_empty() {
            let v =
                serde_json::json!({"path": path, "findings": out.findings, "skipped": out.skipped});
            println!("{v}");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "scan_models: {} files, {:.1} MB, {} with findings, {:.3} s",
        files.len(),
        bytes as f64 / 1e6,
        flagged,
        secs
    );
    std::process::exit(if flagged > 0 { 1 } else { 0 });
}
