//! Where an image's blobs are (a tar in memory or an OCI layout directory) and what its
//! manifests say.

use super::Problem;
use rampart_core::Severity;
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

/// Largest manifest, index or config read (they are small JSON documents).
const MAX_JSON: u64 = 16 << 20;
/// Nested indexes followed at most this deep.
const MAX_INDEX_DEPTH: u32 = 4;

pub(crate) enum Store<'a> {
    Tar {
        src: TarSrc<'a>,
        index: HashMap<String, (u64, u64)>,
    },
    Dir {
        root: PathBuf,
    },
}

/// Where an archive's bytes are: in memory (small files, stdin) or in a file read positionally,
/// so that a multi-GB image never has to be resident.
pub(crate) enum TarSrc<'a> {
    Bytes(&'a [u8]),
    File(std::fs::File),
}

impl TarSrc<'_> {
    fn len(&self) -> u64 {
        match self {
            TarSrc::Bytes(b) => b.len() as u64,
            TarSrc::File(f) => f.metadata().map_or(0, |m| m.len()),
        }
    }
}

/// A blob: a byte range of an archive or a file of a layout, read as a stream.
pub(crate) struct Blob<'s> {
    reader: Box<dyn Read + Send + 's>,
    pub(crate) len: u64,
}

impl<'s> Blob<'s> {
    pub(crate) fn reader(self) -> Box<dyn Read + Send + 's> {
        self.reader
    }

    /// The whole blob, when it is small enough to be a JSON document.
    pub(crate) fn read_small(self, max: u64) -> Result<Vec<u8>, String> {
        if self.len > max {
            return Err(format!("{} bytes, too large for a JSON document", self.len));
        }
        let mut v = Vec::with_capacity(self.len as usize);
        self.reader
            .take(max)
            .read_to_end(&mut v)
            .map_err(|e| e.to_string())?;
        Ok(v)
    }
}

/// Reads `[pos, end)` of a file with positional reads (no shared seek position).
struct FileRange<'f> {
    file: &'f std::fs::File,
    pos: u64,
    end: u64,
}

impl Read for FileRange<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "archive shorter than its index says",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

fn clean(name: &str) -> String {
    name.trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}

/// Index the entries of a tar (names to data ranges) without reading their contents. On damage,
/// returns what precedes it with the error.
fn tar_index<R: Read + std::io::Seek>(
    src: R,
    total: u64,
) -> (HashMap<String, (u64, u64)>, Option<String>) {
    let mut ar = tar::Archive::new(src);
    let mut index = HashMap::new();
    let entries = match ar.entries_with_seek() {
        Ok(e) => e,
        Err(e) => return (index, Some(e.to_string())),
    };
    for e in entries {
        let e = match e {
            Ok(e) => e,
            Err(err) => return (index, Some(format!("corrupt or truncated tar: {err}"))),
        };
        if !e.header().entry_type().is_file() {
            continue;
        }
        let name = clean(&String::from_utf8_lossy(&e.path_bytes()));
        let start = e.raw_file_position();
        let len = e.size();
        if start.checked_add(len).is_none_or(|end| end > total) {
            return (
                index,
                Some(format!(
                    "entry {name} runs past the end of the archive (truncated)"
                )),
            );
        }
        index.insert(name, (start, len));
    }
    (index, None)
}

fn index_of(src: &TarSrc<'_>) -> (HashMap<String, (u64, u64)>, Option<String>) {
    let total = src.len();
    match src {
        TarSrc::Bytes(b) => tar_index(Cursor::new(*b), total),
        TarSrc::File(f) => match f.try_clone() {
            Ok(f) => tar_index(std::io::BufReader::with_capacity(64 << 10, f), total),
            Err(e) => (HashMap::new(), Some(e.to_string())),
        },
    }
}

/// Is this tar a container image (docker save, or OCI layout in a tar)? Decided by content; a
/// truncated image is still an image (the image reader reports what is wrong).
pub(crate) fn is_image_tar(data: &[u8]) -> bool {
    if !crate::archive::is_tar(data) {
        return false;
    }
    let (ix, _) = tar_index(Cursor::new(data), data.len() as u64);
    ix.contains_key("manifest.json")
        || ix.contains_key("oci-layout")
        || ix.contains_key("index.json") && ix.keys().any(|k| k.starts_with("blobs/sha256/"))
}

