//! Streaming one image's layers, top layer first.

use super::layout::{BlobRef, Hasher, Image, Store};
use super::work::{Pool, with_pool};
use super::{Problem, report_integrity};
use crate::{Sink, SourceOptions, human_size};
use rampart_core::{Item, Location, Severity, Skipped};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

/// Bytes of file contents waiting for workers, per image.
const QUEUE_BUDGET: u64 = 32 << 20;

/// What a layer does to the layers below it.
#[derive(Default)]
pub(crate) struct Effects {
    /// Non-directory entries and `.wh.NAME` whiteouts: the path (and everything under it) of
    /// lower layers is hidden.
    hides: Vec<String>,
    /// Opaque whiteouts (`.wh..wh..opq`): everything under the directory in lower layers is
    /// hidden, but not the directory itself.
    opaque: Vec<String>,
}

/// For each path, the lowest layer above the one being read that deletes or replaces it.
#[derive(Default)]
struct Hidden {
    files: HashMap<String, u32>,
    dirs: HashMap<String, u32>,
}

impl Hidden {
    fn apply(&mut self, layer: u32, fx: &Effects) {
        for p in &fx.hides {
            self.files.insert(p.clone(), layer);
        }
        for d in &fx.opaque {
            self.dirs.insert(d.clone(), layer);
        }
    }

    fn lookup(&self, path: &str) -> Option<u32> {
        let mut best = self.files.get(path).copied();
        let mut p = path;
        loop {
            let parent = match p.rfind('/') {
                Some(k) => &p[..k],
                None => "",
            };
            for j in [self.files.get(parent), self.dirs.get(parent)]
                .into_iter()
                .flatten()
            {
                best = Some(best.map_or(*j, |b| b.min(*j)));
            }
            if parent.is_empty() {
                break;
            }
            p = parent;
        }
        best
    }
}

/// `./a/../b` style names: strip leading `./` and `/`, resolve `.` and `..`. Returns the clean
/// path and whether it tried to climb out of the root.
fn normalize(raw: &str) -> (String, bool) {
    let mut parts: Vec<&str> = Vec::new();
    let mut escaped = false;
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    escaped = true;
                }
            }
            other => parts.push(other),
        }
    }
    (parts.join("/"), escaped)
}

/// Decompress a layer by its magic bytes: gzip, zstd (all frames) or plain tar.
fn decoder<'r, R: BufRead + 'r>(mut raw: R) -> std::io::Result<Box<dyn Read + 'r>> {
    let head = raw.fill_buf()?;
    Ok(if head.starts_with(b"\x1f\x8b") {
        Box::new(flate2::bufread::MultiGzDecoder::new(raw))
    } else if head.starts_with(b"\x28\xb5\x2f\xfd") || head.starts_with(b"\x50\x2a\x4d\x18") {
        Box::new(ZstdFrames {
            src: raw,
            dec: ruzstd::decoding::FrameDecoder::new(),
            in_frame: false,
        })
    } else {
        Box::new(raw)
    })
}

/// Remembers whether the underlying stream reached its end.
struct TrackEof<R> {
    inner: R,
    /// Bytes read so far, and whether the end was reached.
    state: std::rc::Rc<std::cell::Cell<(u64, bool)>>,
}

impl<R: Read> Read for TrackEof<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let (total, _) = self.state.get();
        self.state
            .set((total + n as u64, n == 0 && !buf.is_empty()));
        Ok(n)
    }
}

/// Every frame of a zstd stream, skipping skippable frames (ruzstd decodes one frame at a time).
struct ZstdFrames<R: BufRead> {
    src: R,
    dec: ruzstd::decoding::FrameDecoder,
    in_frame: bool,
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use ruzstd::decoding::BlockDecodingStrategy;
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        let bad = |e: &dyn std::fmt::Display| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("zstd: {e}"))
        };
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if self.src.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                match self.dec.reset(&mut self.src) {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(
                        ReadFrameHeaderError::SkipFrame { length, .. },
                    )) => {
                        std::io::copy(
                            &mut (&mut self.src).take(u64::from(length)),
                            &mut std::io::sink(),
                        )?;
                        continue;
                    }
                    Err(e) => return Err(bad(&e)),
                }
            }
            if self.dec.is_finished() && self.dec.can_collect() == 0 {
                self.in_frame = false;
                continue;
            }
            while self.dec.can_collect() == 0 && !self.dec.is_finished() {
                self.dec
                    .decode_blocks(&mut self.src, BlockDecodingStrategy::UptoBlocks(1))
                    .map_err(|e| bad(&e))?;
            }
            let n = self.dec.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
        }
    }
}

