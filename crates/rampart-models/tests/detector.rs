//! End-to-end tests of the model detector on real files: benign fixtures written by the real
//! libraries (see tests/fixtures/make_fixtures.py), and malicious or broken files built here in
//! temporary directories with the zip crate, flate2 and hand-assembled pickles.

use rampart_core::{Detections, Detector, Item, Location, Severity};
use rampart_models::ModelDetector;
use std::io::Write;
use std::path::{Path, PathBuf};

fn scan_file(det: &ModelDetector, path: &Path) -> Detections {
    let data = std::fs::read(path).expect("read test file");
    let p = path.to_string_lossy().into_owned();
    let loc = Location::file(p.clone());
    let mut out = Detections::default();
    det.detect(
        &Item {
            path: &p,
            data: &data,
            location: &loc,
        },
        &mut out,
    );
    out
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write test file");
    p
}

fn rules(d: &Detections) -> Vec<String> {
    d.findings.iter().map(|f| f.rule.clone()).collect()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `posix.system(CMD)` as pickle protocol 2, like `pickle.dumps` of a `__reduce__` payload.
fn evil_pickle() -> Vec<u8> {
    let cmd = b"echo pwned";
    let mut p = b"\x80\x02cposix\nsystem\nq\x00X".to_vec();
    p.extend((cmd.len() as u32).to_le_bytes());
    p.extend(cmd);
    p.extend(b"q\x01\x85q\x02Rq\x03.");
    p
}

fn zip_bytes(members: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in members {
        w.start_file(*name, opts).expect("start zip member");
        w.write_all(data).expect("write zip member");
    }
    w.finish().expect("finish zip").into_inner()
}

#[test]
fn benign_files_from_real_libraries_are_clean() {
    let det = ModelDetector::new();
    for name in [
        "torch_linear_state_dict.pt",
        "torch_linear_legacy.pt",
        "torch_linear_torchscript.pt",
        "linear.safetensors",
        "sklearn_logreg.pkl",
        "sklearn_logreg.joblib",
        "sklearn_logreg_zlib.joblib",
        "numpy_object.npy",
        "keras_dense.keras",
        "tiny.gguf",
    ] {
        let p = fixture(name);
        if !p.exists() {
            panic!("fixture {name} missing: regenerate with tests/fixtures/make_fixtures.py");
        }
        let d = scan_file(&det, &p);
        assert!(
            d.findings.is_empty(),
            "{name}: unexpected findings {:#?}",
            d.findings
        );
        assert!(
            d.skipped.is_empty(),
            "{name}: unexpected skips {:?}",
            d.skipped
        );
        assert!(
            rampart_models::sniff(&std::fs::read(&p).unwrap()).is_some(),
            "{name} not recognised"
        );
    }
}

#[test]
fn pytorch_zip_with_any_prefix_and_extra_pkl() {
    let dir = tempfile::tempdir().unwrap();
    let benign = b"\x80\x02}q\x00.".to_vec();
    let zip = zip_bytes(
        &[
            ("weird_prefix/data.pkl", &benign),
            ("weird_prefix/version", b"3\n"),
            ("weird_prefix/extra.pkl", &evil_pickle()),
        ],
        false,
    );
    let p = write(dir.path(), "model.bin", &zip);
    let d = scan_file(&ModelDetector::new(), &p);
    assert_eq!(rules(&d), ["pickle-dangerous-global"]);
    let f = &d.findings[0];
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.location.member.as_deref(), Some("weird_prefix/extra.pkl"));
    assert_eq!(f.extra["format"], "pytorch-zip");
    assert_eq!(f.extra["globals"], serde_json::json!(["posix.system"]));
    assert_eq!(f.extra["call_chain"][0], "posix.system(\"echo pwned\")");
    assert_eq!(f.fingerprint.len(), 32);
    // The JSON contract: kind, rule, location.member, and the extra fields flattened.
    let v = serde_json::to_value(f).unwrap();
    assert_eq!(v["kind"], "unsafe-model");
    assert_eq!(v["globals"][0], "posix.system");
}

#[test]
fn deflated_member_and_prefixed_archive() {
    let dir = tempfile::tempdir().unwrap();
    let zip = zip_bytes(
        &[
            ("archive/data.pkl", &evil_pickle()),
            ("archive/version", b"3\n"),
        ],
        true,
    );
    let mut prefixed = vec![0u8; 1000];
    prefixed.extend(&zip);
    for (name, data) in [("deflated.pt", zip.clone()), ("prefixed.pt", prefixed)] {
        let d = scan_file(&ModelDetector::new(), &write(dir.path(), name, &data));
        assert!(
            rules(&d).contains(&"pickle-dangerous-global".to_string()),
            "{name}: {:?}",
            d.findings
        );
    }
}

