//! Bad input never stops the scan: each problem is listed under `skipped` with a reason.

mod common;

use common::*;
use std::fs;
use std::os::unix::ffi::OsStrExt;

fn skipped(v: &serde_json::Value) -> Vec<(String, String)> {
    v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn symlinks_special_files_huge_files_and_odd_names() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let tok = github_token(20);
    fs::write(p.join("good.env"), format!("T={tok}\n")).unwrap();
    std::os::unix::fs::symlink(p.join("nowhere"), p.join("dangling")).unwrap();
    fs::create_dir(p.join("loop")).unwrap();
    std::os::unix::fs::symlink("..", p.join("loop/up")).unwrap();
    // A sparse 3 GiB file: over the default 256 MiB cap, never read.
    let big = fs::File::create(p.join("huge.bin")).unwrap();
    big.set_len(3 << 30).unwrap();
    // A named pipe: opening it for reading would block forever if the scanner tried.
    let fifo = p.join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    // A name and content that are not UTF-8.
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.env");
    let mut content = b"\xff\xfe garbage \x00\x01 ".to_vec();
    content.extend(format!("T={}\n", github_token(21)).as_bytes());
    fs::write(p.join(odd), content).unwrap();

    let out = rampart(p, &["scan", ".", "-f", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let s = skipped(&v);
    let reason = |path: &str| s.iter().find(|(p, _)| p == path).map(|(_, r)| r.clone());
    assert_eq!(reason("dangling").as_deref(), Some("broken symbolic link"));
    assert!(
        reason("huge.bin")
            .unwrap()
            .contains("over the 256.0 MiB limit"),
        "{s:?}"
    );
    assert!(
        reason("pipe").unwrap().contains("not a regular file"),
        "{s:?}"
    );
    assert!(reason("loop/up").unwrap().contains("not followed"), "{s:?}");
    let paths: Vec<&str> = findings(&v)
        .iter()
        .map(|f| f["location"]["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"good.env"), "{paths:?}");
    assert!(paths.contains(&"caf\u{fffd}.env"), "{paths:?}");

    // Following links finds the loop and says so, and still finishes.
    let out = rampart(p, &["scan", ".", "-f", "json", "--follow-symlinks"]);
    assert_eq!(out.status.code(), Some(1));
    let s = skipped(&json(&out));
    assert!(
        s.iter().any(|(_, r)| r.contains("symbolic link loop")),
        "{s:?}"
    );
}

#[test]
fn size_cap_is_configurable() {
    let d = tempfile::tempdir().unwrap();
    fs::write(
        d.path().join("a.env"),
        format!("{}\nT={}\n", "x".repeat(4096), github_token(22)),
    )
    .unwrap();
    let v = json(&rampart(
        d.path(),
        &["scan", ".", "-f", "json", "--max-file-size", "1K"],
    ));
    assert!(findings(&v).is_empty());
    assert!(skipped(&v)[0].1.contains("over the 1.0 KiB limit"));
}

#[test]
fn missing_paths_are_skipped_not_fatal() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.env"), format!("T={}\n", github_token(23))).unwrap();
    let out = rampart(d.path(), &["scan", "does-not-exist", "a.env", "-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(
        skipped(&v),
        vec![("does-not-exist".to_string(), "not found".to_string())]
    );
    assert_eq!(findings(&v).len(), 1);
}

#[test]
fn corrupt_repository_reports_missing_objects_and_continues() {
    let d = tempfile::tempdir().unwrap();
    repo(d.path());
    let tok = github_token(24);
    fs::write(d.path().join("keep.env"), format!("T={tok}\n")).unwrap();
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "keep"]);
    fs::write(
        d.path().join("lost.txt"),
        "this blob will be deleted from the object store\n",
    )
    .unwrap();
    git(d.path(), &["add", "."]);
    git(d.path(), &["commit", "-qm", "lost"]);
    let blob = git(d.path(), &["rev-parse", "HEAD:lost.txt"]);
    fs::remove_file(
        d.path()
            .join(".git/objects")
            .join(&blob[..2])
            .join(&blob[2..]),
    )
    .unwrap();

    let out = rampart(
        d.path(),
        &["scan", ".", "--git", "-f", "json", "--show-secrets"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert!(findings(&v).iter().any(|f| f["secret"] == tok.as_str()));
    let s = skipped(&v);
    assert!(
        s.iter()
            .any(|(p, r)| p.ends_with("lost.txt") && r.contains(&blob)),
        "{s:?}"
    );
}

#[test]
fn shallow_clone_is_noted_and_scanned() {
    let d = tempfile::tempdir().unwrap();
    let origin = d.path().join("origin");
    fs::create_dir(&origin).unwrap();
    repo(&origin);
    fs::write(origin.join("old.env"), format!("T={}\n", github_token(25))).unwrap();
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "-qm", "old"]);
    fs::write(origin.join("new.env"), format!("T={}\n", github_token(26))).unwrap();
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "-qm", "new"]);
    let url = format!("file://{}", origin.display());
    git(d.path(), &["clone", "-q", "--depth", "1", &url, "shallow"]);
    let out = rampart(
        &d.path().join("shallow"),
        &["scan", ".", "--git", "-f", "json"],
    );
    let v = json(&out);
    assert!(
        skipped(&v).iter().any(|(_, r)| r.contains("shallow clone")),
        "{v:#}"
    );
    assert_eq!(
        findings(&v).len(),
        2,
        "both files are in the single fetched commit"
    );
}

#[test]
fn not_a_repository_with_git_flag_is_skipped() {
    let d = tempfile::tempdir().unwrap();
    let out = rampart(d.path(), &["scan", ".", "--git", "-f", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(skipped(&json(&out))[0].1.contains("not a git repository"));
}

#[test]
fn unparseable_ignore_file_is_reported() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join(".rampartignore"), "!negated\n").unwrap();
    fs::write(d.path().join("a.env"), format!("T={}\n", github_token(27))).unwrap();
    let out = rampart(d.path(), &["scan", ".", "-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert!(
        skipped(&v).iter().any(
            |(p, r)| p.ends_with(".rampartignore") && r.contains("line 1") || r.contains(":1:")
        ),
        "{v:#}"
    );
}
