//! The judge: one URL in, a verdict with a score and reasons out.

use crate::brands::BrandList;
use crate::fold;
use crate::host;
use crate::psl::{SuffixKind, SuffixList};
use crate::untwist::{BrandIndex, Hit, Impersonation, Technique};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use std::fmt;
use url::{Host, Url};

/// Score at or above which a URL is `suspicious`.
pub const SUSPICIOUS_AT: u8 = 30;
/// Score at or above which a URL is `malicious`.
pub const MALICIOUS_AT: u8 = 70;
/// Longest input shown back in a verdict's `url` field when it could not be parsed.
const SHOW_MAX: usize = 2048;
/// How deep open-redirect targets are followed.
const REDIRECT_DEPTH: u8 = 2;

/// The overall judgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Nothing, or only informational signals.
    Safe,
    /// Signals worth a look; not enough to block.
    Suspicious,
    /// Built to deceive: block or warn.
    Malicious,
}

impl Level {
    /// The lowercase name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Safe => "safe",
            Level::Suspicious => "suspicious",
            Level::Malicious => "malicious",
        }
    }

    /// The level for a score (see [`SUSPICIOUS_AT`] and [`MALICIOUS_AT`]).
    pub fn from_score(score: u8) -> Level {
        if score >= MALICIOUS_AT {
            Level::Malicious
        } else if score >= SUSPICIOUS_AT {
            Level::Suspicious
        } else {
            Level::Safe
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a URL got its score. Each trick has its own code; codes never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonCode {
    /// The host is one of a protected brand's own domains (score 0).
    OfficialDomain,
    /// User-info before the host (`https://user:pass@host`).
    Userinfo,
    /// User-info that looks like a domain, hiding the real host (`https://ftc.gov@evil.example`).
    UserinfoDomain,
    /// A brand's label or domain in a subdomain of another domain (`paypal.com.secure-login.xyz`).
    BrandInSubdomain,
    /// A brand's domain in the path or query of another domain.
    BrandInPath,
    /// The host is an IP address.
    IpHost,
    /// The host is an IPv4 address written as a number, in hex or octal, or shortened.
    IpObfuscated,
    /// The host has punycode (IDN) labels.
    Punycode,
    /// A label mixes scripts (UTS #39 restriction level below "highly restrictive").
    MixedScript,
    /// A label entirely in another script whose skeleton is Latin (`аррӏе`).
    WholeScriptConfusable,
    /// A Unicode look-alike of a brand's label (UTS #39 skeleton match).
    Confusable,
    /// A typosquat of a brand: an edit, an ASCII homoglyph, a TLD swap, a dot or `www` trick.
    Typosquat,
    /// A brand's label plus lure words (`paypal-secure-login`).
    Combosquat,
    /// A brand's label as a hyphen-separated word of another domain (`paypal-shop`).
    BrandToken,
    /// A brand's exact label on a shared-hosting platform (`paypal.github.io`).
    BrandOnSharedHost,
    /// A `data:` URL.
    DataUrl,
    /// A `javascript:` or `vbscript:` URL.
    ScriptUrl,
    /// A very long host name.
    LongHost,
    /// Many nested subdomains.
    DeepSubdomain,
    /// A very long URL.
    LongUrl,
    /// A redirect parameter pointing to another site.
    OpenRedirect,
    /// Percent-escapes in the host as written (`exa%6dple.com`).
    EncodedHost,
    /// A host the WHATWG/IDNA rules reject, e.g. invalid punycode.
    InvalidHost,
    /// The suffix is not on the Public Suffix List.
    UnlistedSuffix,
    /// The input is not a URL that could be parsed (score 0; see `error`).
    Unparsable,
    /// A lookalike name under a suffix only public bodies can register (`gov`, `gov.uk`, `edu`…):
    /// it cannot belong to an impostor (score 0).
    RestrictedSuffix,
}

impl ReasonCode {
    /// The kebab-case code used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::OfficialDomain => "official-domain",
            ReasonCode::Userinfo => "userinfo",
            ReasonCode::UserinfoDomain => "userinfo-domain",
            ReasonCode::BrandInSubdomain => "brand-in-subdomain",
            ReasonCode::BrandInPath => "brand-in-path",
            ReasonCode::IpHost => "ip-host",
            ReasonCode::IpObfuscated => "ip-obfuscated",
            ReasonCode::Punycode => "punycode",
            ReasonCode::MixedScript => "mixed-script",
            ReasonCode::WholeScriptConfusable => "whole-script-confusable",
            ReasonCode::Confusable => "confusable",
            ReasonCode::Typosquat => "typosquat",
            ReasonCode::Combosquat => "combosquat",
            ReasonCode::BrandToken => "brand-token",
            ReasonCode::BrandOnSharedHost => "brand-on-shared-host",
            ReasonCode::DataUrl => "data-url",
            ReasonCode::ScriptUrl => "script-url",
            ReasonCode::LongHost => "long-host",
            ReasonCode::DeepSubdomain => "deep-subdomain",
            ReasonCode::LongUrl => "long-url",
            ReasonCode::OpenRedirect => "open-redirect",
            ReasonCode::EncodedHost => "encoded-host",
            ReasonCode::InvalidHost => "invalid-host",
            ReasonCode::UnlistedSuffix => "unlisted-suffix",
            ReasonCode::Unparsable => "unparsable",
            ReasonCode::RestrictedSuffix => "restricted-suffix",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason, with the points it added to the score.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// Stable code.
    pub code: ReasonCode,
    /// Points added (the total is capped at 100).
    pub score: u8,
    /// One human sentence.
    pub message: String,
}

/// The judgement of one URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The URL as parsed and normalised (WHATWG serialisation, password redacted); the input
    /// itself (shortened past 2,048 bytes) when it could not be parsed.
    pub url: String,
    /// The host in canonical ASCII form (IDN labels in punycode, no trailing dot).
    pub host: Option<String>,
    /// The host in Unicode, when it has IDN labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_unicode: Option<String>,
    /// The registrable domain: the label left of the public suffix, plus the suffix.
    pub registrable_domain: Option<String>,
    /// The public suffix (ICANN or PRIVATE section of the list).
    pub public_suffix: Option<String>,
    /// `safe`, `suspicious` or `malicious`.
    pub verdict: Level,
    /// 0–100.
    pub score: u8,
    /// The protected brand this URL imitates, if any. Also set, with a `restricted-suffix`
    /// reason and no score, when the name resembles a brand under a suffix no impostor can
    /// register (`medlcare.gov`).
    pub impersonates: Option<Impersonation>,
    /// Why; highest score first.
    pub reasons: Vec<Reason>,
    /// Why the input could not be judged fully (not a URL, invalid host…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Verdict {
    /// Whether a reason with this code was given.
    pub fn has(&self, code: ReasonCode) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }

    /// The codes of all reasons, highest score first.
    pub fn codes(&self) -> Vec<ReasonCode> {
        self.reasons.iter().map(|r| r.code).collect()
    }
}

