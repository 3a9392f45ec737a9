//! Rule files: their TOML shape, validation and compilation.

use rampart_core::Severity;
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

/// Categories a rule may declare; `ai` marks AI/ML services.
pub const CATEGORIES: &[&str] = &[
    "ai", "cloud", "code", "comms", "payments", "infra", "database", "crypto", "generic", "saas",
];

/// The longest distance (bytes) the engine looks around a keyword for an unbounded pattern.
const DEFAULT_REACH: usize = 512;
/// No rule may ask for a wider window than this.
const MAX_REACH: usize = 64 * 1024;

/// A rule as written in a rule file (`[[rule]]` tables).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Stable kebab-case id, e.g. `openai-project-key`.
    pub id: String,
    /// Human name, e.g. `OpenAI project API key`.
    pub name: String,
    /// The service that issues the credential.
    pub provider: String,
    /// One of [`CATEGORIES`].
    pub category: String,
    /// Severity of a finding.
    pub severity: Severity,
    /// Prefilter keywords (ASCII, matched case-insensitively); the regex only runs near them.
    pub keywords: Vec<String>,
    /// Regex (bytes, ASCII classes) with the secret in the named group `secret`.
    pub pattern: String,
    /// Minimum Shannon entropy of the secret, bits per byte.
    #[serde(default)]
    pub entropy: Option<f64>,
    /// Name of a structural validator (see [`crate::validate::VALIDATORS`]).
    #[serde(default)]
    pub validator: Option<String>,
    /// Where and how to revoke the credential.
    pub remediation: String,
    /// Texts that must yield a finding for this rule.
    pub examples: Vec<String>,
    /// Texts that must not yield a finding for this rule.
    pub negative_examples: Vec<String>,
    /// Bytes to search on each side of a keyword hit when the pattern has no maximum length.
    #[serde(default)]
    pub window: Option<usize>,
    /// Generic rules (password assignments and the like) yield to specific rules on overlap.
    #[serde(default)]
    pub generic: bool,
    /// Regexes on the secret that suppress a match (known non-secrets).
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleDef>,
}

/// A rule file or rule that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The file is not valid TOML of the expected shape.
    #[error("{file}: {message}")]
    Parse {
        /// Rule file name.
        file: String,
        /// What the TOML parser said.
        message: String,
    },
    /// One rule is invalid.
    #[error("{file}: rule `{id}`: {message}")]
    Invalid {
        /// Rule file name.
        file: String,
        /// Rule id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// The definition it was compiled from.
    pub def: RuleDef,
    /// Which file defined it.
    pub file: String,
    pub(crate) regex: Regex,
    pub(crate) secret_group: usize,
    pub(crate) reach: usize,
    /// How far before a keyword hit a match can start (at most `reach`).
    pub(crate) reach_before: usize,
    pub(crate) exclude: Vec<Regex>,
    pub(crate) validator: Option<crate::validate::Validator>,
}

impl Rule {
    /// The rule id.
    pub fn id(&self) -> &str {
        &self.def.id
    }
}

/// Parse a rule file's text into definitions (not yet compiled).
pub fn parse_rule_file(file: &str, text: &str) -> Result<Vec<RuleDef>, RuleError> {
    let parsed: RuleFile = toml::from_str(text).map_err(|e| RuleError::Parse {
        file: file.to_string(),
        message: e.to_string(),
    })?;
    Ok(parsed.rule)
}

fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(32 << 20)
        .dfa_size_limit(8 << 20)
        .build()
}

