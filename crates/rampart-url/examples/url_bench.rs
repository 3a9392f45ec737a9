//! Helper for `bench/urls`: judge URLs from stdin as TSV, or time the judge and the split.
//!
//! ```text
//! url_bench tsv < urls.txt          # input, verdict, score, registrable, brand, domain, technique, codes
//! url_bench split-time FILE [N]     # time N passes of the PSL split (host → registrable domain)
//! url_bench judge-time FILE [N]     # time N passes of the full judge
//! url_bench find-time FILE [N]      # time find_urls over the file's bytes
//! ```
use rampart_url::{Judge, JudgeConfig, SuffixList, find_urls};
use std::io::{BufRead, Write};
use std::time::Instant;

fn lines(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(2)
    });
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    match args.first().map(String::as_str) {
        Some("tsv") => {
            let judge = Judge::new(JudgeConfig::builtin());
            let stdin = std::io::stdin();
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                let u = line.trim();
                if u.is_empty() {
                    continue;
                }
                let v = judge.judge(u);
                let (b, d, t) = match &v.impersonates {
                    Some(i) => (i.brand.as_str(), i.domain.as_str(), i.technique.as_str()),
                    None => ("", "", ""),
                };
                let codes: Vec<&str> = v.reasons.iter().map(|r| r.code.as_str()).collect();
                let _ = writeln!(
                    out,
                    "{u}\t{}\t{}\t{}\t{b}\t{d}\t{t}\t{}",
                    v.verdict,
                    v.score,
                    v.registrable_domain.as_deref().unwrap_or(""),
                    codes.join(",")
                );
            }
        }
        Some("split-time") => {
            // The same work as tldextract's extract(): URL → host → (subdomain, domain, suffix).
            let urls = lines(&args[1]);
            let psl = SuffixList::builtin();
            let mut best = f64::MAX;
            let mut found = 0usize;
            for _ in 0..n {
                let t = Instant::now();
                found = 0;
                for u in &urls {
                    let Ok(parsed) = url::Url::parse(u) else {
                        continue;
                    };
                    if let Some(h) = parsed.host_str()
                        && let Some(s) = psl.split(h)
                        && s.registrable.is_some()
                    {
                        found += 1;
                    }
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "split\t{}\t{found}\t{best:.6}\t{:.0}",
                urls.len(),
                urls.len() as f64 / best
            );
        }
        Some("judge-time") => {
            let urls = lines(&args[1]);
            let judge = Judge::new(JudgeConfig::builtin());
            let mut best = f64::MAX;
            let mut flagged = 0usize;
            for _ in 0..n {
                let t = Instant::now();
                flagged = 0;
                for u in &urls {
                    if judge.judge(u).score > 0 {
                        flagged += 1;
                    }
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "judge\t{}\t{flagged}\t{best:.6}\t{:.0}",
                urls.len(),
                urls.len() as f64 / best
            );
        }
        Some("find-time") => {
            let data = std::fs::read(&args[1]).unwrap_or_default();
            let mut best = f64::MAX;
            let mut count = 0usize;
            for _ in 0..n {
                let t = Instant::now();
                count = find_urls(&data).count();
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "find\t{}\t{count}\t{best:.6}\t{:.1} MB/s",
                data.len(),
                data.len() as f64 / best / 1e6
            );
        }
        _ => {
            eprintln!(
                "usage: url_bench tsv | split-time FILE [N] | judge-time FILE [N] | find-time FILE [N]"
            );
            std::process::exit(2);
        }
    }
}
