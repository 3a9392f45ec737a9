//! Reverse "untwist": given a domain, which protected brand does it imitate, and how.
//!
//! dnstwist goes forward (brand → permutations). Going backward needs an index over the brands'
//! labels under several folds:
//!
//! * exact labels (TLD swaps: `paypal.co`),
//! * the strong confusable fold ([`crate::fold`]; `pаypal`, `paypa1`, `rnicrosoft`),
//! * single-edit neighbourhoods of the strong fold (symmetric-delete index: omission, insertion,
//!   repetition, replacement, transposition, bit flips, vowel swaps, hyphenation),
//! * the weak look-alike fold (`qoogle`, two look-alike swaps),
//! * substrings (combosquats such as `paypal-secure-login`, `wwwpaypal`, `paypalcom`).
//!
//! Candidates are looked up by hash, then the edit between label and brand is classified, so the
//! cost per domain is a few dozen hash probes whatever the number of brands.

use crate::brands::{Brand, BrandList};
use crate::fold;
use crate::psl::{SuffixKind, SuffixList};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde::Serialize;
use std::collections::HashMap;

/// How a domain imitates a brand. Names follow dnstwist's fuzzers where one exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Technique {
    /// A character left out (`paypl`).
    Omission,
    /// A character doubled (`paypall`).
    Repetition,
    /// Two neighbouring characters swapped (`paypla`).
    Transposition,
    /// A character replaced by a keyboard neighbour or another character (`paypak`).
    Replacement,
    /// One bit flipped in one character (`pcypal`).
    Bitsquatting,
    /// One vowel replaced by another (`paypel`).
    VowelSwap,
    /// A hyphen inserted (`pay-pal`).
    Hyphenation,
    /// A character inserted next to a keyboard neighbour, or elsewhere inside (`paytpal`).
    Insertion,
    /// A character appended (`paypalx`).
    Addition,
    /// Two edits of a long label (`bankofamerca` → `bankofamerica` with two changes).
    Typo,
    /// ASCII characters that look alike (`paypa1`, `rnicrosoft`, `qoogle`).
    Homoglyph,
    /// Non-ASCII look-alikes mixed into a Latin label (`pаypal` with a Cyrillic `а`).
    IdnHomoglyph,
    /// The whole label written in another script that looks Latin (`раураӏ`, all Cyrillic).
    WholeScript,
    /// The brand's exact label under another public suffix (`paypal.co`).
    TldSwap,
    /// The brand's exact label on a shared-hosting platform (`paypal.github.io`).
    SharedHosting,
    /// A dot inserted inside the label (`pay.pal.com`; dnstwist calls it `subdomain`).
    DotInsertion,
    /// `www` glued to the label (`wwwpaypal.com`, `www-paypal.com`, `wwpaypal.com`).
    WwwSquat,
    /// The suffix glued into the label (`paypalcom.com`, `barclaysco.uk`).
    MissingDot,
    /// The brand plus lure words (`paypal-secure-login`, `loginpaypal`).
    Combosquat,
    /// The brand as a hyphen-separated word next to other words (`paypal-shop`).
    BrandToken,
    /// The brand's label or domain in a subdomain of another domain (`paypal.com.evil.xyz`).
    BrandInSubdomain,
    /// The brand's domain as user-info before the real host (`https://paypal.com@evil.xyz`).
    Userinfo,
    /// The brand's domain in the path or query of another site (`evil.xyz/paypal.com/login`).
    BrandInPath,
}

