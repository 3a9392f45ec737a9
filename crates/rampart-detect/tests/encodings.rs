//! Secrets in the encodings and layouts real files use: a UTF-8 byte-order mark before the first
//! line, UTF-16 text (PowerShell scripts, `.reg` exports), a private key flattened onto one line
//! with spaces (a `.env`), and one with XML line-end entities (Jenkins `credentials.xml`).

use rampart_core::{Detections, Detector, Item, Location};
use rampart_detect::{RuleSet, SecretDetector};

fn rules_found(path: &str, data: &[u8]) -> Vec<String> {
    let loc = Location::file(path);
    let mut out = Detections::default();
    SecretDetector::new(RuleSet::builtin()).detect(
        &Item {
            path,
            data,
            location: &loc,
        },
        &mut out,
    );
    out.findings.iter().map(|f| f.rule.clone()).collect()
}

const AWS: &str = "AWS_ACCESS_KEY_ID=AKIAQYLPMN5HHHFPZAM2\nAWS_SECRET_ACCESS_KEY=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\n"; // rampart:allow (made-up test key)

/// A made-up key body: 20 lines of 64 base64 characters.
fn pem_lines() -> Vec<String> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..20)
        .map(|i| {
            (0..64)
                .map(|j| alphabet[(i * 7 + j * 13 + (i * j) % 11) % 64] as char)
                .collect()
        })
        .collect()
}

#[test]
fn a_byte_order_mark_does_not_hide_the_first_line() {
    let env = "DB_PASSWORD=9M50EFN3nnoVWJNHq4\nAPI_SECRET=ABEJMKmKLqjHoVvb8z8KnaGVQbVCz2eH\n";
    let plain = rules_found(".env", env.as_bytes());
    assert!(
        plain.contains(&"generic-password-assignment".to_string()),
        "{plain:?}"
    );
    let mut marked = b"\xef\xbb\xbf".to_vec();
    marked.extend(env.as_bytes());
    assert_eq!(rules_found(".env", &marked), plain);
}

#[test]
fn utf16_text_is_scanned_as_text() {
    let script = format!("# deploy.ps1\r\n$env:{}", AWS.replace('\n', "\r\n$env:"));
    let plain = rules_found("deploy.ps1", script.as_bytes());
    assert!(
        plain.contains(&"aws-access-key-id".to_string()),
        "{plain:?}"
    );
    let le: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = script.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mut le_bom = b"\xff\xfe".to_vec();
    le_bom.extend(&le);
    let mut be_bom = b"\xfe\xff".to_vec();
    be_bom.extend(&be);
    for (what, data) in [("LE, no mark", &le), ("LE", &le_bom), ("BE", &be_bom)] {
        assert_eq!(rules_found("deploy.ps1", data), plain, "{what}");
    }
    // Binary data with zeros is not taken for UTF-16.
    let bin: Vec<u8> = (0..600u32).map(|i| (i % 7) as u8).collect();
    assert!(rules_found("blob.bin", &bin).is_empty());
}

