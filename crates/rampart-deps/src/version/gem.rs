//! RubyGems versions (`Gem::Version`).

use super::{VersionError, cmp_digits};
use std::cmp::Ordering;

const ECO: &str = "RubyGems";

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Num(String),
    Str(String),
}

/// A `Gem::Version`: dot-separated segments; a segment with letters makes a pre-release
/// (`1.0.a < 1.0`); `-` reads as `.pre.`; trailing zeros are not significant.
#[derive(Clone, Debug)]
pub struct GemVersion {
    canonical: Vec<Seg>,
    prerelease: bool,
}

impl GemVersion {
    /// Parse a gem version (`Gem::Version::ANCHORED_VERSION_PATTERN`).
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let s = input.trim();
        let err = |r: &str| VersionError::new(input, ECO, r);
        if s.is_empty() {
            return Err(err("empty version"));
        }
        if !s.as_bytes()[0].is_ascii_digit() {
            return Err(err("must start with a digit"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Err(err("invalid character"));
        }
        let s = s.replace('-', ".pre.");
        let mut segs = Vec::new();
        for part in s.split('.') {
            if part.is_empty() {
                return Err(err("empty segment"));
            }
            // Split runs of digits from runs of letters: "a1" → ["a", 1].
            let b = part.as_bytes();
            let mut i = 0;
            while i < b.len() {
                let st = i;
                let digit = b[i].is_ascii_digit();
                while i < b.len() && b[i].is_ascii_digit() == digit {
                    i += 1;
                }
                let t = &part[st..i];
                segs.push(if digit {
                    Seg::Num(t.trim_start_matches('0').to_string())
                } else {
                    Seg::Str(t.to_string())
                });
            }
        }
        let first_str = segs.iter().position(|s| matches!(s, Seg::Str(_)));
        let prerelease = first_str.is_some();
        let (mut nums, mut strs) = match first_str {
            Some(k) => {
                let strs = segs.split_off(k);
                (segs, strs)
            }
            None => (segs, Vec::new()),
        };
        let is_zero = |s: &Seg| matches!(s, Seg::Num(n) if n.is_empty());
        while nums.last().is_some_and(is_zero) {
            nums.pop();
        }
        while strs.last().is_some_and(is_zero) {
            strs.pop();
        }
        nums.extend(strs);
        Ok(GemVersion {
            canonical: nums,
            prerelease,
        })
    }

    /// Canonical form: the canonical segments joined by `.`.
    pub fn canonical(&self) -> String {
        let parts: Vec<String> = self
            .canonical
            .iter()
            .map(|s| match s {
                Seg::Num(n) if n.is_empty() => "0".to_string(),
                Seg::Num(n) => n.clone(),
                Seg::Str(t) => t.clone(),
            })
            .collect();
        if parts.is_empty() {
            "0".to_string()
        } else {
            parts.join(".")
        }
    }

    /// Whether a segment has letters.
    pub fn is_prerelease(&self) -> bool {
        self.prerelease
    }
}

impl PartialEq for GemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for GemVersion {}
impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Seg::Num(String::new());
        let n = self.canonical.len().max(other.canonical.len());
        for i in 0..n {
            let a = self.canonical.get(i).unwrap_or(&zero);
            let b = other.canonical.get(i).unwrap_or(&zero);
            let o = match (a, b) {
                (Seg::Num(x), Seg::Num(y)) => cmp_digits(x, y),
                (Seg::Str(x), Seg::Str(y)) => x.cmp(y),
                (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
                (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> GemVersion {
        GemVersion::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn orders_like_gem_version() {
        // Cases from RubyGems' own test_gem_version.rb.
        let chain = [
            "0.9",
            "1.0.a",
            "1.0.a2",
            "1.0.a10",
            "1.0.b1",
            "1.0.rc1",
            "1.0",
            "1.0.0.1",
            "1.8.2",
            "1.8.10",
            "1.9.3.preview1",
            "1.9.3",
        ];
        for w in chain.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert!(v("5.2.4") > v("5.2.4.rc2"));
        assert!(v("1.0.0-beta") < v("1.0.0"));
        assert_eq!(v("1.0.0-beta"), v("1.0.0.pre.beta"));
    }

    #[test]
    fn trailing_zeros() {
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v("1.0.0"), v("1.0"));
        assert_eq!(v("1.a.0"), v("1.a"));
        assert!(v("1.0.a") == v("1.a"));
        assert!(v("1.0a1") == v("1.0.a.1"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "a1", "1..0", "1.0 beta", "1.0_1"] {
            assert!(GemVersion::parse(bad).is_err(), "{bad}");
        }
    }
}
