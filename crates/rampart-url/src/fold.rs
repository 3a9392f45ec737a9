//! Text folds used to compare a label with a brand's label: confusable skeletons (UTS #39),
//! a coarser fold of ASCII look-alikes, keyboard neighbours and the vocabulary of phishing lures.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The strong fold: the UTS #39 skeleton (via `unicode-security`), with combining marks removed
/// (so `pàypal` and `paypal` meet), lowercased, and the ASCII sequences that render like one
/// letter joined (`rn`→`m`, `vv`→`w`). Two labels with the same strong fold look the same in
/// most fonts.
pub(crate) fn strong(label: &str) -> String {
    let mut s = String::with_capacity(label.len());
    if label.is_ascii() {
        // The skeleton of lowercase ASCII letters is the identity except for `m` (→ `rn`) and
        // digits/symbols (`0`→`O`, `1`→`l`); doing this by hand keeps the hot path allocation-light.
        for c in label.chars() {
            s.push(match c.to_ascii_lowercase() {
                '0' => 'o',
                '1' | '|' => 'l',
                c => c,
            });
        }
    } else {
        for c in unicode_security::skeleton(label) {
            for d in std::iter::once(c).nfd() {
                if !is_combining_mark(d) {
                    s.extend(d.to_lowercase());
                }
            }
        }
        // A second pass: lowercasing can produce characters that have their own skeleton
        // (`О` → `о`), and skeletons can contain `0`/`1`.
        if !s.is_ascii() {
            let again: String = unicode_security::skeleton(&s)
                .flat_map(|c| c.to_lowercase())
                .filter(|c| !is_combining_mark(*c))
                .collect();
            s = again;
        }
        s = s
            .chars()
            .map(|c| match c {
                '0' => 'o',
                '1' | '|' => 'l',
                c => small_capital(c).unwrap_or(c),
            })
            .collect();
    }
    join_multi(&s)
}

/// Latin small capitals and the few other letters that UTS #39 uses as prototypes for Cyrillic
/// look-alikes (`ԍ`→`ɢ`, `т`→`ᴛ`, `к`→`ĸ`, `м`→`ʍ`, `ь`→`ƅ`): at text size they read as the plain
/// letter, so the fold maps them on to it.
fn small_capital(c: char) -> Option<char> {
    Some(match c {
        '\u{1d00}' => 'a',
        '\u{0299}' | '\u{1d03}' | '\u{0185}' => 'b',
        '\u{1d04}' => 'c',
        '\u{1d05}' | '\u{1d06}' => 'd',
        '\u{1d07}' => 'e',
        '\u{0262}' => 'g',
        '\u{029c}' => 'h',
        '\u{026a}' => 'i',
        '\u{1d0a}' => 'j',
        '\u{1d0b}' | '\u{0138}' => 'k',
        '\u{029f}' | '\u{1d0c}' => 'l',
        '\u{1d0d}' | '\u{028d}' => 'm',
        '\u{0274}' | '\u{1d0e}' => 'n',
        '\u{1d0f}' => 'o',
        '\u{1d18}' => 'p',
        '\u{a7af}' => 'q',
        '\u{0280}' | '\u{1d19}' | '\u{1d1a}' => 'r',
        '\u{a731}' => 's',
        '\u{1d1b}' => 't',
        '\u{1d1c}' => 'u',
        '\u{1d20}' => 'v',
        '\u{1d21}' => 'w',
        '\u{028f}' => 'y',
        '\u{1d22}' => 'z',
        _ => return None,
    })
}

fn join_multi(s: &str) -> String {
    if !(s.contains("rn") || s.contains("vv")) {
        return s.to_string();
    }
    s.replace("rn", "m").replace("vv", "w")
}

/// The weak fold, applied on top of [`strong`]: pairs that are close but distinguishable
/// (`q`/`g`, `u`/`v`, `c`/`e`, `b`/`d`, `i`/`l`, `n`/`m`, `cl`/`d`, digits used as letters). Used only
/// for longer labels, where a chance collision with a real word is unlikely.
pub(crate) fn weak(strong: &str) -> String {
    let s = strong.replace("cl", "d").replace("nn", "m");
    s.chars().map(weak_char).collect()
}

