//! The dependency detector: plugs lockfile and installed-package reading plus advisory matching
//! into `rampart scan` through [`rampart_core::Detector`].

use crate::db::{Database, DbError};
use crate::inventory::{self, Format, Package};
use crate::matcher::{self, Hit};
use crate::{Ecosystem, db};
use rampart_core::{Detections, Detector, Finding, Item, Kind, Location, Severity, Skipped};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

/// Reads an include (`-r other.txt`) of `item`: gets the including item and the include's path
/// already resolved against the item's folder, returns the bytes if the source has them.
pub type IncludeReader = dyn Fn(&Item<'_>, &str) -> Option<Vec<u8>> + Send + Sync;

/// One file's inventory, as collected while detecting.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Manifest {
    /// Logical path of the file.
    pub path: String,
    /// Where the file is (copied from the item: image, layer, commit…).
    pub location: Location,
    /// How it was read.
    pub format: Format,
    /// Packages it lists (including those of followed includes).
    pub packages: Vec<Package>,
    /// Entries passed over, and why.
    pub notes: Vec<String>,
    /// The dependency graph among `packages`, when the file records one.
    #[serde(skip)]
    pub graph: Option<inventory::Graph>,
}

impl Manifest {
    /// Where `pkg` is: the manifest's own location, or — for a package read from a file the
    /// manifest includes (`-r other.txt`) — that file, placed beside the manifest the way the
    /// user sees it. `path` is the logical path detectors see; `location.path` is the path shown
    /// to users (it may carry the scan root, e.g. `app/requirements.txt`).
    pub fn package_location(&self, pkg: &Package) -> Location {
        let mut at = self.location.clone();
        if !pkg.manifest.is_empty() && pkg.manifest != self.path && at.image.is_none() {
            let logical_dir = self.path.rsplit_once('/').map_or("", |(d, _)| d);
            let shown_dir = at.path.rsplit_once('/').map_or("", |(d, _)| d);
            let rel = if logical_dir.is_empty() {
                Some(pkg.manifest.as_str())
            } else {
                pkg.manifest
                    .strip_prefix(logical_dir)
                    .and_then(|r| r.strip_prefix('/'))
            };
            at.path = match rel {
                Some(r) if !shown_dir.is_empty() => format!("{shown_dir}/{r}"),
                Some(r) => r.to_string(),
                None => pkg.manifest.clone(),
            };
        }
        at.line = pkg.line;
        at.column = None;
        at
    }
}

/// Finds vulnerable and malicious packages in lockfiles and installed-package metadata.
///
/// Built from an opened [`Database`] (or without one, to collect inventories only). Every item
/// whose path names a known lockfile or metadata file is parsed; each package is matched against
/// the database; findings of kind `vulnerability` and `malicious-package` are emitted, one per
/// package and advisory group (an advisory and its aliases), at the package's line. Malformed
/// files become `skipped` entries naming the file and line. The inventory of every file seen is
/// kept for [`DepsDetector::take_inventory`] (SBOMs, fix plans).
///
/// Cloning is cheap and shares everything (database, collected inventory): keep a clone to call
/// [`DepsDetector::take_inventory`] after handing a boxed one to the scanner.
#[derive(Clone)]
pub struct DepsDetector {
    inner: Arc<Inner>,
}

struct Inner {
    db: Option<Database>,
    inventory: Mutex<Vec<Manifest>>,
    include_reader: RwLock<Option<Box<IncludeReader>>>,
    held: Mutex<Held>,
}

/// A yarn, Composer, poetry, pdm or Bundler lock in an image is read only once the image is done
/// ([`Detector::finish`]): the manifest beside it (`package.json`, `composer.json`,
/// `pyproject.toml`, `Gemfile`, gemspecs) may come in another layer, before or after it, and a
/// layer's files arrive in any order. Those manifests are kept meanwhile.
#[derive(Default)]
struct Held {
    /// Manifests a lock may read beside it, by (image, normalised path): every version, as
    /// (layer index, index of the layer that removed it, bytes).
    beside: HashMap<(String, String), Vec<HeldFile>>,
    /// Locks waiting for the end of their image: (path, location, bytes, format).
    locks: Vec<(String, Location, Vec<u8>, Format)>,
    /// Bytes held in all; past [`MAX_HELD_BYTES`] locks are read at once, without their manifest.
    bytes: usize,
}

