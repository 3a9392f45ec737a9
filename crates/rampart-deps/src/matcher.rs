//! Deciding whether a package version is affected by an OSV `affected` entry, and matching whole
//! inventories against the database.
//!
//! Range bounds are parsed once per database key and kept in a cache inside the [`Database`]
//! (listed versions are never parsed: they are looked up by binary search of their canonical
//! form in the memory map), so matching many packages costs a few comparisons each.

use crate::db::{Database, DbError, EntryRef};
use crate::osv::{Advisory, Affected, Event, Range, RangeKind};
use crate::version::{self, Version};
use crate::{Ecosystem, Package};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The outcome of checking one version against one `affected` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The version is affected (by the `versions` list or by a range).
    pub affected: bool,
    /// Parts that could not be evaluated (GIT ranges, bad versions), in words.
    pub unevaluated: Vec<String>,
}

#[derive(Clone, Debug)]
enum Bound {
    Zero,
    V(Version),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Introduced,
    Fixed,
    LastAffected,
}

/// One SEMVER/ECOSYSTEM range with its bounds parsed.
#[derive(Clone, Debug)]
struct Prepared {
    semver: bool,
    /// Events sorted by version, as the OSV schema evaluates them.
    sorted: Vec<(Ev, Bound)>,
    /// The same events in file order (for the pairwise reading of overlapping ranges).
    file_order: Vec<(Ev, Bound)>,
    limits: Vec<Version>,
}

fn parse_for(kind: RangeKind, eco: Ecosystem, s: &str) -> Result<Version, version::VersionError> {
    if kind == RangeKind::Semver {
        match eco {
            Ecosystem::Npm | Ecosystem::CratesIo | Ecosystem::Go => {
                version::parse(eco, s).or_else(|_| version::parse_semver_range(s))
            }
            _ => version::parse_semver_range(s),
        }
    } else {
        version::parse(eco, s)
    }
}

fn prepare(kind: RangeKind, eco: Ecosystem, events: &[Event]) -> Result<Prepared, String> {
    let mut file_order = Vec::with_capacity(events.len());
    let mut limits = Vec::new();
    for e in events {
        let s = e.version();
        let ev = match e {
            Event::Limit(_) => {
                if s != "*" {
                    limits.push(parse_for(kind, eco, s).map_err(|e| e.to_string())?);
                }
                continue;
            }
            Event::Introduced(_) => Ev::Introduced,
            Event::Fixed(_) => Ev::Fixed,
            Event::LastAffected(_) => Ev::LastAffected,
        };
        let b = if ev == Ev::Introduced && s == "0" {
            Bound::Zero
        } else {
            Bound::V(parse_for(kind, eco, s).map_err(|e| e.to_string())?)
        };
        file_order.push((ev, b));
    }
    let mut sorted = file_order.clone();
    sorted.sort_by(|a, b| match (&a.1, &b.1) {
        (Bound::Zero, Bound::Zero) => Ordering::Equal,
        (Bound::Zero, _) => Ordering::Less,
        (_, Bound::Zero) => Ordering::Greater,
        (Bound::V(x), Bound::V(y)) => x.cmp(y),
    });
    Ok(Prepared {
        semver: kind == RangeKind::Semver,
        sorted,
        file_order,
        limits,
    })
}

/// Does the prepared range include `v`? Follows the evaluation in the OSV schema: events sorted
/// by version; `introduced` switches on, `fixed` (at or above) and `last_affected` (above)
/// switch off; `limit` caps the range.
///
/// Overlapping intervals inside one range are outside the schema, but real records have them
/// (e.g. PYSEC-2021-114 lists `introduced 2.11, fixed 2.11.7, introduced 0, fixed 2.11.6`). The
/// sorted evaluation would then miss versions that the record's own pairs cover, so the pairs read
/// in file order are consulted too: for well-formed ranges both readings agree, for overlapping
/// ones the union is reported.
fn includes(p: &Prepared, v: &Version) -> bool {
    if !p.limits.is_empty() && !p.limits.iter().any(|l| v < l) {
        return false;
    }
    if pairwise_includes(&p.file_order, v) {
        return true;
    }
    let mut affected = false;
    for (e, b) in &p.sorted {
        match (e, b) {
            (Ev::Introduced, Bound::Zero) => affected = true,
            (Ev::Introduced, Bound::V(x)) if v >= x => affected = true,
            (Ev::Fixed, Bound::V(x)) if v >= x => affected = false,
            (Ev::LastAffected, Bound::V(x)) if v > x => affected = false,
            _ => {}
        }
    }
    affected
}

