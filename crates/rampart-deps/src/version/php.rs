//! Packagist versions (Composer, PHP `version_compare`).

use super::{VersionError, cmp_digits};
use std::cmp::Ordering;

const ECO: &str = "Packagist";

/// A Composer/PHP version, canonicalised as `version_compare` does: `-`, `_` and `+` become `.`,
/// a `.` is inserted between digits and letters, and words rank `dev < alpha = a < beta = b <
/// RC = rc < (number or release) < pl = p`. A leading `v` is dropped as Composer does.
#[derive(Clone, Debug)]
pub struct PhpVersion {
    parts: Vec<String>,
}

fn special(p: &str) -> i32 {
    match p {
        "dev" => 0,
        "alpha" | "a" => 1,
        "beta" | "b" => 2,
        "rc" => 3,
        "#" | "stable" => 4,
        "pl" | "p" | "patch" => 5,
        _ => -6,
    }
}

fn is_num(p: &str) -> bool {
    p.bytes().all(|b| b.is_ascii_digit())
}

impl PhpVersion {
    /// Parse a Composer version.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let s = input.trim();
        let err = |r: &str| VersionError::new(input, ECO, r);
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s).to_ascii_lowercase();
        if !s.as_bytes().first().is_some_and(|b| b.is_ascii_digit()) {
            // `dev-master` and other branch names have no order.
            return Err(err(
                "must start with a digit (branch versions have no order)",
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
        {
            return Err(err("invalid character"));
        }
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut last: Option<bool> = None;
        for c in s.chars() {
            if matches!(c, '.' | '-' | '_' | '+') {
                if !cur.is_empty() {
                    parts.push(std::mem::take(&mut cur));
                }
                last = None;
                continue;
            }
            let d = c.is_ascii_digit();
            if last.is_some_and(|l| l != d) && !cur.is_empty() {
                parts.push(std::mem::take(&mut cur));
            }
            cur.push(c);
            last = Some(d);
        }
        if !cur.is_empty() {
            parts.push(cur);
        }
        // Composer pads the numeric release to four components (`1.0RC1` → `1.0.0.0-RC1`).
        let nums = parts.iter().take_while(|p| is_num(p)).count();
        if nums < 4 && nums < parts.len() {
            for _ in nums..4 {
                parts.insert(nums, "0".to_string());
            }
        }
        Ok(PhpVersion { parts })
    }
}

impl PhpVersion {
    /// Canonical form: parts with numbers trimmed of leading zeros, trailing zero parts dropped,
    /// and words replaced by their rank.
    pub fn canonical(&self) -> String {
        let mut parts: Vec<String> = self
            .parts
            .iter()
            .map(|p| {
                if is_num(p) {
                    let t = p.trim_start_matches('0');
                    if t.is_empty() {
                        "0".to_string()
                    } else {
                        t.to_string()
                    }
                } else {
                    format!("~{}", special(p))
                }
            })
            .collect();
        while parts.len() > 1 && parts.last().is_some_and(|p| p == "0" || p == "~4") {
            parts.pop();
        }
        parts.join(".")
    }
}

fn cmp_part(a: &str, b: &str) -> Ordering {
    match (is_num(a), is_num(b)) {
        (true, true) => cmp_digits(a, b),
        (false, false) => special(a).cmp(&special(b)),
        (true, false) => special("#").cmp(&special(b)),
        (false, true) => special(a).cmp(&special("#")),
    }
}

impl PartialEq for PhpVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for PhpVersion {}
impl PartialOrd for PhpVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PhpVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        for i in 0..n {
            let o = match (self.parts.get(i), other.parts.get(i)) {
                (Some(a), Some(b)) => cmp_part(a, b),
                (Some(a), None) => {
                    if is_num(a) {
                        // Composer pads `1.0` to `1.0.0.0`: a trailing zero adds nothing.
                        if a.trim_start_matches('0').is_empty() {
                            Ordering::Equal
                        } else {
                            Ordering::Greater
                        }
                    } else {
                        cmp_part(a, "#")
                    }
                }
                (None, Some(b)) => {
                    if is_num(b) {
                        if b.trim_start_matches('0').is_empty() {
                            Ordering::Equal
                        } else {
                            Ordering::Less
                        }
                    } else {
                        cmp_part("#", b)
                    }
                }
                (None, None) => Ordering::Equal,
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

    fn v(s: &str) -> PhpVersion {
        PhpVersion::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn orders_like_version_compare() {
        let chain = [
            "1.0.0-dev",
            "1.0.0-alpha1",
            "1.0.0-alpha2",
            "1.0.0-beta",
            "1.0.0-beta2",
            "1.0.0-RC1",
            "1.0.0",
            "1.0.0-pl1",
            "1.0.1",
            "v1.2",
            "1.10",
            "2.0.0.1",
        ];
        for w in chain.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn composer_normalisation() {
        assert_eq!(v("v2.3.4"), v("2.3.4"));
        assert_eq!(v("1.0"), v("1.0.0.0"));
        assert_eq!(v("1.0RC1"), v("1.0.0-rc1"));
        assert_eq!(v("5.4.0-stable"), v("5.4.0"));
    }

    #[test]
    fn rejects_branches() {
        for bad in ["dev-master", "", "1.0 || 2.0", "1.x-dev,"] {
            assert!(PhpVersion::parse(bad).is_err(), "{bad}");
        }
    }
}
