//! `rampart db`: the offline advisory database (OSV) used by the dependency checks.

use anyhow::{Result, bail};
use rampart_core::stderr_line;
use rampart_deps::import::{self, DEFAULT_BASE_URL, ImportReport};
use rampart_deps::{Database, Ecosystem, resolve_db_path};
use std::io::IsTerminal;
use std::path::PathBuf;

use super::out::{flush_out, outln};

/// Arguments of `rampart db`.
#[derive(clap::Args)]
#[command(after_help = "\
The database is one file, `osv.rdb`, in $RAMPART_HOME (default: the user data directory, e.g.
~/.local/share/rampart); --db PATH overrides. Exit codes: 0 = done, 2 = error (for import/update:
also when some input could not be read; the readable rest is still stored).")]
pub struct Args {
    #[command(subcommand)]
    pub command: DbCommand,
}

/// `rampart db` subcommands.
#[derive(clap::Subcommand)]
pub enum DbCommand {
    /// Import OSV JSON files, directories of them, or OSV `all.zip` exports.
    Import {
        /// Files (.json, .zip) or directories (walked for both).
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
        /// Start from an empty database instead of merging into the existing one.
        #[arg(long)]
        replace: bool,
        /// Database file (default: $RAMPART_HOME/osv.rdb).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
        /// Print every warning about records (unknown fields, unparseable versions).
        #[arg(long, short)]
        verbose: bool,
    },
    /// Download the official per-ecosystem OSV exports (`<base-url>/<ecosystem>/all.zip`).
    Update {
        /// Ecosystem to download (repeatable). Default: PyPI, npm, crates.io, Go, RubyGems,
        /// Packagist, Debian, Alpine.
        #[arg(long = "ecosystem", short = 'e', value_name = "NAME")]
        ecosystems: Vec<String>,
        /// Where the exports are (also $RAMPART_OSV_URL).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Database file (default: $RAMPART_HOME/osv.rdb).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
        /// Print every warning about records.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Show what the database holds.
    Status {
        /// Database file (default: $RAMPART_HOME/osv.rdb).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
        /// Output format.
        #[arg(long, short = 'f', default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
}

fn spinner(what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new_spinner();
    b.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    b.set_prefix(what.to_string());
    b.enable_steady_tick(std::time::Duration::from_millis(120));
    b
}

fn summarise(r: &ImportReport, verbose: bool, db: &std::path::Path) -> u8 {
    for e in &r.errors {
        stderr_line!("rampart: error: {e}");
    }
    let shown = if verbose {
        r.warnings.len()
    } else {
        r.warnings.len().min(10)
    };
    for w in &r.warnings[..shown] {
        stderr_line!("rampart: warning: {w}");
    }
    if r.warnings.len() > shown {
        stderr_line!(
            "rampart: … and {} more warnings (use --verbose)",
            r.warnings.len() - shown
        );
    }
    outln!(
        "{}: {} records read, {} added, {} replaced, {} kept (stored copy newer), {} removed; {} advisories in total",
        db.display(),
        r.records,
        r.added,
        r.replaced,
        r.kept_newer,
        r.removed,
        r.total
    );
    if r.errors.is_empty() { 0 } else { 2 }
}

/// Run `rampart db`.
pub fn run(args: Args) -> Result<u8> {
    let r = run_inner(args);
    flush_out()?;
    r
}

fn run_inner(args: Args) -> Result<u8> {
    match args.command {
        DbCommand::Import {
            paths,
            replace,
            db,
            verbose,
        } => {
            let path = resolve_db_path(db.as_deref())?;
            let bar = spinner("importing");
            let r = import::import_paths(&path, &paths, replace, &mut |what, n| {
                bar.set_message(format!("{n} records, {what}"));
            })?;
            bar.finish_and_clear();
            if r.records == 0 && !r.errors.is_empty() {
                summarise(&r, verbose, &path);
                bail!("no OSV record could be read");
            }
            Ok(summarise(&r, verbose, &path))
        }
        DbCommand::Update {
            ecosystems,
            base_url,
            db,
            verbose,
        } => {
            let path = resolve_db_path(db.as_deref())?;
            let base = base_url
                .or_else(|| {
                    std::env::var("RAMPART_OSV_URL")
                        .ok()
                        .filter(|s| !s.is_empty())
                })
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
            let ecos: Vec<String> = if ecosystems.is_empty() {
                Ecosystem::default_exports()
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                ecosystems
            };
            let bar = spinner("updating");
            let r = import::update(&path, &base, &ecos, &mut |what, n| {
                bar.set_message(format!("{n} records, {what}"));
            })?;
            bar.finish_and_clear();
            Ok(summarise(&r, verbose, &path))
        }
        DbCommand::Status { db, format } => {
            let path = resolve_db_path(db.as_deref())?;
            let t = std::time::Instant::now();
            let d = Database::open(&path)?;
            let opened = t.elapsed();
            let st = d.status();
            if format == "json" {
                let json = serde_json::to_string_pretty(&st)?;
                outln!("{json}");
                return Ok(0);
            }
            outln!("database:   {}", st.path);
            outln!("size:       {:.1} MiB", st.bytes as f64 / (1 << 20) as f64);
            outln!("opened in:  {:.1} ms", opened.as_secs_f64() * 1000.0);
            outln!(
                "built:      {}",
                st.metadata["built_at"].as_str().unwrap_or("?")
            );
            outln!(
                "advisories: {} ({} malicious-package reports, {} withdrawn), {} packages, {} affected entries",
                st.advisories,
                st.metadata["malicious"],
                st.metadata["withdrawn"],
                st.packages,
                st.affected_entries
            );
            if let Some(m) = st.metadata["advisories_per_ecosystem"].as_object() {
                for (eco, n) in m {
                    outln!("  {eco:<14} {n}");
                }
            }
            if let Some(srcs) = st.metadata["sources"].as_array() {
                outln!("sources (latest last):");
                for s in srcs.iter().rev().take(10).rev() {
                    let what = s["url"].as_str().or(s["path"].as_str()).unwrap_or("?");
                    outln!(
                        "  {} {} {} ({} records)",
                        s["at"].as_str().unwrap_or("?"),
                        s["kind"].as_str().unwrap_or("?"),
                        what,
                        s["records"]
                    );
                }
            }
            Ok(0)
        }
    }
}