fn weak_char(c: char) -> char {
    match c {
        'q' | '9' => 'g',
        'v' => 'u',
        'e' | '3' => 'c',
        'd' => 'b',
        'i' | 'j' => 'l',
        'n' => 'm',
        '5' => 's',
        '4' => 'a',
        '7' => 't',
        '8' => 'b',
        '6' => 'b',
        c => c,
    }
}

/// Whether two ASCII characters are a weak look-alike pair (same [`weak`] class).
pub(crate) fn weak_pair(a: char, b: char) -> bool {
    a != b && weak_char(a) == weak_char(b)
}

const QWERTY: [&str; 4] = ["1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm"];
const AZERTY: [&str; 4] = ["1234567890-", "azertyuiop", "qsdfghjklm", "wxcvbn"];
const QWERTZ: [&str; 4] = ["1234567890-", "qwertzuiop", "asdfghjkl", "yxcvbnm"];

fn pos(layout: &[&str; 4], c: char) -> Option<(i32, i32)> {
    for (r, row) in layout.iter().enumerate() {
        if let Some(col) = row.find(c) {
            return Some((r as i32, col as i32));
        }
    }
    None
}

/// Whether `a` and `b` are neighbours on a QWERTY, QWERTZ or AZERTY keyboard (rows are offset by
/// about half a key, so the key up-right and down-left count too).
pub(crate) fn keyboard_neighbours(a: char, b: char) -> bool {
    if a == b {
        return false;
    }
    for layout in [&QWERTY, &QWERTZ, &AZERTY] {
        if let (Some((ra, ca)), Some((rb, cb))) = (pos(layout, a), pos(layout, b)) {
            let dr = rb - ra;
            let dc = cb - ca;
            let near = match dr {
                0 => dc.abs() == 1,
                -1 => dc == 0 || dc == 1,
                1 => dc == 0 || dc == -1,
                _ => false,
            };
            if near {
                return true;
            }
        }
    }
    false
}

pub(crate) fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

/// Words that phishing domains add to a brand's name to make a login page look official.
/// General vocabulary of the trade, not fitted to any test list.
pub(crate) const LURE_WORDS: &[&str] = &[
    "access",
    "account",
    "accounts",
    "activate",
    "activation",
    "alert",
    "alerts",
    "app",
    "apps",
    "auth",
    "authenticate",
    "authentication",
    "authorize",
    "bank",
    "banking",
    "billing",
    "bonus",
    "card",
    "care",
    "center",
    "centre",
    "check",
    "claim",
    "client",
    "cloud",
    "confirm",
    "confirmation",
    "connect",
    "customer",
    "customers",
    "customs",
    "dashboard",
    "delivery",
    "desk",
    "dispute",
    "docs",
    "document",
    "documents",
    "drive",
    "email",
    "fee",
    "fees",
    "file",
    "files",
    "fraud",
    "gift",
    "giveaway",
    "help",
    "helpdesk",
    "helpline",
    "id",
    "inbox",
    "info",
    "invoice",
    "invoices",
    "limited",
    "locked",
    "log",
    "login",
    "logon",
    "mail",
    "member",
    "members",
    "mfa",
    "mobile",
    "my",
    "notice",
    "notification",
    "official",
    "online",
    "order",
    "orders",
    "package",
    "parcel",
    "pass",
    "password",
    "pay",
    "payment",
    "payments",
    "portal",
    "prize",
    "promo",
    "protect",
    "protection",
    "recover",
    "recovery",
    "refund",
    "refunds",
    "rewards",
    "reset",
    "resolution",
    "restore",
    "review",
    "safe",
    "secure",
    "secured",
    "security",
    "server",
    "service",
    "services",
    "session",
    "shipment",
    "shipping",
    "sign",
    "signin",
    "signon",
    "sso",
    "status",
    "support",
    "suspended",
    "sync",
    "tax",
    "team",
    "ticket",
    "token",
    "track",
    "tracking",
    "unlock",
    "update",
    "updates",
    "user",
    "validate",
    "validation",
    "verification",
    "verify",
    "wallet",
    "web",
    "webmail",
    "in",
    "on",
    "to",
    "now",
    "us",
    "www",
    "2fa",
];

