//! Package inventories: which packages, at which versions, a lockfile or an installed-package
//! database lists.
//!
//! [`recognise`] tells from a logical path (`/`-separated, as inside a repository or an image)
//! whether and how the file is read; [`parse`] reads it. Files that `-r`-include others
//! (requirements files) report the includes; [`parse_with_includes`] follows them through a
//! caller-supplied reader, so that this module never touches the filesystem itself.

mod js;
mod os;
mod other;
mod python;

use crate::Ecosystem;
use std::fmt;

/// One package found in a lockfile or installed-package database.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Package {
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Release of a distribution (`12` for Debian 12, `v3.19` for Alpine 3.19) when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Name as the file spells it.
    pub name: String,
    /// Version as the file spells it.
    pub version: String,
    /// The source package (Debian `Source:`, Alpine origin) when it differs: advisories for
    /// distributions name source packages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Version of the source package when it differs from `version` (Debian binNMUs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Logical path of the file that lists the package.
    pub manifest: String,
    /// 1-based line in that file, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Listed only as a development dependency.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dev: bool,
    /// Digests of the published artifact the lockfile pins (npm `integrity`, `Cargo.lock`
    /// `checksum`): CycloneDX algorithm name and lowercase hex. For SBOMs; not in findings.
    #[serde(skip)]
    pub hashes: Vec<(&'static str, String)>,
    /// The licence the file declares for the package (npm lockfile v2/v3 and `package.json`
    /// `license`, Python `License-Expression`/`License`/licence classifier, composer `license`).
    /// For SBOMs; not in findings.
    #[serde(skip)]
    pub license: Option<License>,
}

/// A declared licence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum License {
    /// Where the format asks for an SPDX expression (npm, composer, Python
    /// `License-Expression`); it may still hold free text (`SEE LICENSE IN LICENSE.md`).
    Spdx(String),
    /// Free text (Python `License:`, a classifier's name).
    Text(String),
}

impl Package {
    pub(crate) fn new(
        ecosystem: Ecosystem,
        name: impl Into<String>,
        version: impl Into<String>,
        manifest: &str,
        line: Option<u32>,
    ) -> Package {
        Package {
            ecosystem,
            release: None,
            name: name.into(),
            version: version.into(),
            source_name: None,
            source_version: None,
            manifest: manifest.to_string(),
            line,
            dev: false,
            hashes: Vec::new(),
            license: None,
        }
    }

    /// The OSV ecosystem string to look the package up under (`PyPI`, `Debian:12`), or `None` for
    /// distribution packages whose release is unknown (matching them against another release's
    /// advisories would be wrong).
    pub fn osv_ecosystem(&self) -> Option<String> {
        match self.ecosystem {
            Ecosystem::Debian | Ecosystem::Alpine => self
                .release
                .as_ref()
                .map(|r| format!("{}:{r}", self.ecosystem.as_str())),
            Ecosystem::Ubuntu | Ecosystem::Other => None,
            e => Some(e.as_str().to_string()),
        }
    }

    /// The name advisories use for the package (the source package for distributions).
    pub fn match_name(&self) -> &str {
        self.source_name.as_deref().unwrap_or(&self.name)
    }

    /// The version advisories are evaluated against.
    pub fn match_version(&self) -> &str {
        self.source_version.as_deref().unwrap_or(&self.version)
    }

