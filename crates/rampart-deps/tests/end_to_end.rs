//! Library-level end-to-end tests: real advisories imported into a real database file, real
//! lockfiles in temp dirs, findings, fix plans and SBOMs.

mod common;

use rampart_core::{Detections, Detector, Item, Kind, Location, Severity};
use rampart_deps::fixplan::{self, Action, Change};
use rampart_deps::{Database, DepsDetector, import, walk};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv")
}

fn fixture_db(dir: &Path) -> Database {
    let db = dir.join("osv.rdb");
    let r = import::import_paths(&db, &[fixtures()], false, &mut |_, _| {}).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.total, 8);
    Database::open(&db).unwrap()
}

fn detect(det: &DepsDetector, path: &str, data: &[u8]) -> Detections {
    let loc = Location::file(path);
    let mut out = Detections::default();
    det.detect(
        &Item {
            path,
            data,
            location: &loc,
        },
        &mut out,
    );
    out
}

fn assert_litellm(out: &Detections, line: u32) {
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let f = &out.findings[0];
    assert_eq!(f.kind, Kind::MaliciousPackage);
    assert_eq!(f.rule, "MAL-2026-2144");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.location.line, Some(line));
    assert!(
        f.remediation
            .as_deref()
            .unwrap()
            .contains("rotate every credential")
    );
    assert_eq!(f.extra["package"]["name"], "litellm");
    assert_eq!(f.extra["package"]["version"], "1.82.8");
    assert_eq!(f.extra["package"]["ecosystem"], "PyPI");
    assert_eq!(f.extra["advisories"][0], "MAL-2026-2144");
    assert_eq!(f.extra["aliases"][0], "PYSEC-2026-2");
    assert_eq!(f.fingerprint.len(), 32);
}

#[test]
fn litellm_1_82_8_is_malicious_in_requirements_uv_lock_and_dist_info() {
    let dir = tempfile::tempdir().unwrap();
    let det = DepsDetector::new(fixture_db(dir.path()));

    let req = b"# pinned\nrequests==2.32.3\nlitellm==1.82.8 \\\n    --hash=sha256:0000\n";
    assert_litellm(&detect(&det, "app/requirements.txt", req), 3);

    let uv = br#"version = 1
requires-python = ">=3.11"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }

[[package]]
name = "litellm"
version = "1.82.8"
source = { registry = "https://pypi.org/simple" }
"#;
    assert_litellm(&detect(&det, "app/uv.lock", uv), 10);

    let meta = b"Metadata-Version: 2.1\nName: litellm\nVersion: 1.82.8\nSummary: x\n\nbody\n";
    assert_litellm(
        &detect(
            &det,
            "usr/lib/python3.11/site-packages/litellm-1.82.8.dist-info/METADATA",
            meta,
        ),
        2,
    );

    // The neighbours are clean: 1.82.6 is not listed, 1.82.7 is.
    assert!(
        detect(&det, "requirements.txt", b"litellm==1.82.6\n")
            .findings
            .is_empty()
    );
    assert_eq!(
        detect(&det, "requirements.txt", b"LiteLLM==1.82.7\n")
            .findings
            .len(),
        1
    );
    // The scanner gets a boxed clone; the inventory is read through the kept handle.
    let boxed: Box<dyn Detector> = Box::new(det.clone());
    let loc = Location::file("other/requirements.txt");
    let mut out = Detections::default();
    boxed.detect(
        &Item {
            path: "other/requirements.txt",
            data: b"idna==3.7\n",
            location: &loc,
        },
        &mut out,
    );
    let inv = det.take_inventory();
    assert_eq!(inv.len(), 6);
    assert!(inv.iter().any(|m| m.path == "other/requirements.txt"));
    assert!(det.take_inventory().is_empty());
}