/// What a [`Judge`] knows: the protected brands and the Public Suffix List.
#[derive(Debug, Default)]
pub struct JudgeConfig {
    /// Brands to protect (defaults to [`BrandList::builtin`]; see [`JudgeConfig::builtin`]).
    pub brands: BrandList,
    /// The suffix list (`None`: the built-in one).
    pub psl: Option<SuffixList>,
}

impl JudgeConfig {
    /// The built-in brands and suffix list.
    pub fn builtin() -> JudgeConfig {
        JudgeConfig {
            brands: BrandList::builtin(),
            psl: None,
        }
    }

    /// Add brands (e.g. from `--brands FILE`) after the current ones.
    pub fn with_brands(mut self, more: BrandList) -> JudgeConfig {
        self.brands.extend(more);
        self
    }

    /// Use another suffix list (e.g. from `--psl FILE`).
    pub fn with_psl(mut self, psl: SuffixList) -> JudgeConfig {
        self.psl = Some(psl);
        self
    }
}

/// The URL judge. Build once (it indexes the brands), then share: `judge` takes `&self` and the
/// judge is `Send + Sync`.
pub struct Judge {
    psl: SuffixList,
    index: BrandIndex,
}

impl Default for Judge {
    fn default() -> Self {
        Judge::new(JudgeConfig::builtin())
    }
}

impl fmt::Debug for Judge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Judge")
            .field("psl", &self.psl)
            .field("brands", &self.index.brand_count())
            .finish()
    }
}