#[test]
fn zip_bomb_is_a_finding_not_an_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 60 << 20];
    let zip = zip_bytes(
        &[("archive/data.pkl", &zeros), ("archive/version", b"3\n")],
        true,
    );
    assert!(zip.len() < 1 << 20);
    let d = scan_file(&ModelDetector::new(), &write(dir.path(), "bomb.pt", &zip));
    assert_eq!(rules(&d), ["archive-bomb"], "{:?}", d.findings);
}

#[test]
fn npz_with_object_array_payload() {
    let dir = tempfile::tempdir().unwrap();
    let header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }";
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let mut h = header.to_string();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    npy.extend((h.len() as u16).to_le_bytes());
    npy.extend(h.as_bytes());
    npy.extend(evil_pickle());
    let npz = zip_bytes(
        &[
            ("ok.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'}"),
            ("evil.npy", &npy),
        ],
        false,
    );
    let d = scan_file(
        &ModelDetector::new(),
        &write(dir.path(), "arrays.npz", &npz),
    );
    assert_eq!(rules(&d), ["pickle-dangerous-global"]);
    assert_eq!(d.findings[0].location.member.as_deref(), Some("evil.npy"));
    assert_eq!(d.findings[0].extra["format"], "numpy-npz");
}

#[test]
fn joblib_inline_arrays_are_skipped_and_payload_after_them_found() {
    // A hand-built joblib stream: NumpyArrayWrapper BUILD, 16 raw bytes inline (aligned), then
    // a payload. The raw bytes contain a byte that is not a valid opcode.
    let mut p = b"\x80\x04".to_vec();
    p.extend(b"\x8c\x13joblib.numpy_pickle\x8c\x11NumpyArrayWrapper\x93)\x81}(");
    p.extend(b"\x8c\x05shape\x4b\x02\x85");
    p.extend(b"\x8c\x05dtype\x8c\x05numpy\x8c\x05dtype\x93\x8c\x02f8\x89\x88\x87R");
    p.extend(b"\x8c\x1bnumpy_array_alignment_bytes\x4b\x10");
    p.extend(b"ub");
    p.extend([3u8, 0xff, 0xff, 0xff]); // padding length byte + 3 padding bytes
    p.extend([0xffu8; 16]); // 2 x f8
    p.extend(b"0");
    let clean = [p.clone(), b"N.".to_vec()].concat();
    let r = rampart_models::pickle::analyse(&clean, &Default::default(), &Default::default());
    assert!(r.is_clean(), "{:?} {:?}", r.issues, r.globals);
    assert_eq!(r.joblib_arrays, 1);
    let evil = [p, b"cos\nsystem\n(S'id'\ntR.".to_vec()].concat();
    let r = rampart_models::pickle::analyse(&evil, &Default::default(), &Default::default());
    assert_eq!(
        r.flagged().map(|g| g.full.as_str()).collect::<Vec<_>>(),
        ["os.system"]
    );
}

#[test]
fn text_that_reads_like_a_pickle_is_not_one() {
    // Every Debian image has these: a copyright file opens with `F` (FLOAT) and a line that is
    // no float; a gzipped changelog opens with `C` (SHORT_BINBYTES) and later has a line
    // starting with `c` (GLOBAL) whose "module" is a sentence. Python's pickle.load raises on
    // both; they were reported as pickles with trailing data and unknown globals.
    let dir = tempfile::tempdir().unwrap();
    let copyright = b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
Comment: This package was written by Anna Author <author@packages.example.org>\n\
 on Thu, 16 Jan 1997 01:00:34 +0100.\n\nFiles: *\nCopyright: 1997 Anna Author \nLicense: GPL-2+\n";
    let changelog = b"CHANGELOG\n=========\n\n2.5\n---\n\n *  Add `SubscribedService` attribute, deprecate \
current `ServiceSubscriberTrait` usage\n\n2.4\n---\n\n * Add `HttpClientInterface::withOptions()`\n\
 * Add `TranslatorInterface::getLocale()`\n\n2.3.0\n-----\n\n * added `Translation\\TranslatableInterface` \
to enable value-objects to be translated.\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(changelog).unwrap();
    let gz = gz.finish().unwrap();
    for (name, data) in [
        ("copyright", &copyright[..]),
        ("CHANGELOG", &changelog[..]),
        ("changelog.gz", &gz[..]),
    ] {
        let d = scan_file(&ModelDetector::new(), &write(dir.path(), name, data));
        assert!(d.findings.is_empty(), "{name}: {:?}", rules(&d));
    }
    // A protocol 0 float or int line that Python reads is still one.
    let d = scan_file(
        &ModelDetector::new(),
        &write(
            dir.path(),
            "p.pkl",
            b"(F1.5\nI42\nF-inf\ncos\nsystem\n(S'id'\ntRt.",
        ),
    );
    assert!(
        rules(&d).iter().any(|r| r.starts_with("pickle-")),
        "{:?}",
        rules(&d)
    );
}

