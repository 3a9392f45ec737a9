//! A simple directory walker for `rampart sbom` and `rampart fix-plan` (the scanner's own sources
//! feed [`crate::DepsDetector`] instead).

use crate::detector::{DepsDetector, Manifest};
use crate::inventory;
use rampart_core::{Detections, Detector, Item, Location, Skipped};
use std::path::{Path, PathBuf};

/// Files larger than this are not read as manifests.
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// Walk `root` (a directory or a single file), read every recognised lockfile and package
/// metadata file (following `-r` includes on disk), and run `detector` on each. `.git` folders and
/// symbolic links are not followed. Returns what the detector found plus the files that could not
/// be read.
pub fn walk(root: &Path, detector: &DepsDetector, progress: &mut dyn FnMut(&Path)) -> Detections {
    let mut out = Detections::default();
    let files: Vec<PathBuf> = if root.is_file() {
        vec![root.to_path_buf()]
    } else {
        let mut v = Vec::new();
        let it = walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.file_name() != ".git");
        for entry in it {
            match entry {
                Ok(e) if e.file_type().is_file() => {
                    let p = e.path().to_string_lossy().replace('\\', "/");
                    if inventory::recognise(&p).is_some() {
                        v.push(e.into_path());
                    }
                }
                Ok(_) => {}
                Err(e) => out.skipped.push(Skipped::new(
                    e.path()
                        .map_or_else(|| root.display().to_string(), |p| p.display().to_string()),
                    e.to_string(),
                )),
            }
        }
        v
    };
    for f in files {
        progress(&f);
        let logical = f.to_string_lossy().replace('\\', "/");
        let Some(_) = inventory::recognise(&logical) else {
            out.skipped.push(Skipped::new(
                logical,
                "not a lockfile or package metadata file Rampart reads",
            ));
            continue;
        };
        match std::fs::metadata(&f) {
            Ok(m) if m.len() > MAX_MANIFEST_BYTES => {
                out.skipped.push(Skipped::new(
                    logical,
                    format!("larger than {MAX_MANIFEST_BYTES} bytes"),
                ));
                continue;
            }
            Err(e) => {
                out.skipped.push(Skipped::new(logical, e.to_string()));
                continue;
            }
            _ => {}
        }
        let data = match std::fs::read(&f) {
            Ok(d) => d,
            Err(e) => {
                out.skipped.push(Skipped::new(logical, e.to_string()));
                continue;
            }
        };
        let loc = Location::file(logical.clone());
        let item = Item {
            path: &logical,
            data: &data,
            location: &loc,
        };
        detector.detect(&item, &mut out);
    }
    out
}

/// A reader for `-r` includes and the manifest beside a lock (`package.json`, `pyproject.toml`,
/// `composer.json`) from the local filesystem, for [`DepsDetector::with_include_reader`] when
/// items are plain files.
pub fn disk_include_reader() -> Box<crate::detector::IncludeReader> {
    Box::new(|item: &Item<'_>, path: &str| {
        if item.location.image.is_some()
            || item.location.commit.is_some()
            || item.location.member.is_some()
        {
            return None;
        }
        // `path` is resolved against the item's logical path, which a scanner may give relative
        // to the folder it scans; the location holds the path on disk.
        let disk = match item.location.path.strip_suffix(item.path) {
            Some(root) if !path.starts_with('/') => format!("{root}{path}"),
            _ => path.to_string(),
        };
        let md = std::fs::metadata(&disk).ok()?;
        if !md.is_file() || md.len() > MAX_MANIFEST_BYTES {
            return None;
        }
        std::fs::read(&disk).ok()
    })
}

/// Inventory of `root` without matching (for `rampart sbom`).
pub fn inventory(root: &Path) -> (Vec<Manifest>, Vec<Skipped>) {
    let det = DepsDetector::inventory_only().with_include_reader(disk_include_reader());
    let d = walk(root, &det, &mut |_| {});
    (det.take_inventory(), d.skipped)
}
