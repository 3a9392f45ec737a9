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

const AWS: &str = "AWS_ACCESS_KEY_ID=AKIAQYLPMN5HHHFPZAM2\nAWS_SECRET_ACCESS_KEY=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\n";

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