#[test]
fn compressed_joblib_is_decompressed_with_a_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&evil_pickle()).unwrap();
    let z = enc.finish().unwrap();
    let d = scan_file(&ModelDetector::new(), &write(dir.path(), "m.joblib", &z));
    assert_eq!(rules(&d), ["pickle-dangerous-global"]);
    assert_eq!(d.findings[0].extra["format"], "joblib");
}

#[test]
fn legacy_torch_tar() {
    fn tar_member(name: &str, data: &[u8]) -> Vec<u8> {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        let size = format!("{:011o}\0", data.len());
        h[124..136].copy_from_slice(size.as_bytes());
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        let mut out = h.to_vec();
        out.extend(data);
        out.resize(512 + data.len().div_ceil(512) * 512, 0);
        out
    }
    let dir = tempfile::tempdir().unwrap();
    let mut t = Vec::new();
    t.extend(tar_member("sys_info", b"\x80\x02}q\x00."));
    t.extend(tar_member("pickle", &evil_pickle()));
    t.extend(tar_member("storages", b"\x80\x02K\x00."));
    t.extend(tar_member("tensors", b"\x80\x02K\x00."));
    t.extend([0u8; 1024]);
    let d = scan_file(&ModelDetector::new(), &write(dir.path(), "old.pt", &t));
    assert_eq!(rules(&d), ["pickle-dangerous-global"]);
    assert_eq!(d.findings[0].location.member.as_deref(), Some("pickle"));
    // torch reads CONTTYPE ('7') members as files and never needs sys_info (review bypass #9).
    let mut t = Vec::new();
    t.extend(tar_member("storages", &evil_pickle()));
    t.extend(tar_member("tensors", b"\x80\x02K\x00."));
    t.extend(tar_member("pickle", b"\x80\x02K\x00."));
    for at in (0..t.len()).step_by(512) {
        if &t[at + 257..at + 262] == b"ustar" {
            t[at + 156] = b'7';
            let mut h = t[at..at + 512].to_vec();
            h[148..156].copy_from_slice(b"        ");
            let sum: u32 = h.iter().map(|&b| b as u32).sum();
            t[at + 148..at + 156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        }
    }
    t.extend([0u8; 1024]);
    let d = scan_file(&ModelDetector::new(), &write(dir.path(), "ct.pt", &t));
    assert!(
        d.findings
            .iter()
            .any(|f| f.severity == Severity::Critical && f.rule == "pickle-dangerous-global"),
        "{:?}",
        rules(&d)
    );
}

#[test]
fn keras_lambda_custom_module_and_bundled_python() {
    let dir = tempfile::tempdir().unwrap();
    // marshal-like bytes naming os.system, base64-encoded as Keras does.
    use base64::Engine;
    let code = base64::engine::general_purpose::STANDARD
        .encode(b"\xe3\x00\x00\x00\xda\x02os\xda\x06system");
    let config = serde_json::json!({
        "module": "keras", "class_name": "Sequential",
        "config": {"layers": [
            {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "lam",
                "function": {"class_name": "__lambda__", "config": {"code": code}}}},
            {"module": "evil_layers", "class_name": "Boom", "config": {"name": "b"}, "registered_name": "evil_layers>Boom"},
            {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d",
                "activation": {"module": "builtins", "class_name": "function", "config": "exec", "registered_name": "function"}}}
        ]}
    });
    let zip = zip_bytes(
        &[
            ("metadata.json", b"{}"),
            ("config.json", config.to_string().as_bytes()),
            ("model.weights.h5", b"\x89HDF\r\n\x1a\n"),
            ("layers.py", b"import os"),
        ],
        true,
    );
    let d = scan_file(&ModelDetector::new(), &write(dir.path(), "m.keras", &zip));
    let r = rules(&d);
    for want in [
        "keras-lambda-layer",
        "keras-custom-object",
        "keras-unsafe-module",
        "keras-bundled-python",
    ] {
        assert!(r.contains(&want.to_string()), "missing {want} in {r:?}");
    }
    let lam = d
        .findings
        .iter()
        .find(|f| f.rule == "keras-lambda-layer")
        .unwrap();
    assert_eq!(lam.severity, Severity::Critical);
    assert_eq!(lam.extra["globals"], serde_json::json!(["os", "system"]));
}