/// `introduced`/`fixed`/`last_affected` pairs in file order, as intervals.
fn pairwise_includes(events: &[(Ev, Bound)], v: &Version) -> bool {
    let above = |b: &Bound| match b {
        Bound::Zero => true,
        Bound::V(lo) => v >= lo,
    };
    let mut start: Option<&Bound> = None;
    for (e, b) in events {
        match e {
            Ev::Introduced => {
                if let Some(open) = start.take() {
                    // An introduced without an end: open to the top.
                    if above(open) {
                        return true;
                    }
                }
                start = Some(b);
            }
            Ev::Fixed | Ev::LastAffected => {
                let Some(open) = start.take() else { continue };
                let Bound::V(hi) = b else { continue };
                let below = if *e == Ev::Fixed { v < hi } else { v <= hi };
                if above(open) && below {
                    return true;
                }
            }
        }
    }
    start.is_some_and(above)
}

/// The key under which `version` appears in canonical `versions` lists.
pub fn listed_key(eco: Ecosystem, version: &str) -> String {
    version::canonical(eco, version).unwrap_or_else(|_| format!("={version}"))
}

/// Check `version` of a package in `eco` against one `affected` entry.
///
/// The `versions` list and every `SEMVER`/`ECOSYSTEM` range are all consulted: a `GIT` range (or a
/// range whose bounds cannot be parsed) is noted in [`Verdict::unevaluated`] and does not stop
/// the others from being checked.
pub fn check(aff: &Affected, eco: Ecosystem, version: &str) -> Verdict {
    let listed = if aff.canonical.is_empty() {
        let parsed = version::parse(eco, version).ok();
        aff.versions.iter().any(|l| {
            l == version
                || parsed
                    .as_ref()
                    .is_some_and(|p| version::parse(eco, l).is_ok_and(|lv| &lv == p))
        })
    } else {
        aff.canonical
            .binary_search(&listed_key(eco, version))
            .is_ok()
    };
    if listed {
        return Verdict {
            affected: true,
            unevaluated: Vec::new(),
        };
    }
    check_ranges(&aff.ranges, eco, version)
}

/// The range part of [`check`].
pub fn check_ranges(ranges: &[Range], eco: Ecosystem, version: &str) -> Verdict {
    let prepared = prepare_all(ranges, eco);
    let v = Installed::new(eco, version);
    eval(&prepared, &v, true)
}

/// A range as cached: prepared, or why it cannot be evaluated.
type PreparedRange = Result<Prepared, String>;

fn prepare_all(ranges: &[Range], eco: Ecosystem) -> Vec<PreparedRange> {
    ranges
        .iter()
        .enumerate()
        .map(|(i, r)| match r.kind {
            RangeKind::Git => Err(format!(
                "ranges[{i}] is a GIT range (commits, not versions)"
            )),
            RangeKind::Unknown => Err(format!("ranges[{i}] has an unknown type")),
            RangeKind::Semver | RangeKind::Ecosystem => {
                prepare(r.kind, eco, &r.events).map_err(|e| format!("ranges[{i}]: {e}"))
            }
        })
        .collect()
}

/// The installed version, parsed both ways a range may need it.
struct Installed {
    eco: Result<Version, String>,
    semver: Result<Version, String>,
}

impl Installed {
    fn new(eco: Ecosystem, version: &str) -> Self {
        Installed {
            eco: version::parse(eco, version).map_err(|e| e.to_string()),
            semver: parse_for(RangeKind::Semver, eco, version).map_err(|e| e.to_string()),
        }
    }
}

/// Evaluate prepared ranges; notes about unevaluated parts are collected only when `notes`.
fn eval(prepared: &[PreparedRange], v: &Installed, notes: bool) -> Verdict {
    let mut out = Verdict::default();
    for (i, p) in prepared.iter().enumerate() {
        match p {
            Err(note) => {
                if notes {
                    out.unevaluated.push(note.clone())
                }
            }
            Ok(p) => {
                let v = if p.semver { &v.semver } else { &v.eco };
                match v {
                    Ok(v) => {
                        if includes(p, v) {
                            out.affected = true;
                            return out;
                        }
                    }
                    Err(e) => {
                        if notes {
                            out.unevaluated.push(format!("ranges[{i}]: {e}"))
                        }
                    }
                }
            }
        }
    }
    out
}

