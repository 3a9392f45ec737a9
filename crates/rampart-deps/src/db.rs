//! The advisory database: one compact, pre-indexed, memory-mapped file.
//!
//! Layout (all integers little-endian `u32` unless noted):
//!
//! ```text
//! header (64 bytes)
//!   0  magic  "RMPOSV01"
//!   8  format version (1)
//!  12  CRC-32 of everything after the header
//!  16  number of keys          20  number of advisories
//!  24  offset of key table     28  offset of advisory table
//!  32  offset of metadata      36  total file length
//!  40  number of affected entries   44..64 reserved (zero)
//! body
//!   records: strings are (len u32, UTF-8 bytes); lists are (count u32, items)
//!   advisory record: id, aliases[], summary, modified, published, flags u8, severity u8,
//!                    cvss, origin, affected-offsets[]
//!   affected record: advisory index, offset of its canonical-version table, ecosystem, name,
//!                    ranges[(kind u8, events[(kind u8, version)])], versions[]
//!   canonical table: count, offsets[count], strings: the listed versions in canonical form,
//!                    sorted, so that "is this version listed?" is a binary search in the map
//!   key table:       sorted by (ecosystem, normalised name); per key 16 bytes:
//!                    ecosystem string offset, name string offset, list offset, count
//!                    (the list holds offsets of affected records)
//!   advisory table:  one offset per advisory, sorted by id
//!   metadata:        a JSON string (build time, sources, counts per ecosystem)
//! ```
//!
//! Opening maps the file, checks the header and the checksum, and is ready: nothing is parsed
//! or indexed at open time. Every read is bounds-checked, so a damaged file gives an error,
//! never a panic.

use crate::osv::{Advisory, Affected, Event, Range, RangeKind};
use crate::{Ecosystem, ImportReport};
use rampart_core::Severity;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"RMPOSV01";
const FORMAT: u32 = 2;
const HEADER: usize = 64;

/// File name of the database inside `$RAMPART_HOME`.
pub const DB_FILE_NAME: &str = "osv.rdb";

/// Problems with the database file.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The file does not exist yet.
    #[error(
        "no advisory database at {0} — run `rampart db update` (downloads the OSV exports) or \
         `rampart db import PATH` (OSV JSON files, directories or all.zip exports) first"
    )]
    Missing(PathBuf),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a Rampart database or is damaged.
    #[error(
        "{path}: not a usable Rampart advisory database ({reason}); rebuild it with `rampart db update` or `rampart db import --replace`"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The database would not fit the format's 32-bit offsets.
    #[error("advisory database would exceed 4 GiB")]
    TooLarge,
    /// No home directory could be determined.
    #[error("cannot determine where to keep the advisory database: set RAMPART_HOME or pass --db")]
    NoHome,
}

/// Where the database lives: `explicit` (`--db PATH`) if given, else `$RAMPART_HOME/osv.rdb`, else
/// `<user data dir>/rampart/osv.rdb` (`~/.local/share/rampart` on Linux, `~/Library/Application
/// Support/rampart` on macOS, `%APPDATA%\rampart` on Windows).
pub fn resolve_db_path(explicit: Option<&Path>) -> Result<PathBuf, DbError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    Ok(rampart_home()?.join(DB_FILE_NAME))
}

