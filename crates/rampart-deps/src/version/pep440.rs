//! PEP 440 versions (PyPI).

use super::{VersionError, parse_u64};
use std::cmp::Ordering;

const ECO: &str = "PEP 440";

/// A PEP 440 version, normalised.
#[derive(Clone, Debug)]
pub struct Pep440Version {
    epoch: u64,
    release: Vec<u64>,
    /// 0 = a, 1 = b, 2 = rc.
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<LocalSeg>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum LocalSeg {
    Num(u64),
    Str(String),
}

impl PartialOrd for LocalSeg {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for LocalSeg {
    fn cmp(&self, other: &Self) -> Ordering {
        // Numeric segments sort after alphanumeric ones.
        match (self, other) {
            (LocalSeg::Num(a), LocalSeg::Num(b)) => a.cmp(b),
            (LocalSeg::Str(a), LocalSeg::Str(b)) => a.cmp(b),
            (LocalSeg::Num(_), LocalSeg::Str(_)) => Ordering::Greater,
            (LocalSeg::Str(_), LocalSeg::Num(_)) => Ordering::Less,
        }
    }
}

/// Sort key pieces with explicit infinities, as in `packaging.version._cmpkey`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Bound<T> {
    NegInf,
    Val(T),
    PosInf,
}

/// The sort key: epoch, release without trailing zeros, pre, post, dev, local.
type Key<'a> = (
    u64,
    &'a [u64],
    Bound<(u8, u64)>,
    Bound<u64>,
    Bound<u64>,
    Bound<&'a [LocalSeg]>,
);

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_sep(&mut self) -> bool {
        matches!(self.peek(), Some(b'-' | b'_' | b'.')) && {
            self.i += 1;
            true
        }
    }
    fn digits(&mut self) -> Option<&'a str> {
        let s: &'a [u8] = self.s;
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        if self.i == start {
            None
        } else {
            std::str::from_utf8(&s[start..self.i]).ok()
        }
    }
    /// Eat the first of `words` that is next (longest first in `words`).
    fn word(&mut self, words: &[&str]) -> Option<usize> {
        for (k, w) in words.iter().enumerate() {
            if self.s[self.i..].starts_with(w.as_bytes()) {
                self.i += w.len();
                return Some(k);
            }
        }
        None
    }
}

impl Pep440Version {
    /// Parse and normalise a PEP 440 version (case-insensitive, optional leading `v`, surrounding
    /// whitespace ignored).
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let lower = input.trim().to_ascii_lowercase();
        let err = |r: &str| VersionError::new(input, ECO, r);
        let num = |d: &str| parse_u64(d).ok_or_else(|| err("number too large"));
        let mut c = Cursor {
            s: lower.as_bytes(),
            i: 0,
        };
        c.eat(b'v');
        let first = c.digits().ok_or_else(|| err("expected a release number"))?;
        let mut epoch = 0;
        let mut release = Vec::new();
        if c.eat(b'!') {
            epoch = num(first)?;
            release.push(num(c
                .digits()
                .ok_or_else(|| err("expected a release after the epoch"))?)?);
        } else {
            release.push(num(first)?);
        }
        loop {
            let save = c.i;
            if c.eat(b'.') {
                if let Some(d) = c.digits() {
                    release.push(num(d)?);
                    continue;
                }
            }
            c.i = save;
            break;
        }
        // Pre-release.
        let mut pre = None;
        {
            let save = c.i;
            c.eat_sep();
            match c.word(&["alpha", "a", "beta", "b", "preview", "pre", "rc", "c"]) {
                Some(k) => {
                    let kind = match k {
                        0 | 1 => 0,
                        2 | 3 => 1,
                        _ => 2,
                    };
                    let save2 = c.i;
                    c.eat_sep();
                    let n = match c.digits() {
                        Some(d) => num(d)?,
                        None => {
                            c.i = save2;
                            0
                        }
                    };
                    pre = Some((kind, n));
                }
                None => c.i = save,
            }
        }
        // Post-release.
        let mut post = None;
        {
            let save = c.i;
            if c.eat(b'-') {
                if let Some(d) = c.digits() {
                    post = Some(num(d)?);
                } else {
                    c.i = save;
                }
            }
            if post.is_none() {
                let save = c.i;
                c.eat_sep();
                if c.word(&["post", "rev", "r"]).is_some() {
                    let save2 = c.i;
                    c.eat_sep();
                    post = Some(match c.digits() {
                        Some(d) => num(d)?,
                        None => {
                            c.i = save2;
                            0
                        }
                    });
                } else {
                    c.i = save;
                }
            }
        }
        // Development release.
        let mut dev = None;
        {
            let save = c.i;
            c.eat_sep();
            if c.word(&["dev"]).is_some() {
                let save2 = c.i;
                c.eat_sep();
                dev = Some(match c.digits() {
                    Some(d) => num(d)?,
                    None => {
                        c.i = save2;
                        0
                    }
                });
            } else {
                c.i = save;
            }
        }
        // Local version.
        let mut local = Vec::new();
        if c.eat(b'+') {
            let rest = std::str::from_utf8(&c.s[c.i..]).map_err(|_| err("not ASCII"))?;
            for seg in rest.split(['.', '-', '_']) {
                if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(err("bad local version segment"));
                }
                if seg.bytes().all(|b| b.is_ascii_digit()) {
                    local.push(LocalSeg::Num(num(seg)?));
                } else {
                    local.push(LocalSeg::Str(seg.to_string()));
                }
            }
            c.i = c.s.len();
        }
        if c.i != c.s.len() {
            return Err(err(&format!(
                "unexpected `{}`",
                String::from_utf8_lossy(&c.s[c.i..])
            )));
        }
        Ok(Pep440Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// Canonical form: the normalised form with trailing zeros of the release dropped.
    pub fn canonical(&self) -> String {
        let mut c = self.clone();
        while c.release.len() > 1 && c.release.last() == Some(&0) {
            c.release.pop();
        }
        c.to_string()
    }

    /// Whether this is a pre-release or development release.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// The release segment (`1.2.3` → `[1, 2, 3]`).
    pub fn release(&self) -> &[u64] {
        &self.release
    }

    fn key(&self) -> Key<'_> {
        let mut rel: &[u64] = &self.release;
        while let [head @ .., 0] = rel {
            rel = head;
        }
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => Bound::NegInf,
            (None, _, _) => Bound::PosInf,
            (Some(p), _, _) => Bound::Val(p),
        };
        let post = self.post.map_or(Bound::NegInf, Bound::Val);
        let dev = self.dev.map_or(Bound::PosInf, Bound::Val);
        let local = if self.local.is_empty() {
            Bound::NegInf
        } else {
            Bound::Val(&self.local[..])
        };
        (self.epoch, rel, pre, post, dev, local)
    }
}

