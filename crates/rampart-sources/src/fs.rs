//! Files, directories and stdin.

use crate::{Sink, SourceOptions, human_size};
use ignore::{WalkBuilder, WalkState};
use rampart_core::{Item, Location, Skipped};
use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Files at least this large are memory-mapped instead of read into a buffer.
const MMAP_THRESHOLD: u64 = 1 << 20;

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Scan a file or a directory tree (in parallel). Directory symlinks and `.git` internals are not
/// followed (except `.git/config`, which can hold credentials in remote URLs); use
/// [`crate::scan_git_history`] for the history.
pub fn scan_path(path: &Path, opts: &SourceOptions, sink: &dyn Sink) {
    let shown = display(path);
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            sink.skipped(Skipped::new(shown, io_reason(&e)));
            return;
        }
    };
    if meta.is_dir() || (meta.file_type().is_symlink() && path.is_dir()) {
        if crate::image::is_oci_dir(path) {
            crate::image::scan_oci_dir(path, &shown, opts, sink);
            return;
        }
        walk_dir(path, opts, sink);
    } else {
        scan_file(path, &shown, path_name(path).as_str(), opts, sink);
    }
}

/// Read all of stdin and scan it as one item named `-`.
pub fn scan_stdin(opts: &SourceOptions, sink: &dyn Sink) {
    let mut data = Vec::new();
    let limit = opts.max_file_size;
    match std::io::stdin()
        .lock()
        .take(limit + 1)
        .read_to_end(&mut data)
    {
        Ok(_) if data.len() as u64 > limit => sink.skipped(Skipped::new(
            "-",
            format!(
                "stdin is over the {} limit (--max-file-size)",
                human_size(limit)
            ),
        )),
        Ok(_) => scan_bytes("-", &data, opts, sink),
        Err(e) => sink.skipped(Skipped::new("-", io_reason(&e))),
    }
}

/// Scan bytes already in memory as one file named `name`; a container image archive is
/// recognised by content and read as an image.
pub fn scan_bytes(name: &str, data: &[u8], opts: &SourceOptions, sink: &dyn Sink) {
    if crate::image::is_image_tar(data) {
        crate::image::scan_image_tar(name, data, opts, sink);
    } else {
        let loc = Location::file(name);
        sink.item(&Item {
            path: name,
            data,
            location: &loc,
        });
    }
}

fn walk_dir(root: &Path, opts: &SourceOptions, sink: &dyn Sink) {
    let mut builder = WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .hidden(false)
        // `--respect-gitignore`: `.gitignore` files wherever they are (a checkout without
        // `.git` too) and `.git/info/exclude`; never the user's global excludes, so a scan
        // reads the same files on every machine.
        .git_ignore(opts.respect_gitignore)
        .git_exclude(opts.respect_gitignore)
        .require_git(false)
        .follow_links(opts.follow_symlinks)
        .threads(opts.threads())
        .filter_entry(|e| {
            // Inside `.git`, only the config file is content; objects are compressed and
            // scanned through history.
            let in_git = e
                .path()
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == ".git");
            !in_git || e.file_name() == "config"
        });
    builder.build_parallel().run(|| {
        Box::new(move |entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(err) => {
                    let (path, reason) = walk_error(&err);
                    sink.skipped(Skipped::new(path, reason));
                    return WalkState::Continue;
                }
            };
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap_or(path);
            let rel_str = path_name(rel);
            if !rel_str.is_empty() && opts.excluded(&rel_str) {
                return if entry.file_type().is_some_and(|t| t.is_dir()) {
                    WalkState::Skip
                } else {
                    WalkState::Continue
                };
            }
            let Some(ft) = entry.file_type() else {
                return WalkState::Continue;
            };
            let shown = display(path);
            if ft.is_dir() {
                if entry.depth() > 0 && crate::image::is_oci_dir(path) {
                    crate::image::scan_oci_dir(path, &shown, opts, sink);
                    return WalkState::Skip;
                }
                return WalkState::Continue;
            }
            if ft.is_symlink() {
                // Only reached when links are not followed.
                let reason = match std::fs::metadata(path) {
                    Err(_) => "broken symbolic link".to_string(),
                    Ok(_) => "symbolic link not followed (use --follow-symlinks)".to_string(),
                };
                sink.skipped(Skipped::new(shown, reason));
                return WalkState::Continue;
            }
            scan_file(path, &shown, &rel_str, opts, sink);
            WalkState::Continue
        })
    });
}