#[test]
fn keras_h5_model_config_found_without_libhdf5() {
    let dir = tempfile::tempdir().unwrap();
    let mut h5 = b"\x89HDF\r\n\x1a\n".to_vec();
    h5.extend(vec![0u8; 300]);
    h5.extend(b"model_config\0\0\0\x13\x00");
    h5.extend(br#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "l", "function": ["4wAAAA==", null, null], "function_type": "lambda"}}]}}"#);
    h5.extend(vec![0u8; 64]);
    let d = scan_file(&ModelDetector::new(), &write(dir.path(), "m.h5", &h5));
    assert_eq!(rules(&d), ["keras-lambda-layer"]);
    assert_eq!(d.findings[0].extra["format"], "keras-h5");
    assert_eq!(d.findings[0].severity, Severity::Critical);
}

#[test]
fn keras_configs_behind_a_decoy_or_without_metadata_are_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let lambda = br#"{"class_name": "Functional", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "l", "function": ["4wAAAA==", null, null], "function_type": "lambda"}}]}}"#;
    // h5: a harmless config in an attribute named like the real one, written first; as h5py
    // does, the names come first and the values later, in a heap (decoy value first).
    let mut h5 = b"\x89HDF\r\n\x1a\n".to_vec();
    h5.extend(vec![0u8; 300]);
    h5.extend(b"model_config_note\0\0\0\x13\x00");
    h5.extend(vec![0u8; 200]);
    h5.extend(b"model_config\0\0\0\x13\x00");
    h5.extend(vec![0u8; 900]);
    h5.extend(br#"{"class_name": "Sequential", "config": {"name": "benign", "layers": []}}"#);
    h5.extend(vec![0u8; 32]);
    h5.extend(lambda);
    h5.extend(vec![0u8; 64]);
    let d = scan_file(&ModelDetector::new(), &write(dir.path(), "decoy.h5", &h5));
    assert_eq!(rules(&d), ["keras-lambda-layer"]);
    // .keras: Keras 3 loads config.json alone, or with npz weights and no metadata.json.
    let only = zip_bytes(&[("config.json", &lambda[..])], true);
    let npz = zip_bytes(
        &[
            ("config.json", &lambda[..]),
            ("model.weights.npz", b"PK\x05\x06"),
        ],
        true,
    );
    for (name, z) in [("only.keras", &only), ("npz.keras", &npz)] {
        let d = scan_file(&ModelDetector::new(), &write(dir.path(), name, z));
        assert_eq!(rules(&d), ["keras-lambda-layer"], "{name}");
        assert_eq!(d.findings[0].extra["format"], "keras-v3");
    }
    // A zip with some other config.json stays a plain archive.
    let other = zip_bytes(
        &[("config.json", br#"{"name": "app", "version": 2}"#)],
        true,
    );
    let d = scan_file(&ModelDetector::new(), &write(dir.path(), "app.zip", &other));
    assert!(d.findings.is_empty(), "{:?}", rules(&d));
}

fn gguf(template: &str, tensor_offset: u64) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(1u64.to_le_bytes()); // tensors
    b.extend(1u64.to_le_bytes()); // kv
    let key = b"tokenizer.chat_template";
    b.extend((key.len() as u64).to_le_bytes());
    b.extend(key);
    b.extend(8u32.to_le_bytes());
    b.extend((template.len() as u64).to_le_bytes());
    b.extend(template.as_bytes());
    let name = b"w";
    b.extend((name.len() as u64).to_le_bytes());
    b.extend(name);
    b.extend(1u32.to_le_bytes());
    b.extend(4u64.to_le_bytes());
    b.extend(0u32.to_le_bytes()); // F32
    b.extend(tensor_offset.to_le_bytes());
    b.resize(b.len().div_ceil(32) * 32, 0);
    b.extend([0u8; 16]);
    b
}

#[test]
fn gguf_templates_and_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let det = ModelDetector::new();
    let ok = scan_file(
        &det,
        &write(
            dir.path(),
            "ok.gguf",
            &gguf("{{ messages[0]['content'] }}", 0),
        ),
    );
    assert!(ok.findings.is_empty(), "{:?}", ok.findings);
    let ssti = scan_file(
        &det,
        &write(
            dir.path(),
            "ssti.gguf",
            &gguf("{{ cycler.__init__.__globals__.os.popen('id').read() }}", 0),
        ),
    );
    assert_eq!(rules(&ssti), ["gguf-chat-template-injection"]);
    let oob = scan_file(&det, &write(dir.path(), "oob.gguf", &gguf("x", 64)));
    assert_eq!(rules(&oob), ["gguf-malformed"]);
    assert!(
        oob.findings[0].message.contains("data section"),
        "{}",
        oob.findings[0].message
    );
}

#[test]
fn onnx_external_data_escape() {
    fn ld(field: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(field << 3) | 2];
        let mut n = payload.len();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                v.push(b);
                break;
            }
            v.push(b | 0x80);
        }
        v.extend(payload);
        v
    }
    let entry = [ld(1, b"location"), ld(2, b"../../../etc/passwd")].concat();
    let tensor = [ld(8, b"W"), ld(13, &entry), vec![14 << 3, 1]].concat();
    let graph = [ld(5, &tensor)].concat();
    let model = [vec![0x08, 0x08], ld(7, &graph)].concat();
    let dir = tempfile::tempdir().unwrap();
    let d = scan_file(&ModelDetector::new(), &write(dir.path(), "m.onnx", &model));
    assert_eq!(rules(&d), ["onnx-external-data-escape"]);
    assert_eq!(d.findings[0].extra["globals"][0], "../../../etc/passwd");
}

