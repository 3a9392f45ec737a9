//! `rampart scan` on container images: made by independent tools (umoci, skopeo) and by test code.

mod common;
#[path = "../../rampart-sources/tests/support/images.rs"]
mod images;

use common::*;
use images::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: `{tool}` is not installed (.ci/run installs it)");
    }
    ok
}

fn run(dir: &Path, cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn umoci_image_with_deleted_secret_and_env_then_skopeo_docker_archive() {
    if !have("umoci") || !have("skopeo") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let tok = github_token(40);
    std::fs::write(p.join("deploy.env"), format!("GITHUB_TOKEN={tok}\n")).unwrap();
    std::fs::write(
        p.join("litellm_init.pth"),
        "import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import base64; exec(base64.b64decode(\"cHJpbnQoMSk=\"))'])\n",
    )
    .unwrap();
    run(p, "umoci", &["init", "--layout", "layout"]);
    run(p, "umoci", &["new", "--image", "layout:app"]);
    run(
        p,
        "umoci",
        &[
            "insert",
            "--image",
            "layout:app",
            "deploy.env",
            "/srv/deploy.env",
        ],
    );
    run(
        p,
        "umoci",
        &[
            "insert",
            "--image",
            "layout:app",
            "litellm_init.pth",
            "/usr/local/lib/python3.11/site-packages/litellm_init.pth",
        ],
    );
    run(
        p,
        "umoci",
        &[
            "insert",
            "--image",
            "layout:app",
            "--whiteout",
            "/srv/deploy.env",
        ],
    );
    run(
        p,
        "umoci",
        &[
            "config",
            "--image",
            "layout:app",
            "--config.env",
            "DB_PASSWORD=hM2kq9Vz7Lw4Rt",
        ],
    );
    run(
        p,
        "skopeo",
        &[
            "copy",
            "oci:layout:app",
            "docker-archive:app.tar:acme/app:1",
        ],
    );

    for target in ["layout", "app.tar"] {
        let out = rampart(p, &["scan", target, "-f", "json"]);
        assert_eq!(out.status.code(), Some(1), "{target}");
        let v = json(&out);
        assert!(
            v["skipped"].as_array().unwrap().is_empty(),
            "{target}: {v:#}"
        );
        let f = findings(&v);
        let secret = f
            .iter()
            .find(|f| f["rule"] == "github-pat-classic")
            .expect("deleted secret found");
        assert_eq!(secret["location"]["path"], "srv/deploy.env");
        assert_eq!(secret["location"]["layer_index"], 0);
        assert_eq!(secret["location"]["removed_in_layer_index"], 2, "{target}");
        assert!(
            secret["location"]["layer"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );
        let env = f
            .iter()
            .find(|f| f["location"]["field"] == "config.Env[0]")
            .expect("config env");
        assert_eq!(env["rule"], "generic-password-assignment");
        let hook = f
            .iter()
            .find(|f| f["kind"] == "startup-hook")
            .expect("pth hook");
        assert_eq!(hook["severity"], "critical");
        assert_eq!(
            hook["location"]["path"],
            "usr/local/lib/python3.11/site-packages/litellm_init.pth"
        );
    }
    let v = json(&rampart(p, &["scan", "app.tar", "-f", "json"]));
    let secret = findings(&v)
        .iter()
        .find(|f| f["rule"] == "github-pat-classic")
        .unwrap()
        .clone();
    assert!(
        secret["location"]["image"]
            .as_str()
            .unwrap()
            .contains("acme/app:1")
    );
}

#[test]
fn test_written_image_with_nested_wheel_integrity_and_platforms() {
    use std::io::Write;
    let d = tempfile::tempdir().unwrap();
    let tok = github_token(41);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opt = zip::write::SimpleFileOptions::default();
    zip.start_file("demo/config.py", opt).unwrap();
    zip.write_all(format!("TOKEN = '{tok}'\n").as_bytes())
        .unwrap();
    let wheel = zip.finish().unwrap().into_inner();
    let l0 = layer(&[Entry::File("opt/demo-1.0-py3-none-any.whl", &wheel)]);
    let l1 = layer(&[Entry::File("etc/motd", b"hello\n")]);
    let (mut blobs, index) = oci(&[
        Img {
            layers: vec![(gzip(&l0), "gzip"), (zstd(&l1), "zstd")],
            config: json!({"history": [{"created_by": format!("ARG GH={tok}")}]}),
            annotations: json!({}),
            platform: Some(("linux", "amd64")),
            ref_name: "demo:1",
        },
        Img {
            layers: vec![(gzip(&l1), "gzip")],
            config: json!({}),
            annotations: json!({}),
            platform: Some(("linux", "arm64")),
            ref_name: "demo:1",
        },
    ]);
    // Corrupt one byte of the zstd layer's blob (not its digest): an integrity finding.
    let (_, z) = blobs
        .0
        .iter_mut()
        .find(|(_, b)| b.starts_with(b"\x28\xb5\x2f\xfd"))
        .unwrap();
    let last = z.len() - 1;
    z[last] ^= 0x01;
    std::fs::write(d.path().join("img.oci.tar"), oci_tar(&blobs, &index)).unwrap();

    let v = json(&rampart(
        d.path(),
        &[
            "scan",
            "img.oci.tar",
            "-f",
            "json",
            "--platform",
            "linux/amd64",
        ],
    ));
    let f = findings(&v);
    let in_wheel = f
        .iter()
        .find(|f| f["location"]["member"] == "demo/config.py")
        .expect("secret in the wheel");
    assert_eq!(
        in_wheel["location"]["path"],
        "opt/demo-1.0-py3-none-any.whl"
    );
    assert!(
        f.iter()
            .any(|f| f["location"]["field"] == "history[0].created_by")
    );
    let integrity: Vec<_> = f.iter().filter(|f| f["kind"] == "integrity").collect();
    assert_eq!(integrity.len(), 1, "{f:#?}");
    assert_eq!(integrity[0]["rule"], "image-digest-mismatch");
    assert_eq!(integrity[0]["location"]["layer_index"], 1);

    let v = json(&rampart(
        d.path(),
        &[
            "scan",
            "img.oci.tar",
            "-f",
            "json",
            "--platform",
            "linux/arm64",
        ],
    ));
    assert!(
        findings(&v)
            .iter()
            .all(|f| f["location"]["member"] != "demo/config.py")
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait until something accepts connections on `port` (bounded; the registry starts in well
/// under a second).
fn wait_for(port: u16) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < until {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn registry_pull_from_docker_registry_pushed_by_skopeo() {
    if !have("umoci") || !have("skopeo") {
        return;
    }
    if Command::new("docker-registry")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: docker-registry is not installed (.ci/run installs it)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let port = free_port();
    std::fs::write(
        p.join("registry.yml"),
        format!("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n", p.join("store").display()),
    )
    .unwrap();
    let _registry = Kill(
        Command::new("docker-registry")
            .args(["serve", "registry.yml"])
            .current_dir(p)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for(port), "registry did not start");
    let tok = github_token(42);
    std::fs::write(p.join("token.env"), format!("GITHUB_TOKEN={tok}\n")).unwrap();
    run(p, "umoci", &["init", "--layout", "layout"]);
    run(p, "umoci", &["new", "--image", "layout:app"]);
    run(
        p,
        "umoci",
        &[
            "insert",
            "--image",
            "layout:app",
            "token.env",
            "/etc/token.env",
        ],
    );
    let dest = format!("docker://127.0.0.1:{port}/team/app:1");
    run(
        p,
        "skopeo",
        &["copy", "--dest-tls-verify=false", "oci:layout:app", &dest],
    );

    let target = format!("registry://127.0.0.1:{port}/team/app:1");
    let out = rampart(p, &["scan", &target, "-f", "json", "--show-secrets"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    let f = findings(&v)
        .iter()
        .find(|f| f["rule"] == "github-pat-classic")
        .expect("secret in the pulled image");
    assert_eq!(f["secret"], tok.as_str());
    assert_eq!(f["location"]["path"], "etc/token.env");
    assert!(
        f["location"]["image"]
            .as_str()
            .unwrap()
            .starts_with(&target)
    );

    let missing = rampart(
        p,
        &[
            "scan",
            &format!("registry://127.0.0.1:{port}/team/nope:1"),
            "-f",
            "json",
        ],
    );
    assert_eq!(missing.status.code(), Some(0));
    assert!(
        json(&missing)["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("404")
    );
}

/// A minimal distribution-API server over an OCI layout that demands a bearer token from its
/// own token endpoint: the token flow end to end on loopback.
#[test]
fn registry_bearer_token_flow() {
    use std::io::{BufRead, BufReader, Write};
    let d = tempfile::tempdir().unwrap();
    let tok = github_token(43);
    let body = format!("T={tok}\n");
    let l = layer(&[Entry::File("srv/app.env", body.as_bytes())]);
    let (blobs, index) = oci(&[Img {
        layers: vec![(gzip(&l), "gzip")],
        config: json!({}),
        annotations: json!({}),
        platform: None,
        ref_name: "x",
    }]);
    let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let blobs = std::sync::Arc::new(blobs);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { break };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut authorized = false;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if h.to_ascii_lowercase()
                    .starts_with("authorization: bearer good-token")
                {
                    authorized = true;
                }
            }
            let send = |s: &mut std::net::TcpStream, status: &str, headers: &str, body: &[u8]| {
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
                    body.len()
                );
                let _ = s.write_all(body);
            };
            if path.starts_with("/token?") {
                assert!(
                    path.contains("scope=repository%3Ateam%2Fapp%3Apull"),
                    "{path}"
                );
                send(
                    &mut s,
                    "200 OK",
                    "Content-Type: application/json\r\n",
                    br#"{"token":"good-token"}"#,
                );
            } else if !authorized {
                let h = format!(
                    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test\",scope=\"repository:team/app:pull\"\r\n"
                );
                send(&mut s, "401 Unauthorized", &h, b"{}");
            } else if let Some(reference) = path.strip_prefix("/v2/team/app/manifests/") {
                let digest = if reference == "1" {
                    manifest_digest.clone()
                } else {
                    reference.to_string()
                };
                let hex = digest.trim_start_matches("sha256:");
                match blobs.0.iter().find(|(h, _)| h == hex) {
                    Some((_, data)) => send(
                        &mut s,
                        "200 OK",
                        "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n",
                        data,
                    ),
                    None => send(&mut s, "404 Not Found", "", b"{}"),
                }
            } else if let Some(digest) = path.strip_prefix("/v2/team/app/blobs/") {
                let hex = digest.trim_start_matches("sha256:");
                match blobs.0.iter().find(|(h, _)| h == hex) {
                    Some((_, data)) => send(
                        &mut s,
                        "200 OK",
                        "Content-Type: application/octet-stream\r\n",
                        data,
                    ),
                    None => send(&mut s, "404 Not Found", "", b"{}"),
                }
            } else {
                send(&mut s, "404 Not Found", "", b"{}");
            }
        }
    });
    let out = rampart(
        d.path(),
        &[
            "scan",
            &format!("registry://127.0.0.1:{port}/team/app:1"),
            "-f",
            "json",
            "--show-secrets",
        ],
    );
    let v = json(&out);
    assert!(v["skipped"].as_array().unwrap().is_empty(), "{v:#}");
    let f = findings(&v)
        .iter()
        .find(|f| f["rule"] == "github-pat-classic")
        .expect("secret behind the token");
    assert_eq!(f["secret"], tok.as_str());
}