/// One version of a held manifest: (layer index, index of the layer that removed it, bytes).
type HeldFile = (u32, Option<u32>, Vec<u8>);

/// Reads a file beside the one being parsed (its path resolved), if the source has it.
type ReadBeside<'a> = &'a dyn Fn(&str) -> Option<Vec<u8>>;

/// What [`Held`] may keep.
const MAX_HELD_BYTES: usize = 256 << 20;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DepsDetector {
    /// A detector matching against `db`.
    pub fn new(db: Database) -> Self {
        Self::build(Some(db))
    }

    fn build(db: Option<Database>) -> Self {
        DepsDetector {
            inner: Arc::new(Inner {
                db,
                inventory: Mutex::new(Vec::new()),
                include_reader: RwLock::new(None),
                held: Mutex::new(Held::default()),
            }),
        }
    }

    /// Open the database at `--db` if given, else `$RAMPART_HOME/osv.rdb`, else
    /// `<user data dir>/rampart/osv.rdb` (see [`db::resolve_db_path`]), and build a detector.
    /// A missing database is [`DbError::Missing`], whose message tells the user what to run.
    pub fn open(db_path: Option<&Path>) -> Result<Self, DbError> {
        let path = db::resolve_db_path(db_path)?;
        Ok(Self::new(Database::open(&path)?))
    }

    /// A detector that only collects inventories (no findings).
    pub fn inventory_only() -> Self {
        Self::build(None)
    }

    /// Let requirements files follow `-r`/`--requirement` includes through `reader` (a source
    /// that can fetch sibling content, e.g. the directory walker or an image layer). Without a
    /// reader, includes that are not themselves scanned are reported as skipped.
    /// (Applies to every clone, since they share state.)
    pub fn with_include_reader(self, reader: Box<IncludeReader>) -> Self {
        match self.inner.include_reader.write() {
            Ok(mut g) => *g = Some(reader),
            Err(p) => *p.into_inner() = Some(reader),
        }
        self
    }

    /// The database, if any.
    pub fn database(&self) -> Option<&Database> {
        self.inner.db.as_ref()
    }

    /// Take the inventories collected so far (sorted by path), leaving the detector empty.
    pub fn take_inventory(&self) -> Vec<Manifest> {
        let mut v = match self.inner.inventory.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        v.sort_by_key(|a| a.location.display());
        v
    }

    /// Parse one item into a manifest (used by `detect` and by the directory walker).
    pub fn read_manifest(
        &self,
        item: &Item<'_>,
        format: Format,
    ) -> Result<Manifest, inventory::InventoryError> {
        let guard = match self.inner.include_reader.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match guard.as_ref() {
            Some(r) => self.read_manifest_via(item, format, Some(&|p: &str| r(item, p))),
            None => self.read_manifest_via(item, format, None),
        }
    }

    /// [`DepsDetector::read_manifest`] with the files beside `item` read through `read`.
    fn read_manifest_via(
        &self,
        item: &Item<'_>,
        format: Format,
        read: Option<ReadBeside<'_>>,
    ) -> Result<Manifest, inventory::InventoryError> {
        let parsed = match read {
            Some(read) => inventory::parse_with_includes(format, item.path, item.data, read)?,
            None => {
                let mut p = inventory::parse(format, item.path, item.data)?;
                for (inc, line) in p.includes.drain(..) {
                    p.notes.push(format!(
                        "{}:{line}: included file `{inc}` not followed (this source cannot read siblings)",
                        item.path
                    ));
                }
                p
            }
        };
        Ok(Manifest {
            path: item.path.to_string(),
            location: item.location.clone(),
            format,
            packages: parsed.packages,
            notes: parsed.notes,
            graph: parsed.graph,
        })
    }
}

