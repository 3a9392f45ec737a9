//! Benchmark driver for `bench/deps/run.sh` (not a test: numbers are printed, not asserted).
//!
//! ```text
//! deps_bench gen CORPUS_DIR N OUT.jsonl [entries|keys]
//!     # N packages drawn from the advisories' own names and versions, 1 in 4 with a name no
//!     # advisory has. `entries` (worst case): one package per affected entry in turn, so a name
//!     # with 400 advisories (tensorflow) comes up 400 times as often; `keys`: every advisory-named
//!     # package in turn, each as often as the others.
//! deps_bench match DB PACKAGES.jsonl      # open the DB, match every package, print timings as JSON
//! deps_bench versions                     # read PyPI versions on stdin, print them sorted (PEP 440)
//! deps_bench import DB PATH...            # what `rampart db import --replace` does
//! deps_bench open DB                      # open the DB and look one package up, print timings
//! ```

use rampart_deps::{Database, Ecosystem, Package, matcher, osv, version};
use std::io::{BufRead, Write};
use std::time::Instant;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn generate(corpus: &str, n: usize, out: &str, by_keys: bool) {
    // Deterministic: every affected entry of the corpus in path order contributes one version
    // (cycling through introduced, fixed, listed versions and a version that is certainly clean),
    // until N packages are written. About a quarter of the names are not in any advisory.
    let mut entries: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut files = Vec::new();
    for sub in ["PyPI", "Go", "crates.io", "malicious"] {
        let Ok(rd) = std::fs::read_dir(format!("{corpus}/{sub}")) else {
            continue;
        };
        let mut v: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        v.sort();
        files.extend(v);
    }
    for f in files {
        let bytes = std::fs::read(&f).expect("read corpus file");
        let Ok(a) = osv::parse_record(&bytes, "x", "bench", &mut Vec::new()) else {
            continue;
        };
        for aff in a.affected {
            let mut vs: Vec<String> = aff.versions.clone();
            for r in &aff.ranges {
                for e in &r.events {
                    if e.version() != "0" && r.kind != osv::RangeKind::Git {
                        vs.push(e.version().to_string());
                    }
                }
            }
            entries.push((aff.ecosystem, aff.name, vs));
        }
    }
    if by_keys {
        let mut merged: std::collections::BTreeMap<(String, String), Vec<String>> =
            std::collections::BTreeMap::new();
        for (e, n, vs) in entries.drain(..) {
            merged.entry((e, n)).or_default().extend(vs);
        }
        entries = merged.into_iter().map(|((e, n), vs)| (e, n, vs)).collect();
    }
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).expect("create output"));
    let mut i = 0usize;
    let mut k = 0usize;
    while i < n && !entries.is_empty() {
        let (eco, name, vs) = &entries[k % entries.len()];
        let round = k / entries.len();
        k += 1;
        let (name, ver) = if i % 4 == 3 {
            (format!("{name}-not-in-any-advisory"), "1.0.0".to_string())
        } else if vs.is_empty() {
            continue;
        } else {
            (name.clone(), vs[(round + i) % vs.len()].clone())
        };
        let ver = if eco == "Go" && !ver.starts_with('v') {
            format!("v{ver}")
        } else {
            ver
        };
        writeln!(
            w,
            "{}",
            serde_json::json!({"ecosystem": eco, "name": name, "version": ver})
        )
        .expect("write");
        i += 1;
    }
}

