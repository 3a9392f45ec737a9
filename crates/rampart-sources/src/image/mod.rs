//! Container images without a daemon: `docker save` archives, OCI image archives and OCI image
//! layout directories, recognised by content. Every layer is streamed (never extracted to disk),
//! top layer first so that a file deleted or replaced by a later layer is reported with the layer
//! that added it and the layer that removed it. Config and manifest metadata are scanned as
//! fields; every blob is checked against its digest.

mod layer;
mod layout;
mod work;

use crate::{Sink, SourceOptions};
use rampart_core::{Finding, Item, Kind, Location, Severity, Skipped, fingerprint};
use std::collections::HashSet;
use std::path::Path;

pub(crate) use layout::{blob_path, is_image_tar, is_oci_dir};

/// Scan an image archive held in memory at `shown`.
pub(crate) fn scan_image_tar(shown: &str, data: &[u8], opts: &SourceOptions, sink: &dyn Sink) {
    match layout::Store::from_tar(layout::TarSrc::Bytes(data)) {
        Ok(store) => scan_store(shown, &store, opts, sink),
        Err(e) => sink.skipped(Skipped::new(
            shown,
            format!("image archive unreadable: {e}"),
        )),
    }
}

/// Scan an image archive file, reading it positionally (never holding it in memory).
pub(crate) fn scan_image_file(
    shown: &str,
    file: std::fs::File,
    opts: &SourceOptions,
    sink: &dyn Sink,
) {
    match layout::Store::from_tar(layout::TarSrc::File(file)) {
        Ok(store) => scan_store(shown, &store, opts, sink),
        Err(e) => sink.skipped(Skipped::new(
            shown,
            format!("image archive unreadable: {e}"),
        )),
    }
}

/// Scan an OCI image layout directory.
pub(crate) fn scan_oci_dir(path: &Path, shown: &str, opts: &SourceOptions, sink: &dyn Sink) {
    let store = layout::Store::from_dir(path);
    scan_store(shown, &store, opts, sink);
}

fn scan_store(shown: &str, store: &layout::Store<'_>, opts: &SourceOptions, sink: &dyn Sink) {
    let images = match layout::images(store, opts.platform.as_deref()) {
        Ok(i) => i,
        Err(e) => {
            sink.skipped(Skipped::new(shown, e));
            return;
        }
    };
    for problem in &images.problems {
        report_integrity(sink, shown, problem);
    }
    if images.images.is_empty() {
        sink.skipped(Skipped::new(
            shown,
            match &opts.platform {
                Some(p) => format!("no image for platform {p} in this archive"),
                None => "no image manifest in this archive".to_string(),
            },
        ));
        return;
    }
    let mut seen_layers: HashSet<String> = HashSet::new();
    let mut seen_configs: HashSet<String> = HashSet::new();
    for image in &images.images {
        let label = match &image.name {
            Some(n) => format!("{shown} ({n})"),
            None => shown.to_string(),
        };
        if seen_configs.insert(image.config.name.clone()) {
            scan_metadata(&label, image, sink);
        }
        layer::scan_layers(&label, store, image, &mut seen_layers, opts, sink);
    }
}

/// A structural problem with an image: a missing blob, a digest mismatch, a bad path.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub path: String,
    pub layer: Option<String>,
    pub layer_index: Option<u32>,
}

pub(crate) fn report_integrity(sink: &dyn Sink, image: &str, p: &Problem) {
    let mut location = Location::file(p.path.clone());
    location.image = Some(image.to_string());
    location.layer = p.layer.clone();
    location.layer_index = p.layer_index;
    let mut f = Finding::new(
        Kind::Integrity,
        p.rule,
        p.severity,
        p.message.clone(),
        location,
    );
    f.remediation = Some(match p.rule {
        "image-path-escape" => "Do not extract this layer with a tool that follows `..`; rebuild the image from a trusted base.".into(),
        _ => "Do not run this image: pull or rebuild it from a trusted source. Content that does not match its digest was altered or corrupted after the image was built.".into(),
    });
    f.fingerprint = fingerprint(&[p.rule, &f.location.identity(), &p.message], b"");
    sink.finding(f);
}

/// Config `Env`, `Cmd`, `Entrypoint`, `Labels`, `history[].created_by`, and manifest
/// annotations, each as its own item with `location.field` naming it.
fn scan_metadata(label: &str, image: &layout::Image, sink: &dyn Sink) {
    let emit = |path: &str, field: String, value: &str| {
        let mut location = Location::file(path.to_string());
        location.image = Some(label.to_string());
        location.field = Some(field);
        sink.item(&Item {
            path,
            data: value.as_bytes(),
            location: &location,
        });
    };
    for (k, v) in &image.annotations {
        emit(
            "(manifest)",
            format!("manifest.annotations.{k}"),
            &format!("{k}={v}"),
        );
    }
    let Some(config) = &image.config_json else {
        return;
    };
    let c = &config["config"];
    if let Some(env) = c["Env"].as_array() {
        for (i, e) in env.iter().enumerate() {
            if let Some(s) = e.as_str() {
                emit("(config)", format!("config.Env[{i}]"), s);
            }
        }
    }
    for key in ["Cmd", "Entrypoint"] {
        if let Some(parts) = c[key].as_array() {
            let joined: Vec<&str> = parts.iter().filter_map(|p| p.as_str()).collect();
            emit("(config)", format!("config.{key}"), &joined.join(" "));
        }
    }
    if let Some(labels) = c["Labels"].as_object() {
        for (k, v) in labels {
            if let Some(s) = v.as_str() {
                emit(
                    "(config)",
                    format!("config.Labels.{k}"),
                    &format!("{k}={s}"),
                );
            }
        }
    }
    if let Some(hist) = config["history"].as_array() {
        for (i, h) in hist.iter().enumerate() {
            if let Some(s) = h["created_by"].as_str() {
                emit("(config)", format!("history[{i}].created_by"), s);
            }
            if let Some(s) = h["comment"].as_str() {
                emit("(config)", format!("history[{i}].comment"), s);
            }
        }
    }
}