impl std::fmt::Display for Pep440Version {
    /// The normalised form (`1.0-RC.1` → `1.0rc1`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}!", self.epoch)?;
        }
        let rel: Vec<String> = self.release.iter().map(|n| n.to_string()).collect();
        f.write_str(&rel.join("."))?;
        if let Some((k, n)) = self.pre {
            write!(f, "{}{n}", ["a", "b", "rc"][k as usize])?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = self.dev {
            write!(f, ".dev{n}")?;
        }
        if !self.local.is_empty() {
            let l: Vec<String> = self
                .local
                .iter()
                .map(|s| match s {
                    LocalSeg::Num(n) => n.to_string(),
                    LocalSeg::Str(s) => s.clone(),
                })
                .collect();
            write!(f, "+{}", l.join("."))?;
        }
        Ok(())
    }
}

impl PartialEq for Pep440Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pep440Version {}
impl PartialOrd for Pep440Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Pep440Version {
        Pep440Version::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn normalises() {
        for (raw, norm) in [
            ("1.0", "1.0"),
            ("v1.0", "1.0"),
            ("1.0-RC.1", "1.0rc1"),
            ("1.0alpha", "1.0a0"),
            ("1.0.preview2", "1.0rc2"),
            ("1.0c1", "1.0rc1"),
            ("1.0-1", "1.0.post1"),
            ("1.0.rev3", "1.0.post3"),
            ("1.0-r", "1.0.post0"),
            ("1.0.DEV", "1.0.dev0"),
            ("1!2.0", "1!2.0"),
            ("1.0+Ubuntu-1", "1.0+ubuntu.1"),
            (" 2.1.0-beta ", "2.1.0b0"),
            ("1.0a1.post2.dev3", "1.0a1.post2.dev3"),
        ] {
            assert_eq!(v(raw).to_string(), norm, "{raw}");
        }
    }

    #[test]
    fn trailing_zeros_are_equal() {
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("1"), v("1.0.0.0"));
        assert_ne!(v("1.0"), v("1.0.1"));
    }

    #[test]
    fn orders_like_the_spec() {
        // The example ordering from PEP 440's "summary of permitted suffixes and relative ordering".
        let chain = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        for w in chain.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn epochs_win() {
        assert!(v("1!0.1") > v("2024.1"));
        assert!(v("0!9") == v("9"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "abc",
            "1.0-final",
            "1..0",
            "1.0+",
            "1.0+a..b",
            "1.0 2",
            "99999999999999999999",
        ] {
            assert!(Pep440Version::parse(bad).is_err(), "{bad}");
        }
    }
}