struct Acc {
    reasons: Vec<Reason>,
    impersonates: Option<(u8, Impersonation)>,
}

impl Acc {
    fn add(&mut self, code: ReasonCode, score: u8, message: impl Into<String>) {
        self.reasons.push(Reason {
            code,
            score,
            message: message.into(),
        });
    }

    fn claim(&mut self, score: u8, imp: Impersonation) {
        if self.impersonates.as_ref().is_none_or(|(s, _)| score > *s) {
            self.impersonates = Some((score, imp));
        }
    }
}

/// Query parameter names that carry a redirect target.
const REDIRECT_PARAMS: &[&str] = &[
    "url",
    "u",
    "uri",
    "redirect",
    "redirecturl",
    "redirecturi",
    "redir",
    "r",
    "next",
    "continue",
    "dest",
    "destination",
    "target",
    "return",
    "returnto",
    "returnurl",
    "returnpath",
    "goto",
    "go",
    "to",
    "out",
    "link",
    "forward",
    "rurl",
    "ret",
    "exit",
    "jump",
    "site",
    "service",
    "ref",
    "callbackurl",
    "successurl",
    "backurl",
    "checkout",
    "q",
];

/// Words in a path that make a brand mention look like a login lure.
const PATH_LURES: &[&str] = &[
    "login",
    "signin",
    "sign-in",
    "logon",
    "verify",
    "verification",
    "account",
    "secure",
    "password",
    "update",
    "billing",
    "confirm",
    "unlock",
    "auth",
    "session",
    "wallet",
    "webscr",
];

impl Judge {
    /// Build a judge: index the brands against the suffix list.
    pub fn new(config: JudgeConfig) -> Judge {
        let psl = config.psl.unwrap_or_default();
        let index = BrandIndex::new(&config.brands, &psl);
        Judge { psl, index }
    }

    /// The suffix list in use.
    pub fn suffix_list(&self) -> &SuffixList {
        &self.psl
    }

    /// Judge one URL. Never panics; input that is not a URL gets a `safe` verdict with `error`
    /// set (and `suspicious` when the failure itself is a trick, such as invalid punycode).
    /// Scheme-less input such as `paypa1.com/login` is read as `http://paypa1.com/login`.
    pub fn judge(&self, input: &str) -> Verdict {
        self.judge_at(input, 0)
    }

