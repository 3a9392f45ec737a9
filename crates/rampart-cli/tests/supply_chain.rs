//! Dependencies end to end: the compromised LiteLLM releases (MAL-2026-2144) are reported from a
//! requirements file, a uv.lock and an installed dist-info inside a container image.

mod common;
#[path = "../../rampart-sources/tests/support/images.rs"]
mod images;

use common::*;
use images::*;
use serde_json::json;
use std::fs;

const MAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../rampart-deps/tests/fixtures/osv/MAL-2026-2144.json"
);

#[test]
fn litellm_is_malicious_in_requirements_uv_lock_and_an_image() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let out = rampart(p, &["db", "import", MAL, "--db", "osv.rdb"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    fs::create_dir(p.join("app")).unwrap();
    fs::write(
        p.join("app/requirements.txt"),
        "requests==2.32.3\nlitellm==1.82.8\n",
    )
    .unwrap();
    fs::write(
        p.join("app/uv.lock"),
        "version = 1\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"litellm\"\nversion = \"1.82.7\"\nsource = { registry = \"https://pypi.org/simple\" }\n",
    )
    .unwrap();
    let sp = "usr/local/lib/python3.11/site-packages";
    let meta = format!("{sp}/litellm-1.82.8.dist-info/METADATA");
    let pth = format!("{sp}/litellm_init.pth");
    let l = layer(&[
        Entry::File(&meta, b"Metadata-Version: 2.1\nName: litellm\nVersion: 1.82.8\nSummary: Call all LLM APIs\n"),
        Entry::File(&pth, b"import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import base64; exec(base64.b64decode(\"cHJpbnQoMSk=\"))'])\n"),
    ]);
    let (blobs, index) = oci(&[Img {
        layers: vec![(gzip(&l), "gzip")],
        config: json!({}),
        annotations: json!({}),
        platform: None,
        ref_name: "proxy:1",
    }]);
    fs::write(p.join("app/proxy.tar"), oci_tar(&blobs, &index)).unwrap();

    let out = rampart(p, &["scan", "app", "--db", "osv.rdb", "-f", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let mal: Vec<&serde_json::Value> = findings(&v)
        .iter()
        .filter(|f| f["kind"] == "malicious-package")
        .collect();
    let places: Vec<String> = mal
        .iter()
        .map(|f| f["location"]["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(mal.len(), 3, "{places:?}");
    for f in &mal {
        assert_eq!(f["severity"], "critical");
        assert_eq!(f["package"]["name"], "litellm");
        assert!(f.to_string().contains("MAL-2026-2144"));
    }
    assert!(places.contains(&"app/requirements.txt".to_string()));
    assert!(places.contains(&"app/uv.lock".to_string()));
    let in_image = mal
        .iter()
        .find(|f| f["location"]["path"] == meta.as_str())
        .expect("dist-info in the image");
    assert_eq!(in_image["location"]["layer_index"], 0);
    assert_eq!(in_image["package"]["version"], "1.82.8");
    let hook = findings(&v)
        .iter()
        .find(|f| f["kind"] == "startup-hook")
        .expect("the .pth hook");
    assert_eq!(hook["location"]["path"], pth.as_str());

    // The SBOM and the fix plan read the same sources, the image included.
    let sbom = rampart(p, &["sbom", "app/proxy.tar"]);
    assert_eq!(
        sbom.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sbom.stderr)
    );
    let bom = json(&sbom);
    assert_eq!(bom["specVersion"], "1.6");
    assert!(
        bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "litellm" && c["version"] == "1.82.8")
    );
    let plan = rampart(
        p,
        &["fix-plan", "app", "--db", "osv.rdb", "--format", "json"],
    );
    assert_eq!(plan.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&plan.stdout).contains("MAL-2026-2144"));
}

#[test]
fn fix_plan_does_not_give_the_all_clear_over_a_lockfile_it_could_not_read() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let out = rampart(p, &["db", "import", MAL, "--db", "osv.rdb"]);
    assert_eq!(out.status.code(), Some(0));
    fs::create_dir_all(p.join("app/web")).unwrap();
    fs::write(p.join("app/requirements.txt"), "requests==2.32.3\n").unwrap();
    // Cut off mid-file, as by a failed copy.
    fs::write(
        p.join("app/web/package-lock.json"),
        "{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"node_modules/lodash\": {\n      \"vers",
    )
    .unwrap();
    let lock = "app/web/package-lock.json";

    // Alone, or beside a clean file: nothing vulnerable is not an all-clear. Exit 2, named.
    for target in [lock, "app"] {
        let out = rampart(p, &["fix-plan", target, "--db", "osv.rdb"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{target}: {stdout}");
        assert!(
            stdout.contains(&format!(
                "Not checked: 1 file could not be read (listed above): {lock}."
            )),
            "{stdout}"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains(&format!("skipped {lock}: line 5: invalid JSON"))
        );
    }
    let out = rampart(p, &["fix-plan", "app", "--db", "osv.rdb", "-f", "json"]);
    assert_eq!(json(&out)["unreadable"], json!([lock]));

    // Vulnerable packages elsewhere still exit 1, and the unread file is still named.
    fs::write(p.join("app/requirements.txt"), "litellm==1.82.8\n").unwrap();
    let out = rampart(p, &["fix-plan", "app", "--db", "osv.rdb"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Not checked: 1 file"));

    // A package entry the reader passes over is a note, not an unread file.
    fs::write(
        p.join("app/web/package-lock.json"),
        r#"{"lockfileVersion": 3, "packages": {"node_modules/x": "1.0.0"}}"#,
    )
    .unwrap();
    fs::write(p.join("app/requirements.txt"), "requests==2.32.3\n").unwrap();
    let out = rampart(p, &["fix-plan", "app", "--db", "osv.rdb"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("entry `node_modules/x` is a string"));

    // An empty lockfile is a file that could not be read too (it was passed over unseen); an
    // empty requirements file is merely empty.
    fs::write(p.join("app/web/package-lock.json"), "").unwrap();
    fs::write(p.join("app/requirements.txt"), "").unwrap();
    let out = rampart(p, &["fix-plan", "app", "--db", "osv.rdb", "-f", "json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json(&out)["unreadable"], json!([lock]));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("skipped {lock}: the file is empty"))
    );
}

#[test]
fn scan_does_not_give_the_all_clear_over_a_lockfile_it_could_not_read() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let out = rampart(p, &["db", "import", MAL, "--db", "osv.rdb"]);
    assert_eq!(out.status.code(), Some(0));
    fs::create_dir_all(p.join("app/web")).unwrap();
    fs::write(p.join("app/requirements.txt"), "requests==2.32.3\n").unwrap();
    fs::write(
        p.join("app/web/package-lock.json"),
        "{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"node_modules/lodash\": {\n      \"vers",
    )
    .unwrap();
    let lock = "app/web/package-lock.json";

    let out = rampart(p, &["scan", "app", "--db", "osv.rdb", "--no-progress"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "1 dependency file could not be read, so its packages were not checked: {lock}"
        )),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("invalid JSON"));

    // `--fail-on none` is report-only; without an advisory database nothing is checked anyway.
    let out = rampart(
        p,
        &[
            "scan",
            "app",
            "--db",
            "osv.rdb",
            "--no-progress",
            "--fail-on",
            "none",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let home = p.join("home");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .current_dir(p)
        .env("RAMPART_HOME", &home)
        .args(["scan", "app", "--no-progress"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));

    // A file ignored by path is not read, so not unread either.
    fs::write(p.join("app/.rampartignore"), "web/\n").unwrap();
    let out = rampart(p, &["scan", "app", "--db", "osv.rdb", "--no-progress"]);
    assert_eq!(out.status.code(), Some(0));
    fs::remove_file(p.join("app/.rampartignore")).unwrap();

    // Findings at or above --fail-on still exit 1.
    fs::write(p.join("app/requirements.txt"), "litellm==1.82.8\n").unwrap();
    let out = rampart(p, &["scan", "app", "--db", "osv.rdb", "--no-progress"]);
    assert_eq!(out.status.code(), Some(1));

    // A damaged lockfile that still gave some packages was checked; its lost entry is a note.
    fs::write(
        p.join("app/web/package-lock.json"),
        r#"{"lockfileVersion": 3, "packages": {"node_modules/x": "1.0.0"}}"#,
    )
    .unwrap();
    fs::write(p.join("app/requirements.txt"), "requests==2.32.3\n").unwrap();
    let out = rampart(p, &["scan", "app", "--db", "osv.rdb", "--no-progress"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const RUSTSEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../rampart-deps/tests/fixtures/osv/RUSTSEC-2016-0001.json"
);

#[test]
fn fix_plan_says_how_a_transitive_package_gets_in() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let out = rampart(p, &["db", "import", RUSTSEC, "--db", "osv.rdb"]);
    assert_eq!(out.status.code(), Some(0));
    fs::create_dir(p.join("svc")).unwrap();
    // app -> hyper-tls -> native-tls -> openssl 0.7.14 (RUSTSEC-2016-0001, fixed in 0.9.0).
    let reg = "source = \"registry+https://github.com/rust-lang/crates.io-index\"";
    fs::write(
        p.join("svc/Cargo.lock"),
        format!(
            "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"hyper-tls\"]\n\n\
             [[package]]\nname = \"hyper-tls\"\nversion = \"0.1.0\"\n{reg}\ndependencies = [\"native-tls\"]\n\n\
             [[package]]\nname = \"native-tls\"\nversion = \"0.1.5\"\n{reg}\ndependencies = [\"openssl\"]\n\n\
             [[package]]\nname = \"openssl\"\nversion = \"0.7.14\"\n{reg}\n"
        ),
    )
    .unwrap();
    let out = rampart(p, &["fix-plan", "svc", "--db", "osv.rdb"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("upgrade to 0.9.0"), "{text}");
    assert!(
        text.contains("via hyper-tls@0.1.0 > native-tls@0.1.5"),
        "{text}"
    );
    let out = rampart(p, &["fix-plan", "svc", "--db", "osv.rdb", "-f", "json"]);
    let item = &json(&out)["manifests"][0]["items"][0];
    assert_eq!(item["package"]["name"], "openssl");
    assert_eq!(item["via"], json!(["hyper-tls@0.1.0", "native-tls@0.1.5"]));
}

#[test]
fn files_beside_a_lockfile_are_read_from_the_folder_scanned_not_the_working_directory() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let out = rampart(p, &["db", "import", MAL, "--db", "osv.rdb"]);
    assert_eq!(out.status.code(), Some(0));
    // An include beside the requirements file: scanned as `svc` from the folder above, it was
    // looked for in the working directory and reported as not found.
    fs::create_dir(p.join("svc")).unwrap();
    fs::write(
        p.join("svc/requirements.txt"),
        "-r base.txt\nflask==3.0.0\n",
    )
    .unwrap();
    fs::write(p.join("svc/base.txt"), "litellm==1.82.8\n").unwrap();
    let out = rampart(p, &["scan", "svc", "--db", "osv.rdb", "-f", "json"]);
    let v = json(&out);
    assert_eq!(out.status.code(), Some(1), "{v}");
    let f = &v["findings"][0];
    assert!(
        f["location"]["path"]
            .as_str()
            .unwrap()
            .ends_with("base.txt"),
        "{v}"
    );
    assert!(!v.to_string().contains("not found"), "{v}");

    // A poetry lock: the graph from the lock, the direct dependencies from pyproject.toml.
    fs::create_dir(p.join("py")).unwrap();
    fs::write(
        p.join("py/pyproject.toml"),
        "[project]\nname = \"demo\"\ndependencies = [\"agentkit\", \"typing_extensions\"]\n\n\
         [dependency-groups]\ndev = [\"pytest>=8\"]\n",
    )
    .unwrap();
    let pkg = |name: &str, version: &str, groups: &str, deps: &str| {
        format!(
            "[[package]]\nname = \"{name}\"\nversion = \"{version}\"\ngroups = [{groups}]\n{deps}\n"
        )
    };
    fs::write(
        p.join("py/poetry.lock"),
        [
            pkg(
                "agentkit",
                "1.0.0",
                "\"main\"",
                "\n[package.dependencies]\nlitellm = \">=1.80\"\ntyping-extensions = \"*\"\n",
            ),
            pkg("litellm", "1.82.8", "\"main\"", ""),
            pkg("pytest", "8.4.2", "\"dev\"", ""),
            pkg("typing-extensions", "4.15.0", "\"main\"", ""),
            "[metadata]\nlock-version = \"2.1\"\n".to_string(),
        ]
        .join("\n"),
    )
    .unwrap();
    let out = rampart(p, &["fix-plan", "py", "--db", "osv.rdb", "-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let item = &json(&out)["manifests"][0]["items"][0];
    assert_eq!(item["package"]["name"], "litellm");
    assert_eq!(item["via"], json!(["agentkit@1.0.0"]));
    let out = rampart(p, &["sbom", "py"]);
    assert_eq!(out.status.code(), Some(0));
    let bom = json(&out);
    let subject = bom["metadata"]["component"]["bom-ref"].clone();
    let deps = bom["dependencies"].as_array().unwrap();
    let direct = deps.iter().find(|d| d["ref"] == subject).unwrap();
    assert_eq!(
        direct["dependsOn"],
        json!([
            "pkg:pypi/agentkit@1.0.0",
            "pkg:pypi/pytest@8.4.2",
            "pkg:pypi/typing-extensions@4.15.0"
        ]),
        "{bom}"
    );
    let pytest = (bom["components"].as_array().unwrap().iter())
        .find(|c| c["name"] == "pytest")
        .unwrap();
    assert_eq!(pytest["scope"], "excluded");

    // The plan says when only development needs a vulnerable package.
    fs::create_dir(p.join("tools")).unwrap();
    fs::write(
        p.join("tools/Pipfile.lock"),
        r#"{"_meta": {"pipfile-spec": 6}, "default": {}, "develop": {"litellm": {"version": "==1.82.8"}}}"#,
    )
    .unwrap();
    let out = rampart(p, &["fix-plan", "tools", "--db", "osv.rdb"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("    development dependency only"), "{text}");
    let out = rampart(p, &["fix-plan", "py", "--db", "osv.rdb"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("    via agentkit@1.0.0\n"), "{text}");
}

#[test]
fn a_lock_in_an_image_reads_the_manifest_beside_it_from_any_layer_order() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let pyproject =
        b"[project]\nname = \"demo\"\ndependencies = [\"agentkit\", \"typing_extensions\"]\n\n\
        [dependency-groups]\ndev = [\"pytest>=8\"]\n";
    let pkg = |name: &str, version: &str, groups: &str, deps: &str| {
        format!(
            "[[package]]\nname = \"{name}\"\nversion = \"{version}\"\ngroups = [{groups}]\n{deps}\n"
        )
    };
    let lock = [
        pkg(
            "agentkit",
            "1.0.0",
            "\"main\"",
            "\n[package.dependencies]\ntyping-extensions = \"*\"\n",
        ),
        pkg("pytest", "8.4.2", "\"dev\"", ""),
        pkg("typing-extensions", "4.15.0", "\"main\"", ""),
        "[metadata]\nlock-version = \"2.1\"\n".to_string(),
    ]
    .join("\n");
    let direct = |bom: &serde_json::Value| {
        let deps = bom["dependencies"].as_array().unwrap();
        let mut all: Vec<String> = deps
            .iter()
            .filter(|d| !d["ref"].as_str().unwrap().starts_with("pkg:"))
            .flat_map(|d| d["dependsOn"].as_array().unwrap().clone())
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        all.sort();
        all
    };
    let declared = vec![
        "pkg:pypi/agentkit@1.0.0".to_string(),
        "pkg:pypi/pytest@8.4.2".to_string(),
        "pkg:pypi/typing-extensions@4.15.0".to_string(),
    ];

    // The lock comes before the pyproject.toml in the same layer's stream.
    let same_layer = layer(&[
        Entry::File("app/poetry.lock", lock.as_bytes()),
        Entry::File("app/pyproject.toml", pyproject),
    ]);
    fs::write(
        p.join("same.tar"),
        docker_save(
            &[same_layer],
            json!({"architecture": "amd64", "os": "linux"}),
            "demo:1",
        ),
    )
    .unwrap();
    let out = rampart(p, &["sbom", "same.tar"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        direct(&json(&out)),
        declared,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The pyproject.toml in an earlier layer counts; one added after the lock's layer, or
    // removed before it, does not (the direct dependencies are then guessed: what nothing else
    // in the lock needs).
    let guessed = vec![
        "pkg:pypi/agentkit@1.0.0".to_string(),
        "pkg:pypi/pytest@8.4.2".to_string(),
    ];
    let py = layer(&[Entry::File("app/pyproject.toml", pyproject)]);
    let lk = layer(&[Entry::File("app/poetry.lock", lock.as_bytes())]);
    let gone = layer(&[Entry::File("app/.wh.pyproject.toml", b"")]);
    for (name, layers, want) in [
        ("earlier.tar", vec![py.clone(), lk.clone()], &declared),
        ("later.tar", vec![lk.clone(), py.clone()], &guessed),
        ("removed.tar", vec![py.clone(), gone, lk.clone()], &guessed),
    ] {
        fs::write(
            p.join(name),
            docker_save(
                &layers,
                json!({"architecture": "amd64", "os": "linux"}),
                "demo:1",
            ),
        )
        .unwrap();
        let out = rampart(p, &["sbom", name]);
        assert_eq!(out.status.code(), Some(0), "{name}");
        assert_eq!(
            &direct(&json(&out)),
            want,
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let pytest = |bom: &serde_json::Value| {
        (bom["components"].as_array().unwrap().iter())
            .find(|c| c["name"] == "pytest")
            .unwrap()["scope"]
            .clone()
    };
    let out = rampart(p, &["sbom", "earlier.tar"]);
    assert_eq!(pytest(&json(&out)), "excluded");
}