/// Validate and compile one rule definition.
pub fn compile(file: &str, def: RuleDef) -> Result<Rule, RuleError> {
    let bad = |message: String| RuleError::Invalid {
        file: file.to_string(),
        id: def.id.clone(),
        message,
    };
    if def.id.is_empty()
        || !def
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(bad("id must be non-empty kebab-case ([a-z0-9-])".into()));
    }
    if !CATEGORIES.contains(&def.category.as_str()) {
        return Err(bad(format!(
            "category `{}` is not one of {}",
            def.category,
            CATEGORIES.join(", ")
        )));
    }
    if def.keywords.is_empty() {
        return Err(bad("at least one keyword is required".into()));
    }
    for k in &def.keywords {
        if k.len() < 3 || !k.is_ascii() {
            return Err(bad(format!(
                "keyword `{k}` must be ASCII and at least 3 bytes"
            )));
        }
    }
    if def.examples.len() < 2 || def.negative_examples.len() < 2 {
        return Err(bad(
            "at least two examples and two negative_examples are required".into(),
        ));
    }
    if def.remediation.trim().is_empty() {
        return Err(bad("remediation must say where to revoke".into()));
    }
    let regex = build_regex(&def.pattern).map_err(|e| bad(format!("pattern: {e}")))?;
    let secret_group = regex
        .capture_names()
        .position(|n| n == Some("secret"))
        .ok_or_else(|| bad("pattern has no named group `secret`".into()))?;
    let max_len = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(&def.pattern)
        .ok()
        .and_then(|h| h.properties().maximum_len());
    let reach = def
        .window
        .or(max_len)
        .unwrap_or(DEFAULT_REACH)
        .min(MAX_REACH);
    let mut exclude = Vec::new();
    for e in &def.exclude {
        exclude.push(build_regex(e).map_err(|err| bad(format!("exclude `{e}`: {err}")))?);
    }
    let validator = match &def.validator {
        None => None,
        Some(name) => Some(
            crate::validate::Validator::by_name(name)
                .ok_or_else(|| bad(format!("unknown validator `{name}`")))?,
        ),
    };
    if let Some(e) = def.entropy {
        if !(0.0..=8.0).contains(&e) {
            return Err(bad(format!("entropy {e} is outside 0..=8 bits per byte")));
        }
    }
    let reach_before = reach_before(&def.pattern, &def.keywords).map_or(reach, |b| b.min(reach));
    Ok(Rule {
        file: file.to_string(),
        def,
        regex,
        secret_group,
        reach,
        reach_before,
        exclude,
        validator,
    })
}

/// For rules whose secret starts with the keyword — `(?P<secret>ghp_…` — a match starts at most
/// the length of what precedes the group before the keyword hit, so the regex need not look a
/// whole match length back. Returns that bound when the pattern has this shape for every keyword
/// (the group at the top level, one of its keywords written literally at its start).
fn reach_before(pattern: &str, keywords: &[String]) -> Option<usize> {
    let at = pattern.find("(?P<secret>")?;
    let (prefix, rest) = (&pattern[..at], &pattern[at + "(?P<secret>".len()..]);
    // A top-level group: the prefix has balanced parentheses (ignoring escaped ones).
    let mut depth = 0i32;
    let mut escaped = false;
    for c in prefix.chars() {
        match c {
            '\\' if !escaped => {
                escaped = true;
                continue;
            }
            '(' if !escaped => depth += 1,
            ')' if !escaped => depth -= 1,
            _ => {}
        }
        escaped = false;
    }
    if depth != 0 {
        return None;
    }
    // Every match then starts its secret with that literal (in some case), and the keyword
    // automaton is case-insensitive, so a hit sits exactly at the secret's start.
    let rest = rest.to_ascii_lowercase();
    if !keywords
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .any(|k| rest.starts_with(&regex_syntax::escape(&k)) || rest.starts_with(&k))
    {
        return None;
    }
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(prefix.trim_start_matches("(?i)"))
        .ok()?;
    hir.properties().maximum_len()
}

#[cfg(test)]
mod tests {
    use super::reach_before;

    #[test]
    fn prefix_rules_look_back_only_over_their_prefix() {
        let k = |s: &str| vec![s.to_string()];
        assert_eq!(
            reach_before(
                r"(?:^|[^A-Za-z0-9_-])(?P<secret>napi_[a-z0-9]{64})",
                &k("napi_")
            ),
            Some(1)
        );
        assert_eq!(
            reach_before(r"\b(?P<secret>ghp_[A-Za-z0-9]{36})\b", &k("ghp_")),
            Some(0)
        );
        assert_eq!(
            reach_before(r"(?i)(?P<secret>SK-ant-[a-z]{3})", &k("sk-ant-")),
            Some(0)
        );
        // The keyword is context before the group, or the group is nested: no bound.
        assert_eq!(
            reach_before(r"cohere[^\n]{0,20}(?P<secret>[a-z0-9]{40})", &k("cohere")),
            None
        );
        assert_eq!(
            reach_before(r"(?:x(?P<secret>abc[0-9]{4}))", &k("abc")),
            None
        );
        assert_eq!(
            reach_before(
                r"(?P<secret>(?:AKIA|ASIA)[A-Z2-7]{16})",
                &[String::from("akia"), String::from("asia")]
            ),
            None
        );
        // One keyword at the start is enough: every match begins with it.
        assert_eq!(
            reach_before(
                r"(?P<secret>xoxb-[0-9]{4})",
                &[String::from("xoxb-"), String::from("slack")]
            ),
            Some(0)
        );
    }
}
