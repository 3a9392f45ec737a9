//! `db update` against a real HTTP server on 127.0.0.1:0 serving OSV-style `all.zip` exports.

use rampart_deps::{Database, import};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/osv")
            .join(name),
    )
    .unwrap()
}

fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (n, d) in files {
            z.start_file(*n, opts).unwrap();
            z.write_all(d).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

type Routes = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// A minimal HTTP/1.1 server: GET path → body from `routes`, else 404. Serves until the test
/// process ends; every request is logged.
fn serve(routes: Routes, log: Arc<Mutex<Vec<String>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut first = String::new();
            if r.read_line(&mut first).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(path.clone());
            let body = routes.lock().unwrap().get(&path).cloned();
            let resp = match body {
                Some(b) => {
                    let mut v = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        b.len()
                    )
                    .into_bytes();
                    v.extend(b);
                    v
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = s.write_all(&resp);
            let _ = s.flush();
            let mut rest = [0u8; 1];
            let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(1)));
            let _ = s.read(&mut rest);
        }
    });
    format!("http://{addr}")
}

#[test]
fn update_downloads_exports_replaces_stale_records_and_survives_failures() {
    let routes: Routes = Arc::default();
    let log = Arc::new(Mutex::new(Vec::new()));
    routes.lock().unwrap().insert(
        "/PyPI/all.zip".into(),
        zip_of(&[
            ("MAL-2026-2144.json", fixture("MAL-2026-2144.json")),
            ("PYSEC-2024-47.json", fixture("PYSEC-2024-47.json")),
        ]),
    );
    routes.lock().unwrap().insert(
        "/crates.io/all.zip".into(),
        zip_of(&[("RUSTSEC-2016-0001.json", fixture("RUSTSEC-2016-0001.json"))]),
    );
    // A corrupt export and a missing one.
    routes
        .lock()
        .unwrap()
        .insert("/npm/all.zip".into(), b"PK\x03\x04 truncated".to_vec());
    let base = serve(routes.clone(), log.clone());
    let dir = tempfile::tempdir().unwrap();
    let dbp = dir.path().join("home/osv.rdb");
    let ecos: Vec<String> = ["PyPI", "crates.io", "npm", "Go"]
        .map(String::from)
        .to_vec();
    let r = import::update(&dbp, &format!("{base}/"), &ecos, &mut |_, _| {}).unwrap();
    assert_eq!((r.added, r.total), (3, 3), "{r:?}");
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("/npm/all.zip") && e.contains("not a readable zip")),
        "{:?}",
        r.errors
    );
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("/Go/all.zip") && e.contains("404")),
        "{:?}",
        r.errors
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            "/PyPI/all.zip",
            "/crates.io/all.zip",
            "/npm/all.zip",
            "/Go/all.zip"
        ]
    );
    let db = Database::open(&dbp).unwrap();
    assert_eq!(db.lookup("PyPI", "litellm").unwrap().len(), 1);
    let sources = db.metadata()["sources"].as_array().unwrap().clone();
    assert_eq!(sources.len(), 2);
    drop(db);

    // A user import of an extra record survives updates.
    let extra = dir.path().join("GO-2020-0001.json");
    std::fs::write(&extra, fixture("GO-2020-0001.json")).unwrap();
    import::import_paths(&dbp, &[extra], false, &mut |_, _| {}).unwrap();

    // The next PyPI export no longer has PYSEC-2024-47: it is removed; crates.io is untouched.
    routes.lock().unwrap().insert(
        "/PyPI/all.zip".into(),
        zip_of(&[("MAL-2026-2144.json", fixture("MAL-2026-2144.json"))]),
    );
    let r = import::update(&dbp, &base, &["PyPI".to_string()], &mut |_, _| {}).unwrap();
    assert_eq!((r.removed, r.replaced, r.total), (1, 1, 3), "{r:?}");
    let db = Database::open(&dbp).unwrap();
    assert!(db.lookup("PyPI", "django").unwrap().is_empty());
    assert_eq!(db.lookup("crates.io", "openssl").unwrap().len(), 1);
    assert_eq!(
        db.lookup("Go", "github.com/gin-gonic/gin").unwrap().len(),
        1
    );

    // A failing server leaves the database as it was.
    let before = std::fs::read(&dbp).unwrap();
    let r = import::update(&dbp, &base, &["Maven".to_string()], &mut |_, _| {}).unwrap();
    assert_eq!(r.errors.len(), 1);
    assert_eq!(std::fs::read(&dbp).unwrap(), before);
}
