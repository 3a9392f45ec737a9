//! Fix plans: for each vulnerable package, the smallest upgrade that fixes its known advisories.
//!
//! The database only knows versions that advisories mention. Candidate targets are therefore the
//! `fixed` versions of every advisory for the package (not every published release); the plan
//! picks the lowest candidate above the installed version that no stored advisory affects (which
//! excludes versions that are themselves vulnerable or malicious). Because candidates are tried in
//! ascending order, a patch upgrade is preferred over a minor one, and a minor over a major.
//! Pre-releases are only proposed when the installed version is one. When no candidate fixes
//! everything, the candidate fixing the most advisory groups is proposed and the rest are listed
//! as unfixed; malicious releases are to be removed, not upgraded.

use crate::Ecosystem;
use crate::db::{Database, DbError};
use crate::detector::{Manifest, group_hits};
use crate::inventory::Package;
use crate::matcher::{self, PackageMatch};
use crate::osv::{Event, RangeKind};
use crate::version::{self, Version};
use serde::Serialize;

/// How big a version change is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Same major and minor.
    Patch,
    /// Same major.
    Minor,
    /// A new major version.
    Major,
}

/// What to do about one package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Upgrade to `to`.
    Upgrade {
        /// Target version.
        to: String,
        /// Size of the change.
        change: Change,
    },
    /// A malicious release: remove it.
    Remove,
    /// No version known to the database fixes any of the advisories.
    NoFix,
}

/// The plan for one vulnerable package.
#[derive(Clone, Debug, Serialize)]
pub struct PlanItem {
    /// The package as found.
    pub package: Package,
    /// Advisory groups affecting it (ids joined by `/`).
    pub advisories: Vec<String>,
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
    /// Advisory groups the action resolves.
    pub fixes: usize,
    /// Advisory groups it leaves open.
    pub unfixed: Vec<String>,
    /// For a package that is not a direct dependency, how it gets in, when the lockfile records
    /// a graph: the shortest chain from a direct dependency to the package's parent, as
    /// `name@version` (upgrading the first may be how to reach the fixed version). Empty for a
    /// direct dependency, or when the file has no graph.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
}

/// The plan for one manifest.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestPlan {
    /// Manifest path (with image/layer when known).
    pub manifest: String,
    /// Items, by package name.
    pub items: Vec<PlanItem>,
}

/// A whole fix plan.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Plan {
    /// Per manifest, only manifests with vulnerable packages.
    pub manifests: Vec<ManifestPlan>,
    /// Advisory groups (per package) found.
    pub advisories_total: usize,
    /// Advisory groups resolved by the proposed upgrades.
    pub advisories_fixed: usize,
    /// Number of upgrades proposed.
    pub upgrades: usize,
    /// Number of malicious packages to remove.
    pub removals: usize,
    /// Packages with no known fixed version.
    pub no_fix: usize,
    /// Packages checked.
    pub packages_checked: usize,
    /// Lockfiles and package databases that could not be read at all, so the plan does not
    /// cover them (filled in by the caller, which sees the read errors).
    pub unreadable: Vec<String>,
    /// The limitation every reader should know.
    pub note: String,
}

impl Plan {
    /// "fixes X of Y advisories with N upgrades".
    pub fn headline(&self) -> String {
        let mut s = format!(
            "fixes {} of {} advisories with {} upgrade{}",
            self.advisories_fixed,
            self.advisories_total,
            self.upgrades,
            if self.upgrades == 1 { "" } else { "s" }
        );
        if self.removals > 0 {
            s.push_str(&format!(
                "; {} malicious package{} to remove",
                self.removals,
                if self.removals == 1 { "" } else { "s" }
            ));
        }
        if self.no_fix > 0 {
            s.push_str(&format!(
                "; {} package{} without a known fixed version",
                self.no_fix,
                if self.no_fix == 1 { "" } else { "s" }
            ));
        }
        s
    }
}

/// Leading numeric components of a version string (`1.2.3rc1` → `[1, 2, 3]`).
fn numeric_prefix(v: &str) -> Vec<u64> {
    let v = v.trim_start_matches(['v', 'V']);
    let v = v.split_once(':').map_or(v, |(e, r)| {
        if e.bytes().all(|b| b.is_ascii_digit()) {
            r
        } else {
            v
        }
    });
    let mut out = Vec::new();
    for part in v.split('.') {
        let d: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
        if d.is_empty() {
            break;
        }
        out.push(d.parse().unwrap_or(u64::MAX));
        if d.len() != part.len() {
            break;
        }
    }
    out
}

