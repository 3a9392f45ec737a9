//! Checks a candidate secret must pass: entropy, placeholder filters, structural validators.

use base64::Engine;

/// Names accepted in a rule's `validator` field.
pub const VALIDATORS: &[&str] = &[
    "crc32-base62",
    "jwt",
    "pypi-macaroon",
    "base64-userpass",
    "not-code",
    "luhn",
    "pem-body",
];

/// A structural check on a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validator {
    /// GitHub / npm / Rampart style: prefix, random part, 6 base62 chars of CRC32 of the random part.
    Crc32Base62,
    /// Three base64url parts; header and payload decode to JSON objects, header has `alg`.
    Jwt,
    /// PyPI token: the macaroon after `pypi-` decodes and names pypi.org.
    PypiMacaroon,
    /// Base64 of `user:password` (Docker `auths`).
    Base64UserPass,
    /// A value from a generic assignment that does not look like code, a path or a reference.
    NotCode,
    /// Payment card number with a valid Luhn check digit.
    Luhn,
    /// PEM body decodes as base64 to at least 64 bytes.
    PemBody,
}

impl Validator {
    /// Look a validator up by its rule-file name.
    pub fn by_name(name: &str) -> Option<Validator> {
        Some(match name {
            "crc32-base62" => Validator::Crc32Base62,
            "jwt" => Validator::Jwt,
            "pypi-macaroon" => Validator::PypiMacaroon,
            "base64-userpass" => Validator::Base64UserPass,
            "not-code" => Validator::NotCode,
            "luhn" => Validator::Luhn,
            "pem-body" => Validator::PemBody,
            _ => return None,
        })
    }

    /// Does `secret` pass this check?
    pub fn check(self, secret: &[u8]) -> bool {
        match self {
            Validator::Crc32Base62 => crc32_base62_ok(secret),
            Validator::Jwt => jwt_ok(secret),
            Validator::PypiMacaroon => pypi_ok(secret),
            Validator::Base64UserPass => userpass_ok(secret),
            Validator::NotCode => !looks_like_code(secret),
            Validator::Luhn => luhn_ok(secret),
            Validator::PemBody => pem_ok(secret),
        }
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Encode `n` in base62 (digits, upper, lower), left-padded with `0` to `width`.
pub fn base62(mut n: u64, width: usize) -> String {
    let mut out = Vec::new();
    while n > 0 {
        out.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The 6-character checksum GitHub-style tokens end with, for a random part.
pub fn crc32_base62_checksum(random: &[u8]) -> String {
    base62(u64::from(crc32fast::hash(random)), 6)
}

/// `prefix_` + random + 6 checksum characters. The prefix ends at the last `_` or `-` before
/// the random part; the random part is everything between it and the last six characters.
fn crc32_base62_ok(secret: &[u8]) -> bool {
    let Some(sep) = secret.iter().rposition(|&b| b == b'_' || b == b'-') else {
        return false;
    };
    let body = &secret[sep + 1..];
    if body.len() < 12 || !body.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (random, check) = body.split_at(body.len() - 6);
    crc32_base62_checksum(random).as_bytes() == check
}

fn b64_any(s: &[u8]) -> Option<Vec<u8>> {
    let trimmed: Vec<u8> = s.iter().copied().filter(|&b| b != b'=').collect();
    let e = &base64::engine::general_purpose::STANDARD_NO_PAD;
    let u = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    u.decode(&trimmed).ok().or_else(|| e.decode(&trimmed).ok())
}

fn jwt_ok(secret: &[u8]) -> bool {
    let parts: Vec<&[u8]> = secret.split(|&b| b == b'.').collect();
    if parts.len() != 3 {
        return false;
    }
    let header = b64_any(parts[0]).and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok());
    let payload = b64_any(parts[1]).and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok());
    matches!((header, payload), (Some(h), Some(p)) if h.get("alg").is_some() && p.is_object())
}

fn pypi_ok(secret: &[u8]) -> bool {
    let body = secret.strip_prefix(b"pypi-").unwrap_or(secret);
    let take = body.len().min(120) / 4 * 4;
    let decoded = b64_any(&body[..take]).unwrap_or_default();
    memchr::memmem::find(&decoded, b"pypi.org").is_some()
}

fn userpass_ok(secret: &[u8]) -> bool {
    match b64_any(secret) {
        Some(d) => match d.iter().position(|&b| b == b':') {
            Some(i) => i > 0 && i + 1 < d.len() && d.iter().all(|b| b.is_ascii_graphic()),
            None => false,
        },
        None => false,
    }
}

fn luhn_ok(secret: &[u8]) -> bool {
    let digits: Vec<u32> = secret
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| u32::from(b - b'0'))
        .collect();
    if !(12..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

fn pem_ok(secret: &[u8]) -> bool {
    // Keys pasted into JSON or code carry literal `\n` escapes instead of newlines.
    let mut text = Vec::with_capacity(secret.len());
    let mut i = 0;
    while i < secret.len() {
        if secret[i] == b'\\' && secret.get(i + 1) == Some(&b'n') {
            text.push(b'\n');
            i += 2;
        } else {
            text.push(secret[i]);
            i += 1;
        }
    }
    let mut body = 0usize;
    for line in text.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if line.starts_with(b"-----") || line.contains(&b':') {
            continue;
        }
        for &b in line {
            if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') {
                body += 1;
            } else if !(b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b',' | b'\\')) {
                return false;
            }
        }
    }
    body >= 88
}

/// Shannon entropy of `data` in bits per byte.
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

