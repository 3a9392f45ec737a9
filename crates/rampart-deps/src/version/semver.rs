//! SemVer 2.0 versions: npm, crates.io, Go modules and OSV `SEMVER` ranges.

use super::{VersionError, cmp_digits};
use std::cmp::Ordering;

/// A SemVer 2.0 version. Build metadata (`+…`) is kept out of comparisons, as the spec says.
#[derive(Clone, Debug)]
pub struct SemverVersion {
    /// Numeric components, at least three (missing ones read as zero in lenient mode).
    nums: Vec<String>,
    pre: Vec<Ident>,
    build: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ident {
    Num(String),
    Alpha(String),
}

impl Ident {
    fn cmp(&self, other: &Ident) -> Ordering {
        match (self, other) {
            (Ident::Num(a), Ident::Num(b)) => cmp_digits(a, b),
            (Ident::Alpha(a), Ident::Alpha(b)) => a.cmp(b),
            (Ident::Num(_), Ident::Alpha(_)) => Ordering::Less,
            (Ident::Alpha(_), Ident::Num(_)) => Ordering::Greater,
        }
    }
}

impl SemverVersion {
    /// Strict SemVer 2.0 (exactly three components), as Cargo.lock has them.
    pub fn parse_cargo(s: &str) -> Result<Self, VersionError> {
        Self::parse_inner(s.trim(), "Cargo SemVer", false)
    }

    /// npm's loose form: an optional leading `v` or `=`, otherwise strict SemVer 2.0.
    pub fn parse_npm(s: &str) -> Result<Self, VersionError> {
        let t = s.trim();
        let t = t.strip_prefix('=').unwrap_or(t).trim_start();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        Self::parse_inner(t, "npm SemVer", false)
    }

    /// A Go module version: `v1.2.3`, pseudo-versions (`v0.0.0-20200101000000-abcdef012345`),
    /// `+incompatible`; also Go toolchain versions (`go1.21.3`, `1.21`). OSV records omit the `v`.
    pub fn parse_go(s: &str) -> Result<Self, VersionError> {
        let t = s.trim();
        let t = t.strip_prefix("go").unwrap_or(t);
        let t = t.strip_prefix('v').unwrap_or(t);
        Self::parse_inner(t, "Go module", true)
    }

    /// Lenient SemVer: optional `v`, one to three (or more) numeric components.
    pub fn parse_lenient(s: &str, eco: &'static str) -> Result<Self, VersionError> {
        let t = s.trim();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        Self::parse_inner(t, eco, true)
    }

    fn parse_inner(s: &str, eco: &'static str, lenient: bool) -> Result<Self, VersionError> {
        let err = |r: &str| VersionError::new(s, eco, r);
        let (rest, build) = match s.split_once('+') {
            Some((a, b)) => (a, b),
            None => (s, ""),
        };
        if !build.is_empty() || s.ends_with('+') {
            for id in build.split('.') {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(err("bad build metadata"));
                }
            }
        }
        let (core, pre) = match rest.split_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        let mut nums = Vec::with_capacity(3);
        for part in core.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("expected MAJOR.MINOR.PATCH numbers"));
            }
            if !lenient && part.len() > 1 && part.starts_with('0') {
                return Err(err("numeric component with a leading zero"));
            }
            nums.push(part.to_string());
        }
        if lenient {
            if nums.len() > 3
                && nums[3..]
                    .iter()
                    .all(|n| n.trim_start_matches('0').is_empty())
            {
                nums.truncate(3);
            }
            while nums.len() < 3 {
                nums.push("0".into());
            }
        } else if nums.len() != 3 {
            return Err(err("expected exactly three numeric components"));
        }
        let mut pre_ids = Vec::new();
        if let Some(p) = pre {
            for id in p.split('.') {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(err("bad pre-release identifier"));
                }
                if id.bytes().all(|b| b.is_ascii_digit()) {
                    pre_ids.push(Ident::Num(id.to_string()));
                } else {
                    pre_ids.push(Ident::Alpha(id.to_string()));
                }
            }
        }
        Ok(SemverVersion {
            nums,
            pre: pre_ids,
            build: build.to_string(),
        })
    }

    /// Canonical form: numbers without leading zeros, three components (more only when a later
    /// one is non-zero), pre-release kept, build metadata dropped.
    pub fn canonical(&self) -> String {
        let trim = |s: &str| {
            let t = s.trim_start_matches('0');
            if t.is_empty() {
                "0".to_string()
            } else {
                t.to_string()
            }
        };
        let mut nums: Vec<String> = self.nums.iter().map(|n| trim(n)).collect();
        while nums.len() > 3 && nums.last().is_some_and(|n| n == "0") {
            nums.pop();
        }
        let mut s = nums.join(".");
        if !self.pre.is_empty() {
            let pre: Vec<String> = self
                .pre
                .iter()
                .map(|i| match i {
                    Ident::Num(n) => trim(n),
                    Ident::Alpha(a) => a.clone(),
                })
                .collect();
            s.push('-');
            s.push_str(&pre.join("."));
        }
        s
    }

    /// Major, minor and patch (saturating at `u64::MAX`).
    pub fn triple(&self) -> (u64, u64, u64) {
        let n = |i: usize| {
            self.nums
                .get(i)
                .and_then(|s| super::parse_u64(s))
                .unwrap_or(u64::MAX)
        };
        (n(0), n(1), n(2))
    }

    /// Whether the version has a pre-release part.
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// Build metadata (`incompatible` for Go's `+incompatible`), empty when absent.
    pub fn build(&self) -> &str {
        &self.build
    }
}