fn scan_file(path: &Path, shown: &str, logical: &str, opts: &SourceOptions, sink: &dyn Sink) {
    // Look before opening: opening a named pipe for reading would block until a writer appears.
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            sink.skipped(Skipped::new(
                shown,
                "not a regular file (device, socket or pipe)",
            ));
            return;
        }
        Ok(_) => {}
        Err(e) => {
            sink.skipped(Skipped::new(shown, io_reason(&e)));
            return;
        }
    }
    let mut file = match open_nonblocking(path) {
        Ok(f) => f,
        Err(e) => {
            sink.skipped(Skipped::new(shown, io_reason(&e)));
            return;
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            sink.skipped(Skipped::new(shown, io_reason(&e)));
            return;
        }
    };
    if !meta.is_file() {
        sink.skipped(Skipped::new(
            shown,
            "not a regular file (device, socket or pipe)",
        ));
        return;
    }
    // Empty files are items too: an empty `package-lock.json` is a damaged lockfile to report.
    let len = meta.len();
    let location = Location::file(shown);
    if len >= MMAP_THRESHOLD {
        // SAFETY: the map is read-only and lives only for this call. A file truncated by another
        // process while it is mapped can fault, the same trade-off ripgrep makes for speed.
        match unsafe { memmap2::Mmap::map(&file) } {
            Ok(map) => {
                if crate::image::is_image_tar(&map) {
                    // Read the image from the file as a stream: mapping it whole would make every
                    // page of a multi-GB image resident.
                    drop(map);
                    crate::image::scan_image_file(shown, file, opts, sink);
                    return;
                }
                sink.item(&Item {
                    path: logical,
                    data: &map,
                    location: &location,
                });
                return;
            }
            Err(e) if len > opts.max_file_size => {
                sink.skipped(Skipped::new(
                    shown,
                    format!(
                        "file is {} and cannot be memory-mapped ({e}); over the {} limit for reading (--max-file-size)",
                        human_size(len),
                        human_size(opts.max_file_size)
                    ),
                ));
                return;
            }
            Err(_) => { /* fall back to reading */ }
        }
    }
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        match (&mut file)
            .take(opts.max_file_size + 1)
            .read_to_end(&mut buf)
        {
            Ok(_) if crate::image::is_image_tar(&buf) => {
                crate::image::scan_image_tar(shown, &buf, opts, sink);
            }
            Ok(_) => sink.item(&Item {
                path: logical,
                data: &buf,
                location: &location,
            }),
            Err(e) => sink.skipped(Skipped::new(shown, io_reason(&e))),
        }
        if buf.capacity() > 4 * MMAP_THRESHOLD as usize {
            *buf = Vec::new();
        }
    });
}

/// Open for reading without blocking, in case the path was swapped for a pipe after the check.
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        const O_NONBLOCK: i32 = 0o4000;
        o.custom_flags(O_NONBLOCK);
    }
    o.open(path)
}

/// A path as shown to users: lossy UTF-8, `/`-separated, without a leading `./`.
pub(crate) fn display(path: &Path) -> String {
    let s = path_name(path);
    match s.strip_prefix("./") {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => s,
    }
}

fn path_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    if std::path::MAIN_SEPARATOR == '/' {
        s.into_owned()
    } else {
        s.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "not found".into(),
        PermissionDenied => "permission denied".into(),
        _ => format!("cannot read: {e}"),
    }
}

fn walk_error(err: &ignore::Error) -> (String, String) {
    match err {
        ignore::Error::WithPath { path, err } => {
            let (_, reason) = walk_error(err);
            (display(path), reason)
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error(err)
        }
        ignore::Error::Loop { child, ancestor } => (
            display(child),
            format!("symbolic link loop (points back to {})", display(ancestor)),
        ),
        ignore::Error::Io(e) => (String::from("?"), io_reason(e)),
        other => (String::from("?"), other.to_string()),
    }
}
