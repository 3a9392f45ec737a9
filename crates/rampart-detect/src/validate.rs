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
    "discord-token",
    "bech32",
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
    /// PEM body: at least 60 base64 characters (45 bytes, an Ed25519 PKCS#8 key is 48) between
    /// the armor lines, and nothing but base64, whitespace and string-literal punctuation.
    PemBody,
    /// Discord bot token: three dot-separated parts, the first the base64 of a numeric
    /// snowflake user id (17 to 20 digits).
    DiscordToken,
    /// Bech32 string (e.g. `AGE-SECRET-KEY-1…`): the BIP-173 checksum over the human-readable
    /// part and the data part is valid.
    Bech32,
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
            "discord-token" => Validator::DiscordToken,
            "bech32" => Validator::Bech32,
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
            Validator::DiscordToken => discord_ok(secret),
            Validator::Bech32 => bech32_ok(secret),
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
    let header =
        b64_any(parts[0]).and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok());
    let payload =
        b64_any(parts[1]).and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok());
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
    // Keys pasted into JSON or code carry literal `\n` escapes instead of newlines, and keys in
    // XML (Jenkins credentials.xml) carry `&#xd;` / `&#13;` / `&#xa;` / `&#10;` line ends.
    let mut text = Vec::with_capacity(secret.len());
    let mut i = 0;
    while i < secret.len() {
        let rest = &secret[i..];
        if rest.starts_with(b"\\n") {
            text.push(b'\n');
            i += 2;
        } else if let Some(n) = [
            &b"&#xd;"[..],
            b"&#xD;",
            b"&#13;",
            b"&#xa;",
            b"&#xA;",
            b"&#10;",
        ]
        .iter()
        .find(|e| rest.starts_with(e))
        .map(|e| e.len())
        {
            text.push(b'\n');
            i += n;
        } else {
            text.push(secret[i]);
            i += 1;
        }
    }
    let mut body = 0usize;
    for line in text.split(|&b| b == b'\n') {
        // Armor may sit inside a string literal (`"-----END …-----\n";`), a comment
        // (`// -----END …-----`), or on the same line as the body (a key flattened onto one
        // line with spaces, as in a `.env`): cut `-----…-----` out and judge the rest.
        let mut kept = line.to_vec();
        while let Some(a) = memchr::memmem::find(&kept, b"-----") {
            match memchr::memmem::find(&kept[a + 5..], b"-----") {
                Some(b) => {
                    kept.drain(a..a + 5 + b + 5);
                }
                None => {
                    kept.truncate(a);
                }
            }
        }
        let line = kept.trim_ascii();
        // Headers (`Proc-Type: …`) carry a colon.
        if line.contains(&b':') {
            continue;
        }
        for &b in line {
            if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') {
                body += 1;
            } else if !(b.is_ascii_whitespace()
                || matches!(b, b'"' | b'\'' | b',' | b'\\' | b';' | b'`' | b'#' | b'*'))
            {
                return false;
            }
        }
    }
    body >= 60
}

fn discord_ok(secret: &[u8]) -> bool {
    let parts: Vec<&[u8]> = secret.split(|&b| b == b'.').collect();
    if parts.len() != 3 || parts[1].len() != 6 || parts[2].len() < 27 {
        return false;
    }
    match b64_any(parts[0]) {
        Some(id) => (17..=20).contains(&id.len()) && id.iter().all(u8::is_ascii_digit),
        None => false,
    }
}

const BECH32_CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// BIP-173 bech32: `hrp` + `1` + data (≥ 6 characters of the bech32 alphabet, the last six
/// a checksum). Mixed case is invalid; either case alone is accepted.
fn bech32_ok(secret: &[u8]) -> bool {
    let has_lower = secret.iter().any(u8::is_ascii_lowercase);
    let has_upper = secret.iter().any(u8::is_ascii_uppercase);
    if has_lower && has_upper {
        return false;
    }
    let lower: Vec<u8> = secret.iter().map(u8::to_ascii_lowercase).collect();
    let Some(sep) = lower.iter().rposition(|&b| b == b'1') else {
        return false;
    };
    let (hrp, data) = (&lower[..sep], &lower[sep + 1..]);
    if hrp.is_empty() || data.len() < 6 || !hrp.iter().all(|b| (33..=126).contains(b)) {
        return false;
    }
    let mut values = Vec::with_capacity(data.len());
    for c in data {
        match BECH32_CHARSET.iter().position(|x| x == c) {
            Some(v) => values.push(v as u8),
            None => return false,
        }
    }
    let expanded = hrp
        .iter()
        .map(|b| b >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.iter().map(|b| b & 31))
        .chain(values);
    bech32_polymod(expanded) == 1
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
    "example",
    "placeholder",
    "your_",
    "your-",
    "yourkey",
    "yourtoken",
    "yoursecret",
    "yourapi",
    "changeme",
    "change_me",
    "change-me",
    "redacted",
    "dummy",
    "sample",
    "replace",
    "insert",
    "xxxx",
    "****",
    "....",
    "<",
    ">",
    "${",
    "{{",
    "$(",
    "%(",
    "%s",
    "fake",
    "notreal",
    "not-a-real",
    "not_a_real",
    "12345678",
    "abcdefgh",
    "qwerty",
    "lorem",
    "ipsum",
];

