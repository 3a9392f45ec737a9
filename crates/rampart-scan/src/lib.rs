//! The scan: sources feed items to detectors on the sources' worker threads; findings are
//! collected, triaged (inline allows are the detectors' job; `.rampartignore` fingerprints and
//! baselines are applied here) and sorted for the reporters.
//!
//! ```no_run
//! use rampart_scan::{GitMode, ScanConfig, Scanner, Target};
//!
//! # fn detectors() -> Vec<Box<dyn rampart_core::Detector>> { Vec::new() }
//! let scanner = Scanner::new(detectors(), ScanConfig::default());
//! let outcome = scanner.run(&[Target::Path(".".into())], &());
//! println!("{} findings, {} skipped", outcome.findings.len(), outcome.skipped.len());
//! ```
#![deny(missing_docs)]

use rampart_core::{Detections, Detector, Finding, Item, Skipped};
use rampart_report::{Baseline, IgnoreFile, Stats};
use rampart_sources::{ArchiveLimits, Expanding, Sink, SourceOptions};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A file or directory.
    Path(PathBuf),
    /// Standard input.
    Stdin,
    /// An image in a registry: `registry://HOST/REPOSITORY[:TAG|@DIGEST]`.
    Registry(String),
}

/// How directories that are git repositories are scanned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GitMode {
    /// Only the files in the working tree.
    #[default]
    WorkTree,
    /// The working tree and every blob in the history.
    WorkTreeAndHistory,
    /// Only the history.
    HistoryOnly,
}

/// Scan settings.
#[derive(Clone, Debug, Default)]
pub struct ScanConfig {
    /// How sources read.
    pub source: SourceOptions,
    /// Git repositories: working tree, history or both.
    pub git: GitMode,
    /// Extra ignore file (besides each directory's own `.rampartignore`).
    pub ignore_file: Option<IgnoreFile>,
    /// Findings already known.
    pub baseline: Option<Baseline>,
    /// Credentials and transport for `registry://` targets.
    pub registry: rampart_sources::RegistryAuth,
}

/// Receives progress while a scan runs.
pub trait Progress: Sync {
    /// `bytes` more were scanned in one more item.
    fn advance(&self, bytes: u64);
}

impl Progress for () {
    fn advance(&self, _: u64) {}
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Findings to report, sorted.
    pub findings: Vec<Finding>,
    /// What was not scanned, sorted by path.
    pub skipped: Vec<Skipped>,
    /// Counters.
    pub stats: Stats,
}

/// Runs detectors over targets.
pub struct Scanner {
    detectors: Vec<Box<dyn Detector>>,
    config: ScanConfig,
}

struct Collector<'a> {
    detectors: &'a [Box<dyn Detector>],
    findings: Mutex<Vec<Finding>>,
    skipped: Mutex<Vec<Skipped>>,
    items: AtomicU64,
    bytes: AtomicU64,
    progress: &'a dyn Progress,
}

impl Sink for Collector<'_> {
    fn item(&self, item: &Item<'_>) {
        let mut out = Detections::default();
        for d in self.detectors {
            d.detect(item, &mut out);
        }
        self.items.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(item.data.len() as u64, Ordering::Relaxed);
        self.progress.advance(item.data.len() as u64);
        if !out.findings.is_empty() {
            lock(&self.findings).extend(out.findings);
        }
        if !out.skipped.is_empty() {
            lock(&self.skipped).extend(out.skipped);
        }
    }

    fn skipped(&self, s: Skipped) {
        lock(&self.skipped).push(s);
    }

    fn finding(&self, f: Finding) {
        lock(&self.findings).push(f);
    }
}

impl Collector<'_> {
    /// End of a target: what the detectors held back.
    fn finish(&self) {
        let mut out = Detections::default();
        for d in self.detectors {
            d.finish(&mut out);
        }
        lock(&self.findings).extend(out.findings);
        lock(&self.skipped).extend(out.skipped);
    }
}

