//! `rampart url`: judge URLs — registrable domain, tricks, and the brand a lookalike imitates.

use anyhow::Context;
use rampart_core::terminal_safe as safe;
use rampart_url::{BrandList, Judge, JudgeConfig, Level, SuffixList, Verdict};
use std::io::{Read, Write};
use std::path::PathBuf;

/// Output formats of `rampart url`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One row per URL, with its reasons below it.
    Table,
    /// `{"results": [{"url", "host", "registrable_domain", "public_suffix", "verdict", "score",
    /// "impersonates", "reasons": [...]}]}`.
    Json,
}

/// Arguments of `rampart url`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = "\
Each URL gets a verdict (safe, suspicious or malicious), a score from 0 to 100 and the reasons
behind it, each with a stable code (typosquat, combosquat, confusable, userinfo-domain,
brand-in-subdomain, ip-obfuscated, open-redirect, ...). Lookalike domains are traced to the
protected brand they imitate and the technique used. A brand's own domains are never flagged.

Input: URLs as arguments, one per line with --file or --stdin (blank lines and lines starting
with # are skipped), or, with --extract, every http(s)/ftp/www. link found in free text.
URLs without a scheme (`paypa1.com/login`) are read as http://.

Exit codes:
  0  no URL is malicious (inputs that are not URLs are reported, and do not change the code)
  1  at least one URL is malicious
  2  usage error, or a file (input, --brands, --psl) that cannot be read or parsed")]
pub struct Args {
    /// URLs to judge.
    pub urls: Vec<String>,
    /// Read URLs from a file, one per line (repeatable; `-` is stdin).
    #[arg(long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Read URLs from standard input, one per line.
    #[arg(long)]
    pub stdin: bool,
    /// Treat --file/--stdin input as free text and judge every link found in it.
    #[arg(long)]
    pub extract: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// More brands to protect: lines of `Name | category | domain domain …` (see the built-in
    /// list with --list-brands for the syntax).
    #[arg(long, value_name = "FILE")]
    pub brands: Vec<PathBuf>,
    /// Do not load the built-in brand list (only --brands files).
    #[arg(long)]
    pub no_builtin_brands: bool,
    /// Use this public_suffix_list.dat instead of the built-in Public Suffix List.
    #[arg(long, value_name = "FILE")]
    pub psl: Option<PathBuf>,
    /// Print the brand list in use (built-in plus --brands) and exit.
    #[arg(long)]
    pub list_brands: bool,
    /// Only show URLs at or above this verdict (the exit code still counts every URL).
    #[arg(long, value_enum, default_value_t = MinLevel::Safe)]
    pub min_verdict: MinLevel,
}

/// Lowest verdict shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MinLevel {
    /// Everything.
    Safe,
    /// Suspicious and malicious.
    Suspicious,
    /// Malicious only.
    Malicious,
}

/// One input: where it came from and the URL text, or why it could not be read.
struct Input {
    origin: String,
    text: Result<String, String>,
}

/// Run `rampart url`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut brands = if args.no_builtin_brands {
        BrandList::default()
    } else {
        BrandList::builtin()
    };
    for path in &args.brands {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read brands file {}", path.display()))?;
        let more = BrandList::parse(&text, &path.display().to_string())?;
        brands.extend(more);
    }
    if args.list_brands {
        let out = std::io::stdout();
        let mut out = out.lock();
        for b in &brands.brands {
            let domains: Vec<String> = b
                .domains
                .iter()
                .map(|d| {
                    let mut s = String::new();
                    if !d.target {
                        s.push('=');
                    } else if d.common_word {
                        s.push('~');
                    }
                    s.push_str(&d.domain);
                    if d.any_suffix {
                        s.push_str(".*");
                    }
                    s
                })
                .collect();
            writeln!(out, "{} | {} | {}", b.name, b.category, domains.join(" "))?;
        }
        return Ok(0);
    }
    let mut config = JudgeConfig { brands, psl: None };
    if let Some(path) = &args.psl {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read suffix list {}", path.display()))?;
        let psl = SuffixList::parse(&text).with_context(|| format!("{}", path.display()))?;
        config = config.with_psl(psl);
    }

    let mut inputs: Vec<Input> = args
        .urls
        .iter()
        .enumerate()
        .map(|(i, u)| Input {
            origin: format!("argument {}", i + 1),
            text: Ok(u.clone()),
        })
        .collect();
    let mut read_stdin = args.stdin;
    for path in &args.files {
        if path.as_os_str() == "-" {
            read_stdin = true;
            continue;
        }
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        collect(
            &bytes,
            &path.display().to_string(),
            args.extract,
            &mut inputs,
        );
    }
    if read_stdin {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        collect(&bytes, "stdin", args.extract, &mut inputs);
    }
    if inputs.is_empty() && args.urls.is_empty() && args.files.is_empty() && !read_stdin {
        anyhow::bail!(
            "no URLs given: pass URLs as arguments, or use --file FILE or --stdin (see rampart url --help)"
        );
    }

    let judge = Judge::new(config);
    let min = match args.min_verdict {
        MinLevel::Safe => Level::Safe,
        MinLevel::Suspicious => Level::Suspicious,
        MinLevel::Malicious => Level::Malicious,
    };
    let mut any_malicious = false;
    let mut results: Vec<(String, Result<Verdict, String>)> = Vec::with_capacity(inputs.len());
    for input in inputs {
        let r = match input.text {
            Ok(t) => Ok(judge.judge(&t)),
            Err(e) => Err(e),
        };
        if let Ok(v) = &r {
            any_malicious |= v.verdict == Level::Malicious;
            if v.verdict < min {
                continue;
            }
        }
        results.push((input.origin, r));
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Json => write_json(&mut out, &results)?,
        Format::Table => write_table(&mut out, &results)?,
    }
    out.flush()?;
    Ok(if any_malicious { 1 } else { 0 })
}

