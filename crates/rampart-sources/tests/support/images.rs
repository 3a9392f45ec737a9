//! Writes container images for tests: OCI layouts (directory or tar) and `docker save` archives,
//! layers as tar (plain, gzip or zstd), with whiteouts, links, devices and hostile names.
//! Shared by the sources tests and the CLI tests (`#[path]`-included).

#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

pub enum Entry<'a> {
    File(&'a str, &'a [u8]),
    /// A name written raw into the header, so `..` survives.
    RawName(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Device(&'a str),
    /// A regular-file header that claims `size` bytes, followed by that many zero bytes.
    Sized(&'a str, u64),
}

pub fn layer(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            Entry::File(p, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            Entry::RawName(p, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                let name = &mut h.as_old_mut().name;
                name[..p.len()].copy_from_slice(p.as_bytes());
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            Entry::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            Entry::Symlink(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            Entry::Device(p) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_size(0);
                h.set_device_major(1).unwrap();
                h.set_device_minor(3).unwrap();
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            Entry::Sized(p, size) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(*size);
                b.append_data(&mut h, p, std::io::Read::take(std::io::repeat(0), *size))
                    .unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

pub fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct Blobs(pub Vec<(String, Vec<u8>)>);

impl Blobs {
    /// Add a blob; returns its digest `sha256:…`.
    pub fn add(&mut self, data: Vec<u8>) -> String {
        let hex = sha256(&data);
        if !self.0.iter().any(|(h, _)| *h == hex) {
            self.0.push((hex.clone(), data));
        }
        format!("sha256:{hex}")
    }
}

pub struct Img<'a> {
    pub layers: Vec<(Vec<u8>, &'a str)>,
    pub config: serde_json::Value,
    pub annotations: serde_json::Value,
    pub platform: Option<(&'a str, &'a str)>,
    pub ref_name: &'a str,
}

pub fn media(kind: &str) -> &'static str {
    match kind {
        "gzip" => "application/vnd.oci.image.layer.v1.tar+gzip",
        "zstd" => "application/vnd.oci.image.layer.v1.tar+zstd",
        _ => "application/vnd.oci.image.layer.v1.tar",
    }
}

/// Blobs and an `index.json` for one or more images.
pub fn oci(images: &[Img<'_>]) -> (Blobs, Vec<u8>) {
    let mut blobs = Blobs(Vec::new());
    let mut manifests = Vec::new();
    for img in images {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for (data, kind) in &img.layers {
            diff_ids.push(serde_json::Value::String(String::new()));
            let size = data.len();
            let d = blobs.add(data.clone());
            layers.push(serde_json::json!({"mediaType": media(kind), "digest": d, "size": size}));
        }
        let mut config = img.config.clone();
        config["rootfs"] = serde_json::json!({"type": "layers", "diff_ids": diff_ids});
        if let Some((os, arch)) = img.platform {
            config["os"] = os.into();
            config["architecture"] = arch.into();
        }
        let cbytes = serde_json::to_vec(&config).unwrap();
        let csize = cbytes.len();
        let cd = blobs.add(cbytes);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": csize},
            "layers": layers,
            "annotations": img.annotations,
        });
        let mbytes = serde_json::to_vec(&manifest).unwrap();
        let msize = mbytes.len();
        let md = blobs.add(mbytes);
        let mut desc = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md,
            "size": msize,
            "annotations": {"org.opencontainers.image.ref.name": img.ref_name},
        });
        if let Some((os, arch)) = img.platform {
            desc["platform"] = serde_json::json!({"os": os, "architecture": arch});
        }
        manifests.push(desc);
    }
    let index = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
    (blobs, serde_json::to_vec(&index).unwrap())
}

pub fn write_oci_dir(dir: &Path, blobs: &Blobs, index: &[u8]) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(
        dir.join("oci-layout"),
        br#"{"imageLayoutVersion": "1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(dir.join("index.json"), index).unwrap();
    for (hex, data) in &blobs.0 {
        std::fs::write(dir.join("blobs/sha256").join(hex), data).unwrap();
    }
}

/// An archive of named files (an OCI layout or a docker save, depending on the names).
pub fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn oci_tar(blobs: &Blobs, index: &[u8]) -> Vec<u8> {
    let mut files = vec![
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec(),
        ),
        ("index.json".to_string(), index.to_vec()),
    ];
    for (hex, data) in &blobs.0 {
        files.push((format!("blobs/sha256/{hex}"), data.clone()));
    }
    tar_of(&files)
}

/// A `docker save` archive in the classic layout: `<id>/layer.tar` (uncompressed) and
/// `<config digest>.json`, layers verified through the config's `rootfs.diff_ids`.
pub fn docker_save(layers: &[Vec<u8>], config: serde_json::Value, tag: &str) -> Vec<u8> {
    let mut config = config;
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256(l)))
        .collect();
    config["rootfs"] = serde_json::json!({"type": "layers", "diff_ids": diff_ids});
    let cbytes = serde_json::to_vec(&config).unwrap();
    let chex = sha256(&cbytes);
    let mut files = vec![(format!("{chex}.json"), cbytes)];
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = format!("{:064x}/layer.tar", i + 1);
        names.push(name.clone());
        files.push((name, l.clone()));
    }
    let manifest =
        serde_json::json!([{"Config": format!("{chex}.json"), "RepoTags": [tag], "Layers": names}]);
    files.push((
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    ));
    tar_of(&files)
}
