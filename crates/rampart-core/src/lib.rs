//! The shared vocabulary of Rampart.
//!
//! Every capability (secrets, images, dependencies, models, URLs…) reports what it found as a
//! [`Finding`]; whatever could not be looked at becomes a [`Skipped`] entry. Reporters, baselines and
//! the store only ever see these types, so a new detector never needs a new output path.
//!
//! ```
//! use rampart_core::{Finding, Kind, Location, Severity};
//!
//! let mut f = Finding::new(Kind::Secret, "openai-project-key", Severity::Critical,
//!     "OpenAI project API key", Location::file("app/.env").with_line(3, 9));
//! f.secret = Some("sk-proj-abcdef0123456789".into());
//! f.fingerprint = rampart_core::fingerprint(&["openai-project-key", "app/.env", "0"],
//!     f.secret.as_deref().unwrap_or("").as_bytes());
//! assert_eq!(f.fingerprint.len(), 32);
//! assert!(Severity::Critical > Severity::High);
//! assert_eq!(rampart_core::redact("sk-proj-abcdef0123456789"), "sk-p…89");
//! ```
#![deny(missing_docs)]

mod detector;
mod display;
mod finding;
mod redact;

pub use detector::{Detections, Detector, Item};
pub use display::{terminal_safe, terminal_safe_text};

pub use finding::{Finding, Kind, Location, Severity, Skipped, fingerprint, sha256_hex};
pub use redact::redact;

/// `eprintln!` that never panics: when the reader of stderr has gone (`2>&1 | head`, a dead log
/// collector) the line is dropped and the caller carries on. Used for every message the CLI and
/// the gateway write to stderr, so neither a command nor a running gateway dies of it. Control
/// characters from the input (file names, field values) are escaped ([`terminal_safe_text`]).
#[macro_export]
macro_rules! stderr_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        let _ = writeln!(std::io::stderr().lock(), "{}", $crate::terminal_safe_text(&line));
    }};
}

/// A human size: `512 B`, `1.5 KiB`, `256.0 MiB`, `3.0 GiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