    /// The package URL (`pkg:pypi/litellm@1.82.8`).
    pub fn purl(&self) -> String {
        let enc = |s: &str| purl_encode(s, false);
        let (ns, name) = match self.ecosystem {
            Ecosystem::Npm => match self.name.rsplit_once('/') {
                Some((scope, n)) if scope.starts_with('@') => (Some(enc(scope)), enc(n)),
                _ => (None, enc(&self.name)),
            },
            Ecosystem::Go | Ecosystem::Packagist => match self.name.rsplit_once('/') {
                Some((ns, n)) => (
                    Some(ns.split('/').map(enc).collect::<Vec<_>>().join("/")),
                    enc(n),
                ),
                None => (None, enc(&self.name)),
            },
            Ecosystem::PyPI => (None, enc(&Ecosystem::PyPI.normalize_name(&self.name))),
            Ecosystem::Debian => (Some("debian".into()), enc(&self.name)),
            Ecosystem::Ubuntu => (Some("ubuntu".into()), enc(&self.name)),
            Ecosystem::Alpine => (Some("alpine".into()), enc(&self.name)),
            _ => (None, enc(&self.name)),
        };
        let mut s = format!("pkg:{}/", self.ecosystem.purl_type());
        if let Some(ns) = ns {
            s.push_str(&ns);
            s.push('/');
        }
        s.push_str(&name);
        s.push('@');
        s.push_str(&purl_encode(&self.version, false));
        let mut quals = Vec::new();
        if let (Ecosystem::Debian, Some(r)) = (self.ecosystem, &self.release) {
            quals.push(format!("distro=debian-{}", purl_encode(r, true)));
        }
        if let (Ecosystem::Alpine, Some(r)) = (self.ecosystem, &self.release) {
            quals.push(format!(
                "distro=alpine-{}",
                purl_encode(r.trim_start_matches('v'), true)
            ));
        }
        if let Some(src) = &self.source_name {
            if src != &self.name {
                quals.push(format!("upstream={}", purl_encode(src, true)));
            }
        }
        if !quals.is_empty() {
            s.push('?');
            s.push_str(&quals.join("&"));
        }
        s
    }
}

fn purl_encode(s: &str, qualifier: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric() || b".-_~".contains(&b) || (!qualifier && b == b':');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The kinds of file the inventory reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `Cargo.lock`.
    CargoLock,
    /// `package-lock.json` / `npm-shrinkwrap.json` (lockfile versions 1–3).
    NpmLock,
    /// `yarn.lock` (classic v1 and berry).
    YarnLock,
    /// `pnpm-lock.yaml` (lockfile versions 5–9).
    PnpmLock,
    /// `node_modules/<name>/package.json` of an installed package.
    NodeModulesPackage,
    /// `requirements*.txt` (and `*.txt` in a `requirements/` folder).
    Requirements,
    /// `poetry.lock`.
    PoetryLock,
    /// `uv.lock`.
    UvLock,
    /// `Pipfile.lock`.
    PipfileLock,
    /// `pdm.lock`.
    PdmLock,
    /// `pylock.toml` / `pylock.*.toml` (PEP 751).
    Pylock,
    /// `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `*.egg-info` files.
    PythonMetadata,
    /// `go.mod`.
    GoMod,
    /// `Gemfile.lock` / `gems.locked`.
    GemfileLock,
    /// `composer.lock`.
    ComposerLock,
    /// `var/lib/dpkg/status` and `var/lib/dpkg/status.d/*`.
    DpkgStatus,
    /// `lib/apk/db/installed`.
    ApkInstalled,
}

impl Format {
    /// Whether the file lists installed packages (rather than locked ones).
    pub fn is_installed(self) -> bool {
        matches!(
            self,
            Format::NodeModulesPackage
                | Format::PythonMetadata
                | Format::DpkgStatus
                | Format::ApkInstalled
        )
    }
}

