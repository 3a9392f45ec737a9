//! `rampart scan` end to end: the real binary on temp dirs and real git repositories.

mod common;

use common::*;
use std::fs;

#[test]
fn finds_a_secret_in_a_directory_redacts_it_and_exits_1() {
    let d = tempfile::tempdir().unwrap();
    let tok = github_token(1);
    fs::create_dir(d.path().join("ci")).unwrap();
    fs::write(
        d.path().join("ci/deploy.yml"),
        format!("env:\n  GITHUB_TOKEN: {tok}\n"),
    )
    .unwrap();
    fs::write(d.path().join("clean.txt"), "nothing to see\n").unwrap();
    let out = rampart(d.path(), &["scan", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let f = &findings(&v)[0];
    assert_eq!(f["kind"], "secret");
    assert_eq!(f["rule"], "github-pat-classic");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["provider"], "GitHub");
    assert_eq!(f["location"]["path"], "ci/deploy.yml");
    assert_eq!(f["location"]["line"], 2);
    assert_eq!(f["location"]["column"], 17);
    assert_eq!(f["fingerprint"].as_str().unwrap().len(), 32);
    assert_eq!(
        f["secret"].as_str().unwrap(),
        format!("ghp_…{}", &tok[tok.len() - 2..])
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&tok));

    let shown = rampart(
        d.path(),
        &["scan", ".", "--format", "json", "--show-secrets"],
    );
    assert_eq!(findings(&json(&shown))[0]["secret"], tok.as_str());

    let table = rampart(d.path(), &["scan", "."]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("CRITICAL") && text.contains("ci/deploy.yml:2:17"),
        "{text}"
    );
    assert!(!text.contains(&tok));
}