impl Detector for DepsDetector {
    fn name(&self) -> &'static str {
        "deps"
    }

    fn detect(&self, item: &Item<'_>, out: &mut Detections) {
        let in_image = item.location.image.is_some() && item.location.member.is_none();
        if in_image
            && inventory::is_manifest_beside(item.path)
            && item.data.len() as u64 <= crate::walk::MAX_MANIFEST_BYTES
        {
            self.hold_beside(item);
        }
        let Some(format) = inventory::recognise(item.path) else {
            return;
        };
        if in_image && inventory::reads_manifest_beside(format) && self.hold_lock(item, format) {
            return;
        }
        self.detect_read(item, format, None, out);
    }

    fn finish(&self, out: &mut Detections) {
        let Held { beside, locks, .. } = std::mem::take(&mut *lock(&self.inner.held));
        for (path, location, data, format) in locks {
            let item = Item {
                path: &path,
                data: &data,
                location: &location,
            };
            let image = location.image.clone().unwrap_or_default();
            let layer = location.layer_index.unwrap_or(u32::MAX);
            // The image as it was once the lock's layer was applied: the newest version of the
            // manifest from that layer or an earlier one, unless a layer up to it removed it.
            let read = |target: &str| -> Option<Vec<u8>> {
                beside
                    .get(&(image.clone(), inventory::normalise_path(target)))?
                    .iter()
                    .filter(|(l, removed, _)| *l <= layer && removed.is_none_or(|r| r > layer))
                    .max_by_key(|(l, _, _)| *l)
                    .map(|(_, _, b)| b.clone())
            };
            self.detect_read(&item, format, Some(&read), out);
        }
    }
}

impl DepsDetector {
    /// Keep a manifest a lock in the same image may read beside it.
    fn hold_beside(&self, item: &Item<'_>) {
        let mut held = lock(&self.inner.held);
        if held.bytes + item.data.len() > MAX_HELD_BYTES {
            return;
        }
        held.bytes += item.data.len();
        let key = (
            item.location.image.clone().unwrap_or_default(),
            inventory::normalise_path(item.path),
        );
        held.beside.entry(key).or_default().push((
            item.location.layer_index.unwrap_or(0),
            item.location.removed_in_layer_index,
            item.data.to_vec(),
        ));
    }

    /// Keep a lock until its image is done; false when over [`MAX_HELD_BYTES`] (read it now).
    fn hold_lock(&self, item: &Item<'_>, format: Format) -> bool {
        let mut held = lock(&self.inner.held);
        if held.bytes + item.data.len() > MAX_HELD_BYTES {
            return false;
        }
        held.bytes += item.data.len();
        held.locks.push((
            item.path.to_string(),
            item.location.clone(),
            item.data.to_vec(),
            format,
        ));
        true
    }

    /// Read `item` (through `read` for the files beside it, else the include reader), match its
    /// packages and keep its inventory.
    fn detect_read(
        &self,
        item: &Item<'_>,
        format: Format,
        read: Option<ReadBeside<'_>>,
        out: &mut Detections,
    ) {
        let read = match read {
            Some(r) => self.read_manifest_via(item, format, Some(r)),
            None => self.read_manifest(item, format),
        };
        let manifest = match read {
            Ok(m) => m,
            Err(e) => {
                let reason = match e.line {
                    Some(l) => format!("line {l}: {}", e.message),
                    None => e.message,
                };
                out.skipped
                    .push(Skipped::new(item.location.display(), reason));
                return;
            }
        };
        for n in &manifest.notes {
            out.skipped.push(Skipped::new(
                item.location.display(),
                note_reason(item.path, n),
            ));
        }
        if let Some(db) = &self.inner.db {
            for pkg in &manifest.packages {
                match matcher::match_package(db, pkg) {
                    Ok(m) => {
                        for group in group_hits(&m.hits) {
                            out.findings.push(finding_for(pkg, &group, &manifest));
                        }
                    }
                    Err(e) => {
                        out.skipped
                            .push(Skipped::new(item.location.display(), e.to_string()));
                        break;
                    }
                }
            }
        }
        match self.inner.inventory.lock() {
            Ok(mut g) => g.push(manifest),
            Err(p) => p.into_inner().push(manifest),
        }
    }
}