impl PartialEq for SemverVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for SemverVersion {}
impl PartialOrd for SemverVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SemverVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.nums.len().max(other.nums.len());
        for i in 0..n {
            let a = self.nums.get(i).map_or("0", |s| s.as_str());
            let b = other.nums.get(i).map_or("0", |s| s.as_str());
            let o = cmp_digits(a, b);
            if o != Ordering::Equal {
                return o;
            }
        }
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            _ => {}
        }
        for (a, b) in self.pre.iter().zip(&other.pre) {
            let o = a.cmp(b);
            if o != Ordering::Equal {
                return o;
            }
        }
        self.pre.len().cmp(&other.pre.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(parse: fn(&str) -> Result<SemverVersion, VersionError>, items: &[&str]) {
        for w in items.windows(2) {
            let a = parse(w[0]).unwrap_or_else(|e| panic!("{e}"));
            let b = parse(w[1]).unwrap_or_else(|e| panic!("{e}"));
            assert!(a < b, "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn npm_semver_precedence() {
        // The precedence example of semver.org §11, through npm's loose parser.
        chain(
            SemverVersion::parse_npm,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "v1.0.1",
                "=2.0.0",
                "10.0.0",
            ],
        );
        let a = SemverVersion::parse_npm("1.2.3+build.5").unwrap();
        let b = SemverVersion::parse_npm("1.2.3").unwrap();
        assert_eq!(a, b);
        for bad in ["1.2", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.x", "latest", ""] {
            assert!(SemverVersion::parse_npm(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cargo_semver() {
        chain(
            SemverVersion::parse_cargo,
            &[
                "0.0.0-0",
                "0.1.0-alpha.0",
                "0.1.0",
                "0.1.10",
                "0.9.0",
                "1.0.0-rc.1",
                "1.0.0",
            ],
        );
        assert!(SemverVersion::parse_cargo("v1.0.0").is_err());
        assert!(SemverVersion::parse_cargo("1.0").is_err());
        assert_eq!(
            SemverVersion::parse_cargo("18446744073709551617.0.0")
                .unwrap()
                .cmp(&SemverVersion::parse_cargo("18446744073709551616.0.0").unwrap()),
            Ordering::Greater
        );
    }

    #[test]
    fn go_versions() {
        chain(
            SemverVersion::parse_go,
            &[
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0-20200101000000-abcdefabcdef",
                "v0.1.0",
                "v1.2.3",
                // A pseudo-version built on v1.2.3 sorts after it and before v1.2.4.
                "v1.2.4-0.20191109021931-daa7c04131f5",
                "v1.2.4",
                "v2.0.0+incompatible",
                "v2.0.1",
            ],
        );
        let a = SemverVersion::parse_go("v2.0.0+incompatible").unwrap();
        assert_eq!(a, SemverVersion::parse_go("2.0.0").unwrap());
        assert_eq!(a.build(), "incompatible");
        // Toolchain versions.
        assert_eq!(
            SemverVersion::parse_go("go1.21").unwrap(),
            SemverVersion::parse_go("1.21.0").unwrap()
        );
        assert!(SemverVersion::parse_go("go1.21rc2").is_err());
    }

    #[test]
    fn lenient_range_bounds() {
        let z = SemverVersion::parse_lenient("0", "SEMVER").unwrap();
        let v = SemverVersion::parse_lenient("0.0.0-0", "SEMVER").unwrap();
        assert!(v < z);
        assert_eq!(
            SemverVersion::parse_lenient("1.2", "SEMVER").unwrap(),
            SemverVersion::parse_lenient("v1.2.0", "SEMVER").unwrap()
        );
    }
}
