//! Alpine package versions (apk-tools / Gentoo rules).

use super::{VersionError, cmp_digits};
use std::cmp::Ordering;

const ECO: &str = "Alpine";

/// An apk version: `1.2.3[letter][_suffix[N]]*[~hash][-rN]`.
#[derive(Clone, Debug)]
pub struct ApkVersion {
    nums: Vec<String>,
    letter: Option<u8>,
    /// (rank, number): `alpha` 0, `beta` 1, `pre` 2, `rc` 3 sort before a release (rank 4 is "no
    /// suffix"); `cvs` 5, `svn` 6, `git` 7, `hg` 8, `p` 9 sort after it.
    suffixes: Vec<(u8, String)>,
    revision: String,
}

const SUFFIXES: [(&str, u8); 9] = [
    ("alpha", 0),
    ("beta", 1),
    ("pre", 2),
    ("rc", 3),
    ("cvs", 5),
    ("svn", 6),
    ("git", 7),
    ("hg", 8),
    ("p", 9),
];

impl ApkVersion {
    /// Parse an apk version.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let s = input.trim();
        let err = |r: &str| VersionError::new(input, ECO, r);
        let (s, revision) = match s.rsplit_once("-r") {
            Some((a, r)) if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) => (a, r),
            _ => (s, "0"),
        };
        let s = match s.split_once('~') {
            Some((a, h)) if h.bytes().all(|b| b.is_ascii_hexdigit()) => a,
            Some(_) => return Err(err("bad ~hash")),
            None => s,
        };
        let b = s.as_bytes();
        let mut i = 0;
        let mut nums = Vec::new();
        loop {
            let st = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if st == i {
                return Err(err("expected a number"));
            }
            nums.push(s[st..i].to_string());
            if i < b.len() && b[i] == b'.' {
                i += 1;
                continue;
            }
            break;
        }
        let mut letter = None;
        if i < b.len() && b[i].is_ascii_lowercase() {
            letter = Some(b[i]);
            i += 1;
        }
        let mut suffixes = Vec::new();
        while i < b.len() {
            if b[i] != b'_' {
                return Err(err("unexpected character"));
            }
            i += 1;
            let rest = &s[i..];
            let Some(&(name, rank)) = SUFFIXES.iter().find(|(n, _)| rest.starts_with(n)) else {
                return Err(err("unknown suffix"));
            };
            i += name.len();
            let st = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let n = if st == i { "0" } else { &s[st..i] };
            suffixes.push((rank, n.to_string()));
        }
        Ok(ApkVersion {
            nums,
            letter,
            suffixes,
            revision: revision.to_string(),
        })
    }
}

impl ApkVersion {
    /// Canonical form (equal exactly when the versions compare equal).
    pub fn canonical(&self) -> String {
        let trim = |s: &str| {
            let t = s.trim_start_matches('0');
            if t.is_empty() {
                "0".to_string()
            } else {
                t.to_string()
            }
        };
        let mut s = String::new();
        for (i, n) in self.nums.iter().enumerate() {
            if i > 0 {
                s.push('.');
                if n.starts_with('0') {
                    // Fractional component: trailing zeros do not count.
                    s.push('0');
                    s.push_str(n.trim_end_matches('0'));
                    continue;
                }
            }
            s.push_str(&trim(n));
        }
        if let Some(l) = self.letter {
            s.push(l as char);
        }
        for (rank, n) in &self.suffixes {
            s.push_str(&format!("_{rank}:{}", trim(n)));
        }
        s.push_str(&format!("-r{}", trim(&self.revision)));
        s
    }
}

fn cmp_component(i: usize, a: &str, b: &str) -> Ordering {
    if i > 0 && (a.starts_with('0') || b.starts_with('0')) {
        // A component with a leading zero compares as a decimal fraction.
        a.trim_end_matches('0').cmp(b.trim_end_matches('0'))
    } else {
        cmp_digits(a, b)
    }
}

impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for ApkVersion {}
impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        for (i, (a, b)) in self.nums.iter().zip(&other.nums).enumerate() {
            let o = cmp_component(i, a, b);
            if o != Ordering::Equal {
                return o;
            }
        }
        let o = self.nums.len().cmp(&other.nums.len());
        if o != Ordering::Equal {
            return o;
        }
        let o = self.letter.cmp(&other.letter);
        if o != Ordering::Equal {
            return o;
        }
        let n = self.suffixes.len().max(other.suffixes.len());
        for k in 0..n {
            let a = self.suffixes.get(k);
            let b = other.suffixes.get(k);
            let o = match (a, b) {
                (Some((ra, na)), Some((rb, nb))) => ra.cmp(rb).then_with(|| cmp_digits(na, nb)),
                (Some((ra, _)), None) => ra.cmp(&4),
                (None, Some((rb, _))) => 4.cmp(rb),
                (None, None) => Ordering::Equal,
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        cmp_digits(&self.revision, &other.revision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ApkVersion {
        ApkVersion::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn orders_like_apk() {
        let chain = [
            "1.0_alpha",
            "1.0_alpha2",
            "1.0_beta1",
            "1.0_pre1",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0-r10",
            "1.0_p1",
            "1.0a",
            "1.0b_rc1",
            "1.0b",
            "1.0.1",
            "1.1_git20200101",
            "1.2",
            "2.34",
            "2.34.1",
        ];
        for w in chain.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn fractional_components_and_equality() {
        // Components after the first with a leading zero compare as decimal fractions.
        assert!(v("1.01") < v("1.1"));
        assert!(v("1.001") < v("1.01"));
        assert_eq!(v("3.0.11-r0"), v("3.0.11"));
        assert_eq!(v("1.2~abc123-r1"), v("1.2-r1"));
        assert!(v("3.1.4-r5") < v("3.1.4-r6"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "abc", "1.0_bogus", "1.0-beta", "1..2", "1.0A"] {
            assert!(ApkVersion::parse(bad).is_err(), "{bad}");
        }
    }
}
