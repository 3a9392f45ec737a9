//! Personal data: e-mail addresses, phone numbers, payment cards (Luhn), IBANs (ISO 7064
//! mod 97-10), national identity numbers with their check digits (Spanish DNI/NIE, Dutch BSN,
//! Indian Aadhaar with Verhoeff; US SSN by its structural rules) and IP addresses.
//!
//! Every candidate found by a pattern must also pass its validator, so `4111 1111 1111 1112`
//! (bad Luhn) or `GB82 WEST 1234 5698 7654 33` (bad mod 97) are not reported.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// The kinds of personal data recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PiiKind {
    /// E-mail address.
    Email,
    /// Phone number (international `+` form or common national groupings).
    Phone,
    /// Payment card number passing the Luhn check.
    CreditCard,
    /// IBAN passing mod 97-10.
    Iban,
    /// US Social Security number (area/group/serial rules).
    UsSsn,
    /// Spanish DNI or NIE with its check letter.
    EsDni,
    /// Dutch BSN (11-check).
    NlBsn,
    /// Indian Aadhaar number (Verhoeff check digit).
    InAadhaar,
    /// IPv4 address.
    Ipv4,
    /// IPv6 address.
    Ipv6,
}

impl PiiKind {
    /// All kinds.
    pub const ALL: [PiiKind; 10] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::CreditCard,
        PiiKind::Iban,
        PiiKind::UsSsn,
        PiiKind::EsDni,
        PiiKind::NlBsn,
        PiiKind::InAadhaar,
        PiiKind::Ipv4,
        PiiKind::Ipv6,
    ];

    /// Stable name (used in rule ids `pii.<name>` and in policies' `pii_kinds`).
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::CreditCard => "credit_card",
            PiiKind::Iban => "iban",
            PiiKind::UsSsn => "us_ssn",
            PiiKind::EsDni => "es_dni",
            PiiKind::NlBsn => "nl_bsn",
            PiiKind::InAadhaar => "in_aadhaar",
            PiiKind::Ipv4 => "ipv4",
            PiiKind::Ipv6 => "ipv6",
        }
    }

    /// The kind named `s`.
    pub fn from_name(s: &str) -> Option<PiiKind> {
        PiiKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One piece of personal data in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PiiMatch {
    /// What it is.
    pub kind: PiiKind,
    /// Byte range in the text.
    pub range: Range<usize>,
}

fn re(p: &str) -> Regex {
    Regex::new(&crate::ascii_boundaries(p))
        .expect("built-in PII patterns compile (checked by the tests)")
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b",
    )
});
static CARD: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:\d[ -]?){12,18}\d\b"));
static IBAN: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"));
static SSN: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{3})-(\d{2})-(\d{4})\b"));
static DNI: LazyLock<Regex> = LazyLock::new(|| re(r"\b([XYZ]?)[- ]?(\d{7,8})[- ]?([A-Z])\b"));
static BSN: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d{9}\b|\b\d{4}\.\d{2}\.\d{3}\b"));
static AADHAAR: LazyLock<Regex> = LazyLock::new(|| re(r"\b[2-9]\d{3}[ -]?\d{4}[ -]?\d{4}\b"));
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\b\d{3}[.-]\d{3}[.-]\d{4})\b",
    )
});
static IPV4: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"));
static IPV6: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})"));

