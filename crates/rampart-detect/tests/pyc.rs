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
    // Nothing else: in particular no key made of `fw_compiler` and the bytes after it.
    assert_eq!(
        got,
        [
            (
                "anthropic-api-key",
                anthropic.as_str(),
                format!("{path}#constants:2:1")
            ),
            (
                "slack-bot-token",
                slack.as_str(),
                format!("{path}#constants:3:1")
            ),
        ]
    );
}
