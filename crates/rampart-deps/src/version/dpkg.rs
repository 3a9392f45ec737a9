//! Debian package versions (`dpkg --compare-versions`).

use super::VersionError;
use std::cmp::Ordering;

const ECO: &str = "Debian";

/// A dpkg version: `[epoch:]upstream[-revision]`.
#[derive(Clone, Debug)]
pub struct DpkgVersion {
    epoch: u64,
    upstream: String,
    revision: String,
}

impl DpkgVersion {
    /// Parse a dpkg version. Upstream must start with a digit (dpkg warns otherwise; OSV data
    /// always does) and no part may contain whitespace.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let s = input.trim();
        let err = |r: &str| VersionError::new(input, ECO, r);
        if s.is_empty() {
            return Err(err("empty version"));
        }
        if s.bytes()
            .any(|b| b.is_ascii_whitespace() || !b.is_ascii_graphic())
        {
            return Err(err("contains whitespace or non-ASCII characters"));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, r)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err("epoch is not a number"));
                }
                (
                    super::parse_u64(e).ok_or_else(|| err("epoch too large"))?,
                    r,
                )
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if !upstream.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            return Err(err("upstream version must start with a digit"));
        }
        let ok = |b: u8| b.is_ascii_alphanumeric() || b".+~-:".contains(&b);
        if !upstream.bytes().all(ok) || !revision.bytes().all(|b| ok(b) && b != b'-' && b != b':') {
            return Err(err("invalid character"));
        }
        Ok(DpkgVersion {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }

    /// Canonical form: `epoch:upstream-revision` with leading zeros of digit runs dropped and an
    /// empty revision read as `0` (dpkg compares a missing revision like `0`).
    pub fn canonical(&self) -> String {
        let rev = super::trim_digit_runs(&self.revision);
        format!(
            "{}:{}-{}",
            self.epoch,
            super::trim_digit_runs(&self.upstream),
            rev
        )
    }

    /// The upstream part (without epoch and revision).
    pub fn upstream(&self) -> &str {
        &self.upstream
    }
}

fn order(c: u8) -> i32 {
    if c.is_ascii_digit() {
        0
    } else if c.is_ascii_alphabetic() {
        c as i32
    } else if c == b'~' {
        -1
    } else if c != 0 {
        c as i32 + 256
    } else {
        0
    }
}

/// dpkg's `verrevcmp`.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let at = |i: usize| a.get(i).copied().unwrap_or(0);
    let bt = |j: usize| b.get(j).copied().unwrap_or(0);
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let mut first_diff = 0i32;
        while (at(i) != 0 && !at(i).is_ascii_digit()) || (bt(j) != 0 && !bt(j).is_ascii_digit()) {
            let ac = order(at(i));
            let bc = order(bt(j));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while at(i) == b'0' {
            i += 1;
        }
        while bt(j) == b'0' {
            j += 1;
        }
        while at(i).is_ascii_digit() && bt(j).is_ascii_digit() {
            if first_diff == 0 {
                first_diff = at(i) as i32 - bt(j) as i32;
            }
            i += 1;
            j += 1;
        }
        if at(i).is_ascii_digit() {
            return Ordering::Greater;
        }
        if bt(j).is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

impl PartialEq for DpkgVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for DpkgVersion {}
impl PartialOrd for DpkgVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DpkgVersion {
        DpkgVersion::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn tilde_sorts_first() {
        let chain = [
            "1.0~~", "1.0~~a", "1.0~", "1.0~rc1", "1.0", "1.0a", "1.0+b1", "1.0.1",
        ];
        for w in chain.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn epoch_and_revision() {
        assert!(v("1:0.1") > v("9.9"));
        assert!(v("2.30-1") < v("2.30-2"));
        assert!(v("2.30-2") < v("2.30-10"));
        assert!(v("3.0.11-1~deb12u2") < v("3.0.11-1"));
        assert!(v("3.0.11-1~deb12u2") > v("3.0.11-1~deb12u1"));
        assert!(v("1.2.3-0ubuntu0.22.04.1") < v("1.2.3-0ubuntu0.22.04.2"));
        // Leading zeros in numeric parts are ignored; the last `-` splits the revision.
        assert_eq!(v("1.002-1"), v("1.2-1"));
        assert_eq!(v("0:1.2-1"), v("1.2-1"));
        assert!(v("1.2-3-4") > v("1.2-3-3"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "a1.0", "x:1.0", "1.0 beta", "1.0-r_1", "1.0/2"] {
            assert!(DpkgVersion::parse(bad).is_err(), "{bad}");
        }
    }
}