/// What the matcher keeps per database entry.
pub(crate) struct CachedEntry {
    entry: EntryRef,
    /// Hashes of the canonical listed versions, sorted (a hit is confirmed in the map).
    listed: Vec<u64>,
    ranges: Vec<PreparedRange>,
    /// `fixed` versions of SEMVER/ECOSYSTEM ranges, parsed for the ecosystem, ascending.
    fixed: Vec<(Version, String)>,
    /// `fixed` versions that do not parse for the ecosystem.
    fixed_raw: Vec<String>,
}

/// The prepared entries of one (ecosystem, normalised name) key.
type CachedKey = Arc<Vec<CachedEntry>>;

/// Per-database caches of prepared entries (by key) and decoded advisories (by index).
#[derive(Default)]
pub(crate) struct Cache {
    keys: RwLock<HashMap<(String, String), CachedKey>>,
    /// One slot per advisory index, sized on first use: no lock and no hashing per hit.
    advisories: std::sync::OnceLock<Vec<std::sync::OnceLock<Arc<Advisory>>>>,
}

fn cached_entries(
    db: &Database,
    osv_eco: &str,
    eco: Ecosystem,
    name: &str,
) -> Result<Arc<Vec<CachedEntry>>, DbError> {
    let key = (osv_eco.to_string(), eco.normalize_name(name));
    if let Some(v) = db
        .cache()
        .keys
        .read()
        .ok()
        .and_then(|m| m.get(&key).cloned())
    {
        return Ok(v);
    }
    let refs = db.entries(osv_eco, name)?;
    let mut entries = Vec::with_capacity(refs.len());
    for e in refs {
        let ranges = db.entry_ranges(e)?;
        let mut fixed = Vec::new();
        let mut fixed_raw = Vec::new();
        for r in ranges
            .iter()
            .filter(|r| matches!(r.kind, RangeKind::Semver | RangeKind::Ecosystem))
        {
            for ev in &r.events {
                if let Event::Fixed(f) = ev {
                    match version::parse(eco, f) {
                        Ok(v) => fixed.push((v, f.clone())),
                        Err(_) => fixed_raw.push(f.clone()),
                    }
                }
            }
        }
        fixed.sort_by(|a, b| a.0.cmp(&b.0));
        fixed.dedup_by(|a, b| a.0 == b.0);
        let mut listed: Vec<u64> = db.entry_listed(e)?.iter().map(|s| hash(s)).collect();
        listed.sort_unstable();
        entries.push(CachedEntry {
            entry: e,
            listed,
            ranges: prepare_all(&ranges, eco),
            fixed,
            fixed_raw,
        });
    }
    let v = Arc::new(entries);
    if let Ok(mut m) = db.cache().keys.write() {
        m.insert(key, v.clone());
    }
    Ok(v)
}

fn hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: stable within the process, which is all the cache needs.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn cached_advisory(db: &Database, idx: u32) -> Result<Arc<Advisory>, DbError> {
    let slots = db.cache().advisories.get_or_init(|| {
        (0..db.advisory_count())
            .map(|_| std::sync::OnceLock::new())
            .collect()
    });
    let Some(slot) = slots.get(idx as usize) else {
        // Out of range: let the database report the corruption.
        return db.advisory(idx).map(Arc::new);
    };
    if let Some(a) = slot.get() {
        return Ok(a.clone());
    }
    let a = Arc::new(db.advisory(idx)?);
    Ok(slot.get_or_init(|| a).clone())
}

/// One advisory that affects one package.
#[derive(Clone, Debug)]
pub struct Hit {
    /// The advisory (without its affected list).
    pub advisory: Arc<Advisory>,
    /// Versions named by `fixed` events of the matching entry that are above the installed one,
    /// lowest first.
    pub fixed_in: Vec<String>,
}

/// All advisories affecting one package, plus everything the database knows about the package
/// (needed for fix plans).
#[derive(Clone, Debug, Default)]
pub struct PackageMatch {
    /// Advisories that affect the installed version.
    pub hits: Vec<Hit>,
    /// Every non-withdrawn `affected` entry for the package, with its advisory (filled by
    /// [`match_package_full`] only).
    pub known: Vec<(Arc<Advisory>, Affected)>,
    /// Notes about parts that could not be evaluated.
    pub unevaluated: Vec<String>,
}

/// Match one package: the advisories affecting it. Packages whose ecosystem has no database key
/// (e.g. a Debian package of an unknown release) match nothing. `known` is left empty (see
/// [`match_package_full`]).
pub fn match_package(db: &Database, pkg: &Package) -> Result<PackageMatch, DbError> {
    match_inner(db, pkg, false)
}