/// A poisoned lock only means another worker panicked; the data is still a list to report.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Scanner {
    /// A scanner running `detectors` with `config`.
    pub fn new(detectors: Vec<Box<dyn Detector>>, config: ScanConfig) -> Self {
        Scanner { detectors, config }
    }

    /// Scan every target, then triage.
    pub fn run(&self, targets: &[Target], progress: &dyn Progress) -> Outcome {
        let sink = Collector {
            detectors: &self.detectors,
            findings: Mutex::new(Vec::new()),
            skipped: Mutex::new(Vec::new()),
            items: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            progress,
        };
        let limits = ArchiveLimits {
            max_member: self.config.source.max_file_size,
            ..ArchiveLimits::default()
        };
        let expanding = Expanding::new(&sink, limits);
        let mut ignored_fps: HashSet<String> = self
            .config
            .ignore_file
            .as_ref()
            .map(|i| i.fingerprints.clone())
            .unwrap_or_default();
        for target in targets {
            match target {
                Target::Stdin => rampart_sources::scan_stdin(&self.config.source, &expanding),
                Target::Registry(r) => rampart_sources::scan_registry(
                    r,
                    self.config.registry.clone(),
                    &self.config.source,
                    &expanding,
                ),
                Target::Path(path) => {
                    let mut opts = self.config.source.clone();
                    let mut globs: Vec<String> = self
                        .config
                        .ignore_file
                        .as_ref()
                        .map(|i| i.globs.clone())
                        .unwrap_or_default();
                    if path.is_dir() {
                        match IgnoreFile::load(&path.join(".rampartignore")) {
                            Ok(Some(local)) => {
                                globs.extend(local.globs);
                                ignored_fps.extend(local.fingerprints);
                            }
                            Ok(None) => {}
                            Err(e) => expanding.skipped(Skipped::new(
                                path.join(".rampartignore").display().to_string(),
                                format!("ignore file not used: {e}"),
                            )),
                        }
                    }
                    opts.exclude = IgnoreFile {
                        globs,
                        fingerprints: HashSet::new(),
                    }
                    .globset();
                    self.scan_path(path, &opts, &expanding);
                }
            }
            sink.finish();
        }
        let mut findings = sink
            .findings
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        let mut skipped = sink.skipped.into_inner().unwrap_or_else(|e| e.into_inner());
        let before = findings.len();
        findings.retain(|f| {
            !ignored_fps.contains(&f.fingerprint)
                && !self.config.baseline.as_ref().is_some_and(|b| b.contains(f))
        });
        rampart_report::sort_findings(&mut findings);
        skipped.sort_by(|a, b| a.path.cmp(&b.path).then(a.reason.cmp(&b.reason)));
        skipped.dedup();
        Outcome {
            stats: Stats {
                items: sink.items.load(Ordering::Relaxed),
                bytes: sink.bytes.load(Ordering::Relaxed),
                suppressed: (before - findings.len()) as u64,
            },
            findings,
            skipped,
        }
    }

    fn scan_path(&self, path: &std::path::Path, opts: &SourceOptions, sink: &dyn Sink) {
        let repo = path.is_dir() && rampart_sources::is_git_repo(path);
        let (tree, history) = match (self.config.git, repo) {
            (GitMode::WorkTree, _) => (true, false),
            (GitMode::WorkTreeAndHistory, r) => (true, r),
            (GitMode::HistoryOnly, r) => (false, r),
        };
        if self.config.git != GitMode::WorkTree && !repo {
            sink.skipped(Skipped::new(
                path.display().to_string(),
                "not a git repository: history not scanned".to_string(),
            ));
            if self.config.git == GitMode::HistoryOnly {
                return;
            }
        }
        if tree {
            rampart_sources::scan_path(path, opts, sink);
        }
        if history {
            if let Err(e) = rampart_sources::scan_git_history(path, opts, sink) {
                sink.skipped(Skipped::new(e.path.clone(), e.message.clone()));
            }
        }
    }
}