    fn judge_at(&self, input: &str, depth: u8) -> Verdict {
        let mut acc = Acc {
            reasons: Vec::new(),
            impersonates: None,
        };
        // WHATWG: strip leading/trailing C0 controls and spaces; remove tabs and newlines.
        let trimmed = input.trim_matches(|c: char| c <= ' ');
        let cleaned;
        let text: &str = if trimmed.contains(['\t', '\n', '\r']) {
            cleaned = trimmed.replace(['\t', '\n', '\r'], "");
            &cleaned
        } else {
            trimmed
        };
        if text.is_empty() {
            acc.add(ReasonCode::Unparsable, 0, "empty input");
            return finish(shown(input), acc, Some("empty input".into()));
        }
        if text.len() > 4096 && !starts_with_ci(text, "data:") {
            acc.add(
                ReasonCode::LongUrl,
                15,
                format!("the URL is {} bytes long", text.len()),
            );
        }
        if starts_with_ci(text, "javascript:") || starts_with_ci(text, "vbscript:") {
            acc.add(
                ReasonCode::ScriptUrl,
                80,
                "a script URL runs code in the page that opens it",
            );
            return finish(shown(text), acc, None);
        }
        if starts_with_ci(text, "data:") {
            let mime = text[5..]
                .split([',', ';'])
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let active = mime.is_empty()
                || mime.contains("html")
                || mime.contains("svg")
                || mime.contains("javascript")
                || mime.contains("ecmascript")
                || mime.contains("xml");
            if active {
                acc.add(
                    ReasonCode::DataUrl,
                    75,
                    format!(
                        "a data: URL with active content ({}) can carry a whole phishing page",
                        if mime.is_empty() {
                            "text/plain, sniffed"
                        } else {
                            &mime
                        }
                    ),
                );
            } else {
                acc.add(
                    ReasonCode::DataUrl,
                    10,
                    format!("a data: URL ({mime}) embeds its content"),
                );
            }
            return finish(shown(text), acc, None);
        }

        let parsed = match Url::parse(text) {
            Ok(u) => Ok((u, std::borrow::Cow::Borrowed(text))),
            Err(url::ParseError::RelativeUrlWithoutBase) if looks_like_host(text) => {
                let with_scheme = format!("http://{text}");
                Url::parse(&with_scheme).map(|u| (u, std::borrow::Cow::Owned(with_scheme)))
            }
            Err(e) => Err(e),
        };
        let (url, source) = match parsed {
            Ok(u) => u,
            Err(e) => {
                let msg = format!("not a valid URL: {e}");
                if matches!(
                    e,
                    url::ParseError::IdnaError | url::ParseError::InvalidDomainCharacter
                ) && (text.to_ascii_lowercase().contains("xn--") || !text.is_ascii())
                {
                    acc.add(
                        ReasonCode::InvalidHost,
                        40,
                        "the host is not a valid internationalised name (invalid punycode or forbidden characters)",
                    );
                } else {
                    acc.add(ReasonCode::Unparsable, 0, msg.clone());
                }
                return finish(shown(text), acc, Some(msg));
            }
        };
        let raw_host = host::raw_authority(&source)
            .map(|a| a.host.to_string())
            .unwrap_or_default();

        let mut verdict = blank(String::new());
        let mut owner = None;

        // User-info before the host.
        let user = percent_decode_str(url.username())
            .decode_utf8_lossy()
            .to_string();
        let has_password = url.password().is_some();
        if !user.is_empty() || has_password {
            if user.contains('.') {
                let mut msg = format!(
                    "`{user}@` before the host makes the link look like it goes to `{user}`"
                );
                if let Some((b, d)) = self.index.own_domain_in(&user.to_ascii_lowercase())
                    && let Some(brand) = self.index.brand(b)
                {
                    msg.push_str(&format!(" ({})", brand.name));
                    acc.claim(
                        75,
                        Impersonation {
                            brand: brand.name.clone(),
                            domain: d,
                            category: brand.category.clone(),
                            technique: Technique::Userinfo,
                        },
                    );
                }
                acc.add(ReasonCode::UserinfoDomain, 75, msg);
            } else {
                acc.add(
                    ReasonCode::Userinfo,
                    30,
                    "the URL carries user-info (a user name or password) before the host",
                );
            }
        }

        match url.host() {
            None => {}
            Some(Host::Ipv4(ip)) => {
                verdict.host = Some(ip.to_string());
                if let Some(form) = host::ipv4_obfuscation(&raw_host) {
                    acc.add(
                        ReasonCode::IpObfuscated,
                        75,
                        format!(
                            "the host is the IPv4 address {ip} written as {form} (`{}`), a form used to hide it",
                            shorten(&raw_host, 64)
                        ),
                    );
                } else if host::ipv4_is_local(ip) {
                    acc.add(
                        ReasonCode::IpHost,
                        10,
                        format!("the host is the local or private IP address {ip}"),
                    );
                } else {
                    acc.add(
                        ReasonCode::IpHost,
                        35,
                        format!("the host is a bare IP address ({ip}) instead of a domain name"),
                    );
                }
            }
            Some(Host::Ipv6(ip)) => {
                verdict.host = Some(format!("[{ip}]"));
                let local = host::ipv6_is_local(ip);
                acc.add(
                    ReasonCode::IpHost,
                    if local { 10 } else { 35 },
                    format!("the host is the IPv6 address {ip}"),
                );
            }
            Some(Host::Domain(d)) => {
                let d = d.strip_suffix('.').unwrap_or(d);
                owner = self.judge_domain(d, &raw_host, &mut verdict, &mut acc);
            }
        }

        // The brand's domain in the path or query of another site.
        if owner.is_none() {
            let mut tail = String::from(url.path());
            if let Some(q) = url.query() {
                tail.push('?');
                tail.push_str(q);
            }
            let decoded = percent_decode_str(&tail)
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            if let Some((b, d)) = self.index.own_domain_in(&decoded)
                && let Some(brand) = self.index.brand(b)
            {
                let lure = PATH_LURES.iter().any(|w| decoded.contains(w));
                acc.add(
                    ReasonCode::BrandInPath,
                    if lure { 40 } else { 25 },
                    format!(
                        "the path or query names {} (`{d}`){} but the site is another one",
                        brand.name,
                        if lure { " next to login words" } else { "" }
                    ),
                );
                acc.claim(
                    if lure { 40 } else { 25 },
                    Impersonation {
                        brand: brand.name.clone(),
                        domain: d,
                        category: brand.category.clone(),
                        technique: Technique::BrandInPath,
                    },
                );
            }
        }

        // Open redirects.
        if url.query().is_some() {
            self.redirects(&url, &verdict, owner.is_some(), depth, &mut acc);
        }

        // Show the URL with any password redacted.
        let mut shown_url = url.clone();
        if has_password {
            let _ = shown_url.set_password(Some("****"));
        }
        let s = shown_url.to_string();
        verdict.url = if s.len() > SHOW_MAX {
            shorten(&s, SHOW_MAX)
        } else {
            s
        };
        if owner.is_some() {
            // A brand's own domain is never flagged; only a redirect to a malicious page counts.
            acc.reasons.retain(|r| {
                r.code == ReasonCode::OfficialDomain
                    || (r.code == ReasonCode::OpenRedirect && r.score >= MALICIOUS_AT)
            });
            if !acc
                .reasons
                .iter()
                .any(|r| r.code == ReasonCode::OpenRedirect)
            {
                acc.impersonates = None;
            }
        }
        let mut v = finish(verdict, acc, None);
        v.error = None;
        v
    }

