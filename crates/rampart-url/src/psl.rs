//! The Public Suffix List: which part of a host name is a public suffix, and which is the
//! registrable domain just left of it.
//!
//! The built-in list is the one compiled into the `psl` crate (ICANN and PRIVATE sections);
//! [`SuffixList::parse`] reads a newer copy of `public_suffix_list.dat` at run time (through the
//! `publicsuffix` crate). Both answer through the same `psl_types::List` interface, so the rest of
//! the crate cannot tell them apart.

use publicsuffix::Psl as _;
use serde::Serialize;

/// Which section of the list decided the suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SuffixKind {
    /// A suffix from the ICANN section (`com`, `co.uk`, `kyoto.jp`…).
    Icann,
    /// A suffix from the PRIVATE section: a platform that hands out subdomains to anyone
    /// (`github.io`, `blogspot.com`, `web.app`…).
    Private,
    /// Not on the list: the implicit `*` rule made the last label the suffix.
    Unlisted,
}

/// A host name split at its public suffix. All parts borrow from the host that was split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split<'a> {
    /// The public suffix, e.g. `co.uk`.
    pub suffix: &'a str,
    /// The registrable domain (one label plus the suffix), e.g. `example.co.uk`; `None` when the
    /// host is itself a public suffix or has an empty label there.
    pub registrable: Option<&'a str>,
    /// Everything left of the registrable domain, without the joining dot (may be empty).
    pub subdomain: &'a str,
    /// Which section decided the suffix.
    pub kind: SuffixKind,
}

impl<'a> Split<'a> {
    /// The label just left of the suffix (`example` in `www.example.co.uk`).
    pub fn label(&self) -> Option<&'a str> {
        let r = self.registrable?;
        r.get(..r.len().checked_sub(self.suffix.len() + 1)?)
    }
}

enum Source {
    Builtin,
    Custom(Box<publicsuffix::List>),
}

/// A Public Suffix List, built in or loaded from a file. Cheap to share between threads.
pub struct SuffixList {
    source: Source,
}

impl std::fmt::Debug for SuffixList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.source {
            Source::Builtin => "SuffixList(built-in)",
            Source::Custom(_) => "SuffixList(custom)",
        })
    }
}

impl Default for SuffixList {
    fn default() -> Self {
        SuffixList::builtin()
    }
}

/// A Public Suffix List file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid public suffix list: {0}")]
pub struct PslError(String);

impl SuffixList {
    /// The list compiled into Rampart.
    pub fn builtin() -> Self {
        SuffixList {
            source: Source::Builtin,
        }
    }

    /// Parse the text of a `public_suffix_list.dat` (with its `===BEGIN ICANN DOMAINS===` and
    /// `===BEGIN PRIVATE DOMAINS===` markers).
    pub fn parse(text: &str) -> Result<Self, PslError> {
        if !text.contains("BEGIN ICANN DOMAINS") {
            return Err(PslError(
                "no `===BEGIN ICANN DOMAINS===` marker; is this public_suffix_list.dat?".into(),
            ));
        }
        let list: publicsuffix::List = text.parse().map_err(|e| PslError(format!("{e:?}")))?;
        Ok(SuffixList {
            source: Source::Custom(Box::new(list)),
        })
    }

    fn find(&self, host: &[u8]) -> publicsuffix::Info {
        let labels = host.rsplit(|b| *b == b'.');
        match &self.source {
            Source::Builtin => ::psl::List.find(labels),
            Source::Custom(l) => l.find(labels),
        }
    }

    /// Split a host name that is already in canonical form: lowercase ASCII (IDN labels in
    /// punycode), as the `url` crate produces. A trailing dot is ignored. Returns `None` for an
    /// empty host or one with an empty last label.
    pub fn split<'a>(&self, host: &'a str) -> Option<Split<'a>> {
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.is_empty() || host.ends_with('.') {
            return None;
        }
        let info = self.find(host.as_bytes());
        if info.len == 0 || info.len > host.len() {
            return None;
        }
        let kind = match info.typ {
            Some(publicsuffix::Type::Icann) => SuffixKind::Icann,
            Some(publicsuffix::Type::Private) => SuffixKind::Private,
            None => SuffixKind::Unlisted,
        };
        let suffix = host.get(host.len() - info.len..)?;
        if info.len == host.len() {
            return Some(Split {
                suffix,
                registrable: None,
                subdomain: "",
                kind,
            });
        }
        // host = rest + "." + suffix
        let rest = host.get(..host.len() - info.len - 1)?;
        let (subdomain, label) = match rest.rfind('.') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => ("", rest),
        };
        if label.is_empty() {
            return Some(Split {
                suffix,
                registrable: None,
                subdomain: "",
                kind,
            });
        }
        let start = host.len() - info.len - 1 - label.len();
        Some(Split {
            suffix,
            registrable: host.get(start..),
            subdomain,
            kind,
        })
    }

    /// The registrable domain of any domain name, as the list's own test vectors define it
    /// (`checkPublicSuffix`): case-insensitive, Unicode or punycode in and the same form out,
    /// `None` for a public suffix, a leading dot, or a name IDNA rejects.
    ///
    /// ```
    /// let psl = rampart_url::SuffixList::builtin();
    /// assert_eq!(psl.registrable_domain("WwW.Example.CO.uk").as_deref(), Some("example.co.uk"));
    /// assert_eq!(psl.registrable_domain("www.食狮.公司.cn").as_deref(), Some("食狮.公司.cn"));
    /// assert_eq!(psl.registrable_domain("kyoto.jp"), None);
    /// ```
    pub fn registrable_domain(&self, name: &str) -> Option<String> {
        if name.is_empty() || name.starts_with('.') {
            return None;
        }
        let ascii = idna::domain_to_ascii(name).ok()?;
        let split = self.split(&ascii)?;
        let registrable = split.registrable?;
        if name.is_ascii() {
            return Some(registrable.to_string());
        }
        // Give back the same form as the input: the last N labels of the lowercased input.
        let n = registrable.split('.').count();
        let lower = name.to_lowercase();
        let lower = lower.strip_suffix('.').unwrap_or(&lower);
        let labels: Vec<&str> = lower.split('.').collect();
        if labels.len() < n {
            return Some(registrable.to_string());
        }
        Some(labels[labels.len() - n..].join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_private_and_icann() {
        let psl = SuffixList::builtin();
        let s = psl.split("a.b.example.co.uk").unwrap();
        assert_eq!(s.suffix, "co.uk");
        assert_eq!(s.registrable, Some("example.co.uk"));
        assert_eq!(s.subdomain, "a.b");
        assert_eq!(s.label(), Some("example"));
        assert_eq!(s.kind, SuffixKind::Icann);
        let s = psl.split("paypal.github.io").unwrap();
        assert_eq!(s.kind, SuffixKind::Private);
        assert_eq!(s.registrable, Some("paypal.github.io"));
        let s = psl.split("intranet").unwrap();
        assert_eq!(s.registrable, None);
        assert_eq!(s.kind, SuffixKind::Unlisted);
        assert!(psl.split("").is_none());
        assert!(psl.split("a..").is_none());
        let s = psl.split(".com").unwrap();
        assert_eq!(s.registrable, None);
    }

    #[test]
    fn custom_list_is_used() {
        let text = "// ===BEGIN ICANN DOMAINS===\ncom\nexample.com\n// ===END ICANN DOMAINS===\n";
        let psl = SuffixList::parse(text).unwrap();
        assert_eq!(
            psl.split("a.b.example.com").unwrap().registrable,
            Some("b.example.com")
        );
        assert!(SuffixList::parse("not a list").is_err());
    }
}
