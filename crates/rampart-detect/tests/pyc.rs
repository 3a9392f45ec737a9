//! Compiled Python from CPython itself (`tests/fixtures/pyc/settings.cpython-311.pyc`, compiled
//! from `settings.py` beside it): the string constants are scanned one by one.

use rampart_core::{Detections, Detector, Item, Location};
use rampart_detect::{RuleSet, SecretDetector};
use std::path::Path;

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pyc")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The string assigned to `name` in the fixture's source.
fn assigned(src: &str, name: &str) -> String {
    let line = src
        .lines()
        .find(|l| l.starts_with(&format!("{name} = ")))
        .unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

#[test]
fn keys_whose_length_byte_is_a_letter_or_digit_are_found() {
    let src = String::from_utf8(fixture("settings.py")).unwrap();
    let (anthropic, slack) = (
        assigned(&src, "ANTHROPIC_API_KEY"),
        assigned(&src, "SLACK_BOT_TOKEN"),
    );
    // marshal stores them after the type byte and a length byte of `l` (108) and `8` (56):
    // scanned raw, both would start inside a word and be missed.
    assert_eq!((anthropic.len(), slack.len()), (108, 56));
    let pyc = fixture("settings.cpython-311.pyc");
    let at = |s: &str| {
        pyc.windows(s.len())
            .position(|w| w == s.as_bytes())
            .unwrap()
    };
    assert_eq!(pyc[at(&anthropic) - 1], b'l');
    assert_eq!(pyc[at(&slack) - 1], b'8');

    let path = "app/__pycache__/settings.cpython-311.pyc";
    let loc = Location::file(path);
    let mut out = Detections::default();
    SecretDetector::new(RuleSet::builtin()).detect(
        &Item {
            path,
            data: &pyc,
            location: &loc,
        },
        &mut out,
    );
    let got: Vec<(&str, &str, String)> = out
        .findings
        .iter()
        .map(|f| {
            (
                f.rule.as_str(),
                f.secret.as_deref().unwrap_or(""),
                f.location.display(),
            )
        })
        .collect();
    // Nothing else: in particular no key made of `fw_compiler` and the bytes after it. Each
    // constant's line reads `NAME = "value"` (the name read from the bytecode), so the keys
    // start after `ANTHROPIC_API_KEY = "` (column 22) and `SLACK_BOT_TOKEN = "` (20).
    assert_eq!(
        got,
        [
            (
                "anthropic-api-key",
                anthropic.as_str(),
                format!("{path}#constants:2:22")
            ),
            (
                "slack-bot-token",
                slack.as_str(),
                format!("{path}#constants:3:20")
            ),
        ]
    );
}

/// Names and values meet again: `assign.py` (beside its CPython 3.11 `.pyc`) assigns constants
/// to a module name, an attribute, a local, a keyword argument and a dict key. Rules that need
/// the name — a context rule (DeepSeek's `sk-` + 32 hex is only DeepSeek next to its name) and
/// the generic assignments — fire on the `.pyc` as on the source; a regex assigned to a name
/// and a value passed positionally do not.
#[test]
fn constants_assigned_to_names_are_read_with_their_names() {
    let src = String::from_utf8(fixture("assign.py")).unwrap();
    let pyc = fixture("assign.cpython-311.pyc");
    let text = rampart_detect::pyc::strings(&pyc).unwrap().text;
    let text = String::from_utf8(text).unwrap();
    for line in [
        r#"DEEPSEEK_API_KEY = "sk-c71ad4cdb419a25f113c9ad0dd49478b""#, // rampart:allow
        r#"secret_token = "9fK2mQ7vX4pL8sN3wR6tY1zB5""#,               // rampart:allow
        r#"password = "hM2kq9Vz7Lw4RtX8""#,                            // rampart:allow
        r#"password = "Zq8wX3vN6mK1pL4s""#,                            // rampart:allow
        r#"api_key = "4d8f2a9c1e7b3f6a0d5c8e2b9a1f4c7d""#,             // rampart:allow
        r#"name = "payments-svc""#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }
    // Passed positionally: no name to give it.
    assert!(text.lines().any(|l| l == "Wq5nB8xT2kL7vR3m"), "{text}");

    let scan = |path: &str, data: &[u8]| {
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
        let mut v: Vec<(String, String)> = out
            .findings
            .iter()
            .map(|f| (f.rule.clone(), f.secret.clone().unwrap_or_default()))
            .collect();
        v.sort();
        v
    };
    let compiled = scan("app/__pycache__/assign.cpython-311.pyc", &pyc);
    assert_eq!(
        compiled,
        [
            ("deepseek-api-key", "sk-c71ad4cdb419a25f113c9ad0dd49478b"), // rampart:allow
            ("generic-password-assignment", "Zq8wX3vN6mK1pL4s"),
            ("generic-password-assignment", "hM2kq9Vz7Lw4RtX8"),
            (
                "generic-secret-assignment",
                "4d8f2a9c1e7b3f6a0d5c8e2b9a1f4c7d"
            ),
            ("generic-secret-assignment", "9fK2mQ7vX4pL8sN3wR6tY1zB5"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // The same findings as the source.
    assert_eq!(scan("app/assign.py", src.as_bytes()), compiled);
}