#[test]
fn policy_file_extends_the_allowlist() {
    let dir = tempfile::tempdir().unwrap();
    let pkl = write(dir.path(), "m.pkl", b"\x80\x02cmylab.models\nNet\n)\x81.");
    let d = scan_file(&ModelDetector::new(), &pkl);
    assert_eq!(rules(&d), ["pickle-unknown-global"]);
    assert_eq!(d.findings[0].severity, Severity::High);
    assert!(d.findings[0].message.contains("mylab.models.Net"));
    let policy = write(dir.path(), "policy.toml", b"allow = [\"mylab.models.*\"]\n");
    let det = ModelDetector::from_policy_file(Some(&policy)).unwrap();
    assert!(scan_file(&det, &pkl).findings.is_empty());
    let bad = write(dir.path(), "bad.toml", b"allow = 3\n");
    let e = ModelDetector::from_policy_file(Some(&bad)).unwrap_err();
    assert!(e.to_string().contains("bad.toml"), "{e}");
}

#[test]
fn bad_input_never_panics_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let det = ModelDetector::new();
    // Zero-length file with a model extension: a skip entry, no finding.
    let d = scan_file(&det, &write(dir.path(), "empty.pt", b""));
    assert!(d.findings.is_empty());
    assert_eq!(d.skipped.len(), 1);
    // Text files are not models.
    let d = scan_file(
        &det,
        &write(
            dir.path(),
            "notes.txt",
            b"Install the package, then run it.\n",
        ),
    );
    assert!(d.findings.is_empty() && d.skipped.is_empty());
    // Truncated zip: a skip with the reason.
    let zip = zip_bytes(&[("archive/data.pkl", &evil_pickle())], false);
    let d = scan_file(&det, &write(dir.path(), "trunc.pt", &zip[..zip.len() - 30]));
    assert!(!d.skipped.is_empty() || !d.findings.is_empty());
    // Truncated pickle: the payload before the cut is still reported, plus the parse error.
    let p = evil_pickle();
    let d = scan_file(&det, &write(dir.path(), "trunc.pkl", &p[..p.len() - 1]));
    assert_eq!(rules(&d), ["pickle-dangerous-global", "pickle-parse-error"]);
    // Bogus safetensors header length.
    let mut st = u64::MAX.to_le_bytes().to_vec();
    st.extend(b"{\"a\":1}");
    let d = scan_file(&det, &write(dir.path(), "x.safetensors", &st));
    assert_eq!(rules(&d), ["safetensors-malformed"]);
    // A million nested lists: bounded, reported, no stack overflow.
    let mut deep = b"\x80\x02".to_vec();
    deep.extend(vec![b']'; 1_000_000]);
    deep.extend(vec![b'a'; 999_999]);
    deep.push(b'.');
    let d = scan_file(&det, &write(dir.path(), "deep.pkl", &deep));
    assert_eq!(rules(&d), ["pickle-cap-exceeded"]);
    // Every prefix of a valid torch file: no panic, whatever the cut.
    let real = std::fs::read(fixture("torch_linear_state_dict.pt")).unwrap();
    for cut in (0..real.len()).step_by(97) {
        let mut out = Detections::default();
        let loc = Location::file("cut.pt");
        det.detect(
            &Item {
                path: "cut.pt",
                data: &real[..cut],
                location: &loc,
            },
            &mut out,
        );
    }
}

#[test]
fn mutated_real_files_never_panic() {
    // A deterministic stand-in for the cargo-fuzz targets, run on every test build: flip bytes
    // of each real fixture (xorshift positions) and scan the results.
    let det = ModelDetector::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut scanned = 0;
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "py") {
            continue;
        }
        let orig = std::fs::read(&p).unwrap();
        for _ in 0..150 {
            let mut data = orig.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % data.len() as u64) as usize;
                data[i] = next() as u8;
            }
            let loc = Location::file(p.to_string_lossy());
            let mut out = Detections::default();
            det.detect(
                &Item {
                    path: "m",
                    data: &data,
                    location: &loc,
                },
                &mut out,
            );
            scanned += 1;
        }
    }
    assert!(scanned >= 1500);
}

/// Word lists whose first line reads as a protocol 0 `GLOBAL`/`INST` (found in a real venv:
/// NLTK's `punkt_tab/english/abbrev_types.txt`, also inside `punkt_tab.zip`, and a wheel's
/// `top_level.txt`) are not pickles; the same bytes under a model's name still are, and a
/// complete protocol 0 pickle is one under any name.
#[test]
fn text_that_starts_like_protocol_0_is_not_a_pickle() {
    let dir = tempfile::tempdir().unwrap();
    let det = ModelDetector::new();
    let words: &[u8] = b"ct\nm.j\nt\na.c\nn.h\nms\np.a.m\ndr\n";
    let top: &[u8] = b"inspect_evals\nregister_tooling\n";
    for (name, data) in [("abbrev_types.txt", words), ("top_level.txt", top)] {
        let d = scan_file(&det, &write(dir.path(), name, data));
        assert!(d.findings.is_empty(), "{name}: {:?}", rules(&d));
        let z = zip_bytes(&[(&format!("punkt_tab/{name}"), data)], true);
        let d = scan_file(&det, &write(dir.path(), "punkt_tab.zip", &z));
        assert!(d.findings.is_empty(), "zip {name}: {:?}", rules(&d));
        let d = scan_file(&det, &write(dir.path(), "words.pkl", data));
        assert!(!d.findings.is_empty(), "{name} as .pkl");
    }
    let evil: &[u8] = b"cos\nsystem\n(S'id'\ntR.";
    let d = scan_file(&det, &write(dir.path(), "notes.txt", evil));
    assert!(
        d.findings.iter().any(|f| f.severity == Severity::Critical),
        "{:?}",
        rules(&d)
    );
}