/// Classify the change from `from` to `to`.
pub fn change_between(from: &str, to: &str) -> Change {
    let a = numeric_prefix(from);
    let b = numeric_prefix(to);
    let get = |v: &Vec<u64>, i: usize| v.get(i).copied().unwrap_or(0);
    if get(&a, 0) != get(&b, 0) {
        Change::Major
    } else if get(&a, 1) != get(&b, 1) {
        Change::Minor
    } else {
        Change::Patch
    }
}

fn is_pre(eco: Ecosystem, v: &Version) -> bool {
    match v {
        Version::Pep440(p) => p.is_prerelease(),
        Version::Semver(s) => s.is_prerelease(),
        Version::Gem(g) => g.is_prerelease(),
        _ => {
            let _ = eco;
            false
        }
    }
}

/// Plan one package given its match.
pub fn plan_package(pkg: &Package, m: &PackageMatch) -> Option<PlanItem> {
    if m.hits.is_empty() {
        return None;
    }
    let eco = pkg.ecosystem;
    let groups = group_hits(&m.hits);
    let names: Vec<String> = groups.iter().map(|g| g.ids.join("/")).collect();
    if groups.iter().any(|g| g.malicious()) {
        return Some(PlanItem {
            package: pkg.clone(),
            advisories: names.clone(),
            action: Action::Remove,
            fixes: 0,
            unfixed: names,
            via: Vec::new(),
        });
    }
    let installed = version::parse(eco, pkg.match_version()).ok();
    let installed_pre = installed.as_ref().is_some_and(|v| is_pre(eco, v));
    // Candidates: every `fixed` version of every advisory known for the package.
    let mut cands: Vec<(Version, String)> = Vec::new();
    for (_, aff) in &m.known {
        for r in &aff.ranges {
            if !matches!(r.kind, RangeKind::Semver | RangeKind::Ecosystem) {
                continue;
            }
            for e in &r.events {
                if let Event::Fixed(f) = e {
                    let Ok(v) = version::parse(eco, f) else {
                        continue;
                    };
                    if installed.as_ref().is_some_and(|i| &v <= i) {
                        continue;
                    }
                    if is_pre(eco, &v) && !installed_pre {
                        continue;
                    }
                    cands.push((v, f.clone()));
                }
            }
        }
    }
    cands.sort_by(|a, b| a.0.cmp(&b.0));
    cands.dedup_by(|a, b| a.0 == b.0);
    // Which of the current groups does a candidate leave affected, and is it affected by anything?
    let evaluate = |c: &str| -> (usize, bool) {
        let mut still = 0;
        for g in &groups {
            let hit = m
                .known
                .iter()
                .any(|(adv, aff)| g.ids.contains(&adv.id) && matcher::check(aff, eco, c).affected);
            if hit {
                still += 1;
            }
        }
        let any = m
            .known
            .iter()
            .any(|(_, aff)| matcher::check(aff, eco, c).affected);
        (still, any)
    };
    let mut best: Option<(usize, &str)> = None;
    for (_, c) in &cands {
        let (still, any) = evaluate(c);
        if !any {
            return Some(PlanItem {
                package: pkg.clone(),
                advisories: names.clone(),
                action: Action::Upgrade {
                    to: c.clone(),
                    change: change_between(pkg.match_version(), c),
                },
                fixes: groups.len(),
                unfixed: Vec::new(),
                via: Vec::new(),
            });
        }
        let fixed = groups.len() - still;
        // Never propose a version that a malicious report names.
        let malicious = m
            .known
            .iter()
            .any(|(adv, aff)| adv.malicious && matcher::check(aff, eco, c).affected);
        if fixed > 0 && !malicious && best.is_none_or(|(f, _)| fixed > f) {
            best = Some((fixed, c));
        }
    }
    match best {
        Some((fixed, c)) => {
            let unfixed = groups
                .iter()
                .filter(|g| {
                    m.known.iter().any(|(adv, aff)| {
                        g.ids.contains(&adv.id) && matcher::check(aff, eco, c).affected
                    })
                })
                .map(|g| g.ids.join("/"))
                .collect();
            Some(PlanItem {
                package: pkg.clone(),
                advisories: names,
                action: Action::Upgrade {
                    to: c.to_string(),
                    change: change_between(pkg.match_version(), c),
                },
                fixes: fixed,
                unfixed,
                via: Vec::new(),
            })
        }
        None => Some(PlanItem {
            package: pkg.clone(),
            advisories: names.clone(),
            action: Action::NoFix,
            fixes: 0,
            unfixed: names,
            via: Vec::new(),
        }),
    }
}