/// `$RAMPART_HOME` if set and non-empty, else `<user data dir>/rampart`.
pub fn rampart_home() -> Result<PathBuf, DbError> {
    if let Some(h) = std::env::var_os("RAMPART_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    dirs::data_dir()
        .map(|d| d.join("rampart"))
        .ok_or(DbError::NoHome)
}

// ---------------------------------------------------------------------------------------------
// Writing

struct Buf(Vec<u8>);

impl Buf {
    fn pos(&self) -> Result<u32, DbError> {
        u32::try_from(self.0.len()).map_err(|_| DbError::TooLarge)
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) -> Result<(), DbError> {
        self.u32(u32::try_from(s.len()).map_err(|_| DbError::TooLarge)?);
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
    fn strs(&mut self, v: &[String]) -> Result<(), DbError> {
        self.u32(v.len() as u32);
        for s in v {
            self.str(s)?;
        }
        Ok(())
    }
}

fn sev_code(s: Option<Severity>) -> u8 {
    match s {
        None => 0,
        Some(Severity::Info) => 1,
        Some(Severity::Low) => 2,
        Some(Severity::Medium) => 3,
        Some(Severity::High) => 4,
        Some(Severity::Critical) => 5,
    }
}

fn sev_from(c: u8) -> Option<Severity> {
    match c {
        1 => Some(Severity::Info),
        2 => Some(Severity::Low),
        3 => Some(Severity::Medium),
        4 => Some(Severity::High),
        5 => Some(Severity::Critical),
        _ => None,
    }
}

/// Serialise advisories (keyed by id) into the database format. `meta` is stored as-is.
pub fn build(
    advisories: &BTreeMap<String, Advisory>,
    meta: &serde_json::Value,
) -> Result<Vec<u8>, DbError> {
    let mut b = Buf(vec![0u8; HEADER]);
    // key -> list of affected-record offsets
    let mut keys: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    let mut adv_offsets = Vec::with_capacity(advisories.len());
    let mut n_affected = 0u32;
    for (idx, adv) in advisories.values().enumerate() {
        let mut aff_offsets = Vec::with_capacity(adv.affected.len());
        for a in &adv.affected {
            let off = b.pos()?;
            aff_offsets.push(off);
            n_affected += 1;
            b.u32(idx as u32);
            let canon_slot = b.0.len();
            b.u32(0);
            b.str(&a.ecosystem)?;
            b.str(&a.name)?;
            b.u32(a.ranges.len() as u32);
            for r in &a.ranges {
                b.u8(match r.kind {
                    RangeKind::Semver => 0,
                    RangeKind::Ecosystem => 1,
                    RangeKind::Git => 2,
                    RangeKind::Unknown => 3,
                });
                b.u32(r.events.len() as u32);
                for e in &r.events {
                    b.u8(match e {
                        Event::Introduced(_) => 0,
                        Event::Fixed(_) => 1,
                        Event::LastAffected(_) => 2,
                        Event::Limit(_) => 3,
                    });
                    b.str(e.version())?;
                }
            }
            b.strs(&a.versions)?;
            let canon = crate::osv::canonical_versions(&a.ecosystem, &a.versions);
            let table = b.pos()?;
            b.0[canon_slot..canon_slot + 4].copy_from_slice(&table.to_le_bytes());
            b.u32(canon.len() as u32);
            let slots = b.0.len();
            for _ in &canon {
                b.u32(0);
            }
            for (i, c) in canon.iter().enumerate() {
                let at = b.pos()?;
                b.0[slots + 4 * i..slots + 4 * i + 4].copy_from_slice(&at.to_le_bytes());
                b.str(c)?;
            }
            if !adv.withdrawn {
                let eco = Ecosystem::from_osv(&a.ecosystem);
                keys.entry((a.ecosystem.clone(), eco.normalize_name(&a.name)))
                    .or_default()
                    .push(off);
            }
        }
        adv_offsets.push(b.pos()?);
        b.str(&adv.id)?;
        b.strs(&adv.aliases)?;
        b.str(&adv.summary)?;
        b.str(&adv.modified)?;
        b.str(&adv.published)?;
        b.u8(u8::from(adv.malicious) | (u8::from(adv.withdrawn) << 1));
        b.u8(sev_code(adv.severity));
        b.str(&adv.cvss)?;
        b.str(&adv.origin)?;
        b.u32(aff_offsets.len() as u32);
        for o in aff_offsets {
            b.u32(o);
        }
    }
    // Key strings and lists.
    let mut key_rows = Vec::with_capacity(keys.len());
    for ((eco, name), offs) in &keys {
        let eo = b.pos()?;
        b.str(eco)?;
        let no = b.pos()?;
        b.str(name)?;
        let lo = b.pos()?;
        for o in offs {
            b.u32(*o);
        }
        key_rows.push([eo, no, lo, offs.len() as u32]);
    }
    let key_table = b.pos()?;
    for row in &key_rows {
        for v in row {
            b.u32(*v);
        }
    }
    let adv_table = b.pos()?;
    for o in &adv_offsets {
        b.u32(*o);
    }
    let meta_off = b.pos()?;
    b.str(&meta.to_string())?;
    let total = b.pos()?;
    let crc = crc32fast::hash(&b.0[HEADER..]);
    let h = &mut b.0[..HEADER];
    h[0..8].copy_from_slice(MAGIC);
    let fields = [
        FORMAT,
        crc,
        key_rows.len() as u32,
        adv_offsets.len() as u32,
        key_table,
        adv_table,
        meta_off,
        total,
        n_affected,
    ];
    for (i, v) in fields.iter().enumerate() {
        h[8 + 4 * i..12 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    Ok(b.0)
}

/// Write `bytes` to `path` atomically (temporary file in the same directory, then rename), so
/// that a process that has the old file mapped keeps a consistent view.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DbError> {
    let io = |source| DbError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("osv.rdb"),
        std::process::id()
    ));
    let res = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(io)
}

// ---------------------------------------------------------------------------------------------
// Reading

enum Storage {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// An opened advisory database.
pub struct Database {
    storage: Storage,
    path: PathBuf,
    n_keys: u32,
    n_adv: u32,
    n_affected: u32,
    key_table: usize,
    adv_table: usize,
    meta_off: usize,
    cache: crate::matcher::Cache,
}

/// A reference to one stored `affected` entry (see [`Database::entries`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef {
    /// Index of the advisory (for [`Database::advisory`]).
    pub advisory: u32,
    offset: u32,
}

/// An advisory as stored (owned copy).
pub type StoredAdvisory = Advisory;

/// Summary numbers of a database, for `rampart db status`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Status {
    /// The file.
    pub path: String,
    /// File size in bytes.
    pub bytes: u64,
    /// Advisories stored (including withdrawn ones).
    pub advisories: u32,
    /// `affected` entries stored.
    pub affected_entries: u32,
    /// Distinct (ecosystem, package) keys indexed.
    pub packages: u32,
    /// The metadata recorded at build time (build time, sources, per-ecosystem counts).
    pub metadata: serde_json::Value,
}

struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, String>;

impl<'a> Rd<'a> {
    fn at(b: &'a [u8], pos: usize) -> Self {
        Rd { b, pos }
    }
    fn u8(&mut self) -> R<u8> {
        let v = *self.b.get(self.pos).ok_or("read past end")?;
        self.pos += 1;
        Ok(v)
    }
    fn u32(&mut self) -> R<u32> {
        let s = self.b.get(self.pos..self.pos + 4).ok_or("read past end")?;
        self.pos += 4;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn str(&mut self) -> R<&'a str> {
        std::str::from_utf8(self.str_bytes()?).map_err(|_| "invalid UTF-8".to_string())
    }
    /// A string's bytes, not checked for UTF-8 (for comparisons: `str` orders by bytes).
    fn str_bytes(&mut self) -> R<&'a [u8]> {
        let n = self.u32()? as usize;
        let s = self
            .b
            .get(self.pos..self.pos.checked_add(n).ok_or("overflow")?)
            .ok_or("string past end")?;
        self.pos += n;
        Ok(s)
    }
    fn strs(&mut self) -> R<Vec<String>> {
        let n = self.u32()? as usize;
        if n > self.b.len() {
            return Err("bad list length".into());
        }
        (0..n).map(|_| self.str().map(str::to_string)).collect()
    }
}