#[test]
fn vulnerabilities_in_go_and_cargo_with_fixed_in() {
    let dir = tempfile::tempdir().unwrap();
    let det = DepsDetector::new(fixture_db(dir.path()));
    let gomod = b"module example.com/app\n\ngo 1.21\n\nrequire github.com/gin-gonic/gin v1.5.0\n";
    let out = detect(&det, "go.mod", gomod);
    assert_eq!(out.findings.len(), 1);
    let f = &out.findings[0];
    assert_eq!(f.kind, Kind::Vulnerability);
    assert_eq!(f.rule, "GO-2020-0001");
    assert_eq!(f.location.line, Some(5));
    assert_eq!(f.extra["fixed_in"][0], "1.6.0");
    assert!(
        f.extra["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "CVE-2020-36567")
    );
    // No CVSS in Go records: default severity, and it says so.
    assert_eq!(f.severity, Severity::Medium);
    assert!(f.extra.contains_key("severity_source"));

    let lock = b"version = 3\n\n[[package]]\nname = \"openssl\"\nversion = \"0.8.3\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
    let out = detect(&det, "Cargo.lock", lock);
    assert_eq!(out.findings.len(), 1);
    let f = &out.findings[0];
    assert_eq!(f.rule, "RUSTSEC-2016-0001");
    // CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H = 8.1
    assert_eq!(f.severity, Severity::High);
    assert_eq!(
        f.remediation.as_deref(),
        Some("Upgrade openssl to 0.9.0 or later.")
    );
    let lock_fixed = String::from_utf8_lossy(lock).replace("0.8.3", "0.9.0");
    assert!(
        detect(&det, "Cargo.lock", lock_fixed.as_bytes())
            .findings
            .is_empty()
    );
}

#[test]
fn malformed_files_are_skipped_with_file_and_line_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    std::fs::create_dir_all(root.join("svc/deep")).unwrap();
    std::fs::write(
        root.join("svc/package-lock.json"),
        b"{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    oops\n}",
    )
    .unwrap();
    std::fs::write(
        root.join("svc/Cargo.lock"),
        b"[[package]]\nname = \"x\"\nversion = \n",
    )
    .unwrap();
    std::fs::write(root.join("svc/yarn.lock"), b"\xff\xfe not text").unwrap();
    // A requirements file with an include in a sibling folder, which holds the bad package.
    std::fs::write(
        root.join("svc/requirements.txt"),
        b"-r deep/base.txt\nflask>=2\n",
    )
    .unwrap();
    std::fs::write(root.join("svc/deep/base.txt"), b"litellm==1.82.8\n").unwrap();
    let det =
        DepsDetector::new(fixture_db(dir.path())).with_include_reader(walk::disk_include_reader());
    let out = walk::walk(&root, &det, &mut |_| {});
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let f = &out.findings[0];
    assert_eq!(f.kind, Kind::MaliciousPackage);
    assert!(
        f.location.path.ends_with("svc/deep/base.txt"),
        "{}",
        f.location.path
    );
    assert_eq!(f.location.line, Some(1));
    let reasons: Vec<String> = out
        .skipped
        .iter()
        .map(|s| format!("{} | {}", s.path, s.reason))
        .collect();
    let has = |file: &str, what: &str| reasons.iter().any(|r| r.contains(file) && r.contains(what));
    assert!(
        has("package-lock.json", "line 4: invalid JSON"),
        "{reasons:#?}"
    );
    assert!(has("Cargo.lock", "line 3: invalid TOML"), "{reasons:#?}");
    assert!(has("yarn.lock", "line 1: not valid UTF-8"), "{reasons:#?}");
    assert!(
        has("requirements.txt", "flask>=2` is not pinned"),
        "{reasons:#?}"
    );
}

#[test]
fn fix_plan_picks_the_lowest_version_fixing_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let det = DepsDetector::new(db);
    let req = b"django==4.2.10\nlitellm==1.82.8\nrequests==2.0.0\n";
    let out = detect(&det, "requirements.txt", req);
    // PYSEC-2024-47, -56, -67 and -102 affect 4.2.10; PYSEC-2024-28 was fixed in 4.2.10.
    let mut ids: Vec<&str> = out.findings.iter().map(|f| f.rule.as_str()).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "MAL-2026-2144",
            "PYSEC-2024-102",
            "PYSEC-2024-47",
            "PYSEC-2024-56",
            "PYSEC-2024-67"
        ]
    );
    let inv = det.take_inventory();
    let plan = fixplan::plan(det.database().unwrap(), &inv).unwrap();
    assert_eq!(plan.manifests.len(), 1);
    let items = &plan.manifests[0].items;
    let django = items.iter().find(|i| i.package.name == "django").unwrap();
    // 4.2.11, 4.2.14 and 4.2.15 are each still affected by a later advisory; 4.2.16 fixes all,
    // and is preferred over 5.0.x (a minor upgrade) and 5.1.1.
    assert_eq!(
        django.action,
        Action::Upgrade {
            to: "4.2.16".into(),
            change: Change::Patch
        }
    );
    assert_eq!(django.fixes, 4);
    let lite = items.iter().find(|i| i.package.name == "litellm").unwrap();
    assert_eq!(lite.action, Action::Remove);
    assert_eq!(
        (plan.advisories_fixed, plan.advisories_total, plan.upgrades),
        (4, 5, 1)
    );
    assert_eq!(
        plan.headline(),
        "fixes 4 of 5 advisories with 1 upgrade; 1 malicious package to remove"
    );
}

