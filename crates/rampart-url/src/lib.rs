//! URL and lookalike-domain analysis: who really controls a link, and whom it pretends to be.
//!
//! The part of a URL that decides where it goes is the *registrable domain*, the label just left
//! of the public suffix: `ftc.security-update.com/login` belongs to `security-update.com`, not to
//! the FTC. This crate parses URLs by the WHATWG rules (`url`/`idna`), splits hosts with the
//! Public Suffix List (ICANN and PRIVATE sections, built in or loaded with
//! [`SuffixList::parse`]), and judges each URL `safe`, `suspicious` or `malicious` with a score
//! and reasons, each trick with its own [`ReasonCode`]:
//!
//! * user-info before the host (`https://ftc.gov@evil.example`),
//! * a brand in a subdomain (`paypal.com.secure-login.xyz`), path or query of another domain,
//! * IP-literal hosts, including decimal, hex, octal and shortened IPv4 forms,
//! * punycode/IDN and mixed-script labels, Unicode confusables (UTS #39 skeletons),
//! * typosquats (omission, repetition, transposition, keyboard replacement, bitsquatting, vowel
//!   swap, hyphenation, insertion, homoglyphs, TLD swap, `www` and missing-dot tricks),
//! * combosquats (brand + `login`/`secure`/`verify`…), `data:` and `javascript:` URLs,
//! * very long or deeply nested hosts, open-redirect parameters pointing elsewhere.
//!
//! Lookalikes are traced back ("untwisted") to the protected brand they imitate and the
//! technique used, against a built-in list of frequently impersonated brands ([`BrandList`]) plus
//! any brands you add. A brand's own domains and their subdomains are never flagged.
//!
//! [`Judge`] is built once and shared between threads; [`find_urls`] pulls links out of text for
//! scanners and guardrails, and [`UrlDetector`] plugs the two into `rampart_core::Detector`.
//!
//! ```
//! use rampart_url::{Judge, JudgeConfig, Level, ReasonCode, Technique};
//!
//! let judge = Judge::new(JudgeConfig::builtin());
//!
//! let v = judge.judge("https://www.paypa1.com/signin");
//! assert_eq!(v.verdict, Level::Malicious);
//! assert_eq!(v.registrable_domain.as_deref(), Some("paypa1.com"));
//! let imp = v.impersonates.as_ref().unwrap();
//! assert_eq!((imp.brand.as_str(), imp.technique), ("PayPal", Technique::Homoglyph));
//!
//! let v = judge.judge("https://ftc.gov@security-update.com/login");
//! assert!(v.has(ReasonCode::UserinfoDomain));
//!
//! let v = judge.judge("https://accounts.google.com/signin");
//! assert_eq!(v.verdict, Level::Safe);
//!
//! for (range, url) in rampart_url::find_urls(b"mail from x: visit http://0x7f.1/ now") {
//!     assert_eq!(judge.judge(url).verdict, Level::Malicious);
//!     assert_eq!(range.start, 19);
//! }
//! ```
#![deny(missing_docs)]

mod brands;
mod detector;
mod extract;
mod fold;
mod host;
mod judge;
mod psl;
mod untwist;

pub use brands::{BUILTIN_BRANDS, Brand, BrandDomain, BrandError, BrandList};
pub use detector::UrlDetector;
pub use extract::{FindUrls, MAX_URL_LEN, find_urls};
pub use judge::{
    Judge, JudgeConfig, Level, MALICIOUS_AT, Reason, ReasonCode, SUSPICIOUS_AT, Verdict,
};
pub use psl::{PslError, Split, SuffixKind, SuffixList};
pub use untwist::{Impersonation, Technique};