fn u32_le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Database {
    /// Open the database at `path` (memory-mapped).
    pub fn open(path: &Path) -> Result<Database, DbError> {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DbError::Missing(path.to_path_buf()));
            }
            Err(source) => {
                return Err(DbError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        // SAFETY: the file is only ever replaced by rename (see `write_atomic`), never modified in
        // place by Rampart, so the mapping stays valid; all reads are bounds-checked.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| DbError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_storage(Storage::Map(map), path)
    }

    /// Use an in-memory database image (as produced by [`build`]).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Database, DbError> {
        Self::from_storage(Storage::Owned(bytes), Path::new("<memory>"))
    }

    fn from_storage(storage: Storage, path: &Path) -> Result<Database, DbError> {
        let b: &[u8] = match &storage {
            Storage::Map(m) => m,
            Storage::Owned(v) => v,
        };
        let corrupt = |reason: &str| DbError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        if b.len() < HEADER || &b[0..8] != MAGIC {
            return Err(corrupt("wrong magic number"));
        }
        if u32_le(b, 8) != FORMAT {
            return Err(corrupt(&format!(
                "format version {} (this rampart reads {FORMAT})",
                u32_le(b, 8)
            )));
        }
        let total = u32_le(b, 36) as usize;
        if total != b.len() {
            return Err(corrupt("truncated or extended file"));
        }
        if crc32fast::hash(&b[HEADER..]) != u32_le(b, 12) {
            return Err(corrupt("checksum mismatch"));
        }
        let n_keys = u32_le(b, 16);
        let n_adv = u32_le(b, 20);
        let key_table = u32_le(b, 24) as usize;
        let adv_table = u32_le(b, 28) as usize;
        let meta_off = u32_le(b, 32) as usize;
        let n_affected = u32_le(b, 40);
        if key_table + n_keys as usize * 16 > b.len() || adv_table + n_adv as usize * 4 > b.len() {
            return Err(corrupt("tables out of bounds"));
        }
        Ok(Database {
            storage,
            path: path.to_path_buf(),
            n_keys,
            n_adv,
            n_affected,
            key_table,
            adv_table,
            meta_off,
            cache: Default::default(),
        })
    }

    fn bytes(&self) -> &[u8] {
        match &self.storage {
            Storage::Map(m) => m,
            Storage::Owned(v) => v,
        }
    }

    fn corrupt(&self, reason: String) -> DbError {
        DbError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }

    pub(crate) fn cache(&self) -> &crate::matcher::Cache {
        &self.cache
    }

    /// Path the database was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of advisories stored.
    pub fn advisory_count(&self) -> u32 {
        self.n_adv
    }

    fn key_row(&self, i: u32) -> R<[u32; 4]> {
        let b = self.bytes();
        let at = self.key_table + i as usize * 16;
        let mut r = Rd::at(b, at);
        Ok([r.u32()?, r.u32()?, r.u32()?, r.u32()?])
    }

    fn str_at(&self, off: u32) -> R<&str> {
        Rd::at(self.bytes(), off as usize).str()
    }

    /// The affected entries (with their advisory index) for an OSV ecosystem string and a
    /// package name (normalised here), in advisory-id order.
    pub fn lookup(&self, ecosystem: &str, name: &str) -> Result<Vec<(u32, Affected)>, DbError> {
        let entries = self.entries(ecosystem, name)?;
        entries
            .into_iter()
            .map(|e| self.entry(e).map(|a| (e.advisory, a)))
            .collect()
    }

    /// References to the affected entries for a package, without decoding them.
    pub fn entries(&self, ecosystem: &str, name: &str) -> Result<Vec<EntryRef>, DbError> {
        let norm = Ecosystem::from_osv(ecosystem).normalize_name(name);
        self.entries_normalised(ecosystem, &norm)
            .map_err(|e| self.corrupt(e))
    }

    /// Decode one entry in full.
    pub fn entry(&self, e: EntryRef) -> Result<Affected, DbError> {
        self.affected_at(e.offset)
            .map(|x| x.1)
            .map_err(|err| self.corrupt(err))
    }

    /// Decode only the ranges of an entry.
    pub fn entry_ranges(&self, e: EntryRef) -> Result<Vec<Range>, DbError> {
        (|| {
            let mut r = Rd::at(self.bytes(), e.offset as usize);
            r.u32()?;
            r.u32()?;
            r.str()?;
            r.str()?;
            self.read_ranges(&mut r)
        })()
        .map_err(|err| self.corrupt(err))
    }

    /// Whether the entry's `versions` list holds `canonical` (a [`crate::version::canonical`]
    /// string, or `=` + a raw version the ecosystem's rules reject): a binary search in the map.
    pub fn entry_lists(&self, e: EntryRef, canonical: &str) -> Result<bool, DbError> {
        (|| {
            let table = Rd::at(self.bytes(), e.offset as usize + 4).u32()? as usize;
            let n = Rd::at(self.bytes(), table).u32()? as usize;
            let (mut lo, mut hi) = (0usize, n);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let so = Rd::at(self.bytes(), table + 4 + 4 * mid).u32()?;
                match Rd::at(self.bytes(), so as usize)
                    .str_bytes()?
                    .cmp(canonical.as_bytes())
                {
                    std::cmp::Ordering::Less => lo = mid + 1,
                    std::cmp::Ordering::Greater => hi = mid,
                    std::cmp::Ordering::Equal => return Ok(true),
                }
            }
            Ok(false)
        })()
        .map_err(|err: String| self.corrupt(err))
    }

    /// The canonical `versions` list of an entry (sorted).
    pub fn entry_listed(&self, e: EntryRef) -> Result<Vec<String>, DbError> {
        (|| {
            let table = Rd::at(self.bytes(), e.offset as usize + 4).u32()? as usize;
            let mut t = Rd::at(self.bytes(), table);
            let n = t.u32()? as usize;
            if n > self.bytes().len() {
                return Err("bad canonical count".to_string());
            }
            t.pos += 4 * n;
            (0..n).map(|_| t.str().map(str::to_string)).collect()
        })()
        .map_err(|err: String| self.corrupt(err))
    }

    fn entries_normalised(&self, eco: &str, name: &str) -> R<Vec<EntryRef>> {
        let (mut lo, mut hi) = (0u32, self.n_keys);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let row = self.key_row(mid)?;
            let k = (self.str_at(row[0])?, self.str_at(row[1])?);
            match k.cmp(&(eco, name)) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let mut r = Rd::at(self.bytes(), row[2] as usize);
                    let mut out = Vec::with_capacity((row[3] as usize).min(1 << 16));
                    for _ in 0..row[3] {
                        let offset = r.u32()?;
                        let advisory = Rd::at(self.bytes(), offset as usize).u32()?;
                        out.push(EntryRef { advisory, offset });
                    }
                    return Ok(out);
                }
            }
        }
        Ok(Vec::new())
    }

    fn affected_at(&self, off: u32) -> R<(u32, Affected)> {
        let mut r = Rd::at(self.bytes(), off as usize);
        let adv = r.u32()?;
        let table = r.u32()? as usize;
        let ecosystem = r.str()?.to_string();
        let name = r.str()?.to_string();
        let ranges = self.read_ranges(&mut r)?;
        let versions = r.strs()?;
        let mut t = Rd::at(self.bytes(), table);
        let n = t.u32()? as usize;
        if n > self.bytes().len() {
            return Err("bad canonical count".into());
        }
        t.pos += 4 * n;
        let canonical = (0..n)
            .map(|_| t.str().map(str::to_string))
            .collect::<R<Vec<String>>>()?;
        Ok((
            adv,
            Affected {
                ecosystem,
                name,
                ranges,
                versions,
                canonical,
            },
        ))
    }

    fn read_ranges(&self, r: &mut Rd<'_>) -> R<Vec<Range>> {
        let nr = r.u32()? as usize;
        if nr > self.bytes().len() {
            return Err("bad range count".into());
        }
        let mut ranges = Vec::with_capacity(nr);
        for _ in 0..nr {
            let kind = match r.u8()? {
                0 => RangeKind::Semver,
                1 => RangeKind::Ecosystem,
                2 => RangeKind::Git,
                _ => RangeKind::Unknown,
            };
            let ne = r.u32()? as usize;
            if ne > self.bytes().len() {
                return Err("bad event count".into());
            }
            let mut events = Vec::with_capacity(ne);
            for _ in 0..ne {
                let k = r.u8()?;
                let v = r.str()?.to_string();
                events.push(match k {
                    0 => Event::Introduced(v),
                    1 => Event::Fixed(v),
                    2 => Event::LastAffected(v),
                    3 => Event::Limit(v),
                    _ => return Err("bad event kind".into()),
                });
            }
            ranges.push(Range { kind, events });
        }
        Ok(ranges)
    }

    /// The advisory at `index` (as returned by [`Database::lookup`]), without its affected list.
    pub fn advisory(&self, index: u32) -> Result<Advisory, DbError> {
        self.advisory_inner(index, false)
            .map_err(|e| self.corrupt(e))
    }

    fn advisory_inner(&self, index: u32, with_affected: bool) -> R<Advisory> {
        if index >= self.n_adv {
            return Err(format!("advisory index {index} out of range"));
        }
        let off = Rd::at(self.bytes(), self.adv_table + index as usize * 4).u32()?;
        let mut r = Rd::at(self.bytes(), off as usize);
        let id = r.str()?.to_string();
        let aliases = r.strs()?;
        let summary = r.str()?.to_string();
        let modified = r.str()?.to_string();
        let published = r.str()?.to_string();
        let flags = r.u8()?;
        let severity = sev_from(r.u8()?);
        let cvss = r.str()?.to_string();
        let origin = r.str()?.to_string();
        let mut affected = Vec::new();
        if with_affected {
            let n = r.u32()?;
            for _ in 0..n {
                let o = r.u32()?;
                affected.push(self.affected_at(o)?.1);
            }
        }
        Ok(Advisory {
            id,
            aliases,
            summary,
            modified,
            published,
            withdrawn: flags & 2 != 0,
            malicious: flags & 1 != 0,
            severity,
            cvss,
            origin,
            affected,
        })
    }

    /// Every advisory with its affected entries (for merging into a new build).
    pub fn all_advisories(&self) -> Result<BTreeMap<String, Advisory>, DbError> {
        let mut out = BTreeMap::new();
        for i in 0..self.n_adv {
            let a = self.advisory_inner(i, true).map_err(|e| self.corrupt(e))?;
            out.insert(a.id.clone(), a);
        }
        Ok(out)
    }

    /// The metadata stored at build time.
    pub fn metadata(&self) -> serde_json::Value {
        self.str_at(self.meta_off as u32)
            .ok()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    /// Counts and metadata for `rampart db status`.
    pub fn status(&self) -> Status {
        Status {
            path: self.path.display().to_string(),
            bytes: self.bytes().len() as u64,
            advisories: self.n_adv,
            affected_entries: self.n_affected,
            packages: self.n_keys,
            metadata: self.metadata(),
        }
    }
}