const PLACEHOLDER_EXACT: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "secret",
    "postgres",
    "root",
    "admin",
    "user",
    "username",
    "test",
    "token",
    "apikey",
    "api_key",
    "none",
    "null",
    "nil",
    "true",
    "false",
    "undefined",
    "mysecret",
    "mypassword",
    "secretkey",
    "default",
    "empty",
    "string",
];

/// Secrets longer than this are blocks (PEM bodies, OpenSSH keys, long session tokens) and get
/// the block checks in [`is_placeholder`].
const BLOCK_LEN: usize = 200;

/// Template markers that betray a placeholder block; matched case-sensitively because a block's
/// random base64 would otherwise hit short words like `fake` or `xxxx` by chance.
const BLOCK_MARKERS: &[&str] = &[
    "<",
    ">",
    "${",
    "{{",
    "$(",
    "....",
    "xxxx",
    "XXXX",
    "your_",
    "your-",
    "YOUR_",
    "YOUR-",
    "placeholder",
    "PLACEHOLDER",
    "redacted",
    "REDACTED",
    "EXAMPLE",
    "example",
];

/// Is a long, structured secret a placeholder? DER and OpenSSH key bodies legitimately hold runs
/// of `A` (zero bytes) and indented blocks hold runs of spaces, so only template markers, long
/// runs of one other character, and very low diversity count.
fn is_placeholder_block(secret: &[u8]) -> bool {
    if BLOCK_MARKERS
        .iter()
        .any(|w| memchr::memmem::find(secret, w.as_bytes()).is_some())
    {
        return true;
    }
    let mut run = 1;
    for w in secret.windows(2) {
        if w[0] == w[1] && !matches!(w[0], b'A' | b'-' | b'=') && !w[0].is_ascii_whitespace() {
            run += 1;
            if run >= 12 {
                return true;
            }
        } else {
            run = 1;
        }
    }
    let mut seen = [false; 256];
    let distinct = secret
        .iter()
        .filter(|&&b| !b.is_ascii_whitespace() && !std::mem::replace(&mut seen[b as usize], true))
        .count();
    distinct <= 8
}

/// Is `secret` a placeholder rather than a credential? (`sk-xxxx…`, `your-api-key`, `EXAMPLE`,
/// one character repeated, `12345678…`, template references, bracketed names such as the
/// `[password]]` of `redis://[[username]:[password]]@host` in redis-py's docs or an f-string's
/// `{password}`.) Secrets longer than 200 bytes or spanning lines are judged as blocks: template
/// markers only, see `is_placeholder_block`.
pub fn is_placeholder(secret: &[u8]) -> bool {
    if secret.len() > BLOCK_LEN || secret.contains(&b'\n') {
        return is_placeholder_block(secret);
    }
    if matches!(secret.first(), Some(b'[' | b'{' | b'(')) {
        let name = secret
            .iter()
            .position(|b| !matches!(b, b'[' | b'{' | b'('))
            .map_or(&[][..], |i| &secret[i..]);
        let end = name
            .iter()
            .rposition(|b| !matches!(b, b']' | b'}' | b')'))
            .map_or(0, |i| i + 1);
        if 0 < end
            && end < name.len()
            && name[..end]
                .iter()
                .all(|b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'-' | b' '))
        {
            return true;
        }
    }
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

/// One segment of a dotted code path: `snake_case`, `SCREAMING_CASE` or a `CamelCase` name made
/// of word-like parts (each part's lower-case run holds a vowel when it follows a 4-letter
/// acronym or a digit: `EdenAIResponsesAPIConfig`, `Text2VecProviderSpec`).
const CODE_SEGMENT: &str = r"(?:_{0,2}[a-z]+[0-9]{0,2}(?:_[a-z]+[0-9]{0,2})*_{0,2}|_{0,2}[A-Z]+[0-9]{0,2}(?:_[A-Z]+[0-9]{0,2})*|[a-z]{0,12}(?:[A-Z]{1,3}[a-z]+|[A-Z]{1,4}[a-z]*[aeiouy][a-z]*[0-9]?)+[A-Z]{0,2})";

static CODE_PATH: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
    regex::bytes::Regex::new(&format!(r"^{CODE_SEGMENT}(?:\.{CODE_SEGMENT})+[,;]?$"))
        .expect("CODE_PATH is a valid regex")
});