#[test]
fn fix_plan_never_proposes_an_affected_or_malicious_version() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for f in std::fs::read_dir(fixtures()).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, src.join(f.file_name().unwrap())).unwrap();
    }
    // A (made-up) malicious report on django 4.2.16, the otherwise best target.
    std::fs::write(
        src.join("MAL-TEST-1.json"),
        br#"{"id":"MAL-TEST-1","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"Django"},"versions":["4.2.16"]}]}"#,
    )
    .unwrap();
    // And an advisory without any fix for a package.
    std::fs::write(
        src.join("NOFIX-1.json"),
        br#"{"id":"NOFIX-1","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"abandoned"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
    )
    .unwrap();
    let dbp = dir.path().join("db.rdb");
    import::import_paths(&dbp, &[src], true, &mut |_, _| {}).unwrap();
    let det = DepsDetector::new(Database::open(&dbp).unwrap());
    detect(
        &det,
        "requirements.txt",
        b"django==4.2.10\nabandoned==1.0\n",
    );
    let plan = fixplan::plan(det.database().unwrap(), &det.take_inventory()).unwrap();
    let items = &plan.manifests[0].items;
    let django = items.iter().find(|i| i.package.name == "django").unwrap();
    // 4.2.16 is malicious; the next candidate fixing everything is 5.0.9 (a major upgrade).
    assert_eq!(
        django.action,
        Action::Upgrade {
            to: "5.0.9".into(),
            change: Change::Major
        }
    );
    let ab = items
        .iter()
        .find(|i| i.package.name == "abandoned")
        .unwrap();
    assert_eq!(ab.action, Action::NoFix);
    assert!(
        plan.headline()
            .contains("1 package without a known fixed version")
    );
}

#[test]
fn sbom_lists_components_with_purls_and_locations() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("requirements.txt"),
        b"litellm==1.82.8\nDjango==4.2.10\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("node_modules/@scope/pkg")).unwrap();
    std::fs::write(
        root.join("node_modules/@scope/pkg/package.json"),
        br#"{"name": "@scope/pkg", "version": "1.0.0"}"#,
    )
    .unwrap();
    let (manifests, skipped) = walk::inventory(root);
    assert!(skipped.is_empty(), "{skipped:?}");
    let bom = rampart_deps::sbom::cyclonedx("demo", &manifests);
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    let comps = bom["components"].as_array().unwrap();
    let purls: Vec<&str> = comps.iter().map(|c| c["purl"].as_str().unwrap()).collect();
    assert_eq!(
        purls,
        [
            "pkg:npm/%40scope/pkg@1.0.0",
            "pkg:pypi/django@4.2.10",
            "pkg:pypi/litellm@1.82.8"
        ]
    );
    let scoped = &comps[0];
    assert_eq!(scoped["group"], "@scope");
    assert_eq!(scoped["name"], "pkg");
    let lite = &comps[2];
    assert!(
        lite["properties"][0]["value"]
            .as_str()
            .unwrap()
            .ends_with("requirements.txt:1")
    );
    let serial = bom["serialNumber"].as_str().unwrap();
    assert!(serial.starts_with("urn:uuid:") && serial.len() == 45);
    assert!(comps.iter().all(|c| c.get("scope").is_none()));

    // Development-only packages are `excluded` (CycloneDX: not needed at run time); a package
    // that is a dev dependency in one place and installed for real in another is not.
    std::fs::create_dir_all(root.join("web")).unwrap();
    std::fs::write(
        root.join("web/package-lock.json"),
        br#"{"lockfileVersion": 3, "packages": {
            "node_modules/express": {"version": "4.18.2", "license": "MIT", "integrity": "sha512-IesqQ3HXLbSCg6oBpNFh9qmR0tr15hSd54XNHDKnqFza8DVTL5f+yltIKyeAv0LnLceqjuZL3Tx3BcRRGHYCzQ=="},
            "node_modules/mocha": {"version": "10.0.0", "dev": true, "license": "SEE LICENSE IN LICENSE"},
            "node_modules/@scope/pkg": {"version": "1.0.0", "dev": true}
        }}"#,
    )
    .unwrap();
    let (manifests, _) = walk::inventory(root);
    let bom = rampart_deps::sbom::cyclonedx("demo", &manifests);
    let scope = |name: &str| {
        let c = bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name}"));
        c.get("scope").and_then(|s| s.as_str()).map(str::to_string)
    };
    assert_eq!(scope("mocha").as_deref(), Some("excluded"));
    // The tarball digest the lockfile pins, as hex.
    let express = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "express")
        .unwrap();
    assert_eq!(
        express["hashes"],
        serde_json::json!([{"alg": "SHA-512", "content": "21eb2a4371d72db48283aa01a4d161f6a991d2daf5e6149de785cd1c32a7a85cdaf035532f97feca5b482b2780bf42e72dc7aa8ee64bdd3c7705c451187602cd"}])
    );
    assert_eq!(scope("express"), None);
    assert_eq!(scope("pkg"), None, "installed in node_modules too");
    // Declared licences: an SPDX expression as `expression`, free text as a name.
    assert_eq!(
        express["licenses"],
        serde_json::json!([{"expression": "MIT"}])
    );
    let mocha = (bom["components"].as_array().unwrap().iter())
        .find(|c| c["name"] == "mocha")
        .unwrap();
    assert_eq!(
        mocha["licenses"],
        serde_json::json!([{"license": {"name": "SEE LICENSE IN LICENSE"}}])
    );
    // The lockfile's graph: the subject depends on the lockfile's direct dependencies (none
    // declared here), every component of that lockfile has an entry; other files add nothing.
    let deps = bom["dependencies"].as_array().expect("a dependency graph");
    assert_eq!(deps[0]["ref"], "rampart:subject");
    let refs: Vec<&str> = deps.iter().map(|d| d["ref"].as_str().unwrap()).collect();
    assert!(refs.contains(&"pkg:npm/express@4.18.2"), "{refs:?}");
    assert!(!refs.contains(&"pkg:pypi/django@4.2.10"), "{refs:?}");
}