/// Build metadata for a set of advisories: time, per-ecosystem and per-origin counts, plus the
/// sources recorded by earlier builds and `new_sources`.
pub fn metadata_for(
    advisories: &BTreeMap<String, Advisory>,
    previous: &serde_json::Value,
    new_sources: &[serde_json::Value],
) -> serde_json::Value {
    let mut per_eco: BTreeMap<String, u64> = BTreeMap::new();
    let mut malicious = 0u64;
    let mut withdrawn = 0u64;
    for a in advisories.values() {
        let mut ecos: Vec<&str> = a
            .affected
            .iter()
            .map(|x| x.ecosystem.split(':').next().unwrap_or(""))
            .collect();
        ecos.sort_unstable();
        ecos.dedup();
        for e in ecos {
            *per_eco.entry(e.to_string()).or_default() += 1;
        }
        malicious += u64::from(a.malicious);
        withdrawn += u64::from(a.withdrawn);
    }
    let mut sources: Vec<serde_json::Value> = previous
        .get("sources")
        .and_then(|s| s.as_array())
        .cloned()
        .unwrap_or_default();
    sources.extend(new_sources.iter().cloned());
    // Keep the last 50 source entries.
    if sources.len() > 50 {
        sources.drain(..sources.len() - 50);
    }
    serde_json::json!({
        "built_at": now_rfc3339(),
        "rampart_version": env!("CARGO_PKG_VERSION"),
        "advisories_per_ecosystem": per_eco,
        "malicious": malicious,
        "withdrawn": withdrawn,
        "sources": sources,
    })
}

