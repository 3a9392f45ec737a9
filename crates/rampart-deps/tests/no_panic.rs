//! Bad input never panics: deterministic mutations of real-shaped inputs fed to every parser, the
//! OSV reader and the database reader (a small, always-on cousin of the `fuzz/` targets), and
//! order properties of every version scheme on generated strings.

use rampart_core::{Detections, Detector, Item, Location};
use rampart_deps::{Database, DepsDetector, Ecosystem, db, inventory, osv, version};
use std::collections::BTreeMap;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const NASTY: &[&[u8]] = &[
    b"\"",
    b"'",
    b"[",
    b"]",
    b"{",
    b"}",
    b":",
    b"=",
    b"\n",
    b"\r\n",
    b"\\",
    b"\xff",
    b"\x00",
    b"@",
    b"/",
    b"(",
    b")",
    b"-r ",
    b"==",
    b"  ",
    b"\t",
    b"#",
    b"node_modules/",
    b"0",
    b"99999999999999999999999",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.truncate(i);
            }
            2 => {
                let i = rng.below(v.len() + 1);
                let n = NASTY[rng.below(NASTY.len())];
                v.splice(i..i, n.iter().copied());
            }
            3 if v.len() > 2 => {
                let a = rng.below(v.len());
                let b = (a + rng.below(64)).min(v.len());
                let chunk = v[a..b].to_vec();
                let at = rng.below(v.len());
                v.splice(at..at, chunk);
            }
            _ if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + rng.below(16)).min(v.len());
                v.drain(a..b);
            }
            _ => {}
        }
    }
    v
}

const SEEDS: &[(&str, &str)] = &[
    (
        "Cargo.lock",
        "version = 4\n\n[[package]]\nname = \"openssl\"\nversion = \"0.8.3\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
    ),
    (
        "package-lock.json",
        "{\"lockfileVersion\": 3, \"packages\": {\"\": {}, \"node_modules/a\": {\"version\": \"1.0.0\"}, \"node_modules/@s/b\": {\"version\": \"2.0.0\", \"dev\": true}}}",
    ),
    (
        "package-lock.json",
        "{\"lockfileVersion\": 1, \"dependencies\": {\"a\": {\"version\": \"1.0.0\", \"dependencies\": {\"b\": {\"version\": \"npm:c@1.0.0\"}}}}}",
    ),
    (
        "yarn.lock",
        "# yarn lockfile v1\n\n\"@a/b@^1\", \"@a/b@^1.1\":\n  version \"1.2.0\"\n\nc@npm:d@^2:\n  version \"2.0.0\"\n",
    ),
    (
        "yarn.lock",
        "__metadata:\n  version: 6\n\n\"a@npm:^1\":\n  version: 1.0.0\n  resolution: \"a@npm:1.0.0\"\n",
    ),
    (
        "pnpm-lock.yaml",
        "lockfileVersion: '9.0'\n\npackages:\n\n  a@1.0.0:\n    resolution: {}\n\n  '@s/b@2.0.0(c@1.0.0)':\n    resolution: {}\n",
    ),
    (
        "pnpm-lock.yaml",
        "lockfileVersion: 5.4\n\npackages:\n\n  /a/1.0.0_b@2.0.0:\n    dev: true\n",
    ),
    (
        "node_modules/a/package.json",
        "{\"name\": \"a\", \"version\": \"1.0.0\"}",
    ),
    (
        "requirements.txt",
        "a==1.0\nB[x,y] == 2.0 ; python_version<'3' \\\n  --hash=sha256:00\n-r other.txt\n-e .\nc>=1\n",
    ),
    (
        "poetry.lock",
        "[[package]]\nname = \"a\"\nversion = \"1.0\"\ncategory = \"dev\"\n[package.source]\ntype = \"git\"\n",
    ),
    (
        "uv.lock",
        "version = 1\n[[package]]\nname = \"a\"\nversion = \"1.0\"\nsource = { registry = \"x\" }\n",
    ),
    (
        "Pipfile.lock",
        "{\"default\": {\"a\": {\"version\": \"==1.0\"}}, \"develop\": {\"b\": {}}}",
    ),
    ("pdm.lock", "[[package]]\nname = \"a\"\nversion = \"1.0\"\n"),
    (
        "pylock.toml",
        "lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\nversion = \"1.0\"\n",
    ),
    (
        "x-1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: x\nVersion: 1.0\n\nbody\n",
    ),
    (
        "go.mod",
        "module m\n\ngo 1.21\ntoolchain go1.21.3\nrequire (\n\ta v1.0.0 // indirect\n)\nreplace a => b v1.1.0\n",
    ),
    (
        "Gemfile.lock",
        "GEM\n  remote: https://rubygems.org/\n  specs:\n    a (1.0.0-x86_64-linux)\n      b (~> 1)\n\nPLATFORMS\n  ruby\n",
    ),
    (
        "composer.lock",
        "{\"packages\": [{\"name\": \"a/b\", \"version\": \"v1.0.0\"}], \"packages-dev\": []}",
    ),
    (
        "var/lib/dpkg/status",
        "Package: base-files\nStatus: install ok installed\nVersion: 12.4\n\nPackage: a\nStatus: install ok installed\nSource: b (1.0-1)\nVersion: 1.0-1+b1\n",
    ),
    (
        "lib/apk/db/installed",
        "P:alpine-release\nV:3.19.1-r0\n\nP:a\nV:1.0-r0\no:b\n",
    ),
];

