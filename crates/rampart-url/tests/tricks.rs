//! The judge on a table of trick URLs (each with the reasons it must give), on legitimate URLs
//! that must stay safe, and on bad input that must never panic.

use rampart_url::{
    BrandList, Judge, JudgeConfig, Level, ReasonCode as R, SuffixList, Technique as T, find_urls,
};
use std::sync::{Arc, OnceLock};

fn judge() -> &'static Judge {
    static J: OnceLock<Judge> = OnceLock::new();
    J.get_or_init(Judge::default)
}

struct Case {
    url: &'static str,
    verdict: Level,
    reasons: &'static [R],
    brand: Option<(&'static str, T)>,
}

const fn c(
    url: &'static str,
    verdict: Level,
    reasons: &'static [R],
    brand: Option<(&'static str, T)>,
) -> Case {
    Case {
        url,
        verdict,
        reasons,
        brand,
    }
}

use Level::{Malicious as M, Safe as S, Suspicious as Sus};

const CASES: &[Case] = &[
    // User-info before the host.
    c(
        "https://ftc.gov@evil.example/login",
        M,
        &[R::UserinfoDomain],
        Some(("FTC", T::Userinfo)),
    ),
    c(
        "https://www.paypal.com@203.0.113.9/",
        M,
        &[R::UserinfoDomain, R::IpHost],
        Some(("PayPal", T::Userinfo)),
    ),
    c(
        "https://admin:secret@example.com/",
        Sus,
        &[R::Userinfo],
        None,
    ),
    // A brand in a subdomain of another domain.
    c(
        "https://paypal.com.secure-login.xyz/",
        M,
        &[R::BrandInSubdomain],
        Some(("PayPal", T::BrandInSubdomain)),
    ),
    c(
        "https://paypal.account-verify.top/",
        M,
        &[R::BrandInSubdomain],
        Some(("PayPal", T::BrandInSubdomain)),
    ),
    c(
        "https://appleid.apple.com.x9k2.ru/",
        M,
        &[R::BrandInSubdomain],
        Some(("Apple", T::BrandInSubdomain)),
    ),
    // A brand in the path or query of another domain.
    c(
        "https://evil.example/www.paypal.com/signin",
        Sus,
        &[R::BrandInPath],
        Some(("PayPal", T::BrandInPath)),
    ),
    c(
        "https://host.example.net/x?acct=chase.com&step=login",
        Sus,
        &[R::BrandInPath],
        Some(("JPMorgan Chase", T::BrandInPath)),
    ),
    // IP literals, plain and obfuscated.
    c("http://198.51.100.7/login", Sus, &[R::IpHost], None),
    c("http://3232235777/", M, &[R::IpObfuscated], None),
    c("http://0xC0A80101/", M, &[R::IpObfuscated], None),
    c("http://0300.0250.0001.0001/", M, &[R::IpObfuscated], None),
    c("http://127.1/", M, &[R::IpObfuscated], None),
    c("http://[2001:db8::1]/", Sus, &[R::IpHost], None),
    c("http://192.168.1.1/admin", S, &[R::IpHost], None),
    // Punycode, mixed scripts, confusables.
    c(
        "https://xn--pypal-4ve.com/",
        M,
        &[R::Confusable, R::MixedScript, R::Punycode],
        Some(("PayPal", T::IdnHomoglyph)),
    ),
    c(
        "https://раураӏ.com/",
        M,
        &[R::Confusable, R::WholeScriptConfusable],
        Some(("PayPal", T::WholeScript)),
    ),
    c(
        "https://аррӏе.com/",
        M,
        &[R::Confusable],
        Some(("Apple", T::WholeScript)),
    ),
    c(
        "https://gοogle.com/",
        M,
        &[R::Confusable, R::MixedScript],
        Some(("Google", T::IdnHomoglyph)),
    ),
    c(
        "https://pàypal.com/",
        M,
        &[R::Confusable],
        Some(("PayPal", T::IdnHomoglyph)),
    ),
    c(
        "https://ехаmple.com/",
        Sus,
        &[R::MixedScript, R::Punycode],
        None,
    ),
    // Typosquats, one technique each.
    c(
        "https://paypl.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::Omission)),
    ),
    c(
        "https://paypall.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::Repetition)),
    ),
    c(
        "https://paypla.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::Transposition)),
    ),
    c(
        "https://paypak.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::Replacement)),
    ),
    c(
        "https://micposoft.com/",
        M,
        &[R::Typosquat],
        Some(("Microsoft", T::Bitsquatting)),
    ),
    c(
        "https://paypel.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::VowelSwap)),
    ),
    c(
        "https://pay-pal.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::Hyphenation)),
    ),
    c(
        "https://paytpal.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::Insertion)),
    ),
    c(
        "https://paypalx.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::Addition)),
    ),
    c(
        "https://paypa1.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::Homoglyph)),
    ),
    c(
        "https://rnicrosoft.com/",
        M,
        &[R::Typosquat],
        Some(("Microsoft", T::Homoglyph)),
    ),
    c(
        "https://wellsfargo.co/",
        M,
        &[R::Typosquat],
        Some(("Wells Fargo", T::TldSwap)),
    ),
    c(
        "https://wwwpaypal.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::WwwSquat)),
    ),
    c(
        "https://www-paypal.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::WwwSquat)),
    ),
    c(
        "https://paypalcom.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::MissingDot)),
    ),
    c(
        "https://pay.pal.com/",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::DotInsertion)),
    ),
    c(
        "https://bankofamreica.com/",
        M,
        &[R::Typosquat],
        Some(("Bank of America", T::Transposition)),
    ),
    c(
        "https://bankofamrecia.com/",
        M,
        &[R::Typosquat],
        Some(("Bank of America", T::Typo)),
    ),
    c(
        "https://bankofamer1ka.com/",
        M,
        &[R::Typosquat],
        Some(("Bank of America", T::Homoglyph)),
    ),
    // Combosquats and brand tokens.
    c(
        "https://paypal-secure-login.com/",
        M,
        &[R::Combosquat],
        Some(("PayPal", T::Combosquat)),
    ),
    c(
        "https://loginpaypal.net/",
        M,
        &[R::Combosquat],
        Some(("PayPal", T::Combosquat)),
    ),
    c(
        "https://micros0ft-verify.com/",
        M,
        &[R::Combosquat],
        Some(("Microsoft", T::Combosquat)),
    ),
    c(
        "https://dhl-parcel-tracking.com/",
        M,
        &[R::Combosquat],
        Some(("DHL", T::Combosquat)),
    ),
    c(
        "https://openai-support.help/",
        M,
        &[R::Combosquat],
        Some(("OpenAI", T::Combosquat)),
    ),
    c(
        "https://coinbase-shop.com/",
        Sus,
        &[R::BrandToken],
        Some(("Coinbase", T::BrandToken)),
    ),
    c(
        "https://paypal.github.io/",
        Sus,
        &[R::BrandOnSharedHost],
        Some(("PayPal", T::SharedHosting)),
    ),
    c(
        "https://paypal-login.github.io/",
        M,
        &[R::Combosquat],
        Some(("PayPal", T::Combosquat)),
    ),
    c(
        "https://paypal-refund.web.app/",
        M,
        &[R::Combosquat],
        Some(("PayPal", T::Combosquat)),
    ),
    c(
        "https://coinbase.netlify.app/",
        Sus,
        &[R::BrandOnSharedHost],
        Some(("Coinbase", T::SharedHosting)),
    ),
    // data: and javascript: URLs.
    c(
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        M,
        &[R::DataUrl],
        None,
    ),
    c("data:image/png;base64,iVBORw0KGgo=", S, &[R::DataUrl], None),
    c(
        "javascript:alert(document.cookie)",
        M,
        &[R::ScriptUrl],
        None,
    ),
    c("  JaVa\tScRiPt:alert(1)", M, &[R::ScriptUrl], None),
    // Very long and deeply nested hosts.
    c(
        "https://a.b.c.d.e.login.example-cdn-0123456789-0123456789-0123456789-0123456789-0123456789-x.com/",
        Sus,
        &[R::LongHost, R::DeepSubdomain],
        None,
    ),
    // Open redirects.
    c(
        "https://news.example.org/out?url=https://elsewhere.example.net/",
        Sus,
        &[R::OpenRedirect],
        None,
    ),
    c(
        "https://www.google.com/url?q=https://paypa1.com/login",
        M,
        &[R::OpenRedirect],
        Some(("PayPal", T::Homoglyph)),
    ),
    c(
        "https://tracker.example.org/r?next=//rnicrosoft.com/",
        M,
        &[R::OpenRedirect],
        Some(("Microsoft", T::Homoglyph)),
    ),
    // Encodings, bad hosts, restricted suffixes, unlisted suffixes.
    c("http://pay%70al.com/", S, &[R::OfficialDomain], None),
    c("http://exa%6dple.com/", Sus, &[R::EncodedHost], None),
    c("http://xn--zz.com/", Sus, &[R::InvalidHost], None),
    c(
        "https://medlcare.gov/",
        S,
        &[R::RestrictedSuffix],
        Some(("Medicare", T::Homoglyph)),
    ),
    c(
        "paypa1.com/login",
        M,
        &[R::Typosquat],
        Some(("PayPal", T::Homoglyph)),
    ),
];