/// Is `secret` a dotted path of names — `EnvironmentVariables.AZURE_TENANT_ID`,
/// `CloudFrontOriginAccessIdentityList.NextMarker`, `constants.HUGGINGFACEHUB_API_TOKEN,` — that a
/// rule's context reached across code? Every segment must be a word-like name, so JWTs, SendGrid
/// keys and other dotted tokens (digits inside their random segments) are not paths. Applies to
/// every rule, unlike [`looks_like_code`], which is for generic assignments only.
pub fn is_code_path(secret: &[u8]) -> bool {
    secret.contains(&b'.') && CODE_PATH.is_match(secret)
}

static PATTERN: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
    regex::bytes::Regex::new(
        r"\(\?[:!=<i]|\[\^?(?:[A-Za-z0-9]-[A-Za-z0-9]|\\[dws])+[^\]]{0,8}\](?:[{+*?]|$)|\\[dws][{+*]",
    )
    .expect("PATTERN is a valid regex")
});

/// Is `secret` a regular expression — `(?:ghp|gho)_[A-Za-z0-9_]{36,255}`, `sk-[a-z0-9]{32}` — the
/// way detectors and validators write what a credential looks like? A group opener `(?:`, a
/// character class of ranges followed by a quantifier, or `\d{`/`\w+`. Random characters do not
/// form these. Applies to every rule (see `engine::accept`).
pub fn is_pattern(secret: &[u8]) -> bool {
    PATTERN.is_match(secret)
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
    // Calls, indexing and literals: `get_password()`, `cfg["db"]`, `{{ secret }}`, `[REDACTED]`.
    // A bracket in the middle of random characters (`Tr0u#b(4dor&3`) is not code.
    if let Some(i) = s.find(['(', ')', '[', ']', '{', '}']) {
        let before = &s[..i];
        if i == 0
            || before.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$' | b':' | b'-' | b'>')
            })
        {
            return true;
        }
    }
    if s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return true;
    }
    // Variable references: `$DB_PASSWORD`, `%DB_PASSWORD%` (shell and Windows environment).
    let var = |t: &str| {
        t.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if s.strip_prefix('$').is_some_and(var)
        || s.strip_prefix('%')
            .and_then(|t| t.strip_suffix('%'))
            .is_some_and(var)
    {
        return true;
    }
    let ident = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    // Dotted or `::` paths such as `self.password`, `config.api_key`, `env::var`.
    if (s.contains('.') || s.contains("::") || s.contains("->"))
        && s.split(['.', ':', '-', '>'])
            .filter(|p| !p.is_empty())
            .all(ident)
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
    fn blocks_with_zero_runs_are_not_placeholders() {
        // An OpenSSH key body: runs of `A` encode zero bytes, and the block is indented.
        let ssh = b"-----BEGIN OPENSSH PRIVATE KEY-----\n      b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n      QyNTUxOQAAACBHm7kNqUe7nQfj2Zq8MBo0x0bmk6Fg0Uv5hKk4K1ZT9gAAAJiJ3Ovhid\n      zr4QAAAAtzc2gtZWQyNTUxOQAAACBHm7kNqUe7nQfj2Zq8MBo0x0bmk6Fg0Uv5hKk4K1\n-----END OPENSSH PRIVATE KEY-----";
        assert!(!is_placeholder(ssh));
        let template = b"-----BEGIN OPENSSH PRIVATE KEY-----\n<paste the contents of ~/.ssh/id_ed25519 here, including the header and footer lines, then save the file and restart the agent so it picks the key up>\n-----END OPENSSH PRIVATE KEY-----";
        assert!(is_placeholder(template));
        let xs = [
            b"-----BEGIN PRIVATE KEY-----\n".as_slice(),
            &[b'x'; 200],
            b"\n-----END PRIVATE KEY-----",
        ]
        .concat();
        assert!(is_placeholder(&xs));
    }

    #[test]
    fn code_versus_values() {
        for c in [
            "self.password",
            "get_password()",
            "OPENAI_API_KEY",
            "apiKey",
            "/etc/passwd",
            "env::var",
            "$KF_GITHUB_TOKEN",
            "%DB_PASSWORD%",
        ] {
            assert!(looks_like_code(c.as_bytes()), "{c}");
        }
        for v in [
            "hM2kq9Vz7Lw4",
            "S3cr3t!Passw0rd",
            "Tr0ub4dor&3",
            "Tr0u#b(4dor&3",
            "k8^s)Pq2!x",
        ] {
            assert!(!looks_like_code(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn luhn() {
        assert!(luhn_ok(b"4111 1111 1111 1111"));
        assert!(!luhn_ok(b"4111 1111 1111 1112"));
    }

    #[test]
    fn pem_bodies() {
        // An Ed25519 PKCS#8 key is only 64 base64 characters.
        let ed = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGPkz4xAobc5gtRidkHl+fxNLHfiWo3eWYgMd1J3qNcM\n-----END PRIVATE KEY-----";
        assert!(pem_ok(ed));
        // Inside a C string literal, one quoted line per PEM line.
        let c = b"-----BEGIN PRIVATE KEY-----\\n\"\n    \"MFQCAQAwCwYJYIZIAWUDBAQBBEKAQAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZ\\n\"\n    \"GhscHR4fICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\\n\"\n    \"-----END PRIVATE KEY-----";
        assert!(pem_ok(c));
        // Commented out, line by line.
        let commented = b"-----BEGIN RSA PRIVATE KEY-----\n// MIICWwIBAAKBgQDbRn2TLhInBki8Bighq37EtqJd/h5SRYh6NkelCA2SQlvCgcC+\n// l3mYQPtPbRT9KxOLwqUuZ9jUCZ7WIji3Sgt0cyvCNPHRk+WW2XR781ifbGE8wLBB\n// -----END RSA PRIVATE KEY-----";
        assert!(pem_ok(commented));
        for bad in [
            &b"-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----"[..],
            b"-----BEGIN PRIVATE KEY-----\n<paste the key here, it is a long base64 block>\n-----END PRIVATE KEY-----",
            b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGPkz4xAobc5gtRidkHl\n-----END PRIVATE KEY-----",
        ] {
            assert!(!pem_ok(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn discord_tokens() {
        // First part: base64("112233445566778899") without padding.
        let ok = b"MTEyMjMzNDQ1NTY2Nzc4ODk5.GhJk_L.abcdefghijklmnopqrstuvwxyzABCDE";
        assert!(discord_ok(ok));
        // base64("hello world, not an id") is not a snowflake.
        assert!(!discord_ok(
            b"aGVsbG8gd29ybGQsIG5vdCBhbiBpZA.GhJk_L.abcdefghijklmnopqrstuvwxyzABCDE"
        ));
        assert!(!discord_ok(
            b"MTEyMjMzNDQ1NTY2Nzc4ODk5.GhJk.abcdefghijklmnopqrstuvwxyzABCDE"
        ));
    }

    #[test]
    fn bech32_checksums() {
        // BIP-173 test vectors.
        for ok in [
            "A12UEL5L",
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
            "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        ] {
            assert!(bech32_ok(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "A12UEL5M",
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxx",
            "A12uEL5L",
            "pzry9x0s0muk",
            "1pzry9x0s0muk",
        ] {
            assert!(!bech32_ok(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn jwt() {
        let t = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        assert!(jwt_ok(t));
        assert!(!jwt_ok(b"eyJhbGciOi.abc.def"));
    }

    #[test]
    fn dotted_names_are_code_paths_and_dotted_tokens_are_not() {
        for c in [
            "EnvironmentVariables.AZURE_TENANT_ID",
            "CloudFrontOriginAccessIdentityList.NextMarker",
            "constants.HUGGINGFACEHUB_API_TOKEN,",
            "self.config.api_key",
            "settings.EdenAIResponsesAPIConfig",
            "os.environ.Text2VecProviderSpec",
            "__builtins__.open",
        ] {
            assert!(is_code_path(c.as_bytes()), "{c}");
        }
        for t in [
            // Random segments with digits inside: tokens, not names.
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
            "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",
            "Ab3dEf9h.Xy7zQ2wR.k8Lm",
            "NotDotted",
            "v1.2.3",
        ] {
            assert!(!is_code_path(t.as_bytes()), "{t}");
        }
    }

    #[test]
    fn regular_expressions_are_patterns_and_random_brackets_are_not() {
        for p in [
            "(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36,255}",
            "sk-[a-z0-9]{32}",
            "AKIA[0-9A-Z]{16}",
            "xox[baprs]-[0-9a-zA-Z-]+",
            "(?i)api[_-]?key",
            "token_\\d{8}",
            "[A-Za-z0-9+/]+={0,2}",
        ] {
            assert!(is_pattern(p.as_bytes()), "{p}");
        }
        for t in [
            "Tr0u#b(4dor&3",
            "p@[ss]w0rd-X9{q}",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
            "ghp_Zx4pQ9rT2vW8yB3nM6kL1cF5hJ7gD01Sz2sN",
            "a]b[c-d",
        ] {
            assert!(!is_pattern(t.as_bytes()), "{t}");
        }
    }

    #[test]
    fn bracketed_names_are_placeholders() {
        for p in ["[password]]", "{password}", "(db_pass)", "[[user-name]]"] {
            assert!(is_placeholder(p.as_bytes()), "{p}");
        }
        for s in ["[Tr0ub4dor&3]", "{x9Qz!7}", "[]", "a[password]"] {
            assert!(!is_placeholder(s.as_bytes()), "{s}");
        }
    }
}