#[test]
fn private_keys_on_one_line_or_with_xml_line_ends_are_found() {
    let body = pem_lines();
    let multi = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        body.join("\n")
    );
    assert_eq!(
        rules_found("key.pem", multi.as_bytes()),
        ["private-key-pem"]
    );
    let one_line = format!(
        "SSL_KEY=\"-----BEGIN RSA PRIVATE KEY----- {} -----END RSA PRIVATE KEY-----\"\n",
        body.join(" ")
    );
    assert_eq!(
        rules_found(".env", one_line.as_bytes()),
        ["private-key-pem"]
    );
    let xml = format!(
        "<privateKey>-----BEGIN RSA PRIVATE KEY-----&#xd;\n{}&#xd;\n-----END RSA PRIVATE KEY-----</privateKey>\n",
        body.join("&#xd;\n")
    );
    assert_eq!(
        rules_found("credentials.xml", xml.as_bytes()),
        ["private-key-pem"]
    );
    // A placeholder on one line is still not a key.
    let placeholder = "KEY=\"-----BEGIN RSA PRIVATE KEY----- <paste your key here, it is a long base64 text> -----END RSA PRIVATE KEY-----\"";
    assert!(rules_found(".env", placeholder.as_bytes()).is_empty());
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn base64_values_are_decoded_and_scanned() {
    let dotenv = format!("# production\n{AWS}");
    let pem = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        pem_lines().join("\n")
    );
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ndata:\n  .env: {}\n  tls.key: {}\n",
        b64(&dotenv),
        b64(&pem)
    );
    let loc = Location::file("k8s/secret.yaml");
    let mut out = Detections::default();
    SecretDetector::new(RuleSet::builtin()).detect(
        &Item {
            path: "k8s/secret.yaml",
            data: secret.as_bytes(),
            location: &loc,
        },
        &mut out,
    );
    let mut got: Vec<(String, u32, u32)> = out
        .findings
        .iter()
        .filter(|f| f.extra.get("encoding").is_some_and(|e| e == "base64"))
        .map(|f| {
            (
                f.rule.clone(),
                f.location.line.unwrap(),
                f.location.column.unwrap(),
            )
        })
        .collect();
    got.sort();
    // On the encoded value's line and column.
    assert_eq!(
        got,
        [
            ("aws-access-key-id".to_string(), 6, 9),
            ("aws-secret-access-key".to_string(), 6, 9),
            ("private-key-pem".to_string(), 7, 12),
        ],
        "{:?}",
        out.findings
    );
    // Twice encoded (a Docker config inside a Secret) is found too.
    let docker = format!(
        r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#,
        b64(&format!(
            "ci:{}",
            "ghp_Zx4pQ9rT2vW8yB3nM6kL1cF5hJ7gD0abcdef"
        ))
    );
    let twice = format!("data:\n  .dockerconfigjson: {}\n", b64(&docker));
    let found = rules_found("pull-secret.yaml", twice.as_bytes());
    assert!(
        found.contains(&"docker-config-auth".to_string()),
        "{found:?}"
    );
    // Hashes, key bodies and other binary base64 decode to nothing worth scanning.
    let lock = "\"integrity\": \"sha512-Jv4uO4lbMEN8yPNjdC7u1iXEb6Vcj8oMqP+0w8Ybs7o9rE2sB8v2wD9o1VwzmQw7Hh9zO3z7g1eY5lR0uQqA9Q==\",\n";
    assert!(rules_found("package-lock.json", lock.as_bytes()).is_empty());
}

#[test]
fn json_escapes_do_not_hide_secrets() {
    // PHP's json_encode writes every `/` as `\/`; an export puts a token after a `\n` escape.
    let random = "Zx4pQ9rT2vW8yB3nM6kL1cF5hJ7gD0";
    let tok = format!(
        "ghp_{random}{}",
        rampart_detect::validate::crc32_base62_checksum(random.as_bytes())
    );
    let export = format!(
        r#"{{"db": "postgres:\/\/orders:9M50EFN3nnoVWJNHq4@db.prod.example.net:5432\/orders", "text": "deploy with:\n{tok}"}}"# // rampart:allow (made-up)
    );
    let found = rules_found("export.json", export.as_bytes());
    for want in ["postgres-connection-string", "github-pat-classic"] {
        assert!(found.contains(&want.to_string()), "{want}: {found:?}");
    }
    // Not twice: a service-account key with `\n` escapes is found once per rule, as before.
    let key = pem_lines().join("\\n");
    let sa = format!(
        r#"{{"type": "service_account", "private_key": "-----BEGIN RSA PRIVATE KEY-----\n{key}\n-----END RSA PRIVATE KEY-----\n"}}"#
    );
    let once = rules_found("sa.txt", sa.as_bytes());
    let mut twice = rules_found("sa.json", sa.as_bytes());
    twice.sort();
    let mut once = once;
    once.sort();
    assert_eq!(twice, once);
}