/// Like [`match_package`], also filling [`PackageMatch::known`] with every entry for the package
/// (what fix plans need).
pub fn match_package_full(db: &Database, pkg: &Package) -> Result<PackageMatch, DbError> {
    match_inner(db, pkg, true)
}

fn match_inner(db: &Database, pkg: &Package, full: bool) -> Result<PackageMatch, DbError> {
    let mut out = PackageMatch::default();
    let Some(osv_eco) = pkg.osv_ecosystem() else {
        return Ok(out);
    };
    let eco = pkg.ecosystem;
    let entries = cached_entries(db, &osv_eco, eco, pkg.match_name())?;
    if entries.is_empty() {
        return Ok(out);
    }
    let version = pkg.match_version();
    let key = listed_key(eco, version);
    let key_hash = hash(&key);
    let installed = Installed::new(eco, version);
    let mut seen: HashMap<u32, usize> = HashMap::new();
    for ce in entries.iter() {
        // A binary search in the listed versions, then the prepared ranges.
        // (When the installed version parses, a listed string the rules reject cannot equal it;
        // when it does not parse, `key` already is the raw `=` form.)
        let listed =
            ce.listed.binary_search(&key_hash).is_ok() && db.entry_lists(ce.entry, &key)?;
        let verdict = if listed {
            Verdict {
                affected: true,
                unevaluated: Vec::new(),
            }
        } else {
            eval(&ce.ranges, &installed, full)
        };
        if !verdict.affected && !full {
            continue;
        }
        let adv = cached_advisory(db, ce.entry.advisory)?;
        for u in &verdict.unevaluated {
            out.unevaluated.push(format!("{}: {u}", adv.id));
        }
        if verdict.affected {
            let mut fixed: Vec<String> = ce
                .fixed
                .iter()
                .filter(|(fv, _)| installed.eco.as_ref().is_ok_and(|i| fv > i))
                .map(|(_, s)| s.clone())
                .collect();
            fixed.extend(ce.fixed_raw.iter().cloned());
            if let Some(h) = seen.get(&ce.entry.advisory).map(|&i| &mut out.hits[i]) {
                h.fixed_in.extend(fixed);
                sort_versions(eco, &mut h.fixed_in);
                h.fixed_in.dedup();
            } else {
                seen.insert(ce.entry.advisory, out.hits.len());
                out.hits.push(Hit {
                    advisory: adv.clone(),
                    fixed_in: fixed,
                });
            }
        }
        if full {
            out.known.push((adv, db.entry(ce.entry)?));
        }
    }
    Ok(out)
}