impl Technique {
    /// The kebab-case name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Technique::Omission => "omission",
            Technique::Repetition => "repetition",
            Technique::Transposition => "transposition",
            Technique::Replacement => "replacement",
            Technique::Bitsquatting => "bitsquatting",
            Technique::VowelSwap => "vowel-swap",
            Technique::Hyphenation => "hyphenation",
            Technique::Insertion => "insertion",
            Technique::Addition => "addition",
            Technique::Typo => "typo",
            Technique::Homoglyph => "homoglyph",
            Technique::IdnHomoglyph => "idn-homoglyph",
            Technique::WholeScript => "whole-script",
            Technique::TldSwap => "tld-swap",
            Technique::SharedHosting => "shared-hosting",
            Technique::DotInsertion => "dot-insertion",
            Technique::WwwSquat => "www-squat",
            Technique::MissingDot => "missing-dot",
            Technique::Combosquat => "combosquat",
            Technique::BrandToken => "brand-token",
            Technique::BrandInSubdomain => "brand-in-subdomain",
            Technique::Userinfo => "userinfo",
            Technique::BrandInPath => "brand-in-path",
        }
    }

    /// Whether this is a typosquat (an edit of the label) rather than a combination or placement.
    pub fn is_typo(self) -> bool {
        matches!(
            self,
            Technique::Omission
                | Technique::Repetition
                | Technique::Transposition
                | Technique::Replacement
                | Technique::Bitsquatting
                | Technique::VowelSwap
                | Technique::Hyphenation
                | Technique::Insertion
                | Technique::Addition
                | Technique::Typo
        )
    }
}

impl std::fmt::Display for Technique {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lookalike domain's target: the brand it imitates, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Impersonation {
    /// The brand's name, e.g. `PayPal`.
    pub brand: String,
    /// The brand's domain that is imitated, e.g. `paypal.com`.
    pub domain: String,
    /// The brand's category, e.g. `payment`.
    pub category: String,
    /// How it is imitated.
    pub technique: Technique,
}

#[derive(Clone, Debug)]
struct Target {
    brand: usize,
    domain: String,
    label: String,
    strong: String,
    weak: String,
    common_word: bool,
}

/// One candidate found by the index: the target and how it was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub target: u32,
    pub technique: Technique,
}

/// The brand index: own domains (never flagged) and lookalike targets.
pub(crate) struct BrandIndex {
    brands: Vec<Brand>,
    targets: Vec<Target>,
    own_hosts: HashMap<String, usize>,
    own_labels: HashMap<String, usize>,
    exact: HashMap<String, Vec<u32>>,
    strong: HashMap<String, Vec<u32>>,
    weak: HashMap<String, Vec<u32>>,
    deletes: HashMap<String, Vec<u32>>,
    /// Up to two deletions of the weak fold of long (≥ 8) target labels.
    deletes2: HashMap<String, Vec<u32>>,
    /// Target labels (length ≥ 3), for combosquats, subdomains and paths.
    labels_ac: Option<AhoCorasick>,
    labels_ac_ids: Vec<u32>,
    /// Concrete own domains whose label has ≥ 3 characters, for subdomains, user-info and paths.
    domains_ac: Option<AhoCorasick>,
    domains_ac_ids: Vec<(usize, String)>,
}

fn push(map: &mut HashMap<String, Vec<u32>>, key: String, id: u32) {
    let v = map.entry(key).or_default();
    if !v.contains(&id) {
        v.push(id);
    }
}

