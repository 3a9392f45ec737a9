//! Secret detection: rule files, the multi-pattern engine, and the [`SecretDetector`].
//!
//! Rules are TOML data files under `rules/`, compiled into the binary. Each rule names the
//! credential, its provider and severity, prefilter keywords, a regex with the secret in a named
//! group `secret`, an optional entropy floor and structural validator, where to revoke it, and
//! examples that must and must not match (checked by one generic test).
//!
//! ```
//! use rampart_detect::RuleSet;
//!
//! let rules = RuleSet::builtin();
//! let text = b"GITHUB_TOKEN=ghp_Zx4pQ9rT2vW8yB3nM6kL1cF5hJ7gD01Sz2sN\n";
//! for m in rules.scan(text) {
//!     let rule = &rules.rules()[m.rule];
//!     println!("{} at line {} ({})", rule.def.name, m.line, rule.def.provider);
//! }
//! ```
#![deny(missing_docs)]

mod engine;
mod hooks;
pub mod pyc;
pub mod rule;
mod secrets;
pub mod validate;

pub use engine::{ALLOW_MARKER, Match, RuleSet};
pub use hooks::StartupHookDetector;
pub use rule::{Rule, RuleDef, RuleError};
pub use secrets::{SecretDetector, is_opaque};

/// The built-in rule files: (file name, TOML text).
pub const BUILTIN_RULES: &[(&str, &str)] = &[
    ("ai.toml", include_str!("../rules/ai.toml")),
    ("cloud.toml", include_str!("../rules/cloud.toml")),
    ("code.toml", include_str!("../rules/code.toml")),
    ("saas.toml", include_str!("../rules/saas.toml")),
    ("infra.toml", include_str!("../rules/infra.toml")),
    ("database.toml", include_str!("../rules/database.toml")),
    ("keys.toml", include_str!("../rules/keys.toml")),
    ("generic.toml", include_str!("../rules/generic.toml")),
];