/// Sort version strings ascending under `eco` (unparseable ones last, by string).
pub fn sort_versions(eco: Ecosystem, v: &mut [String]) {
    v.sort_by(
        |a, b| match (version::parse(eco, a), version::parse(eco, b)) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => a.cmp(b),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aff(ranges: Vec<Range>, versions: &[&str]) -> Affected {
        Affected {
            ecosystem: "PyPI".into(),
            name: "x".into(),
            ranges,
            versions: versions.iter().map(|s| s.to_string()).collect(),
            canonical: Vec::new(),
        }
    }
    fn r(kind: RangeKind, ev: &[(&str, &str)]) -> Range {
        Range {
            kind,
            events: ev
                .iter()
                .map(|(k, v)| match *k {
                    "i" => Event::Introduced(v.to_string()),
                    "f" => Event::Fixed(v.to_string()),
                    "l" => Event::LastAffected(v.to_string()),
                    _ => Event::Limit(v.to_string()),
                })
                .collect(),
        }
    }

    #[test]
    fn introduced_fixed_last_affected_limit() {
        let e = Ecosystem::PyPI;
        let a = aff(
            vec![r(RangeKind::Ecosystem, &[("i", "1.0"), ("f", "1.5")])],
            &[],
        );
        assert!(!check(&a, e, "0.9").affected);
        assert!(check(&a, e, "1.0").affected);
        assert!(check(&a, e, "1.4.99").affected);
        assert!(!check(&a, e, "1.5").affected);
        assert!(!check(&a, e, "1.5.0").affected);
        assert!(
            check(&a, e, "1.5rc1").affected,
            "pre-releases of the fix are before it"
        );
        let a = aff(
            vec![r(RangeKind::Ecosystem, &[("i", "0"), ("l", "2.0")])],
            &[],
        );
        assert!(check(&a, e, "2.0").affected);
        assert!(!check(&a, e, "2.0.post1").affected);
        let a = aff(
            vec![r(RangeKind::Ecosystem, &[("i", "0"), ("lim", "3.0")])],
            &[],
        );
        assert!(check(&a, e, "2.9").affected);
        assert!(!check(&a, e, "3.0").affected);
        // Two introduced/fixed pairs in one range, out of order in the file.
        let a = aff(
            vec![r(
                RangeKind::Ecosystem,
                &[("i", "2.0"), ("f", "2.1"), ("i", "1.0"), ("f", "1.1")],
            )],
            &[],
        );
        assert!(check(&a, e, "1.0.5").affected);
        assert!(!check(&a, e, "1.5").affected);
        assert!(check(&a, e, "2.0").affected);
        assert!(!check(&a, e, "2.1").affected);
    }

    #[test]
    fn overlapping_pairs_are_unioned() {
        // PYSEC-2021-114 (wagtail): the record lists 2.11.6 as affected.
        let a = aff(
            vec![r(
                RangeKind::Ecosystem,
                &[
                    ("i", "2.11"),
                    ("f", "2.11.7"),
                    ("i", "0"),
                    ("f", "2.11.6"),
                    ("i", "2.12"),
                    ("f", "2.12.4"),
                ],
            )],
            &[],
        );
        let e = Ecosystem::PyPI;
        assert!(check(&a, e, "2.11.6").affected);
        assert!(check(&a, e, "1.0").affected);
        assert!(!check(&a, e, "2.11.7").affected);
        assert!(check(&a, e, "2.12.3").affected);
        assert!(!check(&a, e, "2.12.4").affected);
    }

    #[test]
    fn several_ranges_and_git_do_not_stop_the_rest() {
        let e = Ecosystem::PyPI;
        let a = aff(
            vec![
                r(RangeKind::Git, &[("i", "abc123"), ("f", "def456")]),
                r(RangeKind::Ecosystem, &[("i", "3.0"), ("f", "3.2")]),
                r(RangeKind::Ecosystem, &[("i", "1.0"), ("f", "1.2")]),
            ],
            &["9.9"],
        );
        let v = check(&a, e, "1.1");
        assert!(v.affected);
        assert_eq!(v.unevaluated.len(), 1, "the GIT range is noted");
        assert!(check(&a, e, "3.1").affected);
        assert!(
            check(&a, e, "9.9.0").affected,
            "versions list, PEP 440 equality"
        );
        assert!(!check(&a, e, "2.0").affected);
        // A GIT-only entry with a versions list still matches by the list.
        let g = aff(
            vec![r(RangeKind::Git, &[("i", "0"), ("f", "abc")])],
            &["1.82.8"],
        );
        assert!(check(&g, e, "1.82.8").affected);
    }

    #[test]
    fn semver_ranges_with_go_and_cargo_versions() {
        let a = Affected {
            ecosystem: "Go".into(),
            name: "m".into(),
            ranges: vec![r(RangeKind::Semver, &[("i", "0"), ("f", "1.6.0")])],
            versions: vec![],
            canonical: vec![],
        };
        assert!(check(&a, Ecosystem::Go, "v1.5.9").affected);
        assert!(check(&a, Ecosystem::Go, "v0.0.0-20200101000000-abcdefabcdef").affected);
        assert!(!check(&a, Ecosystem::Go, "v1.6.0").affected);
        assert!(!check(&a, Ecosystem::Go, "v2.0.0+incompatible").affected);
        let c = Affected {
            ecosystem: "crates.io".into(),
            name: "c".into(),
            ranges: vec![r(
                RangeKind::Semver,
                &[
                    ("i", "0.0.0-0"),
                    ("f", "0.9.0"),
                    ("i", "0.10.0"),
                    ("f", "0.10.3"),
                ],
            )],
            versions: vec![],
            canonical: vec![],
        };
        assert!(check(&c, Ecosystem::CratesIo, "0.1.0-alpha.1").affected);
        assert!(!check(&c, Ecosystem::CratesIo, "0.9.5").affected);
        assert!(check(&c, Ecosystem::CratesIo, "0.10.2").affected);
    }

    #[test]
    fn bad_bounds_are_noted_not_fatal() {
        let a = aff(
            vec![
                r(RangeKind::Ecosystem, &[("i", "0"), ("f", "bogus!")]),
                r(RangeKind::Ecosystem, &[("i", "2.0"), ("f", "2.1")]),
            ],
            &[],
        );
        let v = check(&a, Ecosystem::PyPI, "2.0.1");
        assert!(v.affected);
        let v = check(&a, Ecosystem::PyPI, "1.0");
        assert!(!v.affected);
        assert!(v.unevaluated[0].contains("bogus!"), "{:?}", v.unevaluated);
    }
}