impl BrandIndex {
    pub(crate) fn new(list: &BrandList, psl: &SuffixList) -> BrandIndex {
        let brands = list.brands.clone();
        let mut targets: Vec<Target> = Vec::new();
        let mut own_hosts = HashMap::new();
        let mut own_labels = HashMap::new();
        let mut domains_for_ac: Vec<(usize, String)> = Vec::new();
        for (bi, b) in brands.iter().enumerate() {
            for d in &b.domains {
                let label = if d.any_suffix {
                    own_labels.entry(d.domain.clone()).or_insert(bi);
                    d.domain.clone()
                } else {
                    own_hosts.entry(d.domain.clone()).or_insert(bi);
                    let Some(split) = psl.split(&d.domain) else {
                        continue;
                    };
                    let Some(label) = split.label() else { continue };
                    if label.len() >= 3 {
                        domains_for_ac.push((bi, d.domain.clone()));
                    }
                    label.to_string()
                };
                if !d.target || label.len() < 3 {
                    continue;
                }
                // A wildcard entry only adds a target when no concrete domain has the label.
                if targets.iter().any(|t| t.brand == bi && t.label == label) {
                    continue;
                }
                let domain = if d.any_suffix {
                    b.domains
                        .iter()
                        .find(|x| !x.any_suffix && x.domain.starts_with(&format!("{label}.")))
                        .map(|x| x.domain.clone())
                        .unwrap_or_else(|| format!("{label}.com"))
                } else {
                    d.domain.clone()
                };
                let strong = fold::strong(&label);
                let weak = fold::weak(&strong);
                targets.push(Target {
                    brand: bi,
                    domain,
                    label,
                    strong,
                    weak,
                    common_word: d.common_word,
                });
            }
        }
        let mut exact = HashMap::new();
        let mut strong = HashMap::new();
        let mut weak = HashMap::new();
        let mut deletes = HashMap::new();
        let mut deletes2 = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            let id = i as u32;
            push(&mut exact, t.label.clone(), id);
            let s = fold::strong(&t.label);
            let w = fold::weak(&s);
            if t.label.len() >= 8 {
                for d in deletions(&w) {
                    for dd in deletions(&d) {
                        push(&mut deletes2, dd, id);
                    }
                    push(&mut deletes2, d, id);
                }
                push(&mut deletes2, w.clone(), id);
            }
            push(&mut weak, w, id);
            // Single edits are looked for on the label as written and on its strong fold, so that
            // a fold (`rn`→`m` in `klarna`) never hides a plain typo.
            for form in [t.label.clone(), s.clone()] {
                for d in deletions(&form) {
                    push(&mut deletes, d, id);
                }
                push(&mut deletes, form, id);
            }
            push(&mut strong, s, id);
        }
        let labels: Vec<(String, u32)> = targets
            .iter()
            .enumerate()
            .map(|(i, t)| (fold::strong(&t.label), i as u32))
            .collect();
        let labels_ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(labels.iter().map(|(l, _)| l.as_str()))
            .ok();
        let domains_ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(domains_for_ac.iter().map(|(_, d)| d.as_str()))
            .ok();
        BrandIndex {
            brands,
            targets,
            own_hosts,
            own_labels,
            exact,
            strong,
            weak,
            deletes,
            deletes2,
            labels_ac,
            labels_ac_ids: labels.into_iter().map(|(_, i)| i).collect(),
            domains_ac,
            domains_ac_ids: domains_for_ac,
        }
    }

    pub(crate) fn brand_count(&self) -> usize {
        self.brands.len()
    }

    /// The brand owning `host` (canonical ASCII), if it or a parent domain is one of a brand's own
    /// domains, or its label is a brand's `label.*` under an ICANN suffix.
    pub(crate) fn owner(
        &self,
        host: &str,
        registrable: Option<&str>,
        label: Option<&str>,
        kind: SuffixKind,
    ) -> Option<usize> {
        let host = host.strip_suffix('.').unwrap_or(host);
        if let Some(&b) = self.own_hosts.get(host) {
            return Some(b);
        }
        // Parents down to the registrable domain, never into the public suffix: a brand that
        // owns a suffix (`gov.uk`) does not own every domain registered under it.
        if let Some(reg) = registrable {
            let mut h = host;
            while h.len() > reg.len() {
                match h.find('.') {
                    Some(i) => h = &h[i + 1..],
                    None => break,
                }
                if let Some(&b) = self.own_hosts.get(h) {
                    return Some(b);
                }
            }
        }
        if kind == SuffixKind::Icann
            && let Some(l) = label
            && let Some(&b) = self.own_labels.get(l)
        {
            return Some(b);
        }
        None
    }

    pub(crate) fn impersonation(&self, hit: Hit) -> Impersonation {
        let t = &self.targets[hit.target as usize];
        let b = &self.brands[t.brand];
        Impersonation {
            brand: b.name.clone(),
            domain: t.domain.clone(),
            category: b.category.clone(),
            technique: hit.technique,
        }
    }

    pub(crate) fn target_label_len(&self, hit: Hit) -> usize {
        self.targets[hit.target as usize].label.len()
    }

    pub(crate) fn target_common_word(&self, hit: Hit) -> bool {
        self.targets[hit.target as usize].common_word
    }

    /// Better of two hits for the same label: the longer brand label, then the earlier target.
    fn prefer(&self, a: Option<Hit>, b: Hit) -> Option<Hit> {
        match a {
            None => Some(b),
            Some(a) => {
                let la = self.targets[a.target as usize].label.len();
                let lb = self.targets[b.target as usize].label.len();
                if lb > la || (lb == la && b.target < a.target) {
                    Some(b)
                } else {
                    Some(a)
                }
            }
        }
    }

    /// The preferred candidate (see [`Self::prefer`]) among `ids` whose brand label has at least
    /// `min_len` characters, reported with `technique`.
    fn best_of(&self, ids: &[u32], min_len: usize, technique: Technique) -> Option<Hit> {
        ids.iter()
            .filter(|&&id| self.label_len(id) >= min_len)
            .fold(None, |best, &target| {
                self.prefer(best, Hit { target, technique })
            })
    }

    fn label_len(&self, id: u32) -> usize {
        self.targets[id as usize].label.len()
    }

    /// Untwist one registrable label. `ascii` is the label as in the host (punycode for IDNs),
    /// `unicode` its Unicode form and `s` the strong fold of that. `private` says the suffix is a
    /// shared-hosting platform.
    pub(crate) fn untwist_folded(
        &self,
        ascii: &str,
        unicode: &str,
        s: &str,
        private: bool,
    ) -> Option<Hit> {
        if ascii.len() < 3 || ascii.len() > 63 {
            return None;
        }
        // 1. The brand's exact label under another suffix.
        if let Some(ids) = self.exact.get(ascii) {
            let technique = if private {
                Technique::SharedHosting
            } else {
                Technique::TldSwap
            };
            if let Some(h) = self.best_of(ids, 4, technique) {
                return Some(h);
            }
        }
        // 2. Same strong fold: a homoglyph.
        if let Some(ids) = self.strong.get(s) {
            let technique = if unicode.is_ascii() {
                Technique::Homoglyph
            } else if whole_script(unicode) {
                Technique::WholeScript
            } else {
                Technique::IdnHomoglyph
            };
            let min = if unicode.is_ascii() { 4 } else { 3 };
            if let Some(h) = self.best_of(ids, min, technique) {
                return Some(h);
            }
        }
        // 3. One edit away, as written or on the strong fold.
        if let Some(h) = self.edit_one(s).or_else(|| {
            if unicode != s {
                self.edit_one(&unicode.to_lowercase())
            } else {
                None
            }
        }) {
            return Some(h);
        }
        // 4. Same weak fold: weaker look-alikes, longer labels only.
        if s.chars().count() >= 5
            && let Some(ids) = self.weak.get(&fold::weak(s))
        {
            if let Some(h) = self.best_of(ids, 5, Technique::Homoglyph) {
                return Some(h);
            }
        }
        // 5. Two edits of a long label (on the weak fold).
        if let Some(h) = self.edit_two(unicode, s) {
            return Some(h);
        }
        // 6. The brand inside a longer label.
        self.combo(s)
    }

    /// Labels within two edits (optimal string alignment distance on the weak fold) of a target
    /// label of 8 characters or more. Two plain typos count only for labels of 10 or more; for
    /// shorter ones at least one edit must be a look-alike, so that real words a couple of letters
    /// from a brand (`telegraph`, `telegram`) stay apart.
    fn edit_two(&self, written: &str, s: &str) -> Option<Hit> {
        let w = fold::weak(s);
        let n = w.chars().count();
        if !(6..=40).contains(&n) {
            return None;
        }
        let written = written.to_lowercase();
        let mut best: Option<Hit> = None;
        let mut seen: Vec<u32> = Vec::new();
        let mut probe = |key: &str, best: &mut Option<Hit>| {
            let Some(ids) = self.deletes2.get(key) else {
                return;
            };
            for &id in ids {
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id);
                let t = &self.targets[id as usize];
                let folded = osa_distance(&w, &t.weak);
                if folded > 2 {
                    continue;
                }
                let technique = if osa_distance(&written, &t.label) > folded {
                    Technique::Homoglyph
                } else if t.label.len() >= 10 {
                    Technique::Typo
                } else {
                    continue;
                };
                *best = self.prefer(
                    *best,
                    Hit {
                        target: id,
                        technique,
                    },
                );
            }
        };
        probe(&w, &mut best);
        let mut b1 = String::with_capacity(w.len());
        let mut b2 = String::with_capacity(w.len());
        for (i, c) in w.char_indices() {
            b1.clear();
            b1.push_str(&w[..i]);
            b1.push_str(&w[i + c.len_utf8()..]);
            probe(&b1, &mut best);
            for (j, d) in b1.char_indices() {
                if j < i {
                    // Deleting j then i or i then j gives the same string; do it once.
                    continue;
                }
                b2.clear();
                b2.push_str(&b1[..j]);
                b2.push_str(&b1[j + d.len_utf8()..]);
                probe(&b2, &mut best);
            }
        }
        best
    }

    fn edit_one(&self, s: &str) -> Option<Hit> {
        let n = s.chars().count();
        if n < 3 {
            return None;
        }
        let mut best: Option<Hit> = None;
        let mut seen: Vec<u32> = Vec::new();
        let mut probe = |key: &str, best: &mut Option<Hit>| {
            if let Some(ids) = self.deletes.get(key) {
                for &id in ids {
                    if seen.contains(&id) {
                        continue;
                    }
                    seen.push(id);
                    let t = &self.targets[id as usize];
                    if t.label.len() < 4 {
                        continue;
                    }
                    let technique =
                        classify_edit(s, &t.label).or_else(|| classify_edit(s, &t.strong));
                    if let Some(technique) = technique {
                        *best = self.prefer(
                            *best,
                            Hit {
                                target: id,
                                technique,
                            },
                        );
                    }
                }
            }
        };
        probe(s, &mut best);
        let mut buf = String::with_capacity(s.len());
        for (i, c) in s.char_indices() {
            buf.clear();
            buf.push_str(&s[..i]);
            buf.push_str(&s[i + c.len_utf8()..]);
            probe(&buf, &mut best);
        }
        best
    }

    /// The brand's (strong-folded) label inside `s` with only lure words, host fragments, or
    /// hyphen-separated words around it.
    fn combo(&self, s: &str) -> Option<Hit> {
        let ac = self.labels_ac.as_ref()?;
        let mut best: Option<(u8, Hit)> = None;
        for m in ac.find_overlapping_iter(s) {
            let id = self.labels_ac_ids[m.pattern().as_usize()];
            let (start, end) = (m.start(), m.end());
            let klen = end - start;
            let before = &s[..start];
            let after = &s[end..];
            let delimited =
                (start == 0 || before.ends_with('-')) && (end == s.len() || after.starts_with('-'));
            if klen < 4 && !delimited {
                continue;
            }
            let rest = format!("{before}-{after}");
            let before_t = before.trim_end_matches('-');
            let after_t = after.trim_start_matches('-');
            let (rank, technique) =
                if matches!(before_t, "w" | "ww" | "www" | "wwww") && after_t.is_empty() {
                    (3, Technique::WwwSquat)
                } else if before_t.is_empty()
                    && !after_t.is_empty()
                    && fold::segments_into(after_t, fold::HOST_FRAGMENTS)
                {
                    (3, Technique::MissingDot)
                } else if fold::segments_into(&rest, fold::lure_vocabulary()) {
                    (2, Technique::Combosquat)
                } else if (delimited && klen >= 4)
                    || (klen >= 6 && !self.targets[id as usize].common_word)
                {
                    // A hyphen-separated word, or a long, distinctive brand name glued to others.
                    (1, Technique::BrandToken)
                } else {
                    continue;
                };
            let hit = Hit {
                target: id,
                technique,
            };
            best = match best {
                None => Some((rank, hit)),
                Some((r, _)) if rank > r => Some((rank, hit)),
                Some((r, b)) if rank == r => self.prefer(Some(b), hit).map(|h| (r, h)),
                keep => keep,
            };
        }
        if let Some((_, h)) = best {
            return Some(h);
        }
        // A typo of the brand as one hyphen-separated word, the rest lure words
        // (`paypai-login`).
        if s.contains('-') {
            let parts: Vec<&str> = s.split('-').filter(|p| !p.is_empty()).collect();
            for (i, p) in parts.iter().enumerate() {
                if p.chars().count() < 5 {
                    continue;
                }
                let rest: Vec<&str> = parts
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, x)| *x)
                    .collect();
                if rest.is_empty() || !fold::segments_into(&rest.join("-"), fold::LURE_WORDS) {
                    continue;
                }
                let hit = self
                    .strong
                    .get(*p)
                    .and_then(|ids| ids.first().copied())
                    .map(|id| Hit {
                        target: id,
                        technique: Technique::Combosquat,
                    })
                    .or_else(|| {
                        self.edit_one(p).map(|h| Hit {
                            target: h.target,
                            technique: Technique::Combosquat,
                        })
                    });
                if hit.is_some() {
                    return hit;
                }
            }
        }
        None
    }

    /// A dot inserted inside a brand label: `pay.pal.com` (`left` is the last subdomain label).
    pub(crate) fn untwist_dot(&self, left: &str, label: &str) -> Option<Hit> {
        if left.is_empty() || left == "www" {
            return None;
        }
        let joined = format!("{left}{label}");
        let s = fold::strong(&joined);
        let ids = self.exact.get(&joined).or_else(|| self.strong.get(&s))?;
        self.best_of(ids, 5, Technique::DotInsertion)
    }

    /// A brand's own domain written as labels of `text` (a subdomain, user-info or path),
    /// bounded by non-domain characters: `paypal.com.secure.xyz`, `/www.paypal.com/`.
    pub(crate) fn own_domain_in(&self, text: &str) -> Option<(usize, String)> {
        let ac = self.domains_ac.as_ref()?;
        for m in ac.find_overlapping_iter(text) {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            let boundary =
                |c: Option<char>| c.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-'));
            if boundary(before) && boundary(after) {
                let (b, d) = &self.domains_ac_ids[m.pattern().as_usize()];
                return Some((*b, d.clone()));
            }
        }
        None
    }

    /// A brand's label as a whole subdomain label, or the label with lure words around it.
    pub(crate) fn brand_label_in_subdomain(&self, sub_label: &str) -> Option<Hit> {
        if sub_label.len() < 3 || sub_label == "www" {
            return None;
        }
        let s = fold::strong(sub_label);
        if let Some(ids) = self.strong.get(&s) {
            if let Some(h) = self.best_of(ids, 3, Technique::BrandInSubdomain) {
                return Some(h);
            }
        }
        match self.combo(&s) {
            Some(h) if matches!(h.technique, Technique::Combosquat | Technique::WwwSquat) => {
                Some(Hit {
                    target: h.target,
                    technique: Technique::BrandInSubdomain,
                })
            }
            _ => None,
        }
    }

    pub(crate) fn brand(&self, i: usize) -> Option<&Brand> {
        self.brands.get(i)
    }
}

