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