/// Which format a logical path is, if any. Only the path is looked at.
///
/// ```
/// use rampart_deps::inventory::{recognise, Format};
/// assert_eq!(recognise("app/requirements-dev.txt"), Some(Format::Requirements));
/// assert_eq!(recognise("usr/lib/python3.11/site-packages/litellm-1.82.8.dist-info/METADATA"),
///     Some(Format::PythonMetadata));
/// assert_eq!(recognise("node_modules/@types/node/package.json"), Some(Format::NodeModulesPackage));
/// assert_eq!(recognise("package.json"), None);
/// // Lockfiles shipped inside installed packages are not the project's.
/// assert_eq!(recognise("node_modules/uri-js/yarn.lock"), None);
/// assert_eq!(recognise("venv/lib/python3.11/site-packages/pkg/requirements.txt"), None);
/// ```
pub fn recognise(path: &str) -> Option<Format> {
    let path = path.trim_start_matches("./");
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let file = *parts.last()?;
    let parent = parts.len().checked_sub(2).map(|i| parts[i]);
    let lower = file.to_ascii_lowercase();
    let f = match file {
        "Cargo.lock" => Format::CargoLock,
        "package-lock.json" | "npm-shrinkwrap.json" => Format::NpmLock,
        "yarn.lock" => Format::YarnLock,
        "pnpm-lock.yaml" => Format::PnpmLock,
        "poetry.lock" => Format::PoetryLock,
        "uv.lock" => Format::UvLock,
        "Pipfile.lock" => Format::PipfileLock,
        "pdm.lock" => Format::PdmLock,
        "go.mod" => Format::GoMod,
        "Gemfile.lock" | "gems.locked" => Format::GemfileLock,
        "composer.lock" => Format::ComposerLock,
        "METADATA" if parent.is_some_and(|p| p.ends_with(".dist-info")) => Format::PythonMetadata,
        "PKG-INFO" if parent.is_some_and(|p| p.ends_with(".egg-info")) => Format::PythonMetadata,
        "package.json" => {
            // node_modules/<name>/package.json or node_modules/@scope/<name>/package.json
            let n = parts.len();
            let direct = n >= 3 && parts[n - 3] == "node_modules" && !parts[n - 2].starts_with('@');
            let scoped = n >= 4 && parts[n - 4] == "node_modules" && parts[n - 3].starts_with('@');
            if direct || scoped {
                Format::NodeModulesPackage
            } else {
                return None;
            }
        }
        "status" if path.ends_with("var/lib/dpkg/status") => Format::DpkgStatus,
        "installed" if path.ends_with("lib/apk/db/installed") => Format::ApkInstalled,
        _ => {
            if (lower.starts_with("requirements") && lower.ends_with(".txt"))
                || (parent == Some("requirements") && lower.ends_with(".txt"))
            {
                Format::Requirements
            } else if lower == "pylock.toml"
                || (lower.starts_with("pylock.") && lower.ends_with(".toml"))
            {
                Format::Pylock
            } else if file.ends_with(".egg-info") {
                Format::PythonMetadata
            } else if parent == Some("status.d")
                && path.contains("var/lib/dpkg/status.d/")
                && !file.ends_with(".md5sums")
            {
                Format::DpkgStatus
            } else {
                return None;
            }
        }
    };
    // A lockfile inside an installed package (`node_modules/uri-js/yarn.lock`,
    // `site-packages/pkg/requirements.txt`) is that package's own development setup, not what is
    // installed: reading it reported hundreds of packages that are not there.
    let dirs = &parts[..parts.len() - 1];
    if !f.is_installed()
        && dirs
            .iter()
            .any(|d| matches!(*d, "node_modules" | "site-packages" | "dist-packages"))
    {
        return None;
    }
    Some(f)
}

/// A file that could not be read, with the place of the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct InventoryError {
    /// Logical path of the file.
    pub path: String,
    /// 1-based line, where known.
    pub line: Option<u32>,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

pub(crate) fn err(path: &str, line: Option<u32>, message: impl Into<String>) -> InventoryError {
    InventoryError {
        path: path.to_string(),
        line,
        message: message.into(),
    }
}

/// What reading one file produced.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// Packages found.
    pub packages: Vec<Package>,
    /// Other files this one includes (`-r other.txt`): (path as written, line).
    pub includes: Vec<(String, u32)>,
    /// Lines or entries that were passed over, and why (unpinned requirements, local packages…).
    pub notes: Vec<String>,
    /// The dependency graph, when the format records one: `Some` even if empty.
    pub graph: Option<Graph>,
    /// yarn.lock: each `name@range` an entry answers, sorted, with the package it resolved to;
    /// composer.lock: each name a package provides or replaces (lowercased), sorted, with that
    /// package. For resolving the `package.json` / `composer.json` beside the lock
    /// ([`parse_with_includes`]).
    pub(crate) descriptors: Vec<(String, usize)>,
    /// Gemfile.lock: the project's own gems (PATH sources) as (name, path as written), whose
    /// `NAME.gemspec` declares development dependencies ([`parse_with_includes`]).
    pub(crate) local_gems: Vec<(String, String)>,
}

/// Who depends on whom among a file's [`Parsed::packages`] (indices into that list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    /// The project's own direct dependencies.
    pub roots: Vec<usize>,
    /// `(from, to)`: package `from` depends on package `to`.
    pub edges: Vec<(usize, usize)>,
}

