//! Version semantics of each supported ecosystem.
//!
//! Every ecosystem orders versions its own way. [`parse`] turns a version string into a
//! [`Version`] for one [`Ecosystem`]; two versions parsed for the same ecosystem compare with
//! `Ord`. Strings that the ecosystem's rules reject give a [`VersionError`] naming the reason, so
//! that a caller can report "could not evaluate" instead of guessing.
//!
//! | ecosystem | rules |
//! |---|---|
//! | PyPI | PEP 440 (normalisation, epochs, pre/post/dev releases, local versions; `1.0 == 1.0.0`) |
//! | npm, crates.io | SemVer 2.0 (pre-releases order by identifier; build metadata ignored) |
//! | Go | SemVer with a `v` prefix; pseudo-versions are pre-releases; `+incompatible` ignored |
//! | Debian, Ubuntu | dpkg (`epoch:upstream-revision`, `~` sorts before everything) |
//! | Alpine | apk (letters, `_alpha`…`_rc` before and `_p` after a release, `-rN`) |
//! | RubyGems | `Gem::Version` (a letter makes a pre-release; trailing zeros ignored) |
//! | Packagist | Composer / PHP `version_compare` (`dev < alpha < beta < RC < release < pl`) |

mod apk;
mod dpkg;
mod gem;
mod pep440;
mod php;
mod semver;

pub use apk::ApkVersion;
pub use dpkg::DpkgVersion;
pub use gem::GemVersion;
pub use pep440::Pep440Version;
pub use php::PhpVersion;
pub use semver::SemverVersion;

use crate::Ecosystem;
use std::cmp::Ordering;

/// Why a version string could not be understood under an ecosystem's rules.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{version}` is not a valid {ecosystem} version: {reason}")]
pub struct VersionError {
    /// The offending string (truncated to 80 characters).
    pub version: String,
    /// The rules it was checked against.
    pub ecosystem: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl VersionError {
    pub(crate) fn new(version: &str, ecosystem: &'static str, reason: impl Into<String>) -> Self {
        let mut v: String = version.chars().take(80).collect();
        if version.chars().count() > 80 {
            v.push('…');
        }
        VersionError {
            version: v,
            ecosystem,
            reason: reason.into(),
        }
    }
}

/// A version parsed under one ecosystem's rules.
///
/// Versions of different variants never meet in practice (both sides of a comparison are parsed
/// for the same ecosystem); if they do, they order by variant so that `Ord` stays total.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// PyPI.
    Pep440(Pep440Version),
    /// npm, crates.io, Go, and OSV `SEMVER` ranges.
    Semver(SemverVersion),
    /// Debian and Ubuntu.
    Dpkg(DpkgVersion),
    /// Alpine.
    Apk(ApkVersion),
    /// RubyGems.
    Gem(GemVersion),
    /// Packagist.
    Php(PhpVersion),
}

/// Parse `s` under the rules of `eco`.
///
/// Ecosystems without an ordering of their own here (Maven, NuGet, …) get an error: for them only
/// exact `versions` lists can be matched.
///
/// ```
/// use rampart_deps::{version, Ecosystem};
/// let a = version::parse(Ecosystem::PyPI, "1.0").unwrap();
/// let b = version::parse(Ecosystem::PyPI, "1.0.0").unwrap();
/// assert_eq!(a, b);
/// assert!(version::parse(Ecosystem::Debian, "1.0~rc1").unwrap()
///     < version::parse(Ecosystem::Debian, "1.0").unwrap());
/// ```
pub fn parse(eco: Ecosystem, s: &str) -> Result<Version, VersionError> {
    match eco {
        Ecosystem::PyPI => Pep440Version::parse(s).map(Version::Pep440),
        Ecosystem::Npm => SemverVersion::parse_npm(s).map(Version::Semver),
        Ecosystem::CratesIo => SemverVersion::parse_cargo(s).map(Version::Semver),
        Ecosystem::Go => SemverVersion::parse_go(s).map(Version::Semver),
        Ecosystem::Debian | Ecosystem::Ubuntu => DpkgVersion::parse(s).map(Version::Dpkg),
        Ecosystem::Alpine => ApkVersion::parse(s).map(Version::Apk),
        Ecosystem::RubyGems => GemVersion::parse(s).map(Version::Gem),
        Ecosystem::Packagist => PhpVersion::parse(s).map(Version::Php),
        Ecosystem::Other => Err(VersionError::new(
            s,
            "unsupported-ecosystem",
            "no version ordering is implemented for this ecosystem",
        )),
    }
}

/// Parse `s` as an OSV `SEMVER` range bound (lenient SemVer 2.0: optional `v`, missing minor or
/// patch components read as zero).
pub fn parse_semver_range(s: &str) -> Result<Version, VersionError> {
    SemverVersion::parse_lenient(s, "SEMVER").map(Version::Semver)
}