    /// Domain-host checks. Returns the owning brand's index when the host is a brand's own.
    fn judge_domain(
        &self,
        d: &str,
        raw_host: &str,
        verdict: &mut Verdict,
        acc: &mut Acc,
    ) -> Option<usize> {
        verdict.host = Some(d.to_string());
        let has_idn = d.contains("xn--");
        let unicode_host = if has_idn {
            let (u, _) = idna::domain_to_unicode(d);
            verdict.host_unicode = Some(u.clone());
            u
        } else {
            d.to_string()
        };
        if raw_host.contains('%') {
            acc.add(
                ReasonCode::EncodedHost,
                40,
                format!(
                    "the host is written with percent-escapes (`{}`), hiding the name it decodes to",
                    shorten(raw_host, 64)
                ),
            );
        }
        let split = self.psl.split(d);
        let (label, kind, subdomain) = match split {
            Some(s) => {
                verdict.public_suffix = Some(s.suffix.to_string());
                verdict.registrable_domain = s.registrable.map(str::to_string);
                (s.label(), s.kind, s.subdomain)
            }
            None => (None, SuffixKind::Unlisted, ""),
        };
        if let Some(b) = self
            .index
            .owner(d, verdict.registrable_domain.as_deref(), label, kind)
        {
            let name = self.index.brand(b).map(|b| b.name.as_str()).unwrap_or("");
            acc.add(
                ReasonCode::OfficialDomain,
                0,
                format!("an official domain of {name}"),
            );
            return Some(b);
        }
        if kind == SuffixKind::Unlisted && d.contains('.') {
            acc.add(
                ReasonCode::UnlistedSuffix,
                10,
                format!(
                    "`{}` is not a public suffix on the Public Suffix List",
                    verdict.public_suffix.as_deref().unwrap_or("")
                ),
            );
        }

        // IDN checks, label by label.
        let ulabels: Vec<&str> = unicode_host.split('.').collect();
        // Strong folds of the IDN labels, computed once (skeletons are the costly part).
        let folds: Vec<Option<String>> = ulabels
            .iter()
            .map(|l| (!l.is_ascii()).then(|| fold::strong(l)))
            .collect();
        let strong_of = |l: &str| -> String {
            ulabels
                .iter()
                .position(|x| *x == l)
                .and_then(|i| folds[i].clone())
                .unwrap_or_else(|| fold::strong(l))
        };
        let alabels: Vec<&str> = d.split('.').collect();
        if has_idn {
            acc.add(
                ReasonCode::Punycode,
                10,
                format!("the host has internationalised (punycode) labels: {unicode_host}"),
            );
            let mut mixed = false;
            let mut whole = false;
            for ul in &ulabels {
                if ul.is_ascii() {
                    continue;
                }
                use unicode_security::{RestrictionLevel, RestrictionLevelDetection};
                let level = ul.detect_restriction_level();
                if !mixed && level > RestrictionLevel::HighlyRestrictive {
                    mixed = true;
                    acc.add(
                        ReasonCode::MixedScript,
                        50,
                        format!(
                            "the label `{ul}` mixes scripts that are not normally written together"
                        ),
                    );
                }
                let sk = strong_of(ul);
                if !whole
                    && !native_script_suffix(suffix_of(&unicode_host, split))
                    && ul.chars().count() >= 3
                    && sk.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !ul.chars().any(|c| c.is_ascii_alphabetic())
                {
                    whole = true;
                    acc.add(
                        ReasonCode::WholeScriptConfusable,
                        45,
                        format!(
                            "the label `{ul}` is written in another script but reads as `{sk}`"
                        ),
                    );
                }
            }
        }

        // Lookalikes of the registrable label.
        let n = alabels.len();
        let sub_count = if subdomain.is_empty() {
            0
        } else {
            subdomain.split('.').count()
        };
        let reg_index = n.checked_sub(1 + split.map_or(1, |s| s.suffix.split('.').count()));
        let mut found: Option<Hit> = None;
        if let (Some(label), Some(ri)) = (label, reg_index) {
            let ulabel = ulabels.get(ri).copied().unwrap_or(label);
            let s = strong_of(ulabel);
            found = self
                .index
                .untwist_folded(label, ulabel, &s, kind == SuffixKind::Private);
            // `lloy.dsbank.com`: the brand's whole label across a dot beats a one-edit match of
            // the registrable label alone (`dsbank` ≈ `usbank`).
            let weak_hit = found.is_none_or(|h| {
                h.technique.is_typo()
                    || matches!(h.technique, Technique::Combosquat | Technique::BrandToken)
            });
            if weak_hit && sub_count > 0 && ri > 0 {
                let left = ulabels.get(ri - 1).copied().unwrap_or("");
                if let Some(h) = self.index.untwist_dot(left, ulabel) {
                    found = Some(h);
                }
            }
        }
        if let Some(hit) = found {
            let suffix = verdict.public_suffix.as_deref().unwrap_or("");
            if restricted_suffix(suffix) {
                let imp = self.index.impersonation(hit);
                acc.add(
                    ReasonCode::RestrictedSuffix,
                    0,
                    format!(
                        "`{d}` resembles {} ({}) by {}, but only public bodies can register under `{suffix}`",
                        imp.brand, imp.domain, imp.technique
                    ),
                );
                acc.claim(0, imp);
            } else {
                self.report_hit(hit, d, acc);
            }
        }

        // A brand in the subdomain of another domain.
        if sub_count > 0 {
            if let Some((b, dom)) = self.index.own_domain_in(subdomain)
                && let Some(brand) = self.index.brand(b)
            {
                acc.add(
                    ReasonCode::BrandInSubdomain,
                    75,
                    format!(
                        "`{dom}` ({}) appears as a subdomain of `{}`, which is not theirs",
                        brand.name,
                        verdict.registrable_domain.as_deref().unwrap_or(d)
                    ),
                );
                acc.claim(
                    75,
                    Impersonation {
                        brand: brand.name.clone(),
                        domain: dom,
                        category: brand.category.clone(),
                        technique: Technique::BrandInSubdomain,
                    },
                );
            } else {
                let sub_u: Vec<&str> = ulabels.iter().take(sub_count).copied().collect();
                for sl in &sub_u {
                    if let Some(hit) = self.index.brand_label_in_subdomain(sl) {
                        let imp = self.index.impersonation(hit);
                        let lure = label
                            .is_some_and(|l| fold::segments_into(l, fold::lure_vocabulary()))
                            || sub_u.iter().any(|x| {
                                *x != *sl && fold::segments_into(x, fold::lure_vocabulary())
                            });
                        // Three-letter names (`ftc`, `dhl`) are common subdomain words; they
                        // count only next to lure words.
                        if !lure && self.index.target_label_len(hit) < 4 {
                            continue;
                        }
                        let score = if lure { 70 } else { 45 };
                        acc.add(
                            ReasonCode::BrandInSubdomain,
                            score,
                            format!(
                                "the subdomain `{sl}` names {} ({}) on `{}`{}",
                                imp.brand,
                                imp.domain,
                                verdict.registrable_domain.as_deref().unwrap_or(d),
                                if lure { " next to lure words" } else { "" }
                            ),
                        );
                        acc.claim(score, imp);
                        break;
                    }
                }
            }
        }

        // Very long or deeply nested hosts.
        if d.len() > 80 {
            acc.add(
                ReasonCode::LongHost,
                25,
                format!("the host name is {} characters long", d.len()),
            );
        }
        if sub_count >= 4 {
            acc.add(
                ReasonCode::DeepSubdomain,
                20,
                format!("the host nests {sub_count} levels of subdomains"),
            );
        }
        None
    }

