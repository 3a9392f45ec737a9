//! `rampart scan`: files, directories, git history and stdin.

use anyhow::{Context, Result, bail};
use rampart_core::{Detector, Severity};
use rampart_core::{stderr_line, terminal_safe as safe};
use rampart_detect::{RuleSet, SecretDetector, StartupHookDetector};
use rampart_report::{Baseline, Format, IgnoreFile, Report, exit_code, write_baseline};
use rampart_scan::{GitMode, Progress, ScanConfig, Scanner, Target};
use rampart_sources::SourceOptions;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Arguments of `rampart scan`.
#[derive(clap::Args)]
#[command(after_help = "\
Targets: files, directories, `-` (stdin), git repositories (--git-history, --git), container images
(a `docker save` or OCI image tar, or an OCI layout directory, recognised by content), and images in
a registry: registry://HOST[:PORT]/REPOSITORY[:TAG|@DIGEST] (OCI distribution API; anonymous,
bearer-token or basic authentication).
Exit codes: 0 = no finding at or above --fail-on, 1 = findings at or above it, 2 = usage or fatal
error, or no such finding but a lockfile nothing could be read from (with an advisory database;
not with --fail-on none).
Suppress findings with an inline `rampart:allow` comment on their line, a `.rampartignore` file in the
scanned directory (gitignore-style globs and finding fingerprints, one per line), or --baseline.")]
pub struct Args {
    /// Files or directories to scan; `-` reads stdin. Default: the current directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// Also scan every blob in the git history of repositories (each unique blob once).
    #[arg(long)]
    pub git_history: bool,
    /// Scan only the git history, not the working tree.
    #[arg(long, conflicts_with = "git_history")]
    pub git: bool,
    /// Output format.
    #[arg(long, short = 'f', default_value = "table", value_parser = ["table", "json", "jsonl", "sarif"])]
    pub format: String,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print secrets in full instead of redacted (first 4 and last 2 characters).
    #[arg(long)]
    pub show_secrets: bool,
    /// Exit with 1 when a finding is at or above this severity (`none`: never).
    #[arg(long, default_value = "low", value_name = "SEVERITY",
          value_parser = ["critical", "high", "medium", "low", "info", "none"])]
    pub fail_on: String,
    /// Report only findings that are not in this baseline (a previous JSON or JSONL report).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write all current findings (secrets redacted) to FILE as a new baseline.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// An ignore file used in addition to each directory's `.rampartignore`.
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
    /// Extra rule file (TOML, same format as the built-in rules); repeatable.
    #[arg(long, value_name = "FILE")]
    pub extra_rules: Vec<PathBuf>,
    /// Skip files and blobs larger than this (bytes; K, M, G suffixes allowed).
    #[arg(long, default_value = "256M", value_name = "SIZE", value_parser = parse_size)]
    pub max_file_size: u64,
    /// Follow symbolic links (loops are detected and reported).
    #[arg(long)]
    pub follow_symlinks: bool,
    /// In directories, skip what `.gitignore` files and `.git/info/exclude` ignore (vendored
    /// dependencies, virtualenvs, build output). Off by default: `.env` files and local
    /// configs are usually git-ignored, and they are where live secrets sit.
    #[arg(long)]
    pub respect_gitignore: bool,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', default_value_t = 0)]
    pub threads: usize,
    /// Container images: scan only manifests for this platform (`os/arch[/variant]`, e.g.
    /// `linux/amd64`). Default: every platform in a multi-platform index.
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Advisory database for dependency checks (default: `$RAMPART_HOME/osv.rdb`, else the user
    /// data directory). Without one, lockfiles are still inventoried but not matched.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Also report URLs in scanned text whose verdict is malicious (kind `url`).
    #[arg(long)]
    pub urls: bool,
    /// Model-file policy (TOML: `allow = [...]`, `deny = [...]` of `module.name` globals) that
    /// extends the built-in pickle allowlist.
    #[arg(long, value_name = "FILE")]
    pub model_policy: Option<PathBuf>,
    /// Talk plain HTTP to `registry://` hosts that are not loopback (loopback always uses HTTP).
    /// Credentials come from RAMPART_REGISTRY_USER and RAMPART_REGISTRY_PASSWORD.
    #[arg(long)]
    pub registry_insecure: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{s}` is not a size (e.g. 1048576, 512K, 256M, 2G)"))
}

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

/// Build the detectors `rampart scan` runs.
fn detectors(args: &Args) -> Result<(Vec<Box<dyn Detector>>, rampart_deps::DepsDetector)> {
    let mut extra = Vec::new();
    for p in &args.extra_rules {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read rule file {}", p.display()))?;
        extra.push((p.display().to_string(), text));
    }
    let rules = RuleSet::builtin_with(extra.iter().map(|(n, t)| (n.as_str(), t.as_str())))?;
    // Sources expand plain archives (zip, jar, wheel, tar) into members themselves.
    let models = rampart_models::ModelDetector::from_policy_file(args.model_policy.as_deref())?
        .scan_generic_archives(false);
    let deps = match rampart_deps::DepsDetector::open(args.db.as_deref()) {
        Ok(d) => d,
        Err(e @ rampart_deps::DbError::Missing(_)) if args.db.is_none() => {
            stderr_line!("rampart: note: {e}; dependency advisories are not checked");
            rampart_deps::DepsDetector::inventory_only()
        }
        Err(e) => return Err(e.into()),
    };
    let mut detectors: Vec<Box<dyn Detector>> = vec![
        Box::new(SecretDetector::new(rules).with_max_size(args.max_file_size)),
        Box::new(models),
        Box::new(StartupHookDetector),
        Box::new(
            deps.clone()
                .with_include_reader(rampart_deps::walk::disk_include_reader()),
        ),
    ];
    if args.urls {
        let judge = std::sync::Arc::new(rampart_url::Judge::default());
        detectors.push(Box::new(rampart_url::UrlDetector::new(judge)));
    }
    Ok((detectors, deps))
}

/// Run the scan.
pub fn run(args: Args) -> Result<u8> {
    let fail_on = match args.fail_on.as_str() {
        "none" => None,
        s => Some(s.parse::<Severity>().map_err(anyhow::Error::msg)?),
    };
    let format: Format = args.format.parse().map_err(anyhow::Error::msg)?;
    let targets: Vec<Target> = if args.paths.is_empty() {
        vec![Target::Path(".".into())]
    } else {
        args.paths
            .iter()
            .map(|p| {
                if p == "-" {
                    Target::Stdin
                } else if p.starts_with("registry://") {
                    Target::Registry(p.clone())
                } else {
                    Target::Path(p.into())
                }
            })
            .collect()
    };
    if targets.iter().filter(|t| **t == Target::Stdin).count() > 1 {
        bail!("`-` (stdin) may be given only once");
    }
    let ignore_file = match &args.ignore_file {
        Some(p) => Some(
            IgnoreFile::load(p)?
                .with_context(|| format!("ignore file {} does not exist", p.display()))?,
        ),
        None => None,
    };
    let baseline = match &args.baseline {
        Some(p) => Some(Baseline::load(p).context("cannot use the baseline")?),
        None => None,
    };
    let config = ScanConfig {
        source: SourceOptions {
            max_file_size: args.max_file_size,
            follow_symlinks: args.follow_symlinks,
            threads: args.threads,
            exclude: None,
            platform: args.platform.clone(),
            respect_gitignore: args.respect_gitignore,
        },
        git: match (args.git_history, args.git) {
            (_, true) => GitMode::HistoryOnly,
            (true, _) => GitMode::WorkTreeAndHistory,
            _ => GitMode::WorkTree,
        },
        ignore_file,
        baseline,
        registry: rampart_sources::RegistryAuth {
            basic: match (
                std::env::var("RAMPART_REGISTRY_USER"),
                std::env::var("RAMPART_REGISTRY_PASSWORD"),
            ) {
                (Ok(u), Ok(p)) => Some((u, p)),
                _ => None,
            },
            insecure: args.registry_insecure,
        },
    };
    let (detectors, deps) = detectors(&args)?;
    let scanner = Scanner::new(detectors, config);

    let show_bar = !args.no_progress && std::io::stderr().is_terminal();
    let bar = progress_bar(show_bar);
    let outcome = scanner.run(&targets, &bar);
    bar.0.finish_and_clear();

    if let Some(p) = &args.write_baseline {
        write_baseline(p, &outcome.findings)
            .with_context(|| format!("cannot write baseline {}", p.display()))?;
    }
    let to_tty = args.output.is_none() && std::io::stdout().is_terminal();
    let color = to_tty && std::env::var_os("NO_COLOR").is_none();
    let report = Report::new(&outcome.findings, &outcome.skipped)
        .show_secrets(args.show_secrets)
        .color(color)
        .stats(outcome.stats);
    match &args.output {
        Some(p) => {
            let mut buf = Vec::new();
            report.write(format, &mut buf)?;
            std::fs::write(p, buf).with_context(|| format!("cannot write {}", p.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            report.write(format, &mut lock)?;
            lock.flush()?;
        }
    }
    let code = exit_code(&outcome.findings, fail_on);
    // A dependency file nothing could be read from was not checked: no all-clear for it (as
    // `fix-plan`). Only when advisories are checked at all, and not with `--fail-on none`.
    if code == 0 && fail_on.is_some() && deps.database().is_some() {
        let unread = rampart_deps::unread_files(&outcome.skipped, &deps.take_inventory());
        if !unread.is_empty() {
            stderr_line!(
                "rampart: {} dependency file{} could not be read, so {} packages were not checked: {} (exit 2)",
                unread.len(),
                if unread.len() == 1 { "" } else { "s" },
                if unread.len() == 1 { "its" } else { "their" },
                unread
                    .iter()
                    .map(|p| safe(p).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(2);
        }
    }
    Ok(code)
}

/// Run only the dependency detector over `path` with the scanner's sources (directories, git
/// working trees, images, archives), for `rampart sbom` and `rampart fix-plan`; the inventory
/// accumulates in `det`.
pub(crate) fn inventory(
    path: &std::path::Path,
    det: &rampart_deps::DepsDetector,
) -> rampart_scan::Outcome {
    let scanner = Scanner::new(vec![Box::new(det.clone())], ScanConfig::default());
    let show_bar = std::io::stderr().is_terminal();
    let bar = progress_bar(show_bar);
    let out = scanner.run(&[Target::Path(path.to_path_buf())], &bar);
    bar.0.finish_and_clear();
    out
}

fn progress_bar(show: bool) -> Bar {
    Bar(if show {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} scanning: {bytes} ({bytes_per_sec}), {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    } else {
        indicatif::ProgressBar::hidden()
    })
}