/// A canonical string for `s` under `eco`: two versions are equal under the ecosystem's ordering
/// exactly when their canonical strings are equal (`1.0` and `1.0.0` on PyPI share one). Used to
/// look listed versions up by binary search instead of parsing each of them.
pub fn canonical(eco: Ecosystem, s: &str) -> Result<String, VersionError> {
    Ok(match parse(eco, s)? {
        Version::Pep440(v) => v.canonical(),
        Version::Semver(v) => v.canonical(),
        Version::Dpkg(v) => v.canonical(),
        Version::Apk(v) => v.canonical(),
        Version::Gem(v) => v.canonical(),
        Version::Php(v) => v.canonical(),
    })
}

/// dpkg's view of a version part as alternating non-digit and digit runs, with every digit run
/// written without leading zeros and an empty one as `0` (`1.` and `1.0` compare equal in dpkg).
pub(crate) fn trim_digit_runs(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        let st = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        out.push_str(&s[st..i]);
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let t = s[st..i].trim_start_matches('0');
        out.push_str(if t.is_empty() { "0" } else { t });
        if i >= b.len() {
            break;
        }
    }
    out
}

/// Compare two version strings under `eco`.
pub fn compare(eco: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(eco, a)?.cmp(&parse(eco, b)?))
}

/// Compare two runs of ASCII digits as unbounded non-negative integers.
pub(crate) fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Read a run of ASCII digits as `u64`, failing on overflow.
pub(crate) fn parse_u64(digits: &str) -> Option<u64> {
    let t = digits.trim_start_matches('0');
    if t.len() > 19 {
        return None;
    }
    if t.is_empty() {
        return Some(0);
    }
    t.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmp_digits_is_unbounded() {
        assert_eq!(cmp_digits("0010", "9"), Ordering::Greater);
        assert_eq!(
            cmp_digits("123456789012345678901234567890", "99"),
            Ordering::Greater
        );
        assert_eq!(cmp_digits("000", "0"), Ordering::Equal);
    }

    #[test]
    fn unsupported_ecosystem_is_an_error() {
        assert!(parse(Ecosystem::Other, "1.0").is_err());
    }
}

#[cfg(test)]
mod canonical_tests {
    use super::*;

    /// Canonical strings must be equal exactly when the versions compare equal.
    #[test]
    fn canonical_matches_equality() {
        let groups: &[(Ecosystem, &[&str])] = &[
            (
                Ecosystem::PyPI,
                &[
                    "1.0",
                    "1.0.0",
                    "v1.0",
                    "1.0.post0",
                    "1.0rc1",
                    "1.0-RC.1",
                    "1!1.0",
                    "1.0+local",
                    "01.00",
                ],
            ),
            (
                Ecosystem::Npm,
                &[
                    "1.0.0",
                    "v1.0.0",
                    "1.0.0+b",
                    "1.0.0-rc.1",
                    "1.0.0-rc.01",
                    "1.0.1",
                ],
            ),
            (
                Ecosystem::Go,
                &["v1.0.0", "1.0", "v1.0.0+incompatible", "v0.0.0-2020-abc"],
            ),
            (
                Ecosystem::Debian,
                &[
                    "1.0-1",
                    "0:1.0-1",
                    "1.00-01",
                    "1.0",
                    "1.0-0",
                    "1:1.0-1",
                    "1.0~rc1-1",
                ],
            ),
            (
                Ecosystem::Alpine,
                &[
                    "1.0-r0", "1.0", "1.00", "1.01", "1.010", "1.0_rc1", "1.0a", "1.0-r1",
                ],
            ),
            (
                Ecosystem::RubyGems,
                &[
                    "1.0", "1", "1.0.0", "1.0.a", "1.a", "1.0a1", "1.0.a.1", "1.0.1",
                ],
            ),
            (
                Ecosystem::Packagist,
                &[
                    "1.0",
                    "1.0.0.0",
                    "v1.0",
                    "1.0-RC1",
                    "1.0rc1",
                    "1.0.1",
                    "1.0-stable",
                ],
            ),
        ];
        for (eco, vs) in groups {
            for a in vs.iter() {
                for b in vs.iter() {
                    let eq = compare(*eco, a, b).unwrap() == std::cmp::Ordering::Equal;
                    let ceq = canonical(*eco, a).unwrap() == canonical(*eco, b).unwrap();
                    assert_eq!(
                        eq,
                        ceq,
                        "{eco:?} {a} vs {b}: {} / {}",
                        canonical(*eco, a).unwrap(),
                        canonical(*eco, b).unwrap()
                    );
                }
            }
        }
    }
}