/// The dependency files among `skipped` that nothing could be read from: each has a skipped
/// entry, is a recognised lockfile or manifest, and produced no inventory. Their packages were not
/// checked at all (a file that lost only some entries is in the inventory and is not listed).
/// Sorted, without repeats.
pub fn unread_files(skipped: &[Skipped], inventory: &[Manifest]) -> Vec<String> {
    let read: std::collections::HashSet<String> =
        inventory.iter().map(|m| m.location.display()).collect();
    let mut unread: Vec<String> = skipped
        .iter()
        .filter(|s| !read.contains(&s.path) && inventory::recognise(&s.path).is_some())
        .map(|s| s.path.clone())
        .collect();
    unread.sort();
    unread.dedup();
    unread
}

/// A note `path:line: text` about the item itself becomes `line N: text`; notes about other
/// files (includes) keep their path.
fn note_reason(path: &str, note: &str) -> String {
    let Some(rest) = note.strip_prefix(path).and_then(|r| r.strip_prefix(':')) else {
        return note.to_string();
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    match rest[digits.len()..].strip_prefix(':') {
        Some(text) if !digits.is_empty() => format!("line {digits}: {}", text.trim_start()),
        _ => rest.trim_start().to_string(),
    }
}

/// Advisories that are the same problem (sharing an id or alias), merged.
#[derive(Clone, Debug)]
pub struct HitGroup {
    /// Advisory ids in the group, sorted.
    pub ids: Vec<String>,
    /// Aliases not already among `ids`, sorted.
    pub aliases: Vec<String>,
    /// The hits.
    pub hits: Vec<Hit>,
}

impl HitGroup {
    /// Whether any advisory of the group reports a malicious release.
    pub fn malicious(&self) -> bool {
        self.hits.iter().any(|h| h.advisory.malicious)
    }

    /// The highest severity in the group (critical for malicious packages), if any is known.
    pub fn severity(&self) -> Option<Severity> {
        self.hits.iter().filter_map(|h| h.advisory.severity).max()
    }

    /// The lowest version that is fixed for every advisory of the group's matching entries,
    /// per advisory: the smallest `fixed` above the installed version.
    pub fn fixed_in(&self, eco: Ecosystem) -> Vec<String> {
        let mut v: Vec<String> = self
            .hits
            .iter()
            .filter_map(|h| h.fixed_in.first().cloned())
            .collect();
        matcher::sort_versions(eco, &mut v);
        v.dedup();
        v
    }

    /// The preferred rule id: the first id that is not a CVE, else the first.
    pub fn primary_id(&self) -> &str {
        self.ids
            .iter()
            .find(|i| !i.starts_with("CVE-"))
            .or(self.ids.first())
            .map_or("", |s| s.as_str())
    }
}

/// Group hits whose ids or aliases overlap.
pub fn group_hits(hits: &[Hit]) -> Vec<HitGroup> {
    let mut groups: Vec<(Vec<String>, Vec<Hit>)> = Vec::new();
    for h in hits {
        let mut names: Vec<String> = std::iter::once(h.advisory.id.clone())
            .chain(h.advisory.aliases.iter().cloned())
            .collect();
        let mut members = vec![h.clone()];
        // Merge every existing group that shares a name.
        let mut i = 0;
        while i < groups.len() {
            if groups[i].0.iter().any(|n| names.contains(n)) {
                let (n, m) = groups.swap_remove(i);
                names.extend(n);
                members.extend(m);
            } else {
                i += 1;
            }
        }
        names.sort();
        names.dedup();
        groups.push((names, members));
    }
    let mut out: Vec<HitGroup> = groups
        .into_iter()
        .map(|(names, hits)| {
            let mut ids: Vec<String> = hits.iter().map(|h| h.advisory.id.clone()).collect();
            ids.sort();
            ids.dedup();
            let aliases = names.into_iter().filter(|n| !ids.contains(n)).collect();
            HitGroup { ids, aliases, hits }
        })
        .collect();
    out.sort_by(|a, b| a.ids.cmp(&b.ids));
    out
}

const MALICIOUS_REMEDIATION: &str = "Remove it now. Treat every host, container and CI runner that \
installed it as compromised, and rotate every credential it could read (environment variables, \
cloud, SSH and API keys, tokens in config files).";

/// The finding for one package and one advisory group.
pub fn finding_for(pkg: &Package, group: &HitGroup, manifest: &Manifest) -> Finding {
    let loc = manifest.package_location(pkg);
    let malicious = group.malicious();
    let id = group.primary_id().to_string();
    let summary = group
        .hits
        .iter()
        .map(|h| h.advisory.summary.as_str())
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_string();
    let fixed = group.fixed_in(pkg.ecosystem);
    let (kind, severity, message, remediation) = if malicious {
        (
            Kind::MaliciousPackage,
            Severity::Critical,
            format!(
                "{} {} ({}) is a known malicious release ({id}){}",
                pkg.name,
                pkg.version,
                pkg.ecosystem,
                if summary.is_empty() {
                    String::new()
                } else {
                    format!(": {summary}")
                }
            ),
            MALICIOUS_REMEDIATION.to_string(),
        )
    } else {
        let sev = group.severity().unwrap_or(Severity::Medium);
        let rem = match fixed.last() {
            Some(v) if fixed.len() == 1 => format!("Upgrade {} to {v} or later.", pkg.name),
            Some(v) => format!(
                "Upgrade {} to {v} or later (fixed versions per branch: {}).",
                pkg.name,
                fixed.join(", ")
            ),
            None => format!(
                "No fixed version of {} is known for {id}; remove or replace it, or mitigate as the advisory describes.",
                pkg.name
            ),
        };
        (
            Kind::Vulnerability,
            sev,
            format!(
                "{} {} ({}) is affected by {id}{}",
                pkg.name,
                pkg.version,
                pkg.ecosystem,
                if summary.is_empty() {
                    String::new()
                } else {
                    format!(": {summary}")
                }
            ),
            rem,
        )
    };
    let mut f = Finding::new(kind, id.clone(), severity, message, loc);
    f.remediation = Some(remediation);
    f.fingerprint = rampart_core::fingerprint(
        &[
            &id,
            &f.location.path,
            pkg.ecosystem.as_str(),
            &pkg.ecosystem.normalize_name(&pkg.name),
            &pkg.version,
        ],
        b"",
    );
    f.extra.insert(
        "package".into(),
        serde_json::json!({
            "ecosystem": pkg.osv_ecosystem().unwrap_or_else(|| pkg.ecosystem.as_str().to_string()),
            "name": pkg.name,
            "version": pkg.version,
            "purl": pkg.purl(),
        }),
    );
    f.extra
        .insert("advisories".into(), serde_json::json!(group.ids));
    f.extra
        .insert("aliases".into(), serde_json::json!(group.aliases));
    f.extra.insert("fixed_in".into(), serde_json::json!(fixed));
    f.extra.insert("summary".into(), serde_json::json!(summary));
    if group.severity().is_none() && !malicious {
        f.extra.insert(
            "severity_source".into(),
            serde_json::json!("default (advisory has no CVSS v2/v3 score)"),
        );
    }
    if let Some(c) = group
        .hits
        .iter()
        .map(|h| &h.advisory.cvss)
        .find(|c| !c.is_empty())
    {
        f.extra.insert("cvss".into(), serde_json::json!(c));
    }
    f.extra.insert(
        "references".into(),
        serde_json::json!(
            group
                .ids
                .iter()
                .map(|i| format!("https://osv.dev/vulnerability/{i}"))
                .collect::<Vec<_>>()
        ),
    );
    f
}
