//! Every built-in rule is proved against its own positive and negative examples.

use rampart_detect::RuleSet;

#[test]
fn every_rule_matches_its_examples_and_not_its_negatives() {
    let rules = RuleSet::builtin();
    let mut failures = Vec::new();
    for (i, rule) in rules.rules().iter().enumerate() {
        for ex in &rule.def.examples {
            let hits = rules.scan(ex.as_bytes());
            if !hits.iter().any(|m| m.rule == i) {
                let others: Vec<&str> = hits.iter().map(|m| rules.rules()[m.rule].id()).collect();
                failures.push(format!(
                    "{}: example not matched (other rules: {others:?}): {ex}",
                    rule.id()
                ));
            }
        }
        for ex in &rule.def.negative_examples {
            if rules.scan(ex.as_bytes()).iter().any(|m| m.rule == i) {
                failures.push(format!("{}: negative example matched: {ex}", rule.id()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn rule_counts_meet_the_coverage_floor() {
    let rules = RuleSet::builtin();
    let total = rules.rules().len();
    let ai = rules
        .rules()
        .iter()
        .filter(|r| r.def.category == "ai")
        .count();
    assert!(total >= 120, "only {total} rules");
    assert!(ai >= 45, "only {ai} AI/ML rules");
}

#[test]
fn secret_is_the_named_group_and_positions_are_right() {
    let rules = RuleSet::builtin();
    let text = b"line one\nDB_PASSWORD=hM2kq9Vz7Lw4Rt\n";
    let m = rules.scan(text);
    assert_eq!(m.len(), 1);
    assert_eq!(&text[m[0].secret.clone()], b"hM2kq9Vz7Lw4Rt");
    assert_eq!((m[0].line, m[0].column), (2, 13));
}

#[test]
fn inline_allow_marks_the_match() {
    let rules = RuleSet::builtin();
    let m = rules.scan(b"DB_PASSWORD=hM2kq9Vz7Lw4Rt  # rampart:allow\n");
    assert_eq!(m.len(), 1);
    assert!(m[0].allowed);
}

#[test]
fn extra_rules_extend_and_bad_rules_are_named() {
    let extra = r#"
[[rule]]
id = "acme-internal-token"
name = "ACME internal token"
provider = "ACME"
category = "saas"
severity = "high"
keywords = ["acme_tok_"]
pattern = '''(?P<secret>acme_tok_[a-f0-9]{32})'''
remediation = "Revoke at https://acme.internal/tokens"
examples = ["acme_tok_0f1e2d3c4b5a69788796a5b4c3d2e1f0", "x=acme_tok_9a8b7c6d5e4f30211203f4e5d6c7b8a9"]
negative_examples = ["acme_tok_123", "acme_tok_zzzz"]
"#;
    let rules = RuleSet::builtin_with([("acme.toml", extra)]).unwrap();
    let hits = rules.scan(b"token: acme_tok_0f1e2d3c4b5a69788796a5b4c3d2e1f0");
    assert_eq!(rules.rules()[hits[0].rule].id(), "acme-internal-token");

    let broken = extra.replace("(?P<secret>", "(?P<token>");
    let err = RuleSet::builtin_with([("acme.toml", broken.as_str())]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("acme.toml") && msg.contains("acme-internal-token") && msg.contains("secret"),
        "{msg}"
    );

    let dup = extra.replace("acme-internal-token", "github-pat-classic");
    assert!(
        RuleSet::builtin_with([("acme.toml", dup.as_str())])
            .unwrap_err()
            .to_string()
            .contains("duplicate")
    );
}

#[test]
fn keywords_far_from_the_secret_do_not_confirm_it() {
    let rules = RuleSet::builtin();
    // A keyword hit only opens a window of the pattern's maximum length around itself.
    let mut text = b"ghp_ mentioned here\n".to_vec();
    text.extend(std::iter::repeat_n(b'.', 10_000));
    text.extend(b"\nnothing else");
    assert!(rules.scan(&text).is_empty());
}

#[test]
fn specific_rules_win_over_generic_ones() {
    let rules = RuleSet::builtin();
    let key = &rules
        .rules()
        .iter()
        .find(|r| r.id() == "github-pat-classic")
        .unwrap()
        .def
        .examples[0];
    let token = key.split('=').nth(1).unwrap();
    let text = format!("password = {token}\n");
    let m = rules.scan(text.as_bytes());
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(rules.rules()[m[0].rule].id(), "github-pat-classic");
}

#[test]
fn adjacent_secrets_separated_by_one_byte_are_all_found() {
    let rules = RuleSet::builtin();
    let example = |id: &str| {
        let rule = rules.rules().iter().find(|r| r.id() == id).unwrap();
        rule.def.examples[0].split('=').nth(1).unwrap().to_string()
    };
    let (token, slack) = (example("github-pat-classic"), example("slack-bot-token"));
    // One key per line and comma-separated keys share their boundary bytes; a rule whose
    // pattern consumes the byte after a key must still see it before the next key.
    for sep in ["\n", ",", " "] {
        let text = format!("{slack}{sep}{slack}{sep}{token}\n");
        let m = rules.scan(text.as_bytes());
        assert_eq!(m.len(), 3, "separator {sep:?}: {m:?}");
    }
}
