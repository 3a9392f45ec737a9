//! Scan files and directories with the built-in rules and print what fires, rule by rule.
//!
//! A tuning aid for rule authors: run it over trees that should hold (almost) no secrets, such
//! as the cargo registry or the Python standard library, and read what fires.
//!
//! ```text
//! cargo run --release -p rampart-detect --example scan_dir -- [--show-secrets] [--threads N] PATH...
//! ```
//!
//! Prints one line per finding (`path:line: rule-id secret`, the secret redacted unless
//! `--show-secrets`), then the number of findings per rule and the totals. Files over 16 MiB and
//! files with a NUL byte in their first 8 KiB are skipped.

use rampart_detect::RuleSet;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const MAX_FILE: u64 = 16 << 20;

fn walk(path: &Path, out: &mut Vec<PathBuf>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for e in entries.flatten() {
            walk(&e.path(), out);
        }
    } else if meta.is_file() && meta.len() <= MAX_FILE {
        out.push(path.to_path_buf());
    }
}

fn redact(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}…{tail}")
}

fn main() {
    let mut show = false;
    let mut threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut roots = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--show-secrets" => show = true,
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(threads)
                    .max(1)
            }
            _ => roots.push(PathBuf::from(a)),
        }
    }
    if roots.is_empty() {
        eprintln!("usage: scan_dir [--show-secrets] [--threads N] PATH...");
        std::process::exit(2);
    }
    let rules = RuleSet::builtin();
    let mut files = Vec::new();
    for r in &roots {
        walk(r, &mut files);
    }
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let bytes = AtomicUsize::new(0);
    let counts: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    let lines: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let Ok(data) = std::fs::read(path) else {
                        continue;
                    };
                    if memchr_nul(&data[..data.len().min(8192)]) {
                        continue;
                    }
                    bytes.fetch_add(data.len(), Ordering::Relaxed);
                    let found = rules.scan(&data);
                    if found.is_empty() {
                        continue;
                    }
                    let mut local = Vec::new();
                    for m in found {
                        let id = rules.rules()[m.rule].id().to_string();
                        let secret = String::from_utf8_lossy(&data[m.secret.clone()]).into_owned();
                        let secret = if show { secret } else { redact(&secret) };
                        let secret: String = secret.chars().take(120).collect();
                        local.push(format!("{}:{}: {id} {secret}", path.display(), m.line));
                        *counts.lock().expect("counts lock").entry(id).or_default() += 1;
                    }
                    lines.lock().expect("lines lock").extend(local);
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let mut lines = lines.into_inner().expect("lines lock");
    lines.sort();
    for l in &lines {
        println!("{l}");
    }
    let counts = counts.into_inner().expect("counts lock");
    let mut by_count: Vec<_> = counts.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("\n== findings per rule");
    for (id, n) in &by_count {
        println!("{n:6} {id}");
    }
    let total: usize = counts.values().sum();
    let mb = bytes.load(Ordering::Relaxed) as f64 / 1e6;
    println!(
        "\n{total} findings in {} files, {mb:.0} MB scanned in {:.1}s ({:.0} MB/s, {threads} threads)",
        files.len(),
        elapsed.as_secs_f64(),
        mb / elapsed.as_secs_f64().max(1e-9)
    );
}

fn memchr_nul(data: &[u8]) -> bool {
    data.contains(&0)
}