/// Fragments of host names that appear glued into a label (`paypalcom`, `wwwpaypal`,
/// `barclaysco`): a missing dot rather than a word.
pub(crate) const HOST_FRAGMENTS: &[&str] = &[
    "www", "ww", "wwww", "com", "net", "org", "co", "uk", "couk", "comau", "de", "fr", "io", "gov",
];

/// Lure words and host fragments together.
pub(crate) fn lure_vocabulary() -> &'static [&'static str] {
    static V: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let mut v: Vec<&'static str> = LURE_WORDS.to_vec();
        v.extend_from_slice(HOST_FRAGMENTS);
        v
    })
}

/// Whether `rest` (ASCII, lowercase, hyphens allowed) splits entirely into words of `vocab`.
pub(crate) fn segments_into(rest: &str, vocab: &[&str]) -> bool {
    let parts: Vec<&str> = rest.split('-').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return false;
    }
    parts.iter().all(|p| segment(p.as_bytes(), vocab))
}

fn segment(s: &[u8], vocab: &[&str]) -> bool {
    // ok[i]: s[..i] splits into words. Labels are at most 63 bytes; longer input is refused.
    if s.len() > 63 {
        return false;
    }
    let mut ok = [false; 64];
    ok[0] = true;
    for i in 0..s.len() {
        if !ok[i] {
            continue;
        }
        for w in vocab {
            let w = w.as_bytes();
            if s.len() - i >= w.len() && &s[i..i + w.len()] == w {
                ok[i + w.len()] = true;
            }
        }
    }
    ok[s.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_fold_meets_lookalikes() {
        assert_eq!(strong("paypa1"), "paypal");
        assert_eq!(strong("micr0soft"), strong("microsoft"));
        assert_eq!(strong("rnicrosoft"), strong("microsoft"));
        assert_eq!(strong("раураӏ"), "paypal");
        assert_eq!(strong("pàypal"), "paypal");
        assert_eq!(strong("ǥoogle"), "google");
        assert_eq!(strong("vvellsfargo"), strong("wellsfargo"));
        assert_ne!(strong("paypal"), strong("paypai"));
        // Cyrillic letters whose UTS #39 prototypes are Latin small capitals.
        assert_eq!(strong("ԍооԍӏе"), "google");
        assert_eq!(strong("тікток"), "tiktok");
        assert_eq!(strong("окта"), "okta");
    }

    #[test]
    fn ascii_fast_path_agrees_with_the_skeleton() {
        // The hand-written ASCII path must give what the full UTS #39 path gives.
        for c in ('a'..='z').chain('0'..='9').chain(['-']) {
            let s = format!("x{c}y");
            let slow: String = unicode_security::skeleton(&s)
                .flat_map(|c| c.to_lowercase())
                .map(|c| match c {
                    '0' => 'o',
                    '1' => 'l',
                    c => c,
                })
                .collect();
            assert_eq!(strong(&s), join_multi(&slow), "{s}");
        }
    }

    #[test]
    fn weak_fold_is_coarser() {
        assert_eq!(weak(&strong("goog1e")), weak(&strong("qooqle")));
        assert_ne!(weak("paypal"), weak("paypat"));
        assert!(weak_pair('g', 'q'));
        assert!(!weak_pair('g', 'g'));
    }

    #[test]
    fn keyboards() {
        assert!(keyboard_neighbours('a', 's'));
        assert!(keyboard_neighbours('q', 'w'));
        assert!(keyboard_neighbours('z', 'x'));
        assert!(keyboard_neighbours('y', 'x')); // QWERTZ
        assert!(!keyboard_neighbours('a', 'p'));
    }

    #[test]
    fn lure_segmentation() {
        assert!(segments_into("securelogin", LURE_WORDS));
        assert!(segments_into("-account-verify", LURE_WORDS));
        assert!(!segments_into("bees", LURE_WORDS));
        assert!(!segments_into("", LURE_WORDS));
    }
}
