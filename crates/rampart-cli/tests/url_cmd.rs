//! `rampart url` end to end: the real binary on arguments, files (with invalid UTF-8), stdin, free
//! text, a custom brands file and a custom suffix list, with its documented exit codes.

mod common;

use common::{json, rampart, rampart_stdin};

#[test]
fn verdicts_json_shape_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = rampart(
        dir.path(),
        &[
            "url",
            "--format",
            "json",
            "https://www.paypa1.com/login",
            "https://www.paypal.com/",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 2);
    for k in [
        "url",
        "host",
        "registrable_domain",
        "public_suffix",
        "verdict",
        "impersonates",
        "reasons",
    ] {
        assert!(r[0].get(k).is_some(), "missing {k}: {}", r[0]);
    }
    assert_eq!(r[0]["verdict"], "malicious");
    assert_eq!(r[0]["registrable_domain"], "paypa1.com");
    assert_eq!(r[0]["impersonates"]["brand"], "PayPal");
    assert_eq!(r[0]["impersonates"]["technique"], "homoglyph");
    assert_eq!(r[0]["reasons"][0]["code"], "typosquat");
    assert_eq!(r[1]["verdict"], "safe");
    assert_eq!(r[1]["reasons"][0]["code"], "official-domain");

    let out = rampart(dir.path(), &["url", "https://www.paypal.com/"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("official-domain"));

    let out = rampart(dir.path(), &["url"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no URLs given"));
    let out = rampart(dir.path(), &["url", "--format", "yaml", "x"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn files_with_bad_lines_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("urls.txt");
    std::fs::write(&f, b"# list\nhttps://ok.example.org/\n\xff\xfe not utf-8\n\nhttp://0x7f.1/\n   \nnot a url at all\n").unwrap();
    let out = rampart(
        dir.path(),
        &["url", "--format", "json", "--file", f.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 4, "{v}");
    assert!(
        r[1]["error"]
            .as_str()
            .unwrap()
            .contains("urls.txt:3: not valid UTF-8"),
        "{}",
        r[1]
    );
    assert_eq!(r[2]["reasons"][0]["code"], "ip-obfuscated");
    assert!(r[3]["error"].is_string(), "{}", r[3]);
    assert_eq!(r[3]["verdict"], "safe");

    let out = rampart(dir.path(), &["url", "--file", "/nonexistent/urls.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/urls.txt"));
}

#[test]
fn stdin_extract_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    let text = b"Dear customer,\nverify at https://paypal.com.secure-login.xyz/verify now.\nThanks, www.example.org\n";
    let out = rampart_stdin(
        dir.path(),
        &[
            "url",
            "--stdin",
            "--extract",
            "--format",
            "json",
            "--min-verdict",
            "malicious",
        ],
        text,
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 1, "{v}");
    assert_eq!(r[0]["input"], "stdin:2");
    assert_eq!(r[0]["registrable_domain"], "secure-login.xyz");
    assert_eq!(r[0]["reasons"][0]["code"], "brand-in-subdomain");
}

#[test]
fn custom_brands_and_psl_files() {
    let dir = tempfile::tempdir().unwrap();
    let brands = dir.path().join("brands.txt");
    std::fs::write(&brands, "# ours\nAcme Bank | bank | acmebank.example\n").unwrap();
    let out = rampart(
        dir.path(),
        &[
            "url",
            "--format",
            "json",
            "--brands",
            brands.to_str().unwrap(),
            "https://acmebank-login.com/",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json(&out)["results"][0]["impersonates"]["brand"],
        "Acme Bank"
    );

    std::fs::write(&brands, "Acme Bank | bank\n").unwrap();
    let out = rampart(
        dir.path(),
        &[
            "url",
            "--brands",
            brands.to_str().unwrap(),
            "https://a.example/",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("brands.txt:1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let psl = dir.path().join("psl.dat");
    std::fs::write(
        &psl,
        "// ===BEGIN ICANN DOMAINS===\ncom\nsecure-login.com\n",
    )
    .unwrap();
    let out = rampart(
        dir.path(),
        &[
            "url",
            "--format",
            "json",
            "--psl",
            psl.to_str().unwrap(),
            "https://x.paypal.secure-login.com/",
        ],
    );
    let v = json(&out);
    assert_eq!(v["results"][0]["public_suffix"], "secure-login.com");
    assert_eq!(
        v["results"][0]["registrable_domain"],
        "paypal.secure-login.com"
    );

    std::fs::write(&psl, "garbage").unwrap();
    let out = rampart(
        dir.path(),
        &["url", "--psl", psl.to_str().unwrap(), "https://a.example/"],
    );
    assert_eq!(out.status.code(), Some(2));
}
