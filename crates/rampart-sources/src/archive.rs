//! Archives inside scanned content (`.zip`, `.jar`, `.whl`, `.docx`/`.xlsx`…, `.tar`, `.tar.gz`,
//! `.tgz`, a single `.gz` file…), expanded
//! in memory to a bounded depth, with limits on expanded size, compression ratio and entry count.

use crate::{Sink, human_size};
use rampart_core::{Finding, Item, Skipped};
use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};

/// Limits on archive expansion (zip bombs, tar bombs, deep nesting).
#[derive(Clone, Copy, Debug)]
pub struct ArchiveLimits {
    /// How many archives deep to look (an archive in an archive is depth 2).
    pub max_depth: u32,
    /// Total bytes expanded from one top-level archive, all levels together.
    pub max_total: u64,
    /// Largest member read; bigger ones are skipped with a reason.
    pub max_member: u64,
    /// Largest ratio of expanded to compressed size before expansion stops.
    pub max_ratio: u64,
    /// Most members read from one archive.
    pub max_entries: usize,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_depth: 3,
            max_total: 1 << 30,
            max_member: 256 << 20,
            max_ratio: 200,
            max_entries: 100_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Zip,
    Tar,
    TarGz,
    /// One gzip-compressed file (`.env.gz`, `dump.sql.gz`, `app.log.1.gz`).
    Gz,
}

/// Which archive, if any: the name must say archive and the bytes must agree.
fn kind(path: &str, data: &[u8]) -> Option<Kind> {
    let name = path
        .rsplit(['/', '!'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase();
    let zip_name = [
        ".zip", ".jar", ".whl", ".war", ".ear", ".egg", ".nupkg", ".apk", ".aar", ".vsix",
        // Office documents are zips of XML.
        ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp",
    ]
    .iter()
    .any(|e| name.ends_with(e));
    let tgz_name = name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".crate");
    if zip_name && data.starts_with(b"PK\x03\x04") {
        Some(Kind::Zip)
    } else if tgz_name && data.starts_with(b"\x1f\x8b") {
        Some(Kind::TarGz)
    } else if name.ends_with(".gz") && data.starts_with(b"\x1f\x8b") {
        Some(Kind::Gz)
    } else if name.ends_with(".tar") && is_tar(data) {
        Some(Kind::Tar)
    } else {
        None
    }
}

/// Compressed manual pages and package documentation (`…/share/man/`, `…/share/doc/`,
/// `…/share/info/`): every distribution image has thousands, whose examples (`machine
/// example.org login apt password debian`) are not anyone's credentials. Not opened.
fn distro_docs(path: &str) -> bool {
    let p = path.split('!').next_back().unwrap_or(path);
    ["share/man/", "share/doc/", "share/info/"]
        .iter()
        .any(|d| p.starts_with(d) || p.contains(&format!("/{d}")))
}

/// A POSIX or GNU tar header at the start of `data`.
pub(crate) fn is_tar(data: &[u8]) -> bool {
    data.len() >= 512 && (&data[257..262] == b"ustar")
}

/// A sink that passes everything on and, for each item that is an archive, also passes on its
/// members (recursively), with `location.member` naming the path inside the archive.
pub struct Expanding<'a> {
    inner: &'a dyn Sink,
    limits: ArchiveLimits,
}

impl<'a> Expanding<'a> {
    /// Wrap `inner`.
    pub fn new(inner: &'a dyn Sink, limits: ArchiveLimits) -> Self {
        Expanding { inner, limits }
    }

    fn expand(&self, item: &Item<'_>, kind: Kind, depth: u32, budget: &AtomicU64) {
        // The logical path may be relative to the folder scanned (`man/man5/…` under
        // `/usr/share`); the location's path is the one the user sees.
        if kind == Kind::Gz
            && (distro_docs(item.path)
                || (item.location.member.is_none() && distro_docs(&item.location.path)))
        {
            return;
        }
        let what = || {
            let mut l = item.location.clone();
            l.line = None;
            l.column = None;
            l.display()
        };
        if depth > self.limits.max_depth {
            self.inner.skipped(Skipped::new(
                what(),
                format!(
                    "archive nested deeper than {} levels: not expanded",
                    self.limits.max_depth
                ),
            ));
            return;
        }
        let result = match kind {
            Kind::Zip => self.expand_zip(item, depth, budget),
            Kind::Tar => self.expand_tar(item, item.data, depth, budget),
            Kind::TarGz | Kind::Gz => {
                let mut gz = Vec::new();
                let cap = (item.data.len() as u64)
                    .saturating_mul(self.limits.max_ratio)
                    .min(budget.load(Ordering::Relaxed))
                    .min(self.limits.max_total);
                match flate2::read::GzDecoder::new(item.data)
                    .take(cap + 1)
                    .read_to_end(&mut gz)
                {
                    Ok(_) if gz.len() as u64 > cap => Err(format!(
                        "expands past {} (ratio or size limit; possible archive bomb): not expanded",
                        human_size(cap)
                    )),
                    Ok(_) if !self.take_budget(budget, gz.len() as u64) => Err(format!(
                        "archive expands past {} in total: not expanded",
                        human_size(self.limits.max_total)
                    )),
                    Ok(_) if kind == Kind::TarGz => self.expand_tar(item, &gz, depth, budget),
                    Ok(_) => {
                        // `x.sql.gz` holds `x.sql`; a `x.tar` inside is expanded in turn.
                        let base = item.path.rsplit(['/', '!']).next().unwrap_or(item.path);
                        let inner = &base[..base.len().saturating_sub(3)];
                        if !gz.is_empty() {
                            self.member(item, inner, &gz, depth, budget);
                        }
                        Ok(())
                    }
                    Err(e) => Err(format!("corrupt gzip stream: {e}")),
                }
            }
        };
        if let Err(reason) = result {
            self.inner.skipped(Skipped::new(what(), reason));
        }
    }