/// Scan `image`'s layers. Layers already scanned (shared between images of one archive) are not
/// read again; their effect on lower layers is remembered.
pub(crate) fn scan_layers(
    label: &str,
    store: &Store<'_>,
    image: &Image,
    seen: &mut HashSet<String>,
    opts: &SourceOptions,
    sink: &dyn Sink,
) {
    let mut cache: HashMap<String, Arc<Effects>> = HashMap::new();
    let mut hidden = Hidden::default();
    with_pool(opts.threads(), QUEUE_BUDGET, |pool| {
        for (i, layer) in image.layers.iter().enumerate().rev() {
            let index = i as u32;
            let id = layer.id();
            let blob = match store.by_name(&layer.name) {
                None => {
                    report_integrity(
                        sink,
                        label,
                        &problem(
                            "image-missing-blob",
                            layer,
                            index,
                            format!(
                                "layer {index} ({id}) is named by the manifest but missing from the image"
                            ),
                        ),
                    );
                    continue;
                }
                Some(Err(e)) => {
                    sink.skipped(Skipped::new(
                        format!("{label}[layer {index}]"),
                        format!("cannot read layer blob: {e}"),
                    ));
                    continue;
                }
                Some(Ok(b)) => b,
            };
            let fresh = seen.insert(id.clone());
            if let (true, Some(d)) = (fresh, layer.digest.clone()) {
                // The digest is checked from a second read of the blob on a worker, so the thread
                // that decompresses does not also hash.
                if let Some(Ok(copy)) = store.by_name(&layer.name) {
                    let label = label.to_string();
                    let lref = BlobRef {
                        name: layer.name.clone(),
                        digest: Some(d.clone()),
                    };
                    pool.submit(0, move || {
                        let Some(mut h) = Hasher::for_digest(&d) else { return };
                        let mut r = copy.reader();
                        let mut buf = vec![0u8; 256 << 10];
                        loop {
                            match r.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => h.update(&buf[..n]),
                                Err(e) => {
                                    sink.skipped(Skipped::new(format!("{label}[layer {index}]"), format!("cannot read the layer to check its digest: {e}")));
                                    return;
                                }
                            }
                        }
                        if let Some(actual) = h.mismatch(&d) {
                            report_integrity(sink, &label, &problem("image-digest-mismatch", &lref, index, format!("layer {index} does not match its digest {d} (content hashes to {actual})")));
                        }
                    });
                }
            }
            let fx = match cache.get(&id) {
                Some(fx) if !fresh => Arc::clone(fx),
                _ => {
                    let ctx = LayerCtx {
                        label,
                        id: &id,
                        index,
                        image,
                        hidden: &hidden,
                        opts,
                        sink,
                    };
                    let fx = Arc::new(stream(&ctx, blob.reader(), fresh, pool));
                    cache.insert(id.clone(), Arc::clone(&fx));
                    fx
                }
            };
            hidden.apply(index, &fx);
        }
    });
}

fn problem(rule: &'static str, layer: &BlobRef, index: u32, message: String) -> Problem {
    Problem {
        rule,
        severity: Severity::High,
        message,
        path: layer.name.clone(),
        layer: Some(layer.id()),
        layer_index: Some(index),
    }
}

struct LayerCtx<'c, 's> {
    label: &'c str,
    id: &'c str,
    index: u32,
    image: &'c Image,
    hidden: &'c Hidden,
    opts: &'c SourceOptions,
    sink: &'s dyn Sink,
}