impl Graph {
    /// Record that package `from` — the project itself when `None` — depends on package `to`.
    /// A package listing itself is not an edge.
    pub(crate) fn add(&mut self, from: Option<usize>, to: usize) {
        match from {
            Some(f) if f != to => self.edges.push((f, to)),
            Some(_) => {}
            None => self.roots.push(to),
        }
    }

    /// Make the packages (of `n`) that no edge leads to the roots: in a lock that does not
    /// record the project's own dependencies (yarn 1, poetry, pdm, Composer), those the project
    /// itself must have required.
    pub(crate) fn roots_unneeded(&mut self, n: usize) {
        let mut needed = vec![false; n];
        for &(_, to) in &self.edges {
            if let Some(x) = needed.get_mut(to) {
                *x = true;
            }
        }
        self.roots = (0..n).filter(|&i| !needed[i]).collect();
    }

    /// Each package's (of `n`) direct dependencies; edges naming a package beyond `n` are left
    /// out.
    pub(crate) fn children(&self, n: usize) -> Vec<Vec<usize>> {
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
        for &(a, b) in &self.edges {
            if a < n && b < n {
                next[a].push(b);
            }
        }
        next
    }

    /// The graph with roots and edges sorted and each listed once.
    pub(crate) fn finish(mut self) -> Graph {
        self.roots.sort_unstable();
        self.roots.dedup();
        self.edges.sort_unstable();
        self.edges.dedup();
        self
    }
}

/// Licences of which a package may be used under any one, as one expression: `A OR B`, each
/// compound one in parentheses; `None` for none.
pub(crate) fn any_of(list: &[String]) -> Option<String> {
    match list {
        [] => None,
        [one] => Some(one.clone()),
        _ => Some(
            list.iter()
                .map(|l| {
                    if l.contains(' ') && !l.starts_with('(') {
                        format!("({l})")
                    } else {
                        l.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" OR "),
        ),
    }
}

/// Each package name of `packages` with the indices of the packages of that name (several for
/// several versions or platforms).
pub(crate) fn indices_by_name(packages: &[Package]) -> std::collections::HashMap<&str, Vec<usize>> {
    let mut by_name: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (i, p) in packages.iter().enumerate() {
        by_name.entry(p.name.as_str()).or_default().push(i);
    }
    by_name
}

/// Add the direct dependencies a manifest beside the lock declares to the roots of `out`'s
/// graph — `prod`, and `dev` for development (those also in `prod` are production ones) — and
/// mark what only the development ones lead to as development-only.
pub(crate) fn add_declared_roots(out: &mut Parsed, mut prod: Vec<usize>, mut dev: Vec<usize>) {
    prod.sort_unstable();
    dev.retain(|i| prod.binary_search(i).is_err());
    let Some(mut g) = out.graph.take() else {
        return;
    };
    g.roots.extend(prod.iter().chain(&dev));
    out.graph = Some(g.finish());
    mark_dev_only(out, &dev);
}

/// Settle a parser's per-entry problems (line, message): the file's error when nothing in it
/// could be read, notes on what was passed over otherwise.
pub(crate) fn notes_or_error(
    path: &str,
    out: &mut Parsed,
    problems: Vec<(u32, String)>,
) -> Result<(), InventoryError> {
    if out.packages.is_empty() {
        if let Some((line, msg)) = problems.into_iter().next() {
            return Err(err(path, Some(line), msg));
        }
    } else {
        for (line, msg) in problems {
            out.notes.push(format!("{path}:{line}: {msg}"));
        }
    }
    Ok(())
}

/// Mark as development-only the packages of `out` that only `dev_roots` (direct dependencies for
/// development) lead to: those not reachable from the graph's other roots. A package already
/// marked stays marked; nothing is marked without a graph or without a dev root.
pub(crate) fn mark_dev_only(out: &mut Parsed, dev_roots: &[usize]) {
    let Some(g) = &out.graph else { return };
    if dev_roots.is_empty() {
        return;
    }
    let n = out.packages.len();
    let next = g.children(n);
    let reach = |starts: &mut dyn Iterator<Item = usize>| {
        let mut seen = vec![false; n];
        let mut stack: Vec<usize> = starts.filter(|&i| i < n).collect();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut seen[i], true) {
                stack.extend(&next[i]);
            }
        }
        seen
    };
    let mut is_dev_root = vec![false; n];
    for &r in dev_roots.iter().filter(|&&r| r < n) {
        is_dev_root[r] = true;
    }
    let prod = reach(
        &mut g
            .roots
            .iter()
            .copied()
            .filter(|&r| r < n && !is_dev_root[r]),
    );
    let dev = reach(&mut dev_roots.iter().copied());
    for (i, p) in out.packages.iter_mut().enumerate() {
        if dev[i] && !prod[i] {
            p.dev = true;
        }
    }
}

