//! The compiled rule set and the scan over a byte buffer.

use crate::rule::{Rule, RuleDef, RuleError, compile, parse_rule_file};
use crate::validate::{entropy, is_code_path, is_pattern, is_placeholder};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::collections::HashMap;
use std::ops::Range;

/// One confirmed secret in a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// Index of the rule in its [`RuleSet`].
    pub rule: usize,
    /// Byte range of the whole regex match.
    pub range: Range<usize>,
    /// Byte range of the secret (the `secret` group).
    pub secret: Range<usize>,
    /// 1-based line of the secret's start.
    pub line: u32,
    /// 1-based byte column of the secret's start.
    pub column: u32,
    /// 1-based line of the secret's end.
    pub end_line: u32,
    /// The line carries an inline `rampart:allow` comment.
    pub allowed: bool,
}

/// A compiled set of rules with its keyword automaton.
pub struct RuleSet {
    rules: Vec<Rule>,
    automaton: AhoCorasick,
    /// For each automaton pattern, the rules that keyword belongs to.
    keyword_rules: Vec<Vec<u32>>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("keywords", &self.keyword_rules.len())
            .finish()
    }
}

/// The marker that suppresses findings on its line.
pub const ALLOW_MARKER: &[u8] = b"rampart:allow";

impl RuleSet {
    /// Compile rule definitions from named sources (file name, TOML text).
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RuleSet, RuleError> {
        let mut defs: Vec<(String, RuleDef)> = Vec::new();
        for (file, text) in sources {
            for d in parse_rule_file(file, text)? {
                defs.push((file.to_string(), d));
            }
        }
        Self::from_defs(defs)
    }