/// Read one layer's entries; hand file contents to the pool (when `emit`); return its effects.
fn stream<'s>(
    ctx: &LayerCtx<'_, 's>,
    raw: Box<dyn Read + Send + '_>,
    emit: bool,
    pool: &Pool<'s>,
) -> Effects {
    let mut fx = Effects::default();
    let where_ = || format!("{}[layer {}]", ctx.label, ctx.index);
    let reader = match decoder(BufReader::with_capacity(256 << 10, raw)) {
        Ok(r) => r,
        Err(e) => {
            ctx.sink
                .skipped(Skipped::new(where_(), format!("cannot read layer: {e}")));
            return fx;
        }
    };
    let state = std::rc::Rc::new(std::cell::Cell::new((0u64, false)));
    let mut ar = tar::Archive::new(TrackEof {
        inner: reader,
        state: std::rc::Rc::clone(&state),
    });
    // Where the last entry's data ends in the stream (0 before any entry).
    let mut data_end = 0u64;
    let entries = match ar.entries() {
        Ok(e) => e,
        Err(e) => {
            ctx.sink.skipped(Skipped::new(
                where_(),
                format!("layer is not a readable tar: {e}"),
            ));
            return fx;
        }
    };
    for entry in entries {
        let mut e = match entry {
            Ok(e) => e,
            Err(err) => {
                // Some writers (umoci 0.4, for one) end a layer exactly where the last file's
                // data ends, without padding or the end-of-archive blocks: every entry was read
                // and nothing was missed. A stream that ends anywhere else is truncated.
                let (read, ended) = state.get();
                if !(ended && read == data_end) {
                    ctx.sink.skipped(Skipped::new(where_(), format!("layer is truncated or corrupt ({err}); entries after this point were not scanned")));
                }
                break;
            }
        };
        data_end = u64::MAX;
        let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let (path, escaped) = normalize(&raw);
        if escaped && emit {
            let lref = BlobRef {
                name: raw.clone(),
                digest: None,
            };
            let mut p = problem(
                "image-path-escape",
                &lref,
                ctx.index,
                format!("layer entry `{raw}` climbs out of the image root with `..`"),
            );
            p.severity = Severity::Medium;
            p.layer = Some(ctx.id.to_string());
            report_integrity(ctx.sink, ctx.label, &p);
        }
        let (dir, name) = match path.rfind('/') {
            Some(k) => (&path[..k], &path[k + 1..]),
            None => ("", path.as_str()),
        };
        if name == ".wh..wh..opq" {
            fx.opaque.push(dir.to_string());
            continue;
        }
        if let Some(victim) = name.strip_prefix(".wh.") {
            fx.hides.push(if dir.is_empty() {
                victim.to_string()
            } else {
                format!("{dir}/{victim}")
            });
            continue;
        }
        let kind = e.header().entry_type();
        let size = e.size();
        let end_of_data = e.raw_file_position().saturating_add(size);
        if kind.is_dir() {
            data_end = end_of_data;
            continue;
        }
        fx.hides.push(path.clone());
        if !(kind.is_file() || kind.is_contiguous()) || !emit || size == 0 {
            if size == 0 || std::io::copy(&mut e, &mut std::io::sink()).is_ok_and(|n| n == size) {
                data_end = end_of_data;
            }
            continue;
        }
        if size > ctx.opts.max_file_size {
            ctx.sink.skipped(Skipped::new(
                format!("{}:{path}", where_()),
                format!(
                    "file is {}, over the {} limit (--max-file-size)",
                    human_size(size),
                    human_size(ctx.opts.max_file_size)
                ),
            ));
            if std::io::copy(&mut e, &mut std::io::sink()).is_ok_and(|n| n == size) {
                data_end = end_of_data;
            }
            continue;
        }
        let mut data = Vec::with_capacity(size as usize);
        match e.read_to_end(&mut data) {
            Ok(n) if n as u64 == size => data_end = end_of_data,
            Ok(_) | Err(_) => {
                ctx.sink.skipped(Skipped::new(
                    format!("{}:{path}", where_()),
                    "layer is truncated or corrupt inside this file; rest of the layer not scanned",
                ));
                break;
            }
        }
        let mut location = Location::file(path.clone());
        location.image = Some(ctx.label.to_string());
        location.layer = Some(ctx.id.to_string());
        location.layer_index = Some(ctx.index);
        if let Some(j) = ctx.hidden.lookup(&path) {
            location.removed_in_layer = ctx.image.layers.get(j as usize).map(BlobRef::id);
            location.removed_in_layer_index = Some(j);
        }
        let sink = ctx.sink;
        pool.submit(data.len() as u64, move || {
            sink.item(&Item {
                path: &path,
                data: &data,
                location: &location,
            });
        });
    }
    fx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize("./etc/passwd"), ("etc/passwd".into(), false));
        assert_eq!(normalize("/a/./b//c"), ("a/b/c".into(), false));
        assert_eq!(normalize("a/../../etc/x"), ("etc/x".into(), true));
    }

    #[test]
    fn hidden_by_whiteouts_opaque_dirs_and_replacements() {
        let mut h = Hidden::default();
        // layer 3: replaces app/config.yml; layer 2: deletes secrets/ and makes cache/ opaque.
        h.apply(
            3,
            &Effects {
                hides: vec!["app/config.yml".into()],
                opaque: vec![],
            },
        );
        h.apply(
            2,
            &Effects {
                hides: vec!["secrets".into()],
                opaque: vec!["cache".into()],
            },
        );
        assert_eq!(h.lookup("app/config.yml"), Some(3));
        assert_eq!(h.lookup("secrets/.env"), Some(2));
        assert_eq!(h.lookup("secrets"), Some(2));
        assert_eq!(h.lookup("cache/x/y"), Some(2));
        assert_eq!(h.lookup("cache"), None);
        assert_eq!(h.lookup("app/main.py"), None);
        // A lower layer's own replacement wins when it is lower (closer to the reader).
        h.apply(
            1,
            &Effects {
                hides: vec!["app/config.yml".into()],
                opaque: vec![],
            },
        );
        assert_eq!(h.lookup("app/config.yml"), Some(1));
    }
}