/// CPython's unpickler needs no `PROTO` header and runs any opcode first: a stream that starts
/// with SHORT_BINUNICODE, FRAME or EMPTY_SET is a pickle to `pickle.load`, `torch.load`,
/// `joblib.load` and `np.load(allow_pickle=True)` (review bypass #1).
#[test]
fn headerless_pickle_starting_with_a_binary_opcode() {
    let dir = tempfile::tempdir().unwrap();
    let det = ModelDetector::new();
    let body: &[u8] = b"\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.";
    let mut frame = vec![0x95];
    frame.extend((body.len() as u64).to_le_bytes());
    frame.extend(body);
    let set_first = [&b"\x8f0"[..], body].concat();
    let critical = |d: &Detections| d.findings.iter().any(|f| f.severity == Severity::Critical);
    for (name, data) in [
        ("h.pkl", body),
        ("h.pt", body),
        ("h.joblib", body),
        ("h.bin", body),
        ("h.dat", body),
        ("frame.pkl", &frame[..]),
        ("set.pkl", &set_first[..]),
        ("set.dat", &set_first[..]),
    ] {
        let d = scan_file(&det, &write(dir.path(), name, data));
        assert!(critical(&d), "{name}: {:?}", rules(&d));
    }
    // Inside a zip (as any member) and inside zlib-compressed joblib.
    let z = zip_bytes(&[("m/weights.bin", body)], true);
    let d = scan_file(&det, &write(dir.path(), "z.zip", &z));
    assert!(critical(&d), "zip: {:?}", rules(&d));
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body).unwrap();
    let d = scan_file(&det, &write(dir.path(), "c.joblib", &enc.finish().unwrap()));
    assert!(critical(&d), "zlib: {:?}", rules(&d));
    // Binary data that merely starts with such a byte is not a pickle.
    for (name, data) in [
        ("x.dat", &b"\x8c\x02ab\xff\xfe\x00\x01"[..]),
        ("x.bin", b"\x95\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
        ("png.dat", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("x.txt", b"Check this out. It is fine.\n"),
    ] {
        let d = scan_file(&det, &write(dir.path(), name, data));
        assert!(d.findings.is_empty(), "{name}: {:?}", rules(&d));
    }
}

/// `torch.storage._load_from_bytes(b)` runs `torch.load` on `b`. Protocols 0–2 write `bytes` as
/// `_codecs.encode(<str>, 'latin1')` (a call, not a literal), so the nested pickle must be
/// evaluated from that; an argument computed any other way cannot be seen and is itself a
/// finding (review bypass #7).
#[test]
fn load_from_bytes_with_codecs_encode_argument() {
    let dir = tempfile::tempdir().unwrap();
    let det = ModelDetector::new();
    let inner = evil_pickle();
    let as_text: String = inner.iter().map(|&b| b as char).collect();
    // Protocol 2, as pickle.dumps(..., protocol=2) writes it.
    let mut p2 =
        b"\x80\x02ctorch.storage\n_load_from_bytes\nq\x00c_codecs\nencode\nq\x01X".to_vec();
    p2.extend((as_text.len() as u32).to_le_bytes());
    p2.extend(as_text.as_bytes());
    p2.extend(b"X\x06\x00\x00\x00latin1\x86R\x85R.");
    // Protocol 0: UNICODE is raw-unicode-escape text (bytes >= 0x80 are Latin-1 as is).
    let mut p0 = b"ctorch.storage\n_load_from_bytes\n(c_codecs\nencode\n(V".to_vec();
    for &b in &inner {
        match b {
            b'\n' => p0.extend(b"\\u000a"),
            b'\\' => p0.extend(b"\\u005c"),
            _ => p0.push(b),
        }
    }
    p0.extend(b"\nVlatin1\ntRtR.");
    // The payload in the second pickle of a legacy torch stream (what torch.save writes).
    let mut legacy = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.".to_vec();
    legacy.extend(evil_pickle());
    let legacy_text: String = legacy.iter().map(|&b| b as char).collect();
    let mut p2_legacy = b"\x80\x02ctorch.storage\n_load_from_bytes\nc_codecs\nencode\nX".to_vec();
    p2_legacy.extend((legacy_text.len() as u32).to_le_bytes());
    p2_legacy.extend(legacy_text.as_bytes());
    p2_legacy.extend(b"X\x06\x00\x00\x00latin1\x86R\x85R.");
    for (name, data) in [("p2.pkl", &p2), ("p0.pkl", &p0), ("legacy.pkl", &p2_legacy)] {
        let d = scan_file(&det, &write(dir.path(), name, data));
        let f = d
            .findings
            .iter()
            .find(|f| f.rule == "pickle-dangerous-global")
            .unwrap_or_else(|| panic!("{name}: {:?}", rules(&d)));
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.extra["globals"][0], "posix.system", "{name}");
    }
    // As data.pkl of a torch zip checkpoint.
    let z = zip_bytes(&[("archive/data.pkl", &p2)], false);
    let d = scan_file(&det, &write(dir.path(), "m.pt", &z));
    assert!(
        d.findings.iter().any(|f| f.severity == Severity::Critical),
        "zip: {:?}",
        rules(&d)
    );
    // An argument computed by anything else: the scanner cannot see what is unpickled.
    let opaque: &[u8] =
        b"\x80\x02ctorch.storage\n_load_from_bytes\ncbuiltins\nbytearray\nX\x02\x00\x00\x00ab\x85R\x85R.";
    let d = scan_file(&det, &write(dir.path(), "opaque.pkl", opaque));
    let f = d
        .findings
        .iter()
        .find(|f| f.rule == "pickle-opaque-nested-load")
        .unwrap_or_else(|| panic!("opaque: {:?}", rules(&d)));
    assert!(f.severity >= Severity::High);
}