    fn report_hit(&self, hit: Hit, host: &str, acc: &mut Acc) {
        let imp = self.index.impersonation(hit);
        let len = self.index.target_label_len(hit);
        let word = self.index.target_common_word(hit);
        let t = hit.technique;
        let (code, mut score) = match t {
            Technique::IdnHomoglyph | Technique::WholeScript => (ReasonCode::Confusable, 90),
            Technique::Homoglyph => {
                // Strong-fold homoglyphs (digits for letters, rn for m) are deliberate.
                (ReasonCode::Typosquat, if len >= 6 { 85 } else { 75 })
            }
            Technique::TldSwap => (ReasonCode::Typosquat, if len >= 5 { 75 } else { 55 }),
            Technique::SharedHosting => (ReasonCode::BrandOnSharedHost, 45),
            Technique::WwwSquat | Technique::MissingDot => (ReasonCode::Typosquat, 80),
            Technique::DotInsertion => (ReasonCode::Typosquat, 70),
            Technique::Typo => (ReasonCode::Typosquat, 75),
            Technique::Combosquat => (ReasonCode::Combosquat, if len >= 4 { 80 } else { 70 }),
            Technique::BrandToken => (ReasonCode::BrandToken, 40),
            Technique::BrandInSubdomain => (ReasonCode::BrandInSubdomain, 45),
            _ => (
                ReasonCode::Typosquat,
                match len {
                    0..=4 => 45,
                    5 => 60,
                    6 => 75,
                    _ => 85,
                },
            ),
        };
        if word && (t.is_typo() || t == Technique::Homoglyph || t == Technique::TldSwap) {
            score = score.min(45);
        }
        let what = match code {
            ReasonCode::Confusable => "a Unicode look-alike",
            ReasonCode::Combosquat => "the brand's name plus lure words",
            ReasonCode::BrandToken => "the brand's name inside another name",
            ReasonCode::BrandOnSharedHost => "the brand's name on a shared-hosting platform",
            _ => "a typosquat",
        };
        acc.add(
            code,
            score,
            format!(
                "`{host}` imitates {} ({}): {what} ({})",
                imp.brand, imp.domain, t
            ),
        );
        acc.claim(score, imp);
    }

