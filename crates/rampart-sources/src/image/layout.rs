//! Where an image's blobs are (a tar in memory or an OCI layout directory) and what its
//! manifests say.

use super::Problem;
use rampart_core::Severity;
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};
use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Largest manifest, index or config read (they are small JSON documents).
const MAX_JSON: usize = 16 << 20;
/// Nested indexes followed at most this deep.
const MAX_INDEX_DEPTH: u32 = 4;

pub(crate) enum Store<'a> {
    Tar {
        data: &'a [u8],
        index: HashMap<String, (usize, usize)>,
    },
    Dir {
        root: PathBuf,
    },
}

pub(crate) enum Blob<'a> {
    Slice(&'a [u8]),
    Map(memmap2::Mmap),
    Empty,
}

impl std::ops::Deref for Blob<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Blob::Slice(s) => s,
            Blob::Map(m) => m,
            Blob::Empty => &[],
        }
    }
}

fn clean(name: &str) -> String {
    name.trim_start_matches("./").trim_start_matches('/').to_string()
}

/// Index the entries of a tar (names to data ranges) without reading their contents.
fn tar_index(data: &[u8]) -> Result<HashMap<String, (usize, usize)>, String> {
    let mut ar = tar::Archive::new(Cursor::new(data));
    let mut index = HashMap::new();
    let entries = ar.entries_with_seek().map_err(|e| e.to_string())?;
    for e in entries {
        let e = e.map_err(|e| format!("corrupt or truncated tar: {e}"))?;
        if !e.header().entry_type().is_file() {
            continue;
        }
        let name = clean(&String::from_utf8_lossy(&e.path_bytes()));
        let start = e.raw_file_position() as usize;
        let len = e.size() as usize;
        if start.checked_add(len).is_none_or(|end| end > data.len()) {
            return Err(format!("entry {name} runs past the end of the archive (truncated)"));
        }
        index.insert(name, (start, len));
    }
    Ok(index)
}

/// Is this tar a container image (docker save, or OCI layout in a tar)? Decided by content.
pub(crate) fn is_image_tar(data: &[u8]) -> bool {
    if !crate::archive::is_tar(data) {
        return false;
    }
    match tar_index(data) {
        Ok(ix) => ix.contains_key("manifest.json") || (ix.contains_key("oci-layout") && ix.contains_key("index.json")),
        // A truncated image is still an image: let the image reader report what is wrong.
        Err(_) => looks_like_image_prefix(data),
    }
}

fn looks_like_image_prefix(data: &[u8]) -> bool {
    let mut ar = tar::Archive::new(Cursor::new(data));
    let Ok(entries) = ar.entries_with_seek() else { return false };
    for e in entries.take(10_000) {
        let Ok(e) = e else { return false };
        let name = clean(&String::from_utf8_lossy(&e.path_bytes()));
        if name == "oci-layout" || name == "manifest.json" || name.starts_with("blobs/sha256/") {
            return true;
        }
    }
    false
}

/// Is this directory an OCI image layout (`oci-layout` and `index.json`)?
pub(crate) fn is_oci_dir(path: &Path) -> bool {
    path.join("oci-layout").is_file() && path.join("index.json").is_file()
}

impl<'a> Store<'a> {
    pub(crate) fn from_tar(data: &'a [u8]) -> Result<Store<'a>, String> {
        match tar_index(data) {
            Ok(index) => Ok(Store::Tar { data, index }),
            Err(e) => {
                // Keep what precedes the damage: a truncated archive still has its first blobs.
                let mut ar = tar::Archive::new(Cursor::new(data));
                let mut index = HashMap::new();
                if let Ok(entries) = ar.entries_with_seek() {
                    for en in entries {
                        let Ok(en) = en else { break };
                        let name = clean(&String::from_utf8_lossy(&en.path_bytes()));
                        let start = en.raw_file_position() as usize;
                        let len = en.size() as usize;
                        if start.saturating_add(len) <= data.len() {
                            index.insert(name, (start, len));
                        }
                    }
                }
                if index.is_empty() {
                    Err(e)
                } else {
                    Ok(Store::Tar { data, index })
                }
            }
        }
    }

    pub(crate) fn from_dir(root: &Path) -> Store<'a> {
        Store::Dir { root: root.to_path_buf() }
    }