fn run_match(db_path: &str, pkgs_path: &str) {
    let text = std::fs::read_to_string(pkgs_path).expect("read packages");
    let pkgs: Vec<Package> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let eco = Ecosystem::from_osv(v["ecosystem"].as_str().unwrap_or(""));
            Package {
                ecosystem: eco,
                release: None,
                name: v["name"].as_str().unwrap_or("").to_string(),
                version: v["version"].as_str().unwrap_or("").to_string(),
                source_name: None,
                source_version: None,
                manifest: "bench".into(),
                line: None,
                dev: false,
                hashes: Vec::new(),
                license: None,
            }
        })
        .collect();
    let rss_before = rss_kib("VmRSS:");
    let t = Instant::now();
    let db = Database::open(std::path::Path::new(db_path)).expect("open db");
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    // Warm-up-free, first pass: this is the number that counts ("after open").
    let t = Instant::now();
    let mut hits = 0usize;
    let mut affected_pkgs = 0usize;
    for p in &pkgs {
        let m = matcher::match_package(&db, p).expect("match");
        hits += m.hits.len();
        affected_pkgs += usize::from(!m.hits.is_empty());
    }
    let match_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    for p in &pkgs {
        let _ = matcher::match_package(&db, p);
    }
    let match2_ms = t.elapsed().as_secs_f64() * 1000.0;
    if let Ok(dump) = std::env::var("DEPS_BENCH_DUMP") {
        // One line per package with its advisory ids, to diff against the peer.
        let mut w = std::io::BufWriter::new(std::fs::File::create(dump).expect("dump"));
        for p in &pkgs {
            let m = matcher::match_package(&db, p).expect("match");
            let mut ids: Vec<&str> = m.hits.iter().map(|h| h.advisory.id.as_str()).collect();
            ids.sort();
            let _ = writeln!(
                w,
                "{} {} {} {}",
                p.ecosystem,
                p.name,
                p.version,
                ids.join(",")
            );
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "packages": pkgs.len(),
            "open_ms": open_ms,
            "match_ms": match_ms,
            "match_second_pass_ms": match2_ms,
            "advisory_hits": hits,
            "affected_packages": affected_pkgs,
            "rss_kib_before_open": rss_before,
            "rss_kib_after": rss_kib("VmRSS:"),
            "peak_rss_kib": rss_kib("VmHWM:"),
        })
    );
}

fn sort_versions() {
    let mut vs: Vec<(version::Version, String)> = Vec::new();
    let mut bad = 0;
    for line in std::io::stdin().lock().lines() {
        let l = line.expect("stdin");
        match version::parse(Ecosystem::PyPI, &l) {
            Ok(v) => vs.push((v, l)),
            Err(_) => bad += 1,
        }
    }
    vs.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let out = std::io::stdout();
    let mut o = out.lock();
    for (_, s) in vs {
        let _ = writeln!(o, "{s}");
    }
    eprintln!("{bad} rejected");
}

fn import(db: &str, inputs: &[String]) {
    let t = Instant::now();
    let paths: Vec<std::path::PathBuf> = inputs.iter().map(Into::into).collect();
    let r =
        rampart_deps::import::import_paths(std::path::Path::new(db), &paths, true, &mut |_, _| {})
            .expect("import");
    println!(
        "{}",
        serde_json::json!({
            "records": r.records,
            "errors": r.errors.len(),
            "warnings": r.warnings.len(),
            "import_ms": t.elapsed().as_secs_f64() * 1000.0,
            "peak_rss_kib": rss_kib("VmHWM:"),
        })
    );
}

fn open(db: &str) {
    let t = Instant::now();
    let d = Database::open(std::path::Path::new(db)).expect("open");
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let n = d.lookup("PyPI", "django").expect("lookup").len();
    let first_lookup_ms = t.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "open_ms": open_ms,
            "first_lookup_ms": first_lookup_ms,
            "django_entries": n,
            "peak_rss_kib": rss_kib("VmHWM:"),
        })
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") if args.len() == 5 || args.len() == 6 => generate(
            &args[2],
            args[3].parse().expect("N"),
            &args[4],
            args.get(5).map(String::as_str) == Some("keys"),
        ),
        Some("match") if args.len() == 4 => run_match(&args[2], &args[3]),
        Some("versions") => sort_versions(),
        Some("import") if args.len() >= 4 => import(&args[2], &args[3..]),
        Some("open") if args.len() == 3 => open(&args[2]),
        _ => {
            eprintln!("usage: deps_bench gen CORPUS N OUT | match DB PKGS | versions");
            std::process::exit(2);
        }
    }
}