    fn redirects(&self, url: &Url, verdict: &Verdict, official: bool, depth: u8, acc: &mut Acc) {
        let here = verdict
            .registrable_domain
            .clone()
            .or_else(|| verdict.host.clone())
            .unwrap_or_default();
        for (k, v) in url.query_pairs().take(64) {
            let key: String = k
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            if !REDIRECT_PARAMS.contains(&key.as_str()) {
                continue;
            }
            let v = v.trim();
            let target = if starts_with_ci(v, "http://") || starts_with_ci(v, "https://") {
                v.to_string()
            } else if let Some(rest) = v.strip_prefix("//") {
                format!("https://{rest}")
            } else {
                continue;
            };
            let Ok(t) = Url::parse(&target) else { continue };
            let Some(th) = t.host_str() else { continue };
            let th = th.strip_suffix('.').unwrap_or(th);
            let there = self
                .psl
                .split(th)
                .and_then(|s| s.registrable)
                .unwrap_or(th)
                .to_string();
            if there == here {
                continue;
            }
            let inner = if depth < REDIRECT_DEPTH {
                Some(self.judge_at(&target, depth + 1))
            } else {
                None
            };
            match inner {
                Some(iv) if iv.verdict == Level::Malicious => {
                    let codes: Vec<&str> = iv.reasons.iter().map(|r| r.code.as_str()).collect();
                    acc.add(
                        ReasonCode::OpenRedirect,
                        75,
                        format!(
                            "parameter `{k}` redirects to `{there}`, which is malicious ({})",
                            codes.join(", ")
                        ),
                    );
                    if let Some(imp) = iv.impersonates {
                        acc.claim(74, imp);
                    }
                }
                _ if official => {}
                _ => acc.add(
                    ReasonCode::OpenRedirect,
                    30,
                    format!("parameter `{k}` redirects to another site, `{there}`"),
                ),
            }
            break;
        }
    }
}