/// A complete pickle followed by padding that holds another format's signature (HDF5 at 512,
/// `ustar` at 257): `pickle.load` and `torch.load` stop at STOP and never read the tail, so the
/// pickle is analysed whatever the later bytes look like (review bypass #6).
#[test]
fn pickle_polyglot_with_hdf5_or_tar_signature_in_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let det = ModelDetector::new();
    let p0: &[u8] = b"cposix\nsystem\np0\n(Vid\np1\ntp2\nRp3\n.";
    let p1: &[u8] = b"cposix\nsystem\nq\x00(X\x02\x00\x00\x00idq\x01tq\x02Rq\x03.";
    let pad = |p: &[u8], at: usize, sig: &[u8]| {
        let mut v = p.to_vec();
        v.resize(1024, 0);
        v[at..at + sig.len()].copy_from_slice(sig);
        v
    };
    for (name, data) in [
        ("hdf5.pkl", pad(p0, 512, b"\x89HDF\r\n\x1a\n")),
        ("ustar.pkl", pad(p0, 257, b"ustar\x0000")),
        ("ustar.pt", pad(p1, 257, b"ustar\x0000")),
        ("ustar.dat", pad(p1, 257, b"ustar\x0000")),
    ] {
        let d = scan_file(&det, &write(dir.path(), name, &data));
        assert!(
            d.findings
                .iter()
                .any(|f| f.severity == Severity::Critical && f.rule == "pickle-dangerous-global"),
            "{name}: {:?}",
            rules(&d)
        );
    }
}

/// `.npy` headers whose object dtype is spelled in ways numpy accepts: `'object'`, a duplicate
/// `descr` key (the last wins), a structured field `('a', 'object')` (review bypass #3).
#[test]
fn npy_object_dtype_spellings() {
    let dir = tempfile::tempdir().unwrap();
    let det = ModelDetector::new();
    let npy = |header: &str| {
        let mut h = header.to_string();
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend((h.len() as u16).to_le_bytes());
        v.extend(h.as_bytes());
        v.extend(evil_pickle());
        v
    };
    for (i, header) in [
        "{'descr': 'object', 'fortran_order': False, 'shape': (1,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'descr': '|O', }",
        "{'descr': [('a', 'object')], 'fortran_order': False, 'shape': (1,), }",
        "{'descr': [('a', 'O')], 'fortran_order': False, 'shape': (1,), }",
    ]
    .iter()
    .enumerate()
    {
        let d = scan_file(&det, &write(dir.path(), &format!("{i}.npy"), &npy(header)));
        assert!(
            d.findings
                .iter()
                .any(|f| f.severity == Severity::Critical && f.rule == "pickle-dangerous-global"),
            "{header}: {:?}",
            rules(&d)
        );
    }
}