const PLACEHOLDER_WORDS: &[&str] = &[
    "example", "placeholder", "your_", "your-", "yourkey", "yourtoken", "yoursecret", "yourapi",
    "changeme", "change_me", "change-me", "redacted", "dummy", "sample", "replace", "insert",
    "xxxx", "****", "....", "<", ">", "${", "{{", "$(", "%(", "%s", "fake", "notreal",
    "not-a-real", "not_a_real", "12345678", "abcdefgh", "qwerty", "lorem", "ipsum",
];

const PLACEHOLDER_EXACT: &[&str] = &[
    "password", "passwd", "pass", "secret", "postgres", "root", "admin", "user", "username",
    "test", "token", "apikey", "api_key", "none", "null", "nil", "true", "false", "undefined",
    "mysecret", "mypassword", "secretkey", "default", "empty", "string",
];

/// Is `secret` a placeholder rather than a credential? (`sk-xxxx…`, `your-api-key`, `EXAMPLE`,
/// one character repeated, `12345678…`, template references.)
pub fn is_placeholder(secret: &[u8]) -> bool {
    let lower: Vec<u8> = secret.iter().map(u8::to_ascii_lowercase).collect();
    if let Ok(s) = std::str::from_utf8(&lower) {
        if PLACEHOLDER_EXACT.contains(&s) {
            return true;
        }
    }
    if PLACEHOLDER_WORDS
        .iter()
        .any(|w| memchr::memmem::find(&lower, w.as_bytes()).is_some())
    {
        return true;
    }
    // A run of six identical characters.
    let mut run = 1;
    for w in secret.windows(2) {
        if w[0] == w[1] {
            run += 1;
            if run >= 6 {
                return true;
            }
        } else {
            run = 1;
        }
    }
    // Very low diversity for its length: `abababab`, `0x0x0x0x`.
    if secret.len() >= 8 {
        let mut seen = [false; 256];
        let mut distinct = 0;
        for &b in secret {
            if !seen[b as usize] {
                seen[b as usize] = true;
                distinct += 1;
            }
        }
        if distinct <= 3 {
            return true;
        }
    }
    false
}

/// Does a value from a generic `key = value` assignment look like code rather than a secret?
/// (identifiers, dotted paths, function calls, environment lookups, file paths, URLs without
/// credentials, numbers, and words of one case.)
pub fn looks_like_code(v: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(v) else {
        return false;
    };
    if s.contains("://") || s.starts_with('/') || s.starts_with("./") || s.starts_with("~/") {
        return true;
    }
    if s.bytes().any(|b| matches!(b, b'(' | b')' | b'[' | b']' | b'{' | b'}')) {
        return true;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
        return true;
    }
    let ident = |p: &str| {
        !p.is_empty()
            && p.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    // Dotted or `::` paths such as `self.password`, `config.api_key`, `env::var`.
    if (s.contains('.') || s.contains("::") || s.contains("->"))
        && s.split(['.', ':', '-', '>']).filter(|p| !p.is_empty()).all(ident)
    {
        return true;
    }
    if ident(s) {
        let has_digit = s.bytes().any(|b| b.is_ascii_digit());
        let has_upper = s.bytes().any(|b| b.is_ascii_uppercase());
        let has_lower = s.bytes().any(|b| b.is_ascii_lowercase());
        // snake_case, SCREAMING_CASE, camelCase words without digits: identifiers.
        if !has_digit && (!(has_upper && has_lower) || s.contains('_')) {
            return true;
        }
        // camelCase identifiers: an upper letter only after a lower one, no digits.
        if !has_digit && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase()) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_tokens() {
        let random = "Zx4pQ9rT2vW8yB3nM6kL1cF5hJ7gD0";
        let tok = format!("ghp_{random}{}", crc32_base62_checksum(random.as_bytes()));
        assert!(Validator::Crc32Base62.check(tok.as_bytes()));
        let mut broken = tok.clone().into_bytes();
        let last = broken.len() - 1;
        broken[last] = if broken[last] == b'a' { b'b' } else { b'a' };
        assert!(!Validator::Crc32Base62.check(&broken));
    }

    #[test]
    fn base62_pads() {
        assert_eq!(base62(0, 6), "000000");
        assert_eq!(base62(61, 2), "0z");
        assert_eq!(base62(62, 1), "10");
    }

    #[test]
    fn entropy_bounds() {
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert!((entropy(b"abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn placeholders() {
        for p in [
            "sk-xxxxxxxxxxxxxxxxxxxxxxxx",
            "your-api-key-here",
            "AKIAIOSFODNN7EXAMPLE",
            "aaaaaaaaaaaaaaaa",
            "${OPENAI_API_KEY}",
            "sk-1234567890abcdef",
            "password",
        ] {
            assert!(is_placeholder(p.as_bytes()), "{p}");
        }
        for r in ["Zx4pQ9rT2vW8yB3nM6kL1cF5hJ7gD0", "hM2#kq9!Vz7Lw"] {
            assert!(!is_placeholder(r.as_bytes()), "{r}");
        }
    }

    #[test]
    fn code_versus_values() {
        for c in ["self.password", "get_password()", "OPENAI_API_KEY", "apiKey", "/etc/passwd", "env::var"] {
            assert!(looks_like_code(c.as_bytes()), "{c}");
        }
        for v in ["hM2kq9Vz7Lw4", "S3cr3t!Passw0rd", "Tr0ub4dor&3"] {
            assert!(!looks_like_code(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn luhn() {
        assert!(luhn_ok(b"4111 1111 1111 1111"));
        assert!(!luhn_ok(b"4111 1111 1111 1112"));
    }

    #[test]
    fn jwt() {
        let t = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        assert!(jwt_ok(t));
        assert!(!jwt_ok(b"eyJhbGciOi.abc.def"));
    }
}
