//! Container images written by test code: every layer, whiteouts, metadata, integrity, and
//! hostile archives. (Images made by umoci and skopeo are tested through the CLI.)

#[path = "support/images.rs"]
mod images;

use images::*;
use rampart_core::{Finding, Item, Kind, Location, Skipped};
use rampart_sources::{ArchiveLimits, Expanding, Sink, SourceOptions, scan_path};
use serde_json::json;
use std::sync::Mutex;

#[derive(Default)]
struct Collect {
    items: Mutex<Vec<(String, Vec<u8>, Location)>>,
    skipped: Mutex<Vec<Skipped>>,
    findings: Mutex<Vec<Finding>>,
}

impl Sink for Collect {
    fn item(&self, item: &Item<'_>) {
        self.items.lock().unwrap().push((
            item.path.to_string(),
            item.data.to_vec(),
            item.location.clone(),
        ));
    }
    fn skipped(&self, s: Skipped) {
        self.skipped.lock().unwrap().push(s);
    }
    fn finding(&self, f: Finding) {
        self.findings.lock().unwrap().push(f);
    }
}

impl Collect {
    fn item(&self, path: &str) -> Option<(Vec<u8>, Location)> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .find(|i| i.0 == path)
            .map(|i| (i.1.clone(), i.2.clone()))
    }
    fn field(&self, field: &str) -> Option<String> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .find(|i| i.2.field.as_deref() == Some(field))
            .map(|i| String::from_utf8_lossy(&i.1).into_owned())
    }
    fn skip_reasons(&self) -> Vec<String> {
        self.skipped
            .lock()
            .unwrap()
            .iter()
            .map(|s| format!("{}: {}", s.path, s.reason))
            .collect()
    }
    fn rules(&self) -> Vec<String> {
        self.findings
            .lock()
            .unwrap()
            .iter()
            .map(|f| f.rule.clone())
            .collect()
    }
}

fn scan(path: &std::path::Path, opts: &SourceOptions) -> Collect {
    let c = Collect::default();
    scan_path(path, opts, &c);
    c
}

fn three_layer_image() -> (Blobs, Vec<u8>) {
    let base = layer(&[
        Entry::Dir("app"),
        Entry::File("app/.env", b"OPENAI_API_KEY=planted-in-layer-0\n"),
        Entry::File("app/main.py", b"print('hi')\n"),
        Entry::File("secrets/db.txt", b"postgres password in layer 0\n"),
        Entry::File("cache/blob", b"cached token in layer 0\n"),
    ]);
    let middle = layer(&[
        Entry::File(".wh.secrets", b""),
        Entry::File("cache/.wh..wh..opq", b""),
        Entry::File("cache/new", b"fresh\n"),
        Entry::Symlink("app/link", "/etc/shadow"),
        Entry::Device("dev/null"),
    ]);
    let top = layer(&[
        Entry::File("app/.wh..env", b""),
        Entry::File("app/main.py", b"print('v2')\n"),
    ]);
    oci(&[Img {
        layers: vec![(gzip(&base), "gzip"), (zstd(&middle), "zstd"), (top, "tar")],
        config: json!({
            "config": {
                "Env": ["PATH=/usr/bin", "API_TOKEN=from-env"],
                "Cmd": ["python", "main.py", "--token", "from-cmd"],
                "Labels": {"maintainer": "ops"},
            },
            "history": [{"created_by": "RUN /bin/sh -c echo build-arg-secret"}],
        }),
        annotations: json!({"org.example.note": "annotated"}),
        platform: None,
        ref_name: "demo:1",
    }])
}