/// joblib writes an array's raw bytes inline after the `NumpyArrayWrapper`; with the one-letter
/// dtype `'d'` they are 8 bytes an item, not 1. Skipping too little made the walker read the
/// array data as opcodes: a STOP, then a BINBYTES swallowing the payload that joblib runs
/// (review bypass #5). A dtype that cannot be sized is reported, not guessed.
#[test]
fn joblib_one_letter_dtype_is_sized_like_numpy() {
    let dir = tempfile::tempdir().unwrap();
    let det = ModelDetector::new();
    let wrapper = |code: &str| {
        let mut p = b"\x80\x04".to_vec();
        p.extend(b"\x8c\x13joblib.numpy_pickle\x8c\x11NumpyArrayWrapper\x93)\x81}(");
        p.extend(b"\x8c\x05shape\x4b\x02\x85");
        p.extend(b"\x8c\x05dtype\x8c\x05numpy\x8c\x05dtype\x93\x8c");
        p.push(code.len() as u8);
        p.extend(code.as_bytes());
        p.extend(b"\x89\x88\x87Rub");
        p
    };
    let payload: &[u8] = b"0cos\nsystem\n(S'id'\ntR.";
    let mut p = wrapper("d");
    // 2 x float64 = 16 bytes; read as 2 bytes they end the pickle and open a BINBYTES that
    // swallows the payload.
    let mut data = b"\x00\x00\x30N.B".to_vec();
    data.extend(((16 - 10 + payload.len()) as u32).to_le_bytes());
    data.resize(16, 0);
    p.extend(&data);
    p.extend(payload);
    p.push(b'.');
    let d = scan_file(&det, &write(dir.path(), "d.joblib", &p));
    assert!(
        d.findings
            .iter()
            .any(|f| f.severity == Severity::Critical && f.rule == "pickle-dangerous-global"),
        "{:?}",
        rules(&d)
    );
    for code in ["<f8", "float64", "g", "e", "q", "?", "D"] {
        let r = rampart_models::pickle::analyse(
            &[wrapper(code), vec![0u8; 64], b"\x80\x04N.".to_vec()].concat(),
            &Default::default(),
            &Default::default(),
        );
        assert_eq!(r.joblib_arrays, 1, "{code}");
    }
    // An unknown dtype: the rest cannot be analysed, and that is a named finding.
    let p = [wrapper("x7"), vec![0u8; 16], payload.to_vec()].concat();
    let d = scan_file(&det, &write(dir.path(), "x.joblib", &p));
    let f = d
        .findings
        .iter()
        .find(|f| f.message.contains("item size is unknown"))
        .unwrap_or_else(|| panic!("{:?}", rules(&d)));
    assert!(f.severity >= Severity::Medium);
}

/// joblib's xz/lzma/bz2 compression and npz members compressed with bzip2 or LZMA (which
/// Python's zipfile reads) cannot be decompressed here: that must be a finding naming the
/// compression, not only a `skipped` note (review bypasses #2 and #4).
#[test]
fn unscannable_compression_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let det = ModelDetector::new();
    for (name, data, what) in [
        (
            "x.joblib",
            &b"\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46"[..],
            "xz",
        ),
        (
            "l.joblib",
            b"\x5d\x00\x00\x80\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00",
            "lzma",
        ),
        ("b.pkl", b"BZh91AY&SY\x00\x01\x02\x03", "bz2"),
    ] {
        let d = scan_file(&det, &write(dir.path(), name, data));
        let f = d
            .findings
            .iter()
            .find(|f| f.rule == "model-unscannable-compression")
            .unwrap_or_else(|| panic!("{name}: {:?} {:?}", rules(&d), d.skipped));
        assert!(f.severity >= Severity::Medium);
        assert!(f.message.contains(what), "{}", f.message);
    }
    // An npz whose member uses zip method 12 (bzip2) or 14 (LZMA).
    for (method, what) in [(12u16, "bzip2"), (14, "LZMA")] {
        let mut z = zip_bytes(&[("weights.npy", &evil_pickle())], false);
        for sig in [&b"PK\x03\x04"[..], b"PK\x01\x02"] {
            let at = z.windows(4).position(|w| w == sig).unwrap();
            let off = if sig == b"PK\x03\x04" { 8 } else { 10 };
            z[at + off..at + off + 2].copy_from_slice(&method.to_le_bytes());
        }
        let d = scan_file(&det, &write(dir.path(), "w.npz", &z));
        let f = d
            .findings
            .iter()
            .find(|f| f.rule == "model-unscannable-compression")
            .unwrap_or_else(|| panic!("{what}: {:?} {:?}", rules(&d), d.skipped));
        assert!(f.severity >= Severity::Medium);
        assert!(f.message.contains(what), "{}", f.message);
    }
}

/// Legacy torch streams: the magic number written with an extra sign byte is the same number
/// to Python, and `p0_0` is memo key 0 to CPython's PyLong_FromString; the payload in a later
/// pickle must be reported as such, not as trailing data (review bypass #8).
#[test]
fn legacy_torch_magic_with_sign_byte_and_underscore_memo_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = b"\x80\x02\x8a\x0b\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x00.".to_vec();
    p.extend(b"\x80\x02M\xe9\x03.");
    p.extend(b"Np0_0\n0cposix\nsystem\n(S'id'\ntR.");
    let d = scan_file(&ModelDetector::new(), &write(dir.path(), "m.pt", &p));
    assert!(
        d.findings
            .iter()
            .any(|f| f.severity == Severity::Critical && f.rule == "pickle-dangerous-global"),
        "{:?}",
        rules(&d)
    );
}