    fn member(&self, item: &Item<'_>, name: &str, data: &[u8], depth: u32, budget: &AtomicU64) {
        let mut location = item.location.clone();
        location.line = None;
        location.column = None;
        location.member = Some(match &item.location.member {
            Some(outer) => format!("{outer}!{name}"),
            None => name.to_string(),
        });
        let path = format!("{}!{}", item.path, name);
        let member = Item {
            path: &path,
            data,
            location: &location,
        };
        self.inner.item(&member);
        if let Some(k) = kind(name, data) {
            self.expand(&member, k, depth + 1, budget);
        }
    }

    fn take_budget(&self, budget: &AtomicU64, n: u64) -> bool {
        budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(n))
            .is_ok()
    }

    fn expand_zip(&self, item: &Item<'_>, depth: u32, budget: &AtomicU64) -> Result<(), String> {
        let mut zip = zip::ZipArchive::new(Cursor::new(item.data))
            .map_err(|e| format!("corrupt zip: {e}"))?;
        let n = zip.len();
        if n > self.limits.max_entries {
            return Err(format!(
                "zip has {n} members, over the {} limit: not expanded",
                self.limits.max_entries
            ));
        }
        for i in 0..n {
            let mut f = match zip.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    self.inner.skipped(Skipped::new(
                        format!("{}!#{i}", item.location.path),
                        format!("unreadable zip member: {e}"),
                    ));
                    continue;
                }
            };
            if f.is_dir() {
                continue;
            }
            let name = String::from_utf8_lossy(f.name_raw()).into_owned();
            let shown = || format!("{}!{name}", item.location.display());
            let declared = f.size();
            let packed = f.compressed_size().max(1);
            if declared > self.limits.max_member {
                self.inner.skipped(Skipped::new(
                    shown(),
                    format!(
                        "member is {}, over the {} limit",
                        human_size(declared),
                        human_size(self.limits.max_member)
                    ),
                ));
                continue;
            }
            if declared / packed > self.limits.max_ratio {
                self.inner.skipped(Skipped::new(shown(), format!("compression ratio {}:1 over the {}:1 limit (possible zip bomb): not expanded", declared / packed, self.limits.max_ratio)));
                continue;
            }
            if !self.take_budget(budget, declared) {
                self.inner.skipped(Skipped::new(
                    shown(),
                    format!(
                        "archive expands past {} in total: rest not expanded",
                        human_size(self.limits.max_total)
                    ),
                ));
                return Ok(());
            }
            let mut data = Vec::with_capacity(declared.min(1 << 20) as usize);
            // Never trust the declared size: read at most one byte more than it.
            match (&mut f).take(declared + 1).read_to_end(&mut data) {
                Ok(_) if data.len() as u64 > declared => {
                    self.inner.skipped(Skipped::new(shown(), "member is larger than its header says (corrupt or hostile zip): not scanned"));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    self.inner.skipped(Skipped::new(
                        shown(),
                        format!("cannot decompress member: {e}"),
                    ));
                    continue;
                }
            }
            drop(f);
            if !data.is_empty() {
                self.member(item, &name, &data, depth, budget);
            }
        }
        Ok(())
    }

    fn expand_tar(
        &self,
        item: &Item<'_>,
        data: &[u8],
        depth: u32,
        budget: &AtomicU64,
    ) -> Result<(), String> {
        let mut ar = tar::Archive::new(data);
        let entries = ar.entries().map_err(|e| format!("corrupt tar: {e}"))?;
        for (count, entry) in entries.enumerate() {
            if count >= self.limits.max_entries {
                return Err(format!(
                    "tar has over {} members: rest not expanded",
                    self.limits.max_entries
                ));
            }
            let mut e = entry.map_err(|e| format!("corrupt or truncated tar: {e}"))?;
            if !e.header().entry_type().is_file() {
                continue;
            }
            let name = String::from_utf8_lossy(&e.path_bytes())
                .trim_start_matches("./")
                .to_string();
            let size = e.size();
            if size > self.limits.max_member {
                self.inner.skipped(Skipped::new(
                    format!("{}!{name}", item.location.display()),
                    format!(
                        "member is {}, over the {} limit",
                        human_size(size),
                        human_size(self.limits.max_member)
                    ),
                ));
                continue;
            }
            let mut buf = Vec::with_capacity(size as usize);
            e.read_to_end(&mut buf)
                .map_err(|err| format!("corrupt or truncated tar at {name}: {err}"))?;
            if !buf.is_empty() {
                self.member(item, &name, &buf, depth, budget);
            }
        }
        Ok(())
    }
}

impl Sink for Expanding<'_> {
    fn item(&self, item: &Item<'_>) {
        self.inner.item(item);
        if let Some(k) = kind(item.path, item.data) {
            let budget = AtomicU64::new(self.limits.max_total);
            self.expand(item, k, 1, &budget);
        }
    }

    fn skipped(&self, skipped: Skipped) {
        self.inner.skipped(skipped);
    }

    fn finding(&self, finding: Finding) {
        self.inner.finding(finding);
    }
}