/// Read the inventory of one file of format `format` (see [`recognise`]).
pub fn parse(format: Format, path: &str, data: &[u8]) -> Result<Parsed, InventoryError> {
    let text = std::str::from_utf8(data).map_err(|e| {
        let line = 1 + data[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        err(path, Some(line as u32), "not valid UTF-8 text")
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Every lockfile writer writes something; an empty requirements file, yarn.lock (`touch
    // yarn.lock` starts a yarn project) or package database is merely empty.
    let may_be_empty = matches!(
        format,
        Format::Requirements | Format::YarnLock | Format::DpkgStatus | Format::ApkInstalled
    );
    if text.trim().is_empty() && !may_be_empty {
        return Err(err(path, None, "the file is empty"));
    }
    match format {
        Format::CargoLock => other::cargo_lock(path, text),
        Format::NpmLock => js::npm_lock(path, text),
        Format::YarnLock => js::yarn_lock(path, text),
        Format::PnpmLock => js::pnpm_lock(path, text),
        Format::NodeModulesPackage => js::node_modules_package(path, text),
        Format::Requirements => python::requirements(path, text),
        Format::PoetryLock => python::poetry_lock(path, text),
        Format::UvLock => python::uv_lock(path, text),
        Format::PipfileLock => python::pipfile_lock(path, text),
        Format::PdmLock => python::pdm_lock(path, text),
        Format::Pylock => python::pylock(path, text),
        Format::PythonMetadata => python::metadata(path, text),
        Format::GoMod => other::go_mod(path, text),
        Format::GemfileLock => other::gemfile_lock(path, text),
        Format::ComposerLock => other::composer_lock(path, text),
        Format::DpkgStatus => os::dpkg_status(path, text),
        Format::ApkInstalled => os::apk_installed(path, text),
    }
}

/// How the manifest beside a lock is read into the lock's graph.
type ApplyManifest = fn(&mut Parsed, &[u8]) -> Result<(), String>;

/// The manifest beside a lockfile of `format` that declares the project's direct dependencies,
/// and how it is applied.
fn manifest_beside(format: Format) -> Option<(&'static str, ApplyManifest)> {
    fn json(b: &[u8]) -> Result<serde_json::Value, String> {
        serde_json::from_slice(b).map_err(|e| e.to_string())
    }
    match format {
        Format::YarnLock => Some(("package.json", |out, b| {
            js::roots_from_package_json(out, &json(b)?);
            Ok(())
        })),
        Format::ComposerLock => Some(("composer.json", |out, b| {
            other::roots_from_composer_json(out, &json(b)?);
            Ok(())
        })),
        Format::PoetryLock | Format::PdmLock => Some(("pyproject.toml", |out, b| {
            let text = std::str::from_utf8(b).map_err(|_| "not valid UTF-8".to_string())?;
            python::roots_from_pyproject(out, &python::pyproject_direct(text)?);
            Ok(())
        })),
        _ => None,
    }
}

/// Whether a lock of `format` reads the manifest beside it (the project's direct dependencies,
/// and what is for development) through [`parse_with_includes`]'s reader.
pub fn reads_manifest_beside(format: Format) -> bool {
    format == Format::GemfileLock || manifest_beside(format).is_some()
}

/// Whether a file at `path` is one a lock may read beside it: `package.json`, `composer.json`,
/// `pyproject.toml`, `Gemfile`, `gems.rb` or a `.gemspec`, outside installed-package folders
/// (`node_modules`, `site-packages`, `vendor`…, where every package has its own).
pub fn is_manifest_beside(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let wanted = matches!(
        name,
        "package.json" | "composer.json" | "pyproject.toml" | "Gemfile" | "gems.rb"
    ) || name.ends_with(".gemspec");
    wanted
        && !path.split('/').any(|c| {
            matches!(
                c,
                "node_modules" | "site-packages" | "dist-packages" | "vendor" | ".git"
            )
        })
}

/// Like [`parse`], following `-r`/`--requirement` includes through `read`, which gets the include
/// resolved against the including file's folder (`/`-separated) and returns its bytes, or `None`
/// when it is not available. Includes that cannot be read, or that loop, are noted.
pub fn parse_with_includes(
    format: Format,
    path: &str,
    data: &[u8],
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<Parsed, InventoryError> {
    let mut out = parse(format, path, data)?;
    // Gemfile.lock records no groups: the Gemfile and the project's gemspec say what is for
    // development.
    if format == Format::GemfileLock {
        ruby_manifests(&mut out, path, read);
    }
    // Yarn, Composer, poetry and pdm locks do not say what the project itself requires (nor,
    // but for poetry, what is for development); the manifest beside them does.
    if let Some((name, apply)) = manifest_beside(format) {
        let target = join(path, name);
        if let Some(bytes) = read(&target) {
            if let Err(e) = apply(&mut out, &bytes) {
                out.notes.push(format!(
                    "{target}: cannot be read ({e}), so the dependency graph's direct dependencies are guessed (packages nothing else in {path} needs)"
                ));
            }
        }
    }
    let mut seen = vec![normalise_path(path)];
    let mut queue: Vec<(String, String, u32)> = out
        .includes
        .drain(..)
        .map(|(inc, line)| (path.to_string(), inc, line))
        .collect();
    while let Some((from, inc, line)) = queue.pop() {
        let target = join(&from, &inc);
        if seen.contains(&target) {
            continue;
        }
        if seen.len() > 64 {
            out.notes.push(format!(
                "{from}:{line}: too many nested includes; stopped at `{inc}`"
            ));
            break;
        }
        seen.push(target.clone());
        let Some(bytes) = read(&target) else {
            out.notes
                .push(format!("{from}:{line}: included file `{inc}` not found"));
            continue;
        };
        match parse(Format::Requirements, &target, &bytes) {
            Ok(mut p) => {
                out.packages.append(&mut p.packages);
                out.notes.append(&mut p.notes);
                queue.extend(p.includes.into_iter().map(|(i, l)| (target.clone(), i, l)));
            }
            Err(e) => out.notes.push(format!("{from}:{line}: include: {e}")),
        }
    }
    Ok(out)
}

/// The Gemfile beside a Gemfile.lock (groups) and the gemspecs of the project's own gems
/// (`add_development_dependency`): what only development needs is marked so.
fn ruby_manifests(out: &mut Parsed, path: &str, read: &dyn Fn(&str) -> Option<Vec<u8>>) {
    let mut gems = Vec::new();
    let mut text_of = |target: String| match read(&target).map(String::from_utf8) {
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            out.notes.push(format!(
                "{target}: not valid UTF-8, so development dependencies are not marked from it"
            ));
            None
        }
        None => None,
    };
    // Bundler pairs `gems.locked` with `gems.rb`, `Gemfile.lock` with `Gemfile`.
    let gemfile = if path.ends_with("gems.locked") {
        "gems.rb"
    } else {
        "Gemfile"
    };
    if let Some(t) = text_of(join(path, gemfile)) {
        gems = other::gemfile_groups(&t);
    }
    let local = std::mem::take(&mut out.local_gems);
    for (name, dir) in &local {
        let dir = dir.trim_end_matches('/');
        if let Some(t) = text_of(join(path, &format!("{dir}/{name}.gemspec"))) {
            gems.extend(
                other::gemspec_development(&t)
                    .into_iter()
                    .map(|g| (g, vec!["development".to_string()])),
            );
        }
    }
    if !gems.is_empty() {
        other::roots_from_gemfile(out, &gems);
    }
}

pub(crate) fn normalise_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let abs = p.starts_with('/');
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !abs {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    let j = out.join("/");
    if abs { format!("/{j}") } else { j }
}

fn join(from: &str, inc: &str) -> String {
    let inc = inc.replace('\\', "/");
    if inc.starts_with('/') {
        return normalise_path(&inc);
    }
    let dir = match from.rsplit_once('/') {
        Some((d, _)) => d,
        None => "",
    };
    if dir.is_empty() {
        normalise_path(&inc)
    } else {
        normalise_path(&format!("{dir}/{inc}"))
    }
}

/// 1-based line of byte offset `off` in `text`.
pub(crate) fn line_at(text: &str, off: usize) -> u32 {
    let off = off.min(text.len());
    1 + text.as_bytes()[..off]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u32
}

/// Line numbers of offsets met mostly in increasing order: each counts the newlines since the
/// last one (from the start again when an offset is behind it), so a pass over a file is linear.
pub(crate) struct LineCounter<'t> {
    text: &'t str,
    off: usize,
    line: u32,
}

impl<'t> LineCounter<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        LineCounter {
            text,
            off: 0,
            line: 1,
        }
    }

    /// Like [`find_line`]: the line and offset of `needle`'s first occurrence at or after
    /// byte `from`, the line counted from the last one asked for.
    pub(crate) fn find(&mut self, needle: &str, from: usize) -> Option<(u32, usize)> {
        let at = from + self.text.get(from..)?.find(needle)?;
        Some((self.line(at), at))
    }

    /// 1-based line of byte offset `off`.
    pub(crate) fn line(&mut self, off: usize) -> u32 {
        let off = off.min(self.text.len());
        if off < self.off {
            (self.off, self.line) = (0, 1);
        }
        let newlines = self.text.as_bytes()[self.off..off]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.line += newlines as u32;
        self.off = off;
        self.line
    }
}