/// All strings made by deleting one character of `s`.
fn deletions(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    for i in 0..chars.len() {
        let mut d = String::with_capacity(s.len());
        d.extend(chars[..i].iter());
        d.extend(chars[i + 1..].iter());
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions), on characters.
pub(crate) fn osa_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

/// Whether a label is written entirely in one non-Latin script (Cyrillic, Greek…) apart from
/// digits and hyphens.
fn whole_script(label: &str) -> bool {
    use unicode_security::MixedScript;
    let letters: String = label.chars().filter(|c| c.is_alphabetic()).collect();
    !letters.is_empty()
        && !letters.is_ascii()
        && letters.is_single_script()
        && !letters.chars().any(|c| c.is_ascii_alphabetic())
        && !letters.chars().any(is_latin)
}

fn is_latin(c: char) -> bool {
    use unicode_script::{Script, UnicodeScript};
    c.script() == Script::Latin
}

/// Classify a single edit turning brand label `k` into `q` (both strong-folded).
pub(crate) fn classify_edit(q: &str, k: &str) -> Option<Technique> {
    let q: Vec<char> = q.chars().collect();
    let k: Vec<char> = k.chars().collect();
    if q.len() + 1 == k.len() {
        let i = (0..q.len()).find(|&i| q[i] != k[i]).unwrap_or(q.len());
        return (q[i..] == k[i + 1..]).then_some(Technique::Omission);
    }
    if q.len() == k.len() + 1 {
        let i = (0..k.len()).find(|&i| q[i] != k[i]).unwrap_or(k.len());
        if q[i + 1..] != k[i..] {
            return None;
        }
        let c = q[i];
        let t = if c == '-' {
            Technique::Hyphenation
        } else if (i > 0 && q[i - 1] == c) || q.get(i + 1) == Some(&c) {
            Technique::Repetition
        } else if i == k.len() {
            Technique::Addition
        } else {
            Technique::Insertion
        };
        return Some(t);
    }
    if q.len() != k.len() {
        return None;
    }
    let diffs: Vec<usize> = (0..q.len()).filter(|&i| q[i] != k[i]).collect();
    match diffs.as_slice() {
        [i] => {
            let (a, b) = (k[*i], q[*i]);
            Some(if fold::weak_pair(a, b) {
                Technique::Homoglyph
            } else if fold::keyboard_neighbours(a, b) {
                Technique::Replacement
            } else if fold::is_vowel(a) && fold::is_vowel(b) {
                Technique::VowelSwap
            } else if (a as u32 ^ b as u32).count_ones() == 1 {
                Technique::Bitsquatting
            } else {
                Technique::Replacement
            })
        }
        [i, j] if *j == i + 1 && q[*i] == k[*j] && q[*j] == k[*i] => Some(Technique::Transposition),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_single_edits() {
        let c = |q, k| classify_edit(q, k);
        assert_eq!(c("paypl", "paypal"), Some(Technique::Omission));
        assert_eq!(c("paypall", "paypal"), Some(Technique::Repetition));
        assert_eq!(c("paypla", "paypal"), Some(Technique::Transposition));
        assert_eq!(c("paypak", "paypal"), Some(Technique::Replacement));
        assert_eq!(c("paypel", "paypal"), Some(Technique::VowelSwap));
        assert_eq!(c("pay-pal", "paypal"), Some(Technique::Hyphenation));
        assert_eq!(c("paypalx", "paypal"), Some(Technique::Addition));
        assert_eq!(c("payxpal", "paypal"), Some(Technique::Insertion));
        assert_eq!(c("paypcl", "paypal"), Some(Technique::Bitsquatting));
        assert_eq!(c("oaypal", "paypal"), Some(Technique::Replacement));
        assert_eq!(c("qaypal", "paypal"), Some(Technique::Bitsquatting));
        assert_eq!(c("paypal", "paypal"), None);
        assert_eq!(c("pxypxl", "paypal"), None);
        assert_eq!(c("", "a"), Some(Technique::Omission));
    }

    #[test]
    fn osa() {
        assert_eq!(osa_distance("bankofamerica", "bankofamerica"), 0);
        assert_eq!(osa_distance("bankofamreica", "bankofamerica"), 1);
        assert_eq!(osa_distance("banlcofamerica", "bankofamerica"), 2);
        assert_eq!(osa_distance("", "abc"), 3);
    }
}