/// Split file or stdin bytes into inputs: lines, or links found in the text.
fn collect(bytes: &[u8], origin: &str, extract: bool, inputs: &mut Vec<Input>) {
    if extract {
        let mut line = 1usize;
        let mut counted = 0usize;
        for (range, url) in rampart_url::find_urls(bytes) {
            line += memchr_count(&bytes[counted..range.start]);
            counted = range.start;
            inputs.push(Input {
                origin: format!("{origin}:{line}"),
                text: Ok(url.to_string()),
            });
        }
        return;
    }
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let raw = if i == 0 {
            raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw)
        } else {
            raw
        };
        let origin = format!("{origin}:{}", i + 1);
        match std::str::from_utf8(raw) {
            Ok(s) => {
                let s = s.trim();
                if s.is_empty() || s.starts_with('#') {
                    continue;
                }
                inputs.push(Input {
                    origin,
                    text: Ok(s.to_string()),
                });
            }
            Err(e) => inputs.push(Input {
                origin: origin.clone(),
                text: Err(format!(
                    "{origin}: not valid UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                )),
            }),
        }
    }
}

fn memchr_count(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

fn write_json(
    out: &mut impl Write,
    results: &[(String, Result<Verdict, String>)],
) -> anyhow::Result<()> {
    let items: Vec<serde_json::Value> = results
        .iter()
        .map(|(origin, r)| match r {
            Ok(v) => {
                let mut j = serde_json::to_value(v).unwrap_or_default();
                if let Some(o) = j.as_object_mut() {
                    o.insert("input".into(), origin.clone().into());
                }
                j
            }
            Err(e) => serde_json::json!({"input": origin, "url": null, "error": e}),
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &serde_json::json!({ "results": items }))?;
    writeln!(out)?;
    Ok(())
}

fn write_table(
    out: &mut impl Write,
    results: &[(String, Result<Verdict, String>)],
) -> anyhow::Result<()> {
    if results.is_empty() {
        writeln!(out, "no URLs to show")?;
        return Ok(());
    }
    let mut counts = [0usize; 4];
    for (origin, r) in results {
        match r {
            Err(e) => {
                counts[3] += 1;
                writeln!(out, "{:<10}  {:>3}  {}", "error", "-", safe(origin))?;
                writeln!(out, "      {}", safe(e))?;
            }
            Ok(v) => {
                counts[v.verdict as usize] += 1;
                writeln!(
                    out,
                    "{:<10}  {:>3}  {}",
                    v.verdict.as_str(),
                    v.score,
                    safe(&v.url)
                )?;
                let mut facts = Vec::new();
                if let Some(d) = &v.registrable_domain {
                    facts.push(format!("domain {d}"));
                } else if let Some(h) = &v.host {
                    facts.push(format!("host {h}"));
                }
                if let Some(s) = &v.public_suffix {
                    facts.push(format!("suffix {s}"));
                }
                if let Some(u) = &v.host_unicode {
                    facts.push(format!("unicode {u}"));
                }
                if let Some(i) = &v.impersonates {
                    facts.push(format!(
                        "imitates {} ({}) by {}",
                        i.brand, i.domain, i.technique
                    ));
                }
                if !facts.is_empty() {
                    writeln!(out, "      {}", safe(&facts.join(" · ")))?;
                }
                for r in &v.reasons {
                    writeln!(
                        out,
                        "      - {} (+{}): {}",
                        r.code,
                        r.score,
                        safe(&r.message)
                    )?;
                }
                if let Some(e) = &v.error {
                    if !v.reasons.iter().any(|r| &r.message == e) {
                        writeln!(out, "      error: {}", safe(e))?;
                    }
                }
            }
        }
    }
    writeln!(
        out,
        "\n{} URL(s): {} malicious, {} suspicious, {} safe, {} unreadable",
        results.len(),
        counts[2],
        counts[1],
        counts[0],
        counts[3]
    )?;
    Ok(())
}