#[test]
fn oci_layout_directory_all_layers_whiteouts_and_metadata() {
    let d = tempfile::tempdir().unwrap();
    let (blobs, index) = three_layer_image();
    // Recognised by content: the directory has no telling name.
    let dir = d.path().join("anything");
    write_oci_dir(&dir, &blobs, &index);
    let c = scan(&dir, &SourceOptions::default());
    assert!(c.skip_reasons().is_empty(), "{:?}", c.skip_reasons());
    assert!(c.rules().is_empty(), "{:?}", c.rules());

    let (data, loc) = c.item("app/.env").expect("deleted file is still scanned");
    assert_eq!(data, b"OPENAI_API_KEY=planted-in-layer-0\n");
    assert_eq!(loc.layer_index, Some(0));
    assert_eq!(
        loc.removed_in_layer_index,
        Some(2),
        "deleted by the .wh. in layer 2"
    );
    assert!(loc.layer.unwrap().starts_with("sha256:"));
    assert!(loc.image.unwrap().contains("demo:1"));
    assert_eq!(
        c.item("secrets/db.txt").unwrap().1.removed_in_layer_index,
        Some(1),
        "directory whiteout"
    );
    assert_eq!(
        c.item("cache/blob").unwrap().1.removed_in_layer_index,
        Some(1),
        "opaque directory"
    );
    assert_eq!(c.item("cache/new").unwrap().1.removed_in_layer_index, None);
    assert!(c.item("dev/null").is_none() && c.item("app/link").is_none());
    // Both versions of main.py: the old one marked as replaced by layer 2.
    let mains: Vec<_> = c
        .items
        .lock()
        .unwrap()
        .iter()
        .filter(|i| i.0 == "app/main.py")
        .map(|i| i.2.layer_index)
        .collect();
    assert_eq!(mains.len(), 2);

    assert_eq!(
        c.field("config.Env[1]").as_deref(),
        Some("API_TOKEN=from-env")
    );
    assert_eq!(
        c.field("config.Cmd").as_deref(),
        Some("python main.py --token from-cmd")
    );
    assert_eq!(
        c.field("config.Labels.maintainer").as_deref(),
        Some("maintainer=ops")
    );
    assert_eq!(
        c.field("history[0].created_by").as_deref(),
        Some("RUN /bin/sh -c echo build-arg-secret")
    );
    assert_eq!(
        c.field("manifest.annotations.org.example.note").as_deref(),
        Some("org.example.note=annotated")
    );
}

#[test]
fn oci_archive_and_docker_save_are_recognised_by_content() {
    let d = tempfile::tempdir().unwrap();
    let (blobs, index) = three_layer_image();
    let p = d.path().join("image.bin");
    std::fs::write(&p, oci_tar(&blobs, &index)).unwrap();
    let c = scan(&p, &SourceOptions::default());
    assert!(c.item("app/.env").is_some());
    assert!(c.rules().is_empty(), "{:?}", c.rules());

    let l0 = layer(&[Entry::File("etc/app.conf", b"token=old\n")]);
    let l1 = layer(&[Entry::File("etc/.wh.app.conf", b"")]);
    let save = docker_save(
        &[l0, l1],
        json!({"config": {"Env": ["A=1"]}}),
        "acme/api:2.0",
    );
    let p = d.path().join("saved.tar");
    std::fs::write(&p, &save).unwrap();
    let c = scan(&p, &SourceOptions::default());
    let (_, loc) = c.item("etc/app.conf").unwrap();
    assert_eq!(loc.removed_in_layer_index, Some(1));
    assert!(loc.image.unwrap().contains("acme/api:2.0"));
    assert!(c.rules().is_empty(), "diff ids verify: {:?}", c.rules());
}

#[test]
fn tampered_layer_and_missing_blob_are_integrity_findings() {
    let d = tempfile::tempdir().unwrap();
    let l0 = layer(&[Entry::File("a.txt", b"original\n")]);
    let mut save = docker_save(&[l0], json!({}), "t:1");
    // Flip the file's content inside the archive: the layer no longer matches its diff id.
    let at = save.windows(8).position(|w| w == b"original").unwrap();
    save[at..at + 8].copy_from_slice(b"tampered");
    let p = d.path().join("t.tar");
    std::fs::write(&p, &save).unwrap();
    let c = scan(&p, &SourceOptions::default());
    assert_eq!(c.rules(), vec!["image-digest-mismatch"]);
    let f = &c.findings.lock().unwrap()[0];
    assert_eq!(f.kind, Kind::Integrity);
    assert_eq!(f.location.layer_index, Some(0));
    assert_eq!(
        c.item("a.txt").unwrap().0,
        b"tampered\n",
        "the content is still scanned"
    );

    let (mut blobs, index) = three_layer_image();
    blobs
        .0
        .retain(|(_, data)| !data.starts_with(b"\x28\xb5\x2f\xfd"));
    let dir = d.path().join("missing");
    write_oci_dir(&dir, &blobs, &index);
    let c = scan(&dir, &SourceOptions::default());
    assert_eq!(c.rules(), vec!["image-missing-blob"]);
    assert!(
        c.item("app/.env").is_some(),
        "the other layers are still scanned"
    );
}