/// Is this directory an OCI image layout (`oci-layout` and `index.json`)?
pub(crate) fn is_oci_dir(path: &Path) -> bool {
    path.join("oci-layout").is_file() && path.join("index.json").is_file()
}

impl<'a> Store<'a> {
    pub(crate) fn from_tar(src: TarSrc<'a>) -> Result<Store<'a>, String> {
        let (index, err) = index_of(&src);
        match err {
            Some(e) if index.is_empty() => Err(e),
            _ => Ok(Store::Tar { src, index }),
        }
    }

    pub(crate) fn from_dir(root: &Path) -> Store<'a> {
        Store::Dir {
            root: root.to_path_buf(),
        }
    }

    /// A blob by its name in the store; `None` when absent.
    pub(crate) fn by_name(&self, name: &str) -> Option<Result<Blob<'_>, String>> {
        let name = clean(name);
        match self {
            Store::Tar { src, index } => {
                let &(start, len) = index.get(&name)?;
                let reader: Box<dyn Read + Send + '_> = match src {
                    TarSrc::Bytes(b) => Box::new(&b[start as usize..(start + len) as usize]),
                    TarSrc::File(f) => Box::new(FileRange {
                        file: f,
                        pos: start,
                        end: start + len,
                    }),
                };
                Some(Ok(Blob { reader, len }))
            }
            Store::Dir { root } => {
                // Only names built from validated digests or fixed file names reach here.
                let p = root.join(&name);
                let f = match std::fs::File::open(&p) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
                    Err(e) => return Some(Err(format!("{name}: {e}"))),
                };
                match f.metadata() {
                    Ok(m) if !m.is_file() => Some(Err(format!("{name}: not a regular file"))),
                    Ok(m) => Some(Ok(Blob {
                        reader: Box::new(std::io::BufReader::with_capacity(256 << 10, f)),
                        len: m.len(),
                    })),
                    Err(e) => Some(Err(format!("{name}: {e}"))),
                }
            }
        }
    }
}