fn digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// The Luhn (mod 10) check used by payment cards.
pub fn luhn(d: &[u8]) -> bool {
    if d.len() < 2 {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum % 10 == 0
}

/// Lengths of IBANs by country (ISO 13616 registry, common countries).
fn iban_len(cc: &str) -> Option<usize> {
    Some(match cc {
        "AD" => 24,
        "AE" => 23,
        "AT" => 20,
        "BE" => 16,
        "BG" => 22,
        "BH" => 22,
        "BR" => 29,
        "CH" => 21,
        "CY" => 28,
        "CZ" => 24,
        "DE" => 22,
        "DK" => 18,
        "EE" => 20,
        "ES" => 24,
        "FI" => 18,
        "FR" => 27,
        "GB" => 22,
        "GI" => 23,
        "GR" => 27,
        "HR" => 21,
        "HU" => 28,
        "IE" => 22,
        "IL" => 23,
        "IS" => 26,
        "IT" => 27,
        "LI" => 21,
        "LT" => 20,
        "LU" => 20,
        "LV" => 21,
        "MC" => 27,
        "MT" => 31,
        "NL" => 18,
        "NO" => 15,
        "PL" => 28,
        "PT" => 25,
        "RO" => 24,
        "SA" => 24,
        "SE" => 24,
        "SI" => 19,
        "SK" => 24,
        "SM" => 27,
        "TR" => 26,
        "UA" => 29,
        _ => return None,
    })
}

/// ISO 7064 mod 97-10 check of an IBAN (spaces ignored), including the country's length.
pub fn iban_valid(s: &str) -> bool {
    let c: Vec<u8> = s.bytes().filter(|b| *b != b' ').collect();
    if c.len() < 15 || !c.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let cc = std::str::from_utf8(&c[..2]).unwrap_or("");
    if iban_len(cc) != Some(c.len()) {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in c[4..].iter().chain(&c[..4]) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// US SSN structural rules: area not 000, 666 or 9xx; group not 00; serial not 0000.
pub fn ssn_valid(area: &str, group: &str, serial: &str) -> bool {
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

/// Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter) check letter.
pub fn dni_valid(prefix: &str, num: &str, letter: char) -> bool {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let lead = match prefix {
        "" if num.len() == 8 => "",
        "X" if num.len() == 7 => "0",
        "Y" if num.len() == 7 => "1",
        "Z" if num.len() == 7 => "2",
        _ => return false,
    };
    let Ok(n) = format!("{lead}{num}").parse::<u64>() else {
        return false;
    };
    LETTERS[(n % 23) as usize] as char == letter
}

/// Dutch BSN "11-proef": 9 digits, weights 9..2 and -1.
pub fn bsn_valid(d: &[u8]) -> bool {
    if d.len() != 9 || d.iter().all(|&x| x == 0) {
        return false;
    }
    let mut sum: i32 = 0;
    for (i, &x) in d.iter().enumerate() {
        let w = if i == 8 { -1 } else { 9 - i as i32 };
        sum += w * i32::from(x);
    }
    sum % 11 == 0
}

/// Verhoeff check (Aadhaar's last digit).
pub fn verhoeff(d: &[u8]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut c = 0u8;
    for (i, &x) in d.iter().rev().enumerate() {
        if x > 9 {
            return false;
        }
        c = D[c as usize][P[i % 8][x as usize] as usize];
    }
    c == 0
}

/// Find personal data of the `wanted` kinds in `text`. Overlapping matches keep the first
/// (in the order of [`PiiKind::ALL`], most specific first).
pub fn find(text: &str, wanted: &[PiiKind]) -> Vec<PiiMatch> {
    let mut out: Vec<PiiMatch> = Vec::new();
    let on = |k: PiiKind| wanted.contains(&k);
    let push = |out: &mut Vec<PiiMatch>, kind: PiiKind, range: Range<usize>| {
        if !out
            .iter()
            .any(|m| m.range.start < range.end && range.start < m.range.end)
        {
            out.push(PiiMatch { kind, range });
        }
    };
    let has_digit = text.bytes().any(|b| b.is_ascii_digit());
    if on(PiiKind::Email) && text.contains('@') {
        for m in EMAIL.find_iter(text) {
            push(&mut out, PiiKind::Email, m.range());
        }
    }
    if !has_digit && !text.contains(':') {
        return out;
    }
    if on(PiiKind::Iban) {
        for m in IBAN.find_iter(text) {
            if iban_valid(m.as_str()) {
                push(&mut out, PiiKind::Iban, m.range());
            }
        }
    }
    if on(PiiKind::CreditCard) {
        for m in CARD.find_iter(text) {
            let d = digits(m.as_str());
            if (13..=19).contains(&d.len()) && luhn(&d) && d.iter().any(|&x| x != d[0]) {
                push(&mut out, PiiKind::CreditCard, m.range());
            }
        }
    }
    if on(PiiKind::UsSsn) {
        for c in SSN.captures_iter(text) {
            if ssn_valid(&c[1], &c[2], &c[3])
                && let Some(m) = c.get(0)
            {
                push(&mut out, PiiKind::UsSsn, m.range());
            }
        }
    }
    if on(PiiKind::EsDni) {
        for c in DNI.captures_iter(text) {
            let letter = c[3].chars().next().unwrap_or(' ');
            if dni_valid(&c[1], &c[2], letter)
                && let Some(m) = c.get(0)
            {
                push(&mut out, PiiKind::EsDni, m.range());
            }
        }
    }
    if on(PiiKind::InAadhaar) {
        for m in AADHAAR.find_iter(text) {
            let d = digits(m.as_str());
            if d.len() == 12 && verhoeff(&d) {
                push(&mut out, PiiKind::InAadhaar, m.range());
            }
        }
    }
    if on(PiiKind::NlBsn) {
        for m in BSN.find_iter(text) {
            if bsn_valid(&digits(m.as_str())) {
                push(&mut out, PiiKind::NlBsn, m.range());
            }
        }
    }
    if on(PiiKind::Ipv6) && text.contains(':') {
        for m in IPV6.find_iter(text) {
            let s = m.as_str();
            if s.matches(':').count() >= 2
                && s.parse::<Ipv6Addr>().is_ok()
                && s.bytes().any(|b| b.is_ascii_hexdigit())
            {
                push(&mut out, PiiKind::Ipv6, m.range());
            }
        }
    }
    if on(PiiKind::Ipv4) {
        for m in IPV4.find_iter(text) {
            if m.as_str().parse::<Ipv4Addr>().is_ok() {
                push(&mut out, PiiKind::Ipv4, m.range());
            }
        }
    }
    if on(PiiKind::Phone) {
        for m in PHONE.find_iter(text) {
            let n = digits(m.as_str()).len();
            if (8..=15).contains(&n) {
                push(&mut out, PiiKind::Phone, m.range());
            }
        }
    }
    out.sort_by_key(|m| m.range.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(PiiKind, String)> {
        find(text, &PiiKind::ALL)
            .into_iter()
            .map(|m| (m.kind, text[m.range].to_string()))
            .collect()
    }

    fn has(text: &str, k: PiiKind) -> bool {
        kinds(text).iter().any(|(kk, _)| *kk == k)
    }

    #[test]
    fn luhn_accepts_test_cards_and_rejects_one_digit_off() {
        assert!(luhn(&digits("4111111111111111")));
        assert!(luhn(&digits("5500 0000 0000 0004")));
        assert!(luhn(&digits("378282246310005")));
        assert!(!luhn(&digits("4111111111111112")));
        assert!(!luhn(&digits("1")));
        assert!(has(
            "card: 4111 1111 1111 1111 exp 12/29",
            PiiKind::CreditCard
        ));
        assert!(has("pay with 4111-1111-1111-1111", PiiKind::CreditCard));
        assert!(!has("card: 4111 1111 1111 1112", PiiKind::CreditCard));
        assert!(!has("order 0000000000000000", PiiKind::CreditCard));
    }

    #[test]
    fn iban_uses_mod_97_and_country_length() {
        assert!(iban_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(iban_valid("NL91ABNA0417164300"));
        assert!(!iban_valid("GB82 WEST 1234 5698 7654 33"));
        assert!(!iban_valid("DE8937040044053201300"), "wrong length");
        assert!(!iban_valid("QQ82WEST12345698765432"), "unknown country");
        assert!(has(
            "IBAN GB82 WEST 1234 5698 7654 32 thanks",
            PiiKind::Iban
        ));
        assert!(!has(
            "IBAN GB82 WEST 1234 5698 7654 33 thanks",
            PiiKind::Iban
        ));
    }

    #[test]
    fn national_ids_need_their_check_digits() {
        // US SSN: structure only.
        assert!(has("SSN 123-45-6789", PiiKind::UsSsn));
        assert!(!has("SSN 000-45-6789", PiiKind::UsSsn));
        assert!(!has("SSN 666-45-6789", PiiKind::UsSsn));
        assert!(!has("SSN 923-45-6789", PiiKind::UsSsn));
        assert!(!has("SSN 123-00-6789", PiiKind::UsSsn));
        // ES DNI / NIE: 12345678 % 23 = 14 → Z; X1234567 → 01234567 % 23 = 19 → L.
        assert!(has("DNI 12345678Z", PiiKind::EsDni));
        assert!(!has("DNI 12345678A", PiiKind::EsDni));
        assert!(has("NIE X1234567L", PiiKind::EsDni));
        assert!(!has("NIE X1234567T", PiiKind::EsDni));
        // NL BSN 11-proef.
        assert!(has("BSN 111222333", PiiKind::NlBsn));
        assert!(!has("BSN 111222334", PiiKind::NlBsn));
        // Aadhaar, Verhoeff.
        assert!(verhoeff(&digits("2363")));
        assert!(!verhoeff(&digits("2364")));
        assert!(has("Aadhaar 2345 6789 0124", PiiKind::InAadhaar));
        assert!(!has("Aadhaar 2345 6789 0123", PiiKind::InAadhaar));
    }

    #[test]
    fn emails_phones_and_ips() {
        assert_eq!(
            kinds("write to jane.doe+x@example.co.uk today"),
            vec![(PiiKind::Email, "jane.doe+x@example.co.uk".into())]
        );
        assert!(!has("the @ sign and user@localhost", PiiKind::Email));
        assert!(has("call +44 20 7946 0958 now", PiiKind::Phone));
        assert!(has("call (415) 555-0132", PiiKind::Phone));
        assert!(has("call 415-555-0132", PiiKind::Phone));
        assert!(!has("in 2024 we sold 12 units", PiiKind::Phone));
        assert!(has("server 192.168.10.20 is down", PiiKind::Ipv4));
        assert!(!has("version 1.2.3.999", PiiKind::Ipv4));
        assert!(has("host 2001:db8::8a2e:370:7334 up", PiiKind::Ipv6));
        assert!(!has("at 12:30:45 sharp", PiiKind::Ipv6));
    }

    #[test]
    fn only_wanted_kinds_are_reported() {
        let t = "mail a@b.example, card 4111111111111111";
        let m = find(t, &[PiiKind::CreditCard]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].kind, PiiKind::CreditCard);
    }
}