#[test]
fn import_reads_zips_and_reports_bad_members_and_files() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let zpath = dir.path().join("all.zip");
    {
        let f = std::fs::File::create(&zpath).unwrap();
        let mut z = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for name in ["MAL-2026-2144.json", "GO-2020-0001.json"] {
            z.start_file(name, opts).unwrap();
            z.write_all(&std::fs::read(fixtures().join(name)).unwrap())
                .unwrap();
        }
        z.start_file("BROKEN-1.json", opts).unwrap();
        z.write_all(b"{\"id\": \"BROKEN-1\",\n\"affected\": [ }")
            .unwrap();
        z.start_file("README.txt", opts).unwrap();
        z.write_all(b"not a record").unwrap();
        z.finish().unwrap();
    }
    let corrupt = dir.path().join("corrupt.zip");
    std::fs::write(&corrupt, b"PK\x03\x04 this is not really a zip").unwrap();
    let dbp = dir.path().join("osv.rdb");
    let r = import::import_paths(
        &dbp,
        &[zpath.clone(), corrupt, dir.path().join("missing.json")],
        false,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(r.total, 2, "{r:?}");
    assert_eq!(r.errors.len(), 3, "{:#?}", r.errors);
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("all.zip!BROKEN-1.json") && e.contains("line 2"))
    );
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("corrupt.zip") && e.contains("not a readable zip"))
    );
    assert!(r.errors.iter().any(|e| e.contains("missing.json")));
    // Importing again merges: same ids are replaced, not duplicated; the db grows with new files.
    let r = import::import_paths(
        &dbp,
        &[zpath, fixtures().join("RUSTSEC-2016-0001.json")],
        false,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!((r.replaced, r.added, r.total), (2, 1, 3));
    let db = Database::open(&dbp).unwrap();
    let st = db.status();
    assert_eq!(st.advisories, 3);
    assert_eq!(st.metadata["advisories_per_ecosystem"]["Go"], 1);
    assert_eq!(st.metadata["sources"].as_array().unwrap().len(), 5);
}

#[test]
fn whole_reference_corpus_imports_and_matches() {
    let Some(root) = common::osv_corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dbp = dir.path().join("osv.rdb");
    let r = import::import_paths(&dbp, &[root], false, &mut |_, _| {}).unwrap();
    assert!(
        r.errors.is_empty(),
        "{:?}",
        &r.errors[..r.errors.len().min(5)]
    );
    eprintln!(
        "{} records, {} warnings; first warnings: {:#?}",
        r.records,
        r.warnings.len(),
        &r.warnings[..r.warnings.len().min(5)]
    );
    assert!(r.total > 8000, "{}", r.total);
    let det = DepsDetector::open(Some(&dbp)).unwrap();
    let out = detect(
        &det,
        "requirements.txt",
        b"litellm==1.82.8\ndjango==3.2.0\n",
    );
    assert!(out.findings.iter().any(|f| f.rule == "MAL-2026-2144"));
    let django = out
        .findings
        .iter()
        .filter(|f| f.extra["package"]["name"] == "django")
        .count();
    assert!(
        django > 20,
        "django 3.2.0 has many advisories, got {django}"
    );
}