/// The public suffix of a Unicode host, found by label count from the ASCII split.
fn suffix_of<'a>(unicode_host: &'a str, split: Option<crate::psl::Split<'_>>) -> &'a str {
    let n = split.map_or(1, |s| s.suffix.split('.').count());
    let mut idx = unicode_host.len();
    for _ in 0..n {
        match unicode_host[..idx].rfind('.') {
            Some(i) => idx = i,
            None => return unicode_host,
        }
    }
    &unicode_host[idx + 1..]
}

/// Whether a suffix belongs to a country or script community where labels in a non-Latin script
/// are the norm (an IDN suffix such as `рф`, or a ccTLD of a Cyrillic- or Greek-writing
/// country), so that an all-Cyrillic label there is not a disguise. Browsers apply the same rule
/// before showing such names in Unicode.
fn native_script_suffix(suffix: &str) -> bool {
    let tld = suffix.rsplit('.').next().unwrap_or(suffix);
    !tld.is_ascii()
        || matches!(
            tld,
            "ru" | "su"
                | "ua"
                | "by"
                | "kz"
                | "kg"
                | "mk"
                | "rs"
                | "bg"
                | "mn"
                | "tj"
                | "me"
                | "ba"
                | "gr"
                | "cy"
        )
}

/// Whether only public bodies can register names under `suffix`: the `gov`, `mil`, `edu` and
/// `int` top-level domains, and second-level government, military and academic suffixes of
/// country domains (`gov.uk`, `gouv.fr`, `gob.mx`, `go.jp`, `ac.uk`, `edu.au`…).
pub(crate) fn restricted_suffix(suffix: &str) -> bool {
    if matches!(suffix, "gov" | "mil" | "edu" | "int") {
        return true;
    }
    let labels: Vec<&str> = suffix.split('.').collect();
    labels.len() >= 2
        && labels[..labels.len() - 1].iter().any(|l| {
            matches!(
                *l,
                "gov" | "gouv" | "gob" | "govt" | "gv" | "go" | "mil" | "edu" | "ac" | "gc"
            )
        })
}

fn finish(mut v: Verdict, acc: Acc, error: Option<String>) -> Verdict {
    let mut reasons = acc.reasons;
    reasons.sort_by_key(|r| std::cmp::Reverse(r.score));
    let total: u32 = reasons.iter().map(|r| r.score as u32).sum();
    let score = total.min(100) as u8;
    v.score = score;
    v.verdict = Level::from_score(score);
    v.reasons = reasons;
    v.impersonates = acc.impersonates.map(|(_, i)| i);
    if error.is_some() {
        v.error = error;
    }
    v
}

/// The input as shown in a verdict when it could not be parsed: shortened, and with any password
/// in its user-info replaced by `****`.
fn shown(text: &str) -> Verdict {
    let mut t = shorten(text, SHOW_MAX);
    if let Some(i) = t.find("://") {
        let start = i + 3;
        let end = t[start..]
            .find(['/', '?', '#', '\\'])
            .map_or(t.len(), |e| start + e);
        if let Some(at) = t[start..end].rfind('@')
            && let Some(colon) = t[start..start + at].find(':')
        {
            t.replace_range(start + colon + 1..start + at, "****");
        }
    }
    blank(t)
}

/// A verdict for `url` with nothing found yet.
fn blank(url: String) -> Verdict {
    Verdict {
        url,
        host: None,
        host_unicode: None,
        registrable_domain: None,
        public_suffix: None,
        verdict: Level::Safe,
        score: 0,
        impersonates: None,
        reasons: Vec::new(),
        error: None,
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Whether scheme-less input starts with something shaped like a host name (`a.b`, maybe a port
/// and a path), so that `http://` can be assumed.
fn looks_like_host(s: &str) -> bool {
    let head = s.split(['/', '?', '#']).next().unwrap_or("");
    let host = head.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    host.contains('.')
        && !host.starts_with('.')
        && !host.contains(char::is_whitespace)
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '%'))
}