/// Line of the first occurrence of `needle` at or after `from`, with the offset found.
pub(crate) fn find_line(text: &str, needle: &str, from: usize) -> Option<(u32, usize)> {
    let from = from.min(text.len());
    text.get(from..)?
        .find(needle)
        .map(|i| (line_at(text, from + i), from + i))
}

/// The digests of a Subresource Integrity string (`sha512-<base64> sha1-<base64>`, as npm, yarn
/// and pnpm record a tarball), as (CycloneDX algorithm, hex). Unknown algorithms and bad base64
/// are left out.
pub(crate) fn sri(integrity: &str) -> Vec<(&'static str, String)> {
    use base64::Engine as _;
    integrity
        .split_whitespace()
        .filter_map(|h| {
            let (alg, b64) = h.split_once('-')?;
            let (name, len) = match alg {
                "sha512" => ("SHA-512", 64),
                "sha384" => ("SHA-384", 48),
                "sha256" => ("SHA-256", 32),
                "sha1" => ("SHA-1", 20),
                _ => return None,
            };
            let b64 = b64.split('?').next().unwrap_or(b64); // SRI options
            let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            (raw.len() == len).then(|| (name, hex(&raw)))
        })
        .collect()
}

/// Lowercase hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The note for a package entry whose version is not a string (`found`, as written) or is missing
/// (`None`).
pub(crate) fn bad_version(
    path: &str,
    line: u32,
    name: &str,
    found: Option<&dyn fmt::Display>,
) -> String {
    match found {
        Some(v) => format!("{path}:{line}: `{name}` has version {v}, which is not a string"),
        None => format!("{path}:{line}: `{name}` has no version"),
    }
}

/// The line of a JSON parse error.
pub(crate) fn json_err(path: &str, e: &serde_json::Error) -> InventoryError {
    err(path, Some(e.line() as u32), format!("invalid JSON: {e}"))
}

/// The line of a TOML parse error.
pub(crate) fn toml_err(path: &str, text: &str, e: &toml::de::Error) -> InventoryError {
    let line = e.span().map(|s| line_at(text, s.start));
    let msg = e.message().to_string();
    err(path, line, format!("invalid TOML: {msg}"))
}

#[cfg(test)]
mod tests;