#[test]
fn clean_tree_exits_0_and_fail_on_sets_the_threshold() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.txt"), "hello\n").unwrap();
    assert_eq!(rampart(d.path(), &["scan", "."]).status.code(), Some(0));
    fs::write(
        d.path().join("settings.env"),
        "DB_PASSWORD=hM2kq9Vz7Lw4Rt\n",
    )
    .unwrap();
    assert_eq!(rampart(d.path(), &["scan", "."]).status.code(), Some(1));
    assert_eq!(
        rampart(d.path(), &["scan", ".", "--fail-on", "high"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        rampart(d.path(), &["scan", ".", "--fail-on", "none"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        rampart(d.path(), &["scan", ".", "--fail-on", "medium"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn usage_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(
        rampart(d.path(), &["scan", "--format", "xml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        rampart(d.path(), &["scan", "--no-such-flag"]).status.code(),
        Some(2)
    );
    let out = rampart(d.path(), &["scan", ".", "--baseline", "missing.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
    fs::write(d.path().join("bad.toml"), "[[rule]]\nid = \"x\"\n").unwrap();
    let out = rampart(d.path(), &["scan", ".", "--extra-rules", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));
}

#[test]
fn stdin_is_scanned_as_dash() {
    let d = tempfile::tempdir().unwrap();
    let tok = github_token(2);
    let out = rampart_stdin(
        d.path(),
        &["scan", "-", "--format", "json"],
        format!("x {tok}\n").as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(findings(&v)[0]["location"]["path"], "-");
}

#[test]
fn history_finds_a_secret_added_then_deleted_with_commit_author_and_date() {
    let d = tempfile::tempdir().unwrap();
    repo(d.path());
    let tok = github_token(3);
    fs::write(
        d.path().join("deploy.sh"),
        format!("export GITHUB_TOKEN={tok}\n"),
    )
    .unwrap();
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "add deploy"]);
    let added = git(d.path(), &["rev-parse", "HEAD"]);
    git(d.path(), &["rm", "-q", "deploy.sh"]);
    git(d.path(), &["commit", "-qm", "oops"]);

    // The working tree alone is clean.
    assert_eq!(rampart(d.path(), &["scan", "."]).status.code(), Some(0));

    let out = rampart(
        d.path(),
        &["scan", ".", "--git-history", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let f: Vec<_> = findings(&v)
        .iter()
        .filter(|f| f["rule"] == "github-pat-classic")
        .collect();
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["location"]["commit"], added.as_str());
    assert_eq!(f[0]["location"]["path"], "deploy.sh");
    assert_eq!(f[0]["location"]["author"], "Ada Lovelace <ada@example.org>");
    assert!(f[0]["location"]["date"].as_str().unwrap().contains('T'));
}

#[test]
fn history_finds_a_commit_only_the_reflog_still_reaches() {
    let d = tempfile::tempdir().unwrap();
    repo(d.path());
    fs::write(d.path().join("README"), "hello\n").unwrap();
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "first"]);
    let tok = github_token(4);
    fs::write(d.path().join(".env"), format!("GITHUB_TOKEN={tok}\n")).unwrap();
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "add env"]);
    let leaked = git(d.path(), &["rev-parse", "HEAD"]);
    // "Removed" by rewinding the branch: no ref reaches the commit, the reflog does.
    git(d.path(), &["reset", "-q", "--hard", "HEAD~1"]);
    let out = rampart(d.path(), &["scan", "--git", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let f = &findings(&v)[0];
    assert_eq!(f["rule"], "github-pat-classic");
    assert_eq!(f["location"]["commit"], leaked.as_str());
    // Once the reflog is expired and the object pruned, there is nothing left to find.
    git(d.path(), &["reflog", "expire", "--expire=now", "--all"]);
    git(d.path(), &["gc", "-q", "--prune=now"]);
    let out = rampart(d.path(), &["scan", "--git", ".", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn history_covers_other_branches_and_tags_and_scans_each_blob_once() {
    let d = tempfile::tempdir().unwrap();
    repo(d.path());
    let on_branch = github_token(4);
    let on_tag = github_token(5);
    git(d.path(), &["checkout", "-qb", "feature"]);
    fs::write(d.path().join("a.env"), format!("T={on_branch}\n")).unwrap();
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "feature work"]);
    let first = git(d.path(), &["rev-parse", "HEAD"]);
    // The same content under a second path in a later commit is the same blob: reported once,
    // at its first appearance.
    fs::write(d.path().join("copy.env"), format!("T={on_branch}\n")).unwrap();
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "copy"]);
    git(d.path(), &["checkout", "-q", "main"]);
    git(d.path(), &["checkout", "-q", "--detach"]);
    fs::write(d.path().join("release.cfg"), format!("token: {on_tag}\n")).unwrap();
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "release"]);
    git(d.path(), &["tag", "-a", "v1.0", "-m", "release"]);
    git(d.path(), &["checkout", "-q", "main"]);

    let out = rampart(
        d.path(),
        &["scan", ".", "--git", "--format", "json", "--show-secrets"],
    );
    let v = json(&out);
    let secrets: Vec<(String, String, String)> = findings(&v)
        .iter()
        .map(|f| {
            (
                f["secret"].as_str().unwrap().to_string(),
                f["location"]["path"].as_str().unwrap().to_string(),
                f["location"]["commit"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    assert!(
        secrets.contains(&(on_branch.clone(), "a.env".into(), first)),
        "{secrets:?}"
    );
    assert!(
        secrets
            .iter()
            .any(|s| s.0 == on_tag && s.1 == "release.cfg"),
        "{secrets:?}"
    );
}

#[test]
fn baseline_round_trip_reports_only_new_findings() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("old.env"), format!("T={}\n", github_token(6))).unwrap();
    let out = rampart(
        d.path(),
        &[
            "scan",
            "src-none",
            ".",
            "--write-baseline",
            "base.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let base = fs::read_to_string(d.path().join("base.json")).unwrap();
    assert!(
        !base.contains(&github_token(6)),
        "baseline holds the secret"
    );

    let again = rampart(
        d.path(),
        &["scan", ".", "--baseline", "base.json", "--format", "json"],
    );
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_eq!(json(&again)["summary"]["suppressed"], 1);

    fs::write(d.path().join("new.env"), format!("T={}\n", github_token(7))).unwrap();
    let newer = rampart(
        d.path(),
        &["scan", ".", "--baseline", "base.json", "--format", "json"],
    );
    assert_eq!(newer.status.code(), Some(1));
    let v = json(&newer);
    assert_eq!(findings(&v).len(), 1);
    assert_eq!(findings(&v)[0]["location"]["path"], "new.env");
}

#[test]
fn fingerprints_survive_moving_the_secret_within_its_file() {
    let d = tempfile::tempdir().unwrap();
    let tok = github_token(8);
    fs::write(d.path().join("a.env"), format!("T={tok}\n")).unwrap();
    let fp1 =
        findings(&json(&rampart(d.path(), &["scan", ".", "-f", "json"])))[0]["fingerprint"].clone();
    fs::write(d.path().join("a.env"), format!("# a comment\n\nT={tok}\n")).unwrap();
    let v = json(&rampart(d.path(), &["scan", ".", "-f", "json"]));
    assert_eq!(findings(&v)[0]["fingerprint"], fp1);
    assert_eq!(findings(&v)[0]["location"]["line"], 3);
}

#[test]
fn inline_allow_and_rampartignore_suppress() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("tests/fixtures")).unwrap();
    fs::write(
        d.path().join("tests/fixtures/key.env"),
        format!("T={}\n", github_token(9)),
    )
    .unwrap();
    fs::write(
        d.path().join("allowed.py"),
        format!("T = '{}'  # rampart:allow\n", github_token(10)),
    )
    .unwrap();
    fs::write(
        d.path().join("known.env"),
        format!("T={}\n", github_token(11)),
    )
    .unwrap();
    fs::write(
        d.path().join("live.env"),
        format!("T={}\n", github_token(12)),
    )
    .unwrap();
    let v = json(&rampart(d.path(), &["scan", ".", "-f", "json"]));
    let known = findings(&v)
        .iter()
        .find(|f| f["location"]["path"] == "known.env")
        .unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    fs::write(
        d.path().join(".rampartignore"),
        format!("# fixtures are fake\ntests/fixtures/\n{known}\n"),
    )
    .unwrap();
    let v = json(&rampart(d.path(), &["scan", ".", "-f", "json"]));
    let paths: Vec<&str> = findings(&v)
        .iter()
        .map(|f| f["location"]["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["live.env"]);
}

#[test]
fn sarif_goes_to_the_output_file() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.env"), format!("T={}\n", github_token(13))).unwrap();
    let out = rampart(
        d.path(),
        &["scan", "a.env", "--format", "sarif", "--output", "r.sarif"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.path().join("r.sarif")).unwrap()).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "github-pat-classic");
    assert_eq!(
        v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "a.env"
    );
}

#[test]
fn extra_rules_are_used() {
    let d = tempfile::tempdir().unwrap();
    fs::write(
        d.path().join("acme.toml"),
        r#"[[rule]]
id = "acme-token"
name = "ACME token"
provider = "ACME"
category = "saas"
severity = "high"
keywords = ["acme_"]
pattern = '''(?P<secret>acme_[a-f0-9]{32})'''
remediation = "Revoke it at https://acme.invalid/tokens"
examples = ["acme_0f1e2d3c4b5a69788796a5b4c3d2e1f0", "t=acme_9a8b7c6d5e4f30211203f4e5d6c7b8a9"]
negative_examples = ["acme_1", "acme_zz"]
"#,
    )
    .unwrap();
    fs::write(
        d.path().join("x.txt"),
        "key: acme_0f1e2d3c4b5a69788796a5b4c3d2e1f0\n",
    )
    .unwrap();
    let v = json(&rampart(
        d.path(),
        &["scan", "x.txt", "-f", "json", "--extra-rules", "acme.toml"],
    ));
    assert_eq!(findings(&v)[0]["rule"], "acme-token");
}

#[test]
fn model_files_are_analysed_by_content_and_policy_extends_the_allowlist() {
    let d = tempfile::tempdir().unwrap();
    // pickle protocol 0 of an object whose __reduce__ is (posix.system, ("id",)), named like weights.
    fs::write(
        d.path().join("weights.bin"),
        b"cposix\nsystem\np0\n(Vid\np1\ntp2\nRp3\n.",
    )
    .unwrap();
    // An unknown but harmless global: `high` by default, allowed by a policy file.
    fs::write(
        d.path().join("cfg.pkl"),
        b"\x80\x02cacme.config\nSettings\nq\x00)\x81q\x01.",
    )
    .unwrap();
    let out = rampart(d.path(), &["scan", ".", "-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let by_path = |p: &str| {
        findings(&v)
            .iter()
            .find(|f| f["location"]["path"] == p)
            .cloned()
    };
    let bad = by_path("weights.bin").expect("the os.system pickle is found");
    assert_eq!(bad["kind"], "unsafe-model");
    assert_eq!(bad["severity"], "critical");
    assert_eq!(bad["globals"][0], "posix.system");
    let unknown = by_path("cfg.pkl").expect("the unknown global is reported");
    assert_eq!(unknown["severity"], "high");

    fs::write(
        d.path().join("policy.toml"),
        "allow = [\"acme.config.Settings\"]\n",
    )
    .unwrap();
    let v = json(&rampart(
        d.path(),
        &["scan", ".", "-f", "json", "--model-policy", "policy.toml"],
    ));
    let paths: Vec<&str> = findings(&v)
        .iter()
        .map(|f| f["location"]["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["weights.bin"]);

    fs::write(
        d.path().join("bad-policy.toml"),
        "allow = [\"not a name\"]\n",
    )
    .unwrap();
    let out = rampart(
        d.path(),
        &["scan", ".", "--model-policy", "bad-policy.toml"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad-policy.toml"));
}

#[test]
fn urls_flag_reports_malicious_links_in_text() {
    let d = tempfile::tempdir().unwrap();
    fs::write(
        d.path().join("mail.txt"),
        "Hi,\nplease verify at https://paypal.com.secure-login.xyz/login today.\nDocs: https://www.paypal.com/help\n",
    )
    .unwrap();
    let off = json(&rampart(d.path(), &["scan", ".", "-f", "json"]));
    assert!(findings(&off).is_empty(), "URLs are off by default");
    let out = rampart(d.path(), &["scan", ".", "-f", "json", "--urls"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let f = findings(&v);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["kind"], "url");
    assert_eq!(f[0]["location"]["line"], 2);
    assert!(f[0].to_string().contains("secure-login.xyz"));
}

/// `.gitignore`d files are scanned by default (that is where `.env` secrets live) and skipped
/// with `--respect-gitignore`, in a git repository and in a plain directory alike.
#[test]
fn respect_gitignore_skips_ignored_files_only_when_asked() {
    for with_git in [false, true] {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        if with_git {
            common::repo(p);
        }
        std::fs::write(p.join(".gitignore"), "venv/\n.env\n").unwrap();
        std::fs::create_dir_all(p.join("venv/lib")).unwrap();
        std::fs::create_dir_all(p.join("src")).unwrap();
        std::fs::write(
            p.join("venv/lib/fixture.py"),
            format!("T = \"{}\"\n", github_token(1)),
        )
        .unwrap();
        std::fs::write(
            p.join(".env"),
            format!("GITHUB_TOKEN={}\n", github_token(2)),
        )
        .unwrap();
        std::fs::write(
            p.join("src/app.py"),
            format!("t = \"{}\"\n", github_token(3)),
        )
        .unwrap();
        let paths = |args: &[&str]| {
            let mut all = vec!["scan", ".", "--format", "json"];
            all.extend_from_slice(args);
            let out = rampart(p, &all);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut v: Vec<String> = findings(&json(&out))
                .iter()
                .map(|f| f["location"]["path"].as_str().unwrap().replace('\\', "/"))
                .collect();
            v.sort();
            v
        };
        let everything = paths(&[]);
        assert_eq!(
            everything,
            [".env", "src/app.py", "venv/lib/fixture.py"],
            "git: {with_git}"
        );
        assert_eq!(
            paths(&["--respect-gitignore"]),
            ["src/app.py"],
            "git: {with_git}"
        );
    }
}

#[test]
fn single_gzip_files_and_office_documents_are_opened() {
    use std::io::Write;
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (github_token(21), github_token(22));
    // A rotated log and a dump, gzip-compressed on their own (not tar).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(format!("GET /hook?x=1\nAuthorization: token {a}\n").as_bytes())
        .unwrap();
    fs::write(d.path().join("app.log.1.gz"), gz.finish().unwrap()).unwrap();
    // A spreadsheet: a zip of XML.
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file(
        "xl/sharedStrings.xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    z.write_all(format!("<sst><si><t>deploy token</t></si><si><t>{b}</t></si></sst>").as_bytes())
        .unwrap();
    fs::write(d.path().join("keys.xlsx"), z.finish().unwrap().into_inner()).unwrap();
    let out = rampart(d.path(), &["scan", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let mut got: Vec<(String, String)> = findings(&v)
        .iter()
        .map(|f| {
            (
                f["location"]["path"].as_str().unwrap().to_string(),
                f["location"]["member"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("app.log.1.gz".to_string(), "app.log.1".to_string()),
            ("keys.xlsx".to_string(), "xl/sharedStrings.xml".to_string()),
        ],
        "{v}"
    );
}