fn small_db() -> Database {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv");
    let mut all = BTreeMap::new();
    for f in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        let a = osv::parse_record(&bytes, "f", "test", &mut Vec::new()).unwrap();
        all.insert(a.id.clone(), a);
    }
    Database::from_bytes(db::build(&all, &serde_json::json!({})).unwrap()).unwrap()
}

#[test]
fn mutated_lockfiles_never_panic() {
    let det = DepsDetector::new(small_db());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut parsed_ok = 0;
    let mut rejected = 0;
    for (path, seed) in SEEDS {
        // The seed itself parses.
        let f = inventory::recognise(path).unwrap();
        inventory::parse(f, path, seed.as_bytes()).unwrap_or_else(|e| panic!("seed {path}: {e}"));
        for _ in 0..400 {
            let data = mutate(&mut rng, seed.as_bytes());
            let loc = Location::file(*path);
            let mut out = Detections::default();
            det.detect(
                &Item {
                    path,
                    data: &data,
                    location: &loc,
                },
                &mut out,
            );
            match inventory::parse_with_includes(f, path, &data, &|_| Some(data.clone())) {
                Ok(_) => parsed_ok += 1,
                Err(e) => {
                    rejected += 1;
                    assert!(
                        e.to_string().starts_with(path),
                        "error must name the file: {e}"
                    );
                }
            }
        }
    }
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    assert!(
        parsed_ok > 1000 && rejected > 500,
        "{parsed_ok} parsed, {rejected} rejected"
    );
}

#[test]
fn mutated_osv_records_and_databases_never_panic() {
    let mut rng = Rng(42);
    let rec = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/osv/PYSEC-2024-47.json"),
    )
    .unwrap();
    for _ in 0..2000 {
        let data = mutate(&mut rng, &rec);
        let (mut w, mut e) = (Vec::new(), Vec::new());
        for a in osv::parse_document(&data, "m.json", "t", &mut w, &mut e) {
            for aff in &a.affected {
                let _ = rampart_deps::matcher::check(
                    aff,
                    Ecosystem::from_osv(&aff.ecosystem),
                    "4.2.10",
                );
            }
        }
    }
    let mut all = BTreeMap::new();
    let a = osv::parse_record(&rec, "r", "t", &mut Vec::new()).unwrap();
    all.insert(a.id.clone(), a);
    let good = db::build(&all, &serde_json::json!({})).unwrap();
    let mut opened = 0;
    for _ in 0..3000 {
        let mut data = good.clone();
        for _ in 0..1 + rng.below(3) {
            let i = 64 + rng.below(data.len() - 64);
            data[i] = rng.next() as u8;
        }
        // Fix up the checksum so that the record readers are reached.
        let crc = crc32fast::hash(&data[64..]);
        data[12..16].copy_from_slice(&crc.to_le_bytes());
        if let Ok(d) = Database::from_bytes(data) {
            opened += 1;
            let _ = d.all_advisories();
            let _ = d.lookup("PyPI", "django");
            let _ = d.status();
        }
    }
    assert!(opened > 2000);
}

#[test]
fn version_orders_are_total_and_canonical_forms_agree() {
    let mut rng = Rng(7);
    let alphabet: &[&str] = &[
        "0", "1", "2", "10", "01", ".", ".", ".", "-", "+", "~", "_", ":", "a", "b", "rc", "alpha",
        "beta", "pre", "post", "dev", "p", "r", "v", "!", "git", "pl", "RC",
    ];
    let ecos = [
        Ecosystem::PyPI,
        Ecosystem::Npm,
        Ecosystem::CratesIo,
        Ecosystem::Go,
        Ecosystem::Debian,
        Ecosystem::Alpine,
        Ecosystem::RubyGems,
        Ecosystem::Packagist,
    ];
    let mut strings = Vec::new();
    for _ in 0..600 {
        let mut s = String::from(["1", "0", "2", "v1", "1.0"][rng.below(5)]);
        for _ in 0..rng.below(6) {
            s.push_str(alphabet[rng.below(alphabet.len())]);
        }
        strings.push(s);
    }
    let mut accepted = 0;
    for eco in ecos {
        let parsed: Vec<(String, version::Version)> = strings
            .iter()
            .filter_map(|s| version::parse(eco, s).ok().map(|v| (s.clone(), v)))
            .collect();
        accepted += parsed.len();
        let canon: Vec<String> = parsed
            .iter()
            .map(|(s, _)| version::canonical(eco, s).unwrap())
            .collect();
        for (i, (sa, a)) in parsed.iter().enumerate() {
            for (j, (sb, b)) in parsed.iter().enumerate().skip(i) {
                assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{eco:?} {sa} {sb}");
                assert_eq!(
                    a == b,
                    canon[i] == canon[j],
                    "{eco:?}: {sa} vs {sb} ({} / {})",
                    canon[i],
                    canon[j]
                );
            }
        }
        // Transitivity on a sorted list: every adjacent pair is ordered.
        let mut sorted: Vec<&version::Version> = parsed.iter().map(|(_, v)| v).collect();
        sorted.sort();
        for w in sorted.windows(2) {
            assert!(w[0] <= w[1]);
        }
    }
    assert!(accepted > 500, "{accepted}");
}