    /// A blob by its name in the store; `None` when absent.
    pub(crate) fn by_name(&self, name: &str) -> Option<Result<Blob<'a>, String>> {
        let name = clean(name);
        match self {
            Store::Tar { data, index } => index.get(&name).map(|&(s, l)| Ok(Blob::Slice(&data[s..s + l]))),
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
                    Ok(m) if m.len() == 0 => Some(Ok(Blob::Empty)),
                    Ok(_) => Some(
                        // SAFETY: read-only map of a blob file for the duration of the scan.
                        unsafe { memmap2::Mmap::map(&f) }.map(Blob::Map).map_err(|e| format!("{name}: {e}")),
                    ),
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
    (hex.len() == len && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| format!("blobs/{alg}/{hex}"))
}

/// The digest of `data` in the algorithm `digest` names; `None` when it matches.
pub(crate) fn mismatch(digest: &str, data: &[u8]) -> Option<String> {
    let actual = match digest.split_once(':')?.0 {
        "sha256" => format!("sha256:{}", hex(&Sha256::digest(data))),
        "sha512" => format!("sha512:{}", hex(&Sha512::digest(data))),
        _ => return None,
    };
    (actual != digest).then_some(actual)
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
fn json_blob(store: &Store<'_>, r: &BlobRef, what: &str, problems: &mut Vec<Problem>) -> Option<Value> {
    let blob = match store.by_name(&r.name) {
        None => {
            problems.push(problem("image-missing-blob", &r.name, format!("the image names {what} {} but the blob is not in it", r.id())));
            return None;
        }
        Some(Err(e)) => {
            problems.push(problem("image-missing-blob", &r.name, format!("{what} {} cannot be read: {e}", r.id())));
            return None;
        }
        Some(Ok(b)) => b,
    };
    if let Some(d) = &r.digest {
        if let Some(actual) = mismatch(d, &blob) {
            problems.push(problem("image-digest-mismatch", &r.name, format!("{what} blob does not match its digest {d} (content hashes to {actual})")));
        }
    }
    if blob.len() > MAX_JSON {
        problems.push(problem("image-malformed", &r.name, format!("{what} is {} bytes, too large for a JSON document", blob.len())));
        return None;
    }
    match serde_json::from_slice::<Value>(&blob) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(problem("image-malformed", &r.name, format!("{what} is not valid JSON: {e}")));
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
        let m = m?;
        let list: Value = serde_json::from_slice(&m).map_err(|e| format!("manifest.json is not valid JSON: {e}"))?;
        let list = list.as_array().ok_or("manifest.json is not a list of images")?;
        for entry in list {
            let Some(config_name) = entry["Config"].as_str() else {
                problems.push(problem("image-malformed", "manifest.json", "an entry has no Config".into()));
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
                            digest: digest_from_name(n).or_else(|| diff_ids.get(i).cloned().flatten()),
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
                name: entry["RepoTags"].as_array().and_then(|t| t.first()).and_then(|t| t.as_str()).map(str::to_string),
                config,
                config_json,
                layers,
                annotations: Vec::new(),
            });
        }
        return Ok(Images { images, problems });
    }
    let index = match store.by_name("index.json") {
        Some(i) => i?,
        None => return Err("neither manifest.json (docker save) nor index.json (OCI) found".into()),
    };
    let index: Value = serde_json::from_slice(&index).map_err(|e| format!("index.json is not valid JSON: {e}"))?;
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
        problems.push(problem("image-malformed", "index.json", format!("image indexes nested deeper than {MAX_INDEX_DEPTH} levels")));
        return;
    }
    let Some(manifests) = index["manifests"].as_array() else {
        problems.push(problem("image-malformed", "index.json", "index has no manifests list".into()));
        return;
    };
    for desc in manifests {
        let Some(digest) = desc["digest"].as_str() else { continue };
        let Some(path) = blob_path(digest) else {
            problems.push(problem("image-malformed", "index.json", format!("unsupported or malformed digest `{digest}`")));
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
        let r = BlobRef { name: path, digest: Some(digest.to_string()) };
        let Some(doc) = json_blob(store, &r, "manifest", problems) else { continue };
        let media = doc["mediaType"].as_str().or(desc["mediaType"].as_str()).unwrap_or("");
        if doc.get("manifests").is_some() || media.contains("index") || media.contains("manifest.list") {
            walk_index(store, &doc, ref_name, platform, depth + 1, images, problems);
            continue;
        }
        let Some(cd) = doc["config"]["digest"].as_str() else {
            problems.push(problem("image-malformed", &r.name, "manifest has no config digest".into()));
            continue;
        };
        let Some(cpath) = blob_path(cd) else {
            problems.push(problem("image-malformed", &r.name, format!("malformed config digest `{cd}`")));
            continue;
        };
        let config = BlobRef { name: cpath, digest: Some(cd.to_string()) };
        let config_json = json_blob(store, &config, "config", problems);
        if let (Some(p), Some(c)) = (platform, &config_json) {
            if desc.get("platform").is_none() && !platform_matches(p, c) {
                continue;
            }
        }
        let mut layers = Vec::new();
        for l in doc["layers"].as_array().map(Vec::as_slice).unwrap_or_default() {
            match l["digest"].as_str().and_then(|d| blob_path(d).map(|p| (d, p))) {
                Some((d, p)) => layers.push(BlobRef { name: p, digest: Some(d.to_string()) }),
                None => problems.push(problem("image-malformed", &r.name, format!("malformed layer descriptor {l}"))),
            }
        }
        let annotations = doc["annotations"]
            .as_object()
            .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
            .unwrap_or_default();
        images.push(Image { name: shown, config, config_json, layers, annotations });
    }
}