    /// Compile rule definitions, each with the name of the file it came from.
    pub fn from_defs(defs: Vec<(String, RuleDef)>) -> Result<RuleSet, RuleError> {
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut rules: Vec<Rule> = Vec::with_capacity(defs.len());
        for (file, def) in defs {
            if let Some(prev) = seen.insert(def.id.clone(), file.clone()) {
                return Err(RuleError::Invalid {
                    file,
                    id: def.id,
                    message: format!("duplicate id (already defined in {prev})"),
                });
            }
            rules.push(compile(&file, def)?);
        }
        let mut keyword_index: HashMap<String, usize> = HashMap::new();
        let mut keywords: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<u32>> = Vec::new();
        for (ri, r) in rules.iter().enumerate() {
            for k in &r.def.keywords {
                let k = k.to_ascii_lowercase();
                let ki = *keyword_index.entry(k.clone()).or_insert_with(|| {
                    keywords.push(k);
                    keyword_rules.push(Vec::new());
                    keywords.len() - 1
                });
                if !keyword_rules[ki].contains(&(ri as u32)) {
                    keyword_rules[ki].push(ri as u32);
                }
            }
        }
        let (keywords, keyword_rules, shifted) = minimise(keywords, keyword_rules);
        // A rule whose keyword now hits through a shorter keyword inside it may see the hit up to
        // that many bytes later than its own keyword would start.
        for (ri, by) in shifted {
            let r = &mut rules[ri as usize];
            r.reach_before = (r.reach_before + by).min(r.reach);
        }
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&keywords)
            .map_err(|e| RuleError::Parse {
                file: "<keywords>".into(),
                message: e.to_string(),
            })?;
        Ok(RuleSet {
            rules,
            automaton,
            keyword_rules,
        })
    }

    /// The built-in rules shipped inside the binary.
    pub fn builtin() -> RuleSet {
        Self::from_sources(crate::BUILTIN_RULES.iter().copied())
            .expect("built-in rules are validated by the test suite")
    }

    /// The built-in rules plus extra rule files (name, text).
    pub fn builtin_with<'a>(
        extra: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RuleSet, RuleError> {
        Self::from_sources(crate::BUILTIN_RULES.iter().copied().chain(extra))
    }

    /// All rules, in priority order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Number of distinct prefilter keywords.
    pub fn keyword_count(&self) -> usize {
        self.keyword_rules.len()
    }

    /// Find every confirmed secret in `data`.
    ///
    /// The keyword automaton runs over the whole buffer; each rule's regex runs only in windows
    /// around its keywords' hits (the window is the pattern's maximum match length, or the rule's
    /// `window`). Candidates then pass the rule's entropy floor, exclusions, placeholder filter and
    /// validator; overlapping candidates keep the more specific rule.
    pub fn scan(&self, data: &[u8]) -> Vec<Match> {
        let windows = self.windows(data);
        if windows.is_empty() {
            return Vec::new();
        }
        let mut cands: Vec<(usize, Range<usize>, Range<usize>)> = Vec::new();
        let mut locs_cache: Vec<Option<regex::bytes::CaptureLocations>> =
            (0..self.rules.len()).map(|_| None).collect();
        for (ri, ws, we) in windows {
            let rule = &self.rules[ri];
            let hay_end = (we + rule.reach).min(data.len());
            let hay = &data[..hay_end];
            let locs = locs_cache[ri].get_or_insert_with(|| rule.regex.capture_locations());
            let mut at = ws;
            while at < we {
                let Some(m) = rule.regex.captures_read_at(locs, hay, at) else {
                    break;
                };
                if m.start() >= we {
                    break;
                }
                let secret = locs
                    .get(rule.secret_group)
                    .map(|(s, e)| s..e)
                    .unwrap_or(m.start()..m.end());
                // Resume after the secret, not after the whole match: a pattern's trailing
                // boundary byte can be the leading boundary of the next secret (`k1,k2`, or
                // one key per line).
                let resume = if secret.is_empty() {
                    m.end()
                } else {
                    secret.end
                };
                if !secret.is_empty() && self.accept(rule, &data[secret.clone()]) {
                    cands.push((ri, m.start()..m.end(), secret));
                }
                at = resume.max(m.start() + 1);
            }
        }
        self.resolve(data, cands)
    }

    /// Windows (rule, start, end) around keyword hits, merged per rule.
    fn windows(&self, data: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut open: Vec<Option<(usize, usize)>> = vec![None; self.rules.len()];
        let mut out = Vec::new();
        // The keyword set is substring-free (see `minimise`), so at most one keyword starts at
        // any position: a leftmost search restarted one byte after each hit visits every
        // occurrence, and is several times faster than an overlapping search.
        let mut at = 0;
        while let Some(hit) = self
            .automaton
            .find(aho_corasick::Input::new(data).span(at..data.len()))
        {
            at = hit.start() + 1;
            for &ri in &self.keyword_rules[hit.pattern().as_usize()] {
                let ri = ri as usize;
                let rule = &self.rules[ri];
                let s = hit.start().saturating_sub(rule.reach_before);
                let e = (hit.end() + rule.reach).min(data.len());
                match &mut open[ri] {
                    Some((_, oe)) if s <= *oe => *oe = (*oe).max(e),
                    slot => {
                        if let Some((os, oe)) = slot.take() {
                            out.push((ri, os, oe));
                        }
                        *slot = Some((s, e));
                    }
                }
            }
        }
        for (ri, w) in open.into_iter().enumerate() {
            if let Some((s, e)) = w {
                out.push((ri, s, e));
            }
        }
        out
    }

    fn accept(&self, rule: &Rule, secret: &[u8]) -> bool {
        if let Some(floor) = rule.def.entropy {
            if entropy(secret) < floor {
                return false;
            }
        }
        if is_placeholder(secret) || is_binary(secret) || is_code_path(secret) || is_pattern(secret)
        {
            return false;
        }
        if rule.exclude.iter().any(|x| x.is_match(secret)) {
            return false;
        }
        rule.validator.is_none_or(|v| v.check(secret))
    }

    /// Drop duplicates and overlaps (specific beats generic, then longer secret, then rule
    /// order), then compute lines, columns and inline allow markers.
    fn resolve(
        &self,
        data: &[u8],
        mut cands: Vec<(usize, Range<usize>, Range<usize>)>,
    ) -> Vec<Match> {
        cands.sort_by(|a, b| {
            let ga = self.rules[a.0].def.generic;
            let gb = self.rules[b.0].def.generic;
            ga.cmp(&gb)
                .then((b.2.end - b.2.start).cmp(&(a.2.end - a.2.start)))
                .then(a.0.cmp(&b.0))
                .then(a.2.start.cmp(&b.2.start))
        });
        // Accepted secret ranges are disjoint, so the only one that can overlap a candidate is
        // the last accepted range starting before the candidate's end.
        let mut taken: std::collections::BTreeMap<usize, usize> = Default::default();
        let mut kept: Vec<(usize, Range<usize>, Range<usize>)> = Vec::new();
        for c in cands {
            let overlaps = taken
                .range(..c.2.end)
                .next_back()
                .is_some_and(|(_, &end)| end > c.2.start);
            if overlaps {
                continue;
            }
            taken.insert(c.2.start, c.2.end);
            kept.push(c);
        }
        kept.sort_by_key(|c| c.2.start);
        let mut line = 1u32;
        let mut pos = 0usize;
        let mut out = Vec::with_capacity(kept.len());
        for (rule, range, secret) in kept {
            line += count_newlines(&data[pos..secret.start]);
            pos = secret.start;
            let line_start = memchr::memrchr(b'\n', &data[..secret.start]).map_or(0, |i| i + 1);
            let end_line = line + count_newlines(&data[secret.start..secret.end]);
            let line_end =
                memchr::memchr(b'\n', &data[secret.end..]).map_or(data.len(), |i| secret.end + i);
            let allowed = memchr::memmem::find(&data[line_start..line_end], ALLOW_MARKER).is_some();
            out.push(Match {
                rule,
                range,
                line,
                column: (secret.start - line_start + 1) as u32,
                end_line,
                secret,
                allowed,
            });
        }
        out
    }
}

/// Drop every keyword that contains another keyword, giving its rules to the longest keyword it
/// contains: wherever the longer one occurs the shorter one does too, and the shorter one's hit
/// opens the same windows (a match containing the long keyword contains the short one). The
/// result is substring-free.
/// Keywords, the rules each keyword opens windows for, and (rule, bytes) shifts of hit positions.
type Minimised = (Vec<String>, Vec<Vec<u32>>, Vec<(u32, usize)>);