/// The note attached to every plan.
pub const LIMITATION: &str = "Targets are chosen among the fixed versions named by advisories \
(the database does not list every published release), and each package is planned on its own: \
other constraints of the lockfile are not re-resolved.";

/// Plan every manifest.
pub fn plan(db: &Database, manifests: &[Manifest]) -> Result<Plan, DbError> {
    let mut out = Plan {
        note: LIMITATION.to_string(),
        ..Default::default()
    };
    for man in manifests {
        let mut items = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let parents = man
            .graph
            .as_ref()
            .map(|g| shortest_parents(g, man.packages.len()));
        for (idx, pkg) in man.packages.iter().enumerate() {
            if !seen.insert((&pkg.manifest, &pkg.name, &pkg.version)) {
                continue;
            }
            out.packages_checked += 1;
            let m = matcher::match_package_full(db, pkg)?;
            if let Some(mut item) = plan_package(pkg, &m) {
                if let Some(parents) = &parents {
                    item.via = chain(parents, idx)
                        .into_iter()
                        .map(|i| format!("{}@{}", man.packages[i].name, man.packages[i].version))
                        .collect();
                }
                out.advisories_total += item.advisories.len();
                match &item.action {
                    Action::Upgrade { .. } => {
                        out.upgrades += 1;
                        out.advisories_fixed += item.fixes;
                    }
                    Action::Remove => out.removals += 1,
                    Action::NoFix => out.no_fix += 1,
                }
                items.push(item);
            }
        }
        if !items.is_empty() {
            items.sort_by(|a, b| {
                (&a.package.name, &a.package.version).cmp(&(&b.package.name, &b.package.version))
            });
            out.manifests.push(ManifestPlan {
                manifest: man.location.display(),
                items,
            });
        }
    }
    Ok(out)
}

/// Breadth-first from the direct dependencies: each reachable package's parent on a shortest
/// chain (`usize::MAX` for a direct dependency, `None` when unreachable).
fn shortest_parents(g: &crate::inventory::Graph, n: usize) -> Vec<Option<usize>> {
    let children = g.children(n);
    let mut parent: Vec<Option<usize>> = vec![None; n];
    let mut queue = std::collections::VecDeque::new();
    for &r in &g.roots {
        if r < n && parent[r].is_none() {
            parent[r] = Some(usize::MAX);
            queue.push_back(r);
        }
    }
    while let Some(a) = queue.pop_front() {
        for &b in &children[a] {
            if parent[b].is_none() {
                parent[b] = Some(a);
                queue.push_back(b);
            }
        }
    }
    parent
}

/// The chain from a direct dependency down to `idx`'s parent (empty when `idx` is direct or
/// unreachable).
fn chain(parents: &[Option<usize>], idx: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = idx;
    while let Some(Some(p)) = parents.get(at) {
        if *p == usize::MAX || out.len() > parents.len() {
            break;
        }
        out.push(*p);
        at = *p;
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_shortest_from_a_direct_dependency() {
        // 0 → 1 → 2 → 3 and 0 → 3: 3 is reached through 0 directly; 4 is direct; 5 unreachable.
        let g = crate::inventory::Graph {
            roots: vec![0, 4],
            edges: vec![(0, 1), (1, 2), (2, 3), (0, 3), (4, 2)],
        };
        let p = shortest_parents(&g, 6);
        assert_eq!(chain(&p, 3), [0]);
        assert_eq!(chain(&p, 2), [4]);
        assert!(chain(&p, 4).is_empty());
        assert!(chain(&p, 5).is_empty());
    }

    #[test]
    fn change_classes() {
        assert_eq!(change_between("1.2.3", "1.2.9"), Change::Patch);
        assert_eq!(change_between("1.2.3", "1.3.0"), Change::Minor);
        assert_eq!(change_between("1.2.3", "2.0"), Change::Major);
        assert_eq!(change_between("v0.9.1", "v0.9.2"), Change::Patch);
        assert_eq!(change_between("1:2.3-1", "1:2.4-1"), Change::Minor);
        assert_eq!(change_between("1.0", "1.0.1"), Change::Patch);
    }
}