/// The current UTC time as RFC 3339 (seconds precision), computed without a date crate.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Merge `incoming` advisories into `into`: a record replaces a stored one with the same id
/// unless the stored one is newer (by `modified`). Returns (added, replaced, kept-older).
pub fn merge(
    into: &mut BTreeMap<String, Advisory>,
    incoming: Vec<Advisory>,
    report: &mut ImportReport,
) {
    for a in incoming {
        match into.get(&a.id) {
            None => {
                report.added += 1;
                into.insert(a.id.clone(), a);
            }
            Some(old) if old.modified > a.modified && !a.modified.is_empty() => {
                report.kept_newer += 1;
            }
            Some(_) => {
                report.replaced += 1;
                into.insert(a.id.clone(), a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adv(id: &str, eco: &str, name: &str, fixed: &str) -> Advisory {
        Advisory {
            id: id.into(),
            aliases: vec!["CVE-1".into()],
            summary: "s".into(),
            modified: "2024-01-01T00:00:00Z".into(),
            published: String::new(),
            withdrawn: false,
            malicious: false,
            severity: Some(Severity::High),
            cvss: String::new(),
            origin: "test".into(),
            affected: vec![Affected {
                ecosystem: eco.into(),
                name: name.into(),
                ranges: vec![Range {
                    kind: RangeKind::Ecosystem,
                    events: vec![Event::Introduced("0".into()), Event::Fixed(fixed.into())],
                }],
                versions: vec!["0.1".into(), "0.2".into()],
                canonical: crate::osv::canonical_versions(eco, &["0.1".into(), "0.2".into()]),
            }],
        }
    }

    #[test]
    fn round_trip_and_lookup() {
        let mut m = BTreeMap::new();
        for a in [
            adv("A-1", "PyPI", "Foo_Bar", "1.0"),
            adv("A-2", "PyPI", "foo-bar", "2.0"),
            adv("B-1", "npm", "left-pad", "1.3.0"),
        ] {
            m.insert(a.id.clone(), a);
        }
        let bytes = build(&m, &serde_json::json!({"x": 1})).unwrap();
        let db = Database::from_bytes(bytes).unwrap();
        let hits = db.lookup("PyPI", "FOO.bar").unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(db.advisory(hits[0].0).unwrap().id, "A-1");
        assert!(db.lookup("PyPI", "left-pad").unwrap().is_empty());
        assert_eq!(db.lookup("npm", "left-pad").unwrap().len(), 1);
        assert_eq!(db.metadata()["x"], 1);
        let e = db.entries("PyPI", "foo_bar").unwrap()[0];
        assert!(db.entry_lists(e, "0.2").unwrap());
        assert!(!db.entry_lists(e, "0.3").unwrap());
        assert!(!db.entry_lists(e, "0.0").unwrap());
        assert_eq!(db.all_advisories().unwrap(), m);
    }

    #[test]
    fn damaged_files_are_errors_not_panics() {
        let mut m = BTreeMap::new();
        m.insert("A".into(), adv("A", "PyPI", "x", "1"));
        let good = build(&m, &serde_json::json!({})).unwrap();
        assert!(Database::from_bytes(good[..good.len() - 1].to_vec()).is_err());
        let mut flipped = good.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0xff;
        let e = Database::from_bytes(flipped).err().unwrap().to_string();
        assert!(e.contains("checksum"), "{e}");
        assert!(Database::from_bytes(b"hello".to_vec()).is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none.rdb");
        let e = Database::open(&p).err().unwrap().to_string();
        assert!(e.contains("rampart db update"), "{e}");
    }

    #[test]
    fn rfc3339_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20);
        assert!(t.starts_with("20"));
    }
}