fn minimise(keywords: Vec<String>, rules: Vec<Vec<u32>>) -> Minimised {
    let mut order: Vec<usize> = (0..keywords.len()).collect();
    order.sort_by_key(|&i| (keywords[i].len(), i));
    let mut kept: Vec<usize> = Vec::new();
    let mut merged: Vec<Vec<u32>> = rules.clone();
    let mut shifted = Vec::new();
    for &i in &order {
        let host = kept
            .iter()
            .copied()
            .filter(|&j| keywords[i].contains(keywords[j].as_str()))
            .max_by_key(|&j| keywords[j].len());
        match host {
            Some(j) => {
                // The latest the short keyword can sit inside the long one.
                let offset = keywords[i].rfind(keywords[j].as_str()).unwrap_or(0);
                for &r in &rules[i] {
                    if !merged[j].contains(&r) {
                        merged[j].push(r);
                    }
                    if offset > 0 {
                        shifted.push((r, offset));
                    }
                }
            }
            None => kept.push(i),
        }
    }
    kept.sort_unstable();
    let words = kept.iter().map(|&i| keywords[i].clone()).collect();
    let lists = kept.iter().map(|&i| merged[i].clone()).collect();
    (words, lists, shifted)
}

fn count_newlines(s: &[u8]) -> u32 {
    memchr::memchr_iter(b'\n', s).count() as u32
}

/// A candidate with control bytes other than tab and line breaks is binary data — the constants
/// table of a compiled `.pyc` after `password`, say — not a credential: keys, tokens and typed
/// passwords never contain `\x00` or `\x17`. (PEM keys span lines, so `\n` and `\r` pass.)
fn is_binary(secret: &[u8]) -> bool {
    secret
        .iter()
        .any(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimise_leaves_a_substring_free_set_and_keeps_every_rule() {
        let words = vec![
            "sk-proj-".to_string(),
            "sk-".to_string(),
            "proj".to_string(),
            "token".to_string(),
        ];
        let rules = vec![vec![0], vec![1], vec![2], vec![3]];
        let (w, r, shifted) = minimise(words, rules);
        // Rule 0 (`sk-proj-`) now hits through `proj`, three bytes into its keyword.
        assert!(shifted.contains(&(0, 3)));
        for a in &w {
            for b in &w {
                assert!(a == b || !a.contains(b.as_str()), "{a} contains {b}");
            }
        }
        let all: Vec<u32> = r.iter().flatten().copied().collect();
        for rule in 0..4 {
            assert!(all.contains(&rule), "rule {rule} lost");
        }
        // `sk-proj-` contains both `sk-` and `proj`: its rule goes to the longer one.
        let proj = w.iter().position(|k| k == "proj").unwrap();
        assert!(r[proj].contains(&0));
    }

    #[test]
    fn overlapping_keyword_occurrences_all_open_windows() {
        let toml = r#"
[[rule]]
id = "before"
name = "before"
provider = "t"
category = "saas"
severity = "high"
keywords = ["k-ab"]
pattern = '''(?P<secret>QQ[0-9]{6})k-ab'''
remediation = "r"
examples = ["QQ123456k-ab", "xQQ987654k-ab"]
negative_examples = ["QQk-ab", "k-ab"]

[[rule]]
id = "after"
name = "after"
provider = "t"
category = "saas"
severity = "high"
keywords = ["abc"]
pattern = '''abc(?P<secret>[0-9]{6})'''
remediation = "r"
examples = ["abc918273", "xabc564738"]
negative_examples = ["abc", "abcd"]
"#;
        let rules = RuleSet::from_sources([("t.toml", toml)]).unwrap();
        // `k-ab` (8..12) and `abc` (10..13) overlap.
        let m = rules.scan(b"QQ918273k-abc564738");
        let ids: Vec<&str> = m.iter().map(|m| rules.rules()[m.rule].id()).collect();
        assert_eq!(ids, vec!["before", "after"]);
    }

    /// What `.pyc` constants tables look like after `password` and in a `.netrc`-like sequence
    /// (both found in Debian's own Python packages): not reported; the same values typed as
    /// text are.
    #[test]
    fn binary_candidates_are_not_secrets() {
        let rules = RuleSet::builtin();
        let ids = |data: &[u8]| -> Vec<String> {
            rules
                .scan(data)
                .iter()
                .map(|m| rules.rules()[m.rule].id().to_string())
                .collect()
        };
        assert!(ids(b"password = r\x17\x00\x00\x00\xef\xbf\xbd\x06submitz\x18Server\n").is_empty());
        assert!(ids(b"machine h login u password )\x08r\xda\x05\x00r\n").is_empty()); // rampart:allow (test input)
        assert_eq!(
            ids(b"DB_PASSWORD=hM2kq9Vz7Lw4Rt\n"),
            ["generic-password-assignment"]
        );
        assert_eq!(
            ids(b"machine git.acme.io login ci-bot password xhnV9stsBsqq3V69znZgyWbH\n"), // rampart:allow
            ["netrc-credentials"]
        );
    }
}
