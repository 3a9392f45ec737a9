//! Sources: where bytes come from.
//!
//! A source walks something — a directory, a single file, stdin, the history of a git repository —
//! and hands each piece of content to a [`Sink`] as a [`rampart_core::Item`]: a logical path, the
//! bytes, and a [`rampart_core::Location`] saying where they are. Whatever cannot be read becomes a
//! [`rampart_core::Skipped`] with a reason, and the walk goes on. Sources decide how to read (memory
//! map or buffer, which threads); they never know what is looked for.
//!
//! ```no_run
//! use rampart_core::{Item, Skipped};
//! use rampart_sources::{Sink, SourceOptions, scan_path};
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! struct CountBytes(AtomicU64);
//! impl Sink for CountBytes {
//!     fn item(&self, item: &Item<'_>) {
//!         self.0.fetch_add(item.data.len() as u64, Ordering::Relaxed);
//!     }
//!     fn skipped(&self, s: Skipped) {
//!         eprintln!("skipped {}: {}", s.path, s.reason);
//!     }
//!     fn finding(&self, f: rampart_core::Finding) {
//!         eprintln!("{}", f.message);
//!     }
//! }
//!
//! let sink = CountBytes(AtomicU64::new(0));
//! scan_path(std::path::Path::new("."), &SourceOptions::default(), &sink);
//! println!("{} bytes", sink.0.load(Ordering::Relaxed));
//! ```
#![deny(missing_docs)]

mod archive;
mod fs;
mod git;
mod image;
mod registry;

pub use archive::{ArchiveLimits, Expanding};
pub use fs::{scan_bytes, scan_path, scan_stdin};
pub use git::{GitError, HistoryStats, is_git_repo, scan_git_history};
pub use registry::{RegistryAuth, scan_registry};

pub(crate) use rampart_core::human_size;
use rampart_core::{Finding, Item, Skipped};

/// Receives what a source produces. Called concurrently from the source's worker threads.
pub trait Sink: Sync {
    /// One piece of content.
    fn item(&self, item: &Item<'_>);
    /// Something that was not scanned.
    fn skipped(&self, skipped: Skipped);
    /// A problem the source itself saw in the container's structure (a blob whose digest does
    /// not match, a manifest naming a missing blob): kind `integrity`.
    fn finding(&self, finding: Finding);
}

/// How sources read.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// Content larger than this is not read into memory (git blobs, stdin) and is skipped with
    /// a reason. Files are memory-mapped whatever their size, so that detectors that read only
    /// part of a file (model headers, zip directories) still see them; detectors that read all of
    /// it apply their own limit.
    pub max_file_size: u64,
    /// Follow symbolic links (loops are detected and reported).
    pub follow_symlinks: bool,
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
    /// Paths matching these globs are not read at all (`.rampartignore`).
    pub exclude: Option<globset::GlobSet>,
    /// Container images: only manifests for this `os/arch[/variant]` (default: all).
    pub platform: Option<String>,
    /// Directory walks skip what `.gitignore` files (and the repository's `.git/info/exclude`)
    /// ignore. Off by default: ignored files (`.env`, local configs) are where secrets live.
    pub respect_gitignore: bool,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            max_file_size: 256 * 1024 * 1024,
            follow_symlinks: false,
            threads: 0,
            exclude: None,
            platform: None,
            respect_gitignore: false,
        }
    }
}

impl SourceOptions {
    pub(crate) fn threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.threads
        }
    }

    fn excluded(&self, path: &str) -> bool {
        self.exclude.as_ref().is_some_and(|g| g.is_match(path))
    }
}