#[test]
fn platform_selects_one_manifest_of_a_multi_platform_index() {
    let d = tempfile::tempdir().unwrap();
    let amd = layer(&[Entry::File("arch.txt", b"amd64\n")]);
    let arm = layer(&[Entry::File("arch.txt", b"arm64\n")]);
    let (blobs, index) = oci(&[
        Img {
            layers: vec![(gzip(&amd), "gzip")],
            config: json!({}),
            annotations: json!({}),
            platform: Some(("linux", "amd64")),
            ref_name: "m:1",
        },
        Img {
            layers: vec![(gzip(&arm), "gzip")],
            config: json!({}),
            annotations: json!({}),
            platform: Some(("linux", "arm64")),
            ref_name: "m:1",
        },
    ]);
    let dir = d.path().join("multi");
    write_oci_dir(&dir, &blobs, &index);
    let all = scan(&dir, &SourceOptions::default());
    assert_eq!(
        all.items
            .lock()
            .unwrap()
            .iter()
            .filter(|i| i.0 == "arch.txt")
            .count(),
        2
    );
    let opts = SourceOptions {
        platform: Some("linux/arm64".into()),
        ..Default::default()
    };
    let one = scan(&dir, &opts);
    let arch: Vec<Vec<u8>> = one
        .items
        .lock()
        .unwrap()
        .iter()
        .filter(|i| i.0 == "arch.txt")
        .map(|i| i.1.clone())
        .collect();
    assert_eq!(arch, vec![b"arm64\n".to_vec()]);
    let none = scan(
        &dir,
        &SourceOptions {
            platform: Some("windows/amd64".into()),
            ..Default::default()
        },
    );
    assert!(
        none.skip_reasons()
            .iter()
            .any(|r| r.contains("no image for platform windows/amd64"))
    );
}

#[test]
fn hostile_layers_never_stop_the_scan() {
    let d = tempfile::tempdir().unwrap();
    let escape = layer(&[
        Entry::RawName("../../etc/cron.d/x", b"* * * * * root evil\n"),
        Entry::File("ok.txt", b"fine\n"),
    ]);
    let huge = layer(&[
        Entry::Sized("big.bin", 2 << 20),
        Entry::File("after-big.txt", b"still read\n"),
    ]);
    let good = layer(&[Entry::File("good.txt", b"good\n")]);
    let mut corrupt = gzip(&layer(&[Entry::File("lost.txt", b"lost\n")]));
    let mid = corrupt.len() / 2;
    corrupt[mid..].iter_mut().for_each(|b| *b = 0x55);
    let truncated = {
        let t = layer(&[
            Entry::File("first.txt", b"first\n"),
            Entry::File("second.txt", &[b'x'; 4096]),
        ]);
        t[..700].to_vec()
    };
    let (blobs, index) = oci(&[Img {
        layers: vec![
            (escape, "tar"),
            (gzip(&huge), "gzip"),
            (corrupt, "gzip"),
            (truncated, "tar"),
            (good, "tar"),
        ],
        config: json!({}),
        annotations: json!({}),
        platform: None,
        ref_name: "hostile",
    }]);
    let dir = d.path().join("hostile");
    write_oci_dir(&dir, &blobs, &index);
    let opts = SourceOptions {
        max_file_size: 1 << 20,
        ..Default::default()
    };
    let c = scan(&dir, &opts);
    let reasons = c.skip_reasons();
    assert!(
        c.item("etc/cron.d/x").is_some(),
        "escaping entry scanned under its cleaned name"
    );
    assert!(
        c.rules().contains(&"image-path-escape".to_string()),
        "{:?}",
        c.rules()
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("big.bin") && r.contains("over the 1.0 MiB limit")),
        "{reasons:?}"
    );
    assert!(c.item("after-big.txt").is_some());
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("[layer 2]") && r.contains("corrupt")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("[layer 3]") && r.contains("truncated")),
        "{reasons:?}"
    );
    assert!(
        c.item("first.txt").is_some(),
        "entries before the damage are scanned"
    );
    assert!(c.item("good.txt").is_some() && c.item("ok.txt").is_some());
    // No temp files, nothing outside the scan: the escaping path never reached the disk.
    assert!(!d.path().join("etc").exists());

    // A truncated archive: what precedes the damage is still read.
    let full = oci_tar(&blobs, &index);
    let p = d.path().join("cut.tar");
    std::fs::write(&p, &full[..full.len() * 2 / 3]).unwrap();
    let c = scan(&p, &opts);
    assert!(!c.skip_reasons().is_empty() || !c.rules().is_empty());
}

