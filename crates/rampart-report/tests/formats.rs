//! Report formats: the JSON contract, redaction, JSONL, and SARIF validated against the official
//! SARIF 2.1.0 schema.

use rampart_core::{Finding, Kind, Location, Severity, Skipped, fingerprint};
use rampart_report::{Baseline, Format, Report, write_baseline};

fn sample() -> (Vec<Finding>, Vec<Skipped>) {
    let secret = "ghp_Zx4pQ9rT2vW8yB3nM6kL1cF5hJ7gD01Sz2sN";
    let mut a = Finding::new(
        Kind::Secret,
        "github-pat-classic",
        Severity::Critical,
        "GitHub personal access token (classic) found",
        Location::file("dir with space/ci.yml").with_line(4, 12),
    );
    a.secret = Some(secret.into());
    a.provider = Some("GitHub".into());
    a.remediation = Some("Revoke it at https://github.com/settings/tokens".into());
    a.fingerprint = fingerprint(&["github-pat-classic", "ci.yml", "0"], secret.as_bytes());
    let mut b = Finding::new(
        Kind::Secret,
        "generic-password-assignment",
        Severity::Medium,
        "Password in an assignment found",
        Location::file("app/settings.py").with_line(10, 14),
    );
    b.location.commit = Some("0123456789abcdef0123456789abcdef01234567".into());
    b.location.author = Some("Dev <dev@example.org>".into());
    b.secret = Some("hM2kq9Vz7Lw4Rt".into());
    b.fingerprint = fingerprint(
        &["generic-password-assignment", "settings.py", "0"],
        b"hM2kq9Vz7Lw4Rt",
    );
    let skipped = vec![Skipped::new(
        "big.bin",
        "file is 3.0 GiB, over the 256.0 MiB limit (--max-file-size)",
    )];
    (vec![a, b], skipped)
}

fn render(format: Format, show: bool) -> String {
    let (f, s) = sample();
    let mut out = Vec::new();
    Report::new(&f, &s)
        .show_secrets(show)
        .write(format, &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn json_contract() {
    let v: serde_json::Value = serde_json::from_str(&render(Format::Json, false)).unwrap();
    let f = &v["findings"][0];
    for key in [
        "kind",
        "rule",
        "severity",
        "fingerprint",
        "message",
        "location",
        "secret",
        "provider",
    ] {
        assert!(f.get(key).is_some(), "missing {key}");
    }
    assert_eq!(f["kind"], "secret");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["secret"], "ghp_…sN");
    assert_eq!(f["location"]["line"], 4);
    assert_eq!(
        v["findings"][1]["location"]["commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(v["skipped"][0]["path"], "big.bin");
}

#[test]
fn secrets_are_redacted_unless_asked() {
    for format in [Format::Table, Format::Json, Format::Jsonl, Format::Sarif] {
        let text = render(format, false);
        assert!(!text.contains("ghp_Zx4pQ9"), "{format:?} leaked");
        assert!(!text.contains("hM2kq9Vz7Lw4Rt"), "{format:?} leaked");
        assert!(
            render(format, true).contains("ghp_Zx4pQ9rT2vW8yB3nM6kL1cF5hJ7gD01Sz2sN"),
            "{format:?}"
        );
    }
}

#[test]
fn jsonl_is_one_object_per_line() {
    let text = render(Format::Jsonl, false);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["rule"], "github-pat-classic");
    assert_eq!(lines[2]["skipped"]["path"], "big.bin");
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let mut schema: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/sarif-schema-2.1.0.json")).unwrap();
    // The published schema's pattern for `language` (in `run` and `toolComponent`) has a stray
    // `]` (`^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`) that a strict regex engine rejects.
    // Rampart never writes `language`; the pattern is replaced by its evident intent so the rest
    // of the schema is enforced unchanged.
    let mut fixed = 0;
    for def in ["run", "toolComponent"] {
        let language = &mut schema["definitions"][def]["properties"]["language"]["pattern"];
        assert_eq!(language, "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$");
        *language = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$".into();
        fixed += 1;
    }
    assert_eq!(fixed, 2);
    let validator = jsonschema::options()
        .should_validate_formats(false)
        .build(&schema)
        .expect("schema compiles");
    let doc: serde_json::Value = serde_json::from_str(&render(Format::Sarif, false)).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &doc["runs"][0];
    assert_eq!(
        run["results"][0]["partialFingerprints"]["rampart/v1"]
            .as_str()
            .unwrap()
            .len(),
        32
    );
    assert_eq!(
        run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "dir%20with%20space/ci.yml"
    );
    assert_eq!(
        run["results"][1]["properties"]["commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    // A document that breaks the schema is caught, so the check above means something.
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn baseline_round_trip() {
    let (findings, _) = sample();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baseline.json");
    write_baseline(&path, &findings[..1]).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("ghp_Zx4pQ9"),
        "baseline must not hold the secret"
    );
    let b = Baseline::load(&path).unwrap();
    assert_eq!(b.len(), 1);
    assert!(b.contains(&findings[0]));
    assert!(!b.contains(&findings[1]));
    std::fs::write(&path, "{\"not\": \"a report\"}").unwrap();
    assert!(
        Baseline::load(&path)
            .unwrap_err()
            .to_string()
            .contains("no `findings` array")
    );
}

/// Scanned input chooses file names, secrets and advisory text: the terminal report must not
/// pass their control characters (an `ESC` sequence clears the screen or hides lines) or bidi
/// overrides through, and every label keeps a space before its value.
#[test]
fn table_escapes_control_characters_from_scanned_input() {
    let mut f = Finding::new(
        Kind::Secret,
        "generic-password-assignment",
        Severity::Medium,
        "Password in an assignment found",
        Location::file("evil\x1b[2J\x1b[1;1H.env").with_line(1, 10),
    );
    f.secret = Some("p4\x1b]0;pwned\x07NPgByarCOj".into());
    f.extra.insert(
        "severity_source".into(),
        serde_json::json!("default \u{202E}txt.exe"),
    );
    let skipped = vec![Skipped::new("dir/\x1b[31mred", "unreadable")];
    for show in [false, true] {
        let mut out = Vec::new();
        Report::new(std::slice::from_ref(&f), &skipped)
            .show_secrets(show)
            .write(Format::Table, &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\x1b'), "{text}");
        assert!(
            !text.contains('\x07') && !text.contains('\u{202E}'),
            "{text}"
        );
        assert!(
            text.contains("evil\\u{1b}[2J\\u{1b}[1;1H.env:1:10"),
            "{text}"
        );
        assert!(text.contains("dir/\\u{1b}[31mred"), "{text}");
        assert!(
            text.contains("severity_source default \\u{202e}txt.exe"),
            "{text}"
        );
    }
}
