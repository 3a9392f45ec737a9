//! Protected brands: their names, categories and own domains.

use serde::Serialize;

/// The built-in brand list (`data/brands.txt` in this crate; the format is described there and
/// in [`BrandList::parse`]).
pub const BUILTIN_BRANDS: &str = include_str!("../data/brands.txt");

/// One of a brand's domains, as written in a brands file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BrandDomain {
    /// The domain (lowercase ASCII), or the bare label for a `label.*` entry.
    pub domain: String,
    /// Whether lookalikes of this domain are traced back to the brand (no `=` prefix).
    pub target: bool,
    /// The label is a common word (`~` prefix): edit-distance typos stay `suspicious`.
    pub common_word: bool,
    /// A `label.*` entry: the label belongs to the brand under every ICANN suffix.
    pub any_suffix: bool,
}

/// A protected brand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Brand {
    /// Display name, e.g. `PayPal`.
    pub name: String,
    /// Category, e.g. `payment`.
    pub category: String,
    /// Own domains; the first concrete one is the brand's main domain.
    pub domains: Vec<BrandDomain>,
}

impl Brand {
    /// The brand's main domain: its first concrete (non-wildcard) domain.
    pub fn main_domain(&self) -> &str {
        self.domains
            .iter()
            .find(|d| !d.any_suffix)
            .map(|d| d.domain.as_str())
            .unwrap_or("")
    }
}

/// A brands file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{origin}:{line}: {message}")]
pub struct BrandError {
    /// The file (or `built-in`).
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A list of protected brands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrandList {
    /// The brands, in file order (earlier brands win ties).
    pub brands: Vec<Brand>,
}

impl BrandList {
    /// The built-in list of frequently impersonated brands (banks, payment, mail, cloud, AI
    /// providers, government and more).
    pub fn builtin() -> BrandList {
        // The built-in list is checked by this crate's tests; a failure here is a build defect.
        BrandList::parse(BUILTIN_BRANDS, "built-in").expect("built-in brand list parses")
    }

    /// Parse a brands file. One brand per line, `Name | category | domain domain …`; `#` starts a
    /// comment. Domain prefixes: `=` own but not a lookalike target, `~` a common word (typos stay
    /// suspicious); `label.*` owns the label under every ICANN suffix. The category may be empty.
    ///
    /// ```
    /// let list = rampart_url::BrandList::parse("Acme Bank | bank | acmebank.com =acme-cdn.net", "x").unwrap();
    /// assert_eq!(list.brands[0].main_domain(), "acmebank.com");
    /// ```
    pub fn parse(text: &str, origin: &str) -> Result<BrandList, BrandError> {
        let mut brands = Vec::new();
        let err = |line: usize, message: String| BrandError {
            origin: origin.to_string(),
            line,
            message,
        };
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            let line = line.trim_start_matches('\u{feff}');
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('|').map(str::trim).collect();
            if fields.len() != 3 {
                return Err(err(
                    line_no,
                    format!(
                        "expected `Name | category | domain …` (3 fields separated by `|`), found {}",
                        fields.len()
                    ),
                ));
            }
            let name = fields[0];
            if name.is_empty() {
                return Err(err(line_no, "the brand name is empty".into()));
            }
            let mut domains = Vec::new();
            for tok in fields[2].split_whitespace() {
                domains.push(parse_domain(tok).map_err(|m| err(line_no, m))?);
            }
            if domains.is_empty() {
                return Err(err(line_no, format!("brand `{name}` lists no domain")));
            }
            if domains.iter().all(|d| d.any_suffix) {
                return Err(err(
                    line_no,
                    format!("brand `{name}` needs at least one concrete domain besides `label.*`"),
                ));
            }
            brands.push(Brand {
                name: name.to_string(),
                category: fields[1].to_ascii_lowercase(),
                domains,
            });
        }
        Ok(BrandList { brands })
    }

    /// Append another list (later brands lose ties to earlier ones).
    pub fn extend(&mut self, other: BrandList) {
        self.brands.extend(other.brands);
    }
}

fn parse_domain(tok: &str) -> Result<BrandDomain, String> {
    let (target, common_word, rest) = if let Some(r) = tok.strip_prefix('=') {
        (false, false, r)
    } else if let Some(r) = tok.strip_prefix('~') {
        (true, true, r)
    } else {
        (true, false, tok)
    };
    let (any_suffix, rest) = match rest.strip_suffix(".*") {
        Some(label) => (true, label),
        None => (false, rest),
    };
    let ascii =
        idna::domain_to_ascii(rest).map_err(|_| format!("`{tok}` is not a valid domain name"))?;
    let ascii = ascii.trim_end_matches('.').to_string();
    if ascii.is_empty() || ascii.starts_with('.') || ascii.contains("..") {
        return Err(format!("`{tok}` is not a valid domain name"));
    }
    if any_suffix && ascii.contains('.') {
        return Err(format!(
            "`{tok}`: a `label.*` entry takes a single label, e.g. `paypal.*`"
        ));
    }
    if !any_suffix && !ascii.contains('.') {
        return Err(format!(
            "`{tok}` has no dot; write a full domain (`{ascii}.com`) or `{ascii}.*`"
        ));
    }
    Ok(BrandDomain {
        domain: ascii,
        target,
        common_word,
        any_suffix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_covers_the_required_categories() {
        let list = BrandList::builtin();
        assert!(list.brands.len() >= 50, "{}", list.brands.len());
        for cat in ["bank", "payment", "mail", "cloud", "ai", "government"] {
            assert!(
                list.brands.iter().any(|b| b.category == cat),
                "no brand in category {cat}"
            );
        }
    }

    #[test]
    fn errors_name_the_line() {
        let e = BrandList::parse("# c\nAcme | bank\n", "b.txt").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("b.txt:2:"), "{e}");
        assert!(BrandList::parse("Acme | x | acme", "b").is_err());
        assert!(BrandList::parse("Acme | x | acme.*", "b").is_err());
        assert!(BrandList::parse("Acme | x | a..com", "b").is_err());
        let l = BrandList::parse("Acme | x | ~Acme.COM =cdn.acme.net acme.*", "b").unwrap();
        let d = &l.brands[0].domains;
        assert_eq!(d[0].domain, "acme.com");
        assert!(d[0].common_word && d[0].target);
        assert!(!d[1].target);
        assert!(d[2].any_suffix);
    }
}