/// `sha256:<64 hex>` or `sha512:<128 hex>` → `blobs/<alg>/<hex>`; anything else is refused, so a
/// hostile manifest cannot name a path outside the layout.
pub(crate) fn blob_path(digest: &str) -> Option<String> {
    let (alg, hex) = digest.split_once(':')?;
    let len = match alg {
        "sha256" => 64,
        "sha512" => 128,
        _ => return None,
    };
    (hex.len() == len
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
    .then(|| format!("blobs/{alg}/{hex}"))
}

/// Hashes a stream as it is read, in the algorithm a digest names.
pub(crate) enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub(crate) fn for_digest(digest: &str) -> Option<Hasher> {
        match digest.split_once(':')?.0 {
            "sha256" => Some(Hasher::Sha256(Sha256::new())),
            "sha512" => Some(Hasher::Sha512(Sha512::new())),
            _ => None,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// `None` when the content matches `digest`, else the digest it has.
    pub(crate) fn mismatch(self, digest: &str) -> Option<String> {
        let actual = match self {
            Hasher::Sha256(h) => format!("sha256:{}", hex(&h.finalize())),
            Hasher::Sha512(h) => format!("sha512:{}", hex(&h.finalize())),
        };
        (actual != digest).then_some(actual)
    }
}

/// The digest of `data` in the algorithm `digest` names; `None` when it matches.
pub(crate) fn mismatch(digest: &str, data: &[u8]) -> Option<String> {
    let mut h = Hasher::for_digest(digest)?;
    h.update(data);
    h.mismatch(digest)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) struct BlobRef {
    /// Name in the store.
    pub name: String,
    /// Declared digest, when there is one.
    pub digest: Option<String>,
}

impl BlobRef {
    /// What to call the blob in findings: its digest, else its name.
    pub(crate) fn id(&self) -> String {
        self.digest.clone().unwrap_or_else(|| self.name.clone())
    }
}

pub(crate) struct Image {
    pub name: Option<String>,
    pub config: BlobRef,
    pub config_json: Option<Value>,
    pub layers: Vec<BlobRef>,
    pub annotations: Vec<(String, String)>,
}

pub(crate) struct Images {
    pub images: Vec<Image>,
    pub problems: Vec<Problem>,
}

fn problem(rule: &'static str, path: &str, message: String) -> Problem {
    Problem {
        rule,
        severity: Severity::High,
        message,
        path: path.to_string(),
        layer: None,
        layer_index: None,
    }
}

/// Read and verify a JSON blob.
fn json_blob(
    store: &Store<'_>,
    r: &BlobRef,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<Value> {
    let blob = match store.by_name(&r.name) {
        None => {
            problems.push(problem(
                "image-missing-blob",
                &r.name,
                format!(
                    "the image names {what} {} but the blob is not in it",
                    r.id()
                ),
            ));
            return None;
        }
        Some(Err(e)) => {
            problems.push(problem(
                "image-missing-blob",
                &r.name,
                format!("{what} {} cannot be read: {e}", r.id()),
            ));
            return None;
        }
        Some(Ok(b)) => b,
    };
    let blob = match blob.read_small(MAX_JSON) {
        Ok(b) => b,
        Err(e) => {
            problems.push(problem("image-malformed", &r.name, format!("{what}: {e}")));
            return None;
        }
    };
    if let Some(d) = &r.digest {
        if let Some(actual) = mismatch(d, &blob) {
            problems.push(problem(
                "image-digest-mismatch",
                &r.name,
                format!("{what} blob does not match its digest {d} (content hashes to {actual})"),
            ));
        }
    }
    match serde_json::from_slice::<Value>(&blob) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(problem(
                "image-malformed",
                &r.name,
                format!("{what} is not valid JSON: {e}"),
            ));
            None
        }
    }
}

/// Every image in the store (all platforms unless `platform` selects one).
pub(crate) fn images(store: &Store<'_>, platform: Option<&str>) -> Result<Images, String> {
    let mut problems = Vec::new();
    let mut images = Vec::new();
    let docker = store.by_name("manifest.json");
    if let Some(m) = docker {
        let m = m?
            .read_small(MAX_JSON)
            .map_err(|e| format!("manifest.json: {e}"))?;
        let list: Value = serde_json::from_slice(&m)
            .map_err(|e| format!("manifest.json is not valid JSON: {e}"))?;
        let list = list
            .as_array()
            .ok_or("manifest.json is not a list of images")?;
        for entry in list {
            let Some(config_name) = entry["Config"].as_str() else {
                problems.push(problem(
                    "image-malformed",
                    "manifest.json",
                    "an entry has no Config".into(),
                ));
                continue;
            };
            let config = BlobRef {
                name: config_name.to_string(),
                digest: digest_from_name(config_name),
            };
            let config_json = json_blob(store, &config, "config", &mut problems);
            let diff_ids: Vec<Option<String>> = config_json
                .as_ref()
                .and_then(|c| c["rootfs"]["diff_ids"].as_array())
                .map(|a| a.iter().map(|d| d.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let layers = entry["Layers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .enumerate()
                        .filter_map(|(i, l)| l.as_str().map(|n| (i, n)))
                        .map(|(i, n)| BlobRef {
                            name: n.to_string(),
                            // Old `<id>/layer.tar` entries are uncompressed: their digest is the diff id.
                            digest: digest_from_name(n)
                                .or_else(|| diff_ids.get(i).cloned().flatten()),
                        })
                        .collect()
                })
                .unwrap_or_default();
            if let (Some(p), Some(c)) = (platform, &config_json) {
                if !platform_matches(p, c) {
                    continue;
                }
            }
            images.push(Image {
                name: entry["RepoTags"]
                    .as_array()
                    .and_then(|t| t.first())
                    .and_then(|t| t.as_str())
                    .map(str::to_string),
                config,
                config_json,
                layers,
                annotations: Vec::new(),
            });
        }
        return Ok(Images { images, problems });
    }
    let index = match store.by_name("index.json") {
        Some(i) => i?
            .read_small(MAX_JSON)
            .map_err(|e| format!("index.json: {e}"))?,
        None => {
            return Err("neither manifest.json (docker save) nor index.json (OCI) found".into());
        }
    };
    let index: Value =
        serde_json::from_slice(&index).map_err(|e| format!("index.json is not valid JSON: {e}"))?;
    walk_index(store, &index, None, platform, 0, &mut images, &mut problems);
    Ok(Images { images, problems })
}

fn digest_from_name(name: &str) -> Option<String> {
    let n = clean(name);
    if let Some(rest) = n.strip_prefix("blobs/") {
        let (alg, hex) = rest.split_once('/')?;
        let d = format!("{alg}:{hex}");
        return blob_path(&d).map(|_| d);
    }
    let stem = n.strip_suffix(".json")?;
    let d = format!("sha256:{stem}");
    blob_path(&d).map(|_| d)
}

fn platform_of(v: &Value) -> Option<String> {
    let os = v["os"].as_str()?;
    let arch = v["architecture"].as_str()?;
    Some(match v["variant"].as_str() {
        Some(var) => format!("{os}/{arch}/{var}"),
        None => format!("{os}/{arch}"),
    })
}

fn platform_matches(wanted: &str, v: &Value) -> bool {
    match platform_of(v) {
        Some(p) => p == wanted || p.starts_with(&format!("{wanted}/")),
        None => true,
    }
}

fn walk_index(
    store: &Store<'_>,
    index: &Value,
    name: Option<String>,
    platform: Option<&str>,
    depth: u32,
    images: &mut Vec<Image>,
    problems: &mut Vec<Problem>,
) {
    if depth > MAX_INDEX_DEPTH {
        problems.push(problem(
            "image-malformed",
            "index.json",
            format!("image indexes nested deeper than {MAX_INDEX_DEPTH} levels"),
        ));
        return;
    }
    let Some(manifests) = index["manifests"].as_array() else {
        problems.push(problem(
            "image-malformed",
            "index.json",
            "index has no manifests list".into(),
        ));
        return;
    };
    for desc in manifests {
        let Some(digest) = desc["digest"].as_str() else {
            continue;
        };
        let Some(path) = blob_path(digest) else {
            problems.push(problem(
                "image-malformed",
                "index.json",
                format!("unsupported or malformed digest `{digest}`"),
            ));
            continue;
        };
        if let (Some(p), Some(_)) = (platform, desc.get("platform")) {
            if !platform_matches(p, &desc["platform"]) {
                continue;
            }
        }
        let ref_name = desc["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .map(str::to_string)
            .or_else(|| name.clone());
        let shown = match (platform_of(&desc["platform"]), &ref_name) {
            (Some(p), Some(n)) => Some(format!("{n} {p}")),
            (Some(p), None) => Some(p),
            (None, n) => n.clone(),
        };
        let r = BlobRef {
            name: path,
            digest: Some(digest.to_string()),
        };
        let Some(doc) = json_blob(store, &r, "manifest", problems) else {
            continue;
        };
        let media = doc["mediaType"]
            .as_str()
            .or(desc["mediaType"].as_str())
            .unwrap_or("");
        if doc.get("manifests").is_some()
            || media.contains("index")
            || media.contains("manifest.list")
        {
            walk_index(store, &doc, ref_name, platform, depth + 1, images, problems);
            continue;
        }
        let Some(cd) = doc["config"]["digest"].as_str() else {
            problems.push(problem(
                "image-malformed",
                &r.name,
                "manifest has no config digest".into(),
            ));
            continue;
        };
        let Some(cpath) = blob_path(cd) else {
            problems.push(problem(
                "image-malformed",
                &r.name,
                format!("malformed config digest `{cd}`"),
            ));
            continue;
        };
        let config = BlobRef {
            name: cpath,
            digest: Some(cd.to_string()),
        };
        let config_json = json_blob(store, &config, "config", problems);
        if let (Some(p), Some(c)) = (platform, &config_json) {
            if desc.get("platform").is_none() && !platform_matches(p, c) {
                continue;
            }
        }
        let mut layers = Vec::new();
        for l in doc["layers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            match l["digest"]
                .as_str()
                .and_then(|d| blob_path(d).map(|p| (d, p)))
            {
                Some((d, p)) => layers.push(BlobRef {
                    name: p,
                    digest: Some(d.to_string()),
                }),
                None => problems.push(problem(
                    "image-malformed",
                    &r.name,
                    format!("malformed layer descriptor {l}"),
                )),
            }
        }
        let annotations = doc["annotations"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        images.push(Image {
            name: shown,
            config,
            config_json,
            layers,
            annotations,
        });
    }
}