#[test]
fn archives_inside_layers_are_expanded_with_limits() {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opt = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("pkg/settings.py", opt).unwrap();
    zip.write_all(b"TOKEN = 'inside-the-wheel'\n").unwrap();
    zip.start_file("evil_init.pth", opt).unwrap();
    zip.write_all(b"import os; os.system('id')\n").unwrap();
    // 50 MiB of zeros: a ratio far over the limit.
    zip.start_file("bomb.bin", opt).unwrap();
    for _ in 0..50 {
        zip.write_all(&vec![0u8; 1 << 20]).unwrap();
    }
    let wheel = zip.finish().unwrap().into_inner();
    let inner_tgz = gzip(&layer(&[Entry::File("deep/.env", b"NESTED=yes\n")]));
    let l = layer(&[
        Entry::File(
            "usr/lib/python3.11/site-packages/demo-1.0-py3-none-any.whl",
            &wheel,
        ),
        Entry::File("srv/bundle.tgz", &inner_tgz),
    ]);
    let (blobs, index) = oci(&[Img {
        layers: vec![(gzip(&l), "gzip")],
        config: json!({}),
        annotations: json!({}),
        platform: None,
        ref_name: "a",
    }]);
    let d = tempfile::tempdir().unwrap();
    write_oci_dir(d.path(), &blobs, &index);
    let c = Collect::default();
    let expanding = Expanding::new(&c, ArchiveLimits::default());
    scan_path(d.path(), &SourceOptions::default(), &expanding);
    let items = c.items.lock().unwrap().clone();
    let member = |m: &str| {
        items
            .iter()
            .find(|i| i.2.member.as_deref() == Some(m))
            .cloned()
    };
    let settings = member("pkg/settings.py").expect("wheel member");
    assert_eq!(settings.1, b"TOKEN = 'inside-the-wheel'\n");
    assert_eq!(
        settings.0,
        "usr/lib/python3.11/site-packages/demo-1.0-py3-none-any.whl!pkg/settings.py"
    );
    assert_eq!(settings.2.layer_index, Some(0));
    assert!(member("evil_init.pth").is_some());
    assert!(member("deep/.env").is_some(), "tgz member");
    assert!(member("bomb.bin").is_none());
    assert!(
        c.skip_reasons()
            .iter()
            .any(|r| r.contains("bomb.bin") && r.contains("ratio")),
        "{:?}",
        c.skip_reasons()
    );
}

#[test]
fn archives_over_the_mmap_threshold_are_streamed_from_the_file() {
    // Incompressible filler so the archive is well over 1 MiB: the file-backed reader is used.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let filler: Vec<u8> = (0..3 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let l0 = layer(&[
        Entry::File("opt/blob.bin", &filler),
        Entry::File("opt/after.env", b"AFTER=1\n"),
    ]);
    let l1 = layer(&[Entry::File("opt/.wh.after.env", b"")]);
    let (blobs, index) = oci(&[Img {
        layers: vec![(gzip(&l0), "gzip"), (l1.clone(), "tar")],
        config: json!({}),
        annotations: json!({}),
        platform: None,
        ref_name: "big",
    }]);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.tar");
    let mut archive = oci_tar(&blobs, &index);
    assert!(archive.len() > 2 << 20);
    std::fs::write(&p, &archive).unwrap();
    let c = scan(&p, &SourceOptions::default());
    assert!(
        c.rules().is_empty() && c.skip_reasons().is_empty(),
        "{:?} {:?}",
        c.rules(),
        c.skip_reasons()
    );
    let (_, loc) = c.item("opt/after.env").unwrap();
    assert_eq!(loc.removed_in_layer_index, Some(1));
    assert_eq!(c.item("opt/blob.bin").unwrap().0.len(), 3 << 20);

    // Flip one byte inside the gzip layer's blob: caught by the digest check on the file path.
    let gz = gzip(&l0);
    let at = archive
        .windows(64)
        .position(|w| w == &gz[1000..1064])
        .unwrap();
    archive[at + 10] ^= 0xff;
    std::fs::write(&p, &archive).unwrap();
    let c = scan(&p, &SourceOptions::default());
    assert!(
        c.rules().contains(&"image-digest-mismatch".to_string()),
        "{:?}",
        c.rules()
    );
}