#[test]
fn trick_table() {
    let mut failures = Vec::new();
    for case in CASES {
        let v = judge().judge(case.url);
        let mut problems = Vec::new();
        if v.verdict != case.verdict {
            problems.push(format!("verdict {} (score {})", v.verdict, v.score));
        }
        for r in case.reasons {
            if !v.has(*r) {
                problems.push(format!("missing reason {r}"));
            }
        }
        let got = v
            .impersonates
            .as_ref()
            .map(|i| (i.brand.as_str(), i.technique));
        if got != case.brand {
            problems.push(format!("impersonates {got:?}, expected {:?}", case.brand));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {} — reasons {:?}",
                case.url,
                problems.join("; "),
                v.codes()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn every_reason_code_and_technique_is_exercised() {
    // Each trick has its own code: make sure the table shows each one at least once.
    let mut seen = std::collections::HashSet::new();
    let mut techniques = std::collections::HashSet::new();
    for case in CASES {
        let v = judge().judge(case.url);
        seen.extend(v.codes());
        if let Some(i) = v.impersonates {
            techniques.insert(i.technique);
        }
    }
    let v = judge().judge("");
    seen.extend(v.codes());
    let long = format!("https://example.com/{}", "a".repeat(5000));
    seen.extend(judge().judge(&long).codes());
    seen.extend(judge().judge("http://intranet.corp/").codes());
    for code in [
        R::OfficialDomain,
        R::Userinfo,
        R::UserinfoDomain,
        R::BrandInSubdomain,
        R::BrandInPath,
        R::IpHost,
        R::IpObfuscated,
        R::Punycode,
        R::MixedScript,
        R::WholeScriptConfusable,
        R::Confusable,
        R::Typosquat,
        R::Combosquat,
        R::BrandToken,
        R::BrandOnSharedHost,
        R::DataUrl,
        R::ScriptUrl,
        R::LongHost,
        R::DeepSubdomain,
        R::LongUrl,
        R::OpenRedirect,
        R::EncodedHost,
        R::InvalidHost,
        R::UnlistedSuffix,
        R::Unparsable,
        R::RestrictedSuffix,
    ] {
        assert!(seen.contains(&code), "no case gives {code}");
    }
    assert!(techniques.len() >= 18, "{techniques:?}");
}

/// Legitimate URLs: the brands' own sites and subdomains, and ordinary sites whose names happen to
/// be near a brand's. None may be flagged.
const LEGIT: &[&str] = &[
    "https://www.paypal.com/signin",
    "https://paypal.me/someone",
    "https://www.paypal.de/",
    "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=x&redirect_uri=https://app.example.com/cb",
    "https://accounts.google.com/ServiceLogin?continue=https://mail.google.com/mail/",
    "https://www.google.co.uk/search?q=paypal.com+login",
    "https://docs.google.com/document/d/abc/edit",
    "https://appleid.apple.com/",
    "https://www.icloud.com/",
    "https://secure.chase.com/web/auth/dashboard",
    "https://www.bankofamerica.com/",
    "https://online.citi.com/",
    "https://www.amazon.co.uk/gp/cart",
    "https://s3.us-east-1.amazonaws.com/bucket/key",
    "https://chatgpt.com/",
    "https://platform.openai.com/api-keys",
    "https://console.anthropic.com/",
    "https://claude.ai/new",
    "https://huggingface.co/models",
    "https://www.irs.gov/refunds",
    "https://www.gov.uk/log-in-register-hmrc-online-services",
    "https://github.com/rust-lang/rust",
    "https://rust-lang.github.io/rfcs/",
    "https://en.wikipedia.org/wiki/Typosquatting",
    "https://www.bbc.co.uk/news",
    "https://www.nytimes.com/",
    "https://www.reddit.com/r/rust/",
    "https://stackoverflow.com/questions",
    "https://crates.io/crates/url",
    "https://docs.rs/idna",
    "https://www.mozilla.org/en-US/firefox/",
    "https://www.applebees.com/",
    "https://www.telegraph.co.uk/",
    "https://www.walgreens.com/",
    "https://www.target.com/",
    "https://www.ups-scs.com/",
    "https://www.visitscotland.com/",
    "https://www.example.com/?next=/dashboard",
    "https://shop.example.com/cart?return=https://shop.example.com/checkout",
    "https://www.paymentsense.com/",
    "https://www.paypalobjects.com/js/x.js",
    "https://www.stripe.com/docs",
    "https://www.xbox.com/",
    "https://www.linkedin.com/in/someone",
    "https://münchen.de/",
    "https://www.bücher.de/",
    "https://例え.jp/",
    "https://пример.рф/",
    "https://сбер.рф/",
    "https://почта.рф/",
    "mailto:someone@example.com",
    "https://www.ing.nl/particulier/",
    "https://www.nationwide.co.uk/",
    "https://www.bbva.es/",
];

#[test]
fn legitimate_urls_stay_safe() {
    let mut flagged = Vec::new();
    for u in LEGIT {
        let v = judge().judge(u);
        if v.verdict != Level::Safe {
            flagged.push(format!(
                "{u}: {} {} {:?} {:?}",
                v.verdict,
                v.score,
                v.codes(),
                v.impersonates
            ));
        }
    }
    assert!(
        flagged.is_empty(),
        "legitimate URLs flagged:\n{}",
        flagged.join("\n")
    );
}

#[test]
fn a_brands_own_domains_are_never_flagged() {
    // Every concrete own domain in the built-in list, and a subdomain of it, is safe. Own domains
    // that are public suffixes themselves (`github.io`, `blogspot.com`) cover only the exact host:
    // their subdomains belong to whoever registered them.
    let list = BrandList::builtin();
    let psl = SuffixList::builtin();
    let mut flagged = Vec::new();
    for b in &list.brands {
        for d in b.domains.iter().filter(|d| !d.any_suffix) {
            let mut urls = vec![format!("https://{}/", d.domain)];
            let sub = format!("login.secure.{}", d.domain);
            let reg = |h: &str| psl.split(h).and_then(|s| s.registrable).map(str::to_string);
            if reg(&d.domain).is_some() && reg(&sub) == reg(&d.domain) {
                urls.push(format!("https://{sub}/account/verify"));
            }
            for u in urls {
                let v = judge().judge(&u);
                if v.verdict != Level::Safe || !v.has(R::OfficialDomain) {
                    flagged.push(format!("{u}: {} {:?}", v.verdict, v.codes()));
                }
            }
        }
    }
    assert!(flagged.is_empty(), "{}", flagged.join("\n"));
}

#[test]
fn registrable_domain_and_suffix_are_reported() {
    let v = judge().judge("https://ftc.security-update.com/login");
    assert_eq!(v.host.as_deref(), Some("ftc.security-update.com"));
    assert_eq!(v.registrable_domain.as_deref(), Some("security-update.com"));
    assert_eq!(v.public_suffix.as_deref(), Some("com"));
    assert!(v.has(R::BrandInSubdomain), "{:?}", v.codes()); // FTC named in the subdomain
    let v = judge().judge("https://a.b.example.co.uk./x");
    assert_eq!(v.registrable_domain.as_deref(), Some("example.co.uk"));
    assert_eq!(v.public_suffix.as_deref(), Some("co.uk"));
    let v = judge().judge("https://user:hunter2hunter2@example.com/");
    assert!(!v.url.contains("hunter2"), "password shown: {}", v.url);
    let bad = judge().judge("https://user:hunter2hunter2@xn--zz.com/");
    assert!(bad.error.is_some());
    assert_eq!(bad.url, "https://user:****@xn--zz.com/");
    let j = serde_json::to_value(&v).unwrap();
    for k in [
        "url",
        "host",
        "registrable_domain",
        "public_suffix",
        "verdict",
        "impersonates",
        "reasons",
    ] {
        assert!(j.get(k).is_some(), "JSON lacks {k}: {j}");
    }
}

#[test]
fn custom_brands_and_suffix_list() {
    let brands =
        BrandList::parse("Acme Bank | bank | acmebank.example =acme-cdn.net", "test").unwrap();
    let j = Judge::new(JudgeConfig::builtin().with_brands(brands));
    let v = j.judge("https://acmebank-login.com/");
    assert_eq!(v.verdict, Level::Malicious, "{:?}", v.codes());
    assert_eq!(v.impersonates.unwrap().brand, "Acme Bank");
    assert_eq!(
        j.judge("https://www.acmebank.example/").verdict,
        Level::Safe
    );
    assert_eq!(j.judge("https://static.acme-cdn.net/").verdict, Level::Safe);

    // Without the built-in brands PayPal is no longer protected.
    let only = Judge::new(JudgeConfig {
        brands: BrandList::parse("Acme Bank | bank | acmebank.example", "t").unwrap(),
        psl: None,
    });
    assert!(only.judge("https://paypa1.com/").impersonates.is_none());

    // A suffix list read from text replaces the built-in one.
    let psl = SuffixList::parse("// ===BEGIN ICANN DOMAINS===\ncom\nsecure-login.com\n").unwrap();
    let j = Judge::new(JudgeConfig::builtin().with_psl(psl));
    let v = j.judge("https://paypal.secure-login.com/");
    assert_eq!(v.public_suffix.as_deref(), Some("secure-login.com"));
    assert_eq!(
        v.registrable_domain.as_deref(),
        Some("paypal.secure-login.com")
    );
}

/// A small deterministic generator, so the test has no dependency and no randomness.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn bad_input_never_panics() {
    let j = judge();
    let mut fixed: Vec<String> = [
        "",
        " ",
        "\0",
        ":",
        "://",
        "http://",
        "http:///",
        "http://@",
        "http://:@/",
        "http://[",
        "http://[::",
        "http://[::1",
        "http://xn--",
        "http://xn--.com",
        "http://xn--a.xn--b",
        "http://.",
        "http://..",
        "http://a..b",
        "http://-a-.com",
        "http://%",
        "http://%zz.com",
        "http://%00.com",
        "data:",
        "data:,",
        "javascript:",
        "http://0x",
        "http://0x.0x.0x.0x",
        "http://4294967296/",
        "http://999999999999999/",
        "http://1.2.3.4.5/",
        "ftp://user@:21",
        "http://a@b@c@d",
        "//example.com",
        "?q=1",
        "#frag",
        "http://例え.テスト/",
        "http://\u{202e}moc.lapyap/",
        "http://a\u{200d}b.com/",
        "https://x.com/?url=",
        "https://x.com/?url=https://",
        "https://x.com/?url=//",
        "https://x.com/?next=https://[::1",
        "http://ǅ.com",
        "http://ß.de",
        "http://İ.com",
        "http://\u{fffd}.com",
        "\u{feff}http://a.com",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    fixed.push(format!("http://{}.com/", "a".repeat(70)));
    fixed.push(format!("http://{}com/", "a.".repeat(200)));
    fixed.push(format!("https://example.com/{}", "x".repeat(1 << 20)));
    fixed.push(format!("https://{}", "x".repeat(1 << 20)));
    fixed.push(format!(
        "https://x.com/?{}",
        "url=https://a.com&".repeat(10_000)
    ));
    let mut nested = "https://paypa1.com/".to_string();
    for _ in 0..50 {
        nested = format!("https://r.example/?url={}", url_escape(&nested));
    }
    fixed.push(nested);
    for s in &fixed {
        let v = j.judge(s);
        assert!(v.score <= 100);
        assert!(
            v.url.len() <= 2048 + 4,
            "url field not shortened for {} bytes of input",
            s.len()
        );
    }
    // Random bytes drawn from URL-ish characters, lossily decoded like invalid UTF-8 in files.
    let alphabet: Vec<char> =
        "htps:/.@%-_?=&#[]0123456789abcxyzXn- \u{430}\u{440}\u{2e}\u{ff0e}\u{3002}\u{fe0f}é\\"
            .chars()
            .collect();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let len = (rng.next() % 40) as usize;
        let mut s = String::from(if rng.next() % 2 == 0 { "http://" } else { "" });
        for _ in 0..len {
            s.push(alphabet[(rng.next() % alphabet.len() as u64) as usize]);
        }
        let v = j.judge(&s);
        assert!(v.score <= 100);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = j.judge(&String::from_utf8_lossy(&bytes));
        let _ = find_urls(&bytes).count();
    }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn one_judge_serves_many_threads() {
    let j = Arc::new(Judge::default());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let j = Arc::clone(&j);
            std::thread::spawn(move || {
                let url = ["https://paypa1.com/", "https://www.paypal.com/"][i % 2];
                (0..200).map(|_| j.judge(url).verdict).collect::<Vec<_>>()
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let verdicts = h.join().expect("thread");
        let want = if i % 2 == 0 {
            Level::Malicious
        } else {
            Level::Safe
        };
        assert!(verdicts.iter().all(|v| *v == want));
    }
}
