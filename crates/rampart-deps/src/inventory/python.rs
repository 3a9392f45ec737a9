//! Python: requirements files, lockfiles and installed metadata.

use super::{InventoryError, Package, Parsed, bad_version, err, find_line, json_err, toml_err};
use crate::Ecosystem;
use serde::Deserialize;
use toml::Spanned;

const PY: Ecosystem = Ecosystem::PyPI;

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && n.as_bytes()[0].is_ascii_alphanumeric()
}

/// `requirements*.txt`: pinned `name==version` lines (with extras, markers, hashes and line
/// continuations); `-r`/`--requirement` includes are reported; anything else is noted.
pub(super) fn requirements(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let mut out = Parsed::default();
    // Join continuation lines, remembering where each logical line starts.
    let mut logical: Vec<(u32, String)> = Vec::new();
    let mut cur: Option<(u32, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i as u32 + 1;
        let (start, mut s) = cur.take().unwrap_or((lineno, String::new()));
        let l = raw.trim_end_matches('\r');
        if let Some(stripped) = l.strip_suffix('\\') {
            s.push_str(stripped);
            s.push(' ');
            cur = Some((start, s));
        } else {
            s.push_str(l);
            logical.push((start, s));
        }
    }
    if let Some(c) = cur {
        logical.push(c);
    }
    // Lines that are not requirements: pip refuses the whole file, a scanner reads the rest.
    let mut unreadable: Vec<(u32, String)> = Vec::new();
    for (lineno, line) in logical {
        // Comments start at `#` at line start or after whitespace.
        let mut content = line.as_str();
        if let Some(pos) = find_comment(content) {
            content = &content[..pos];
        }
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        if content.starts_with('-') {
            let (opt, rest) = split_option(content);
            match opt {
                "-r" | "--requirement" => {
                    if rest.is_empty() {
                        return Err(err(path, Some(lineno), "`-r` without a file name"));
                    }
                    out.includes.push((rest.to_string(), lineno));
                }
                "-c" | "--constraint" => out.notes.push(format!(
                    "{path}:{lineno}: constraints file `{rest}` not read (constraints do not install packages)"
                )),
                "-e" | "--editable" => out.notes.push(format!(
                    "{path}:{lineno}: editable requirement `{rest}` has no version to check"
                )),
                _ => {} // --index-url, --hash on its own line, --no-binary …
            }
            continue;
        }
        // Drop per-requirement options (`--hash=…`) and environment markers.
        let req = content.split(" --").next().unwrap_or("").trim();
        let req = req.split(';').next().unwrap_or("").trim();
        if req.contains("://")
            || req.contains(" @ ")
            || req.starts_with('.')
            || req.starts_with('/')
        {
            out.notes.push(format!(
                "{path}:{lineno}: `{req}` is a URL or path requirement; no version to check"
            ));
            continue;
        }
        let (name, rest) = split_requirement(req);
        if !valid_name(name) {
            unreadable.push((lineno, content.to_string()));
            continue;
        }
        let Some(rest) = rest else {
            return Err(err(
                path,
                Some(lineno),
                format!("unclosed extras in `{req}`"),
            ));
        };
        if rest.is_empty() {
            out.notes.push(format!(
                "{path}:{lineno}: `{name}` is not pinned; no version to check"
            ));
            continue;
        }
        if !rest.starts_with(['=', '<', '>', '!', '~', '(']) {
            unreadable.push((lineno, content.to_string()));
            continue;
        }
        let pinned = rest
            .strip_prefix("===")
            .or_else(|| rest.strip_prefix("=="))
            .map(str::trim);
        match pinned {
            Some(v) if !v.is_empty() && !v.contains(',') && !v.contains('*') => {
                out.packages
                    .push(Package::new(PY, name, v, path, Some(lineno)));
            }
            Some("") => out.notes.push(format!(
                "{path}:{lineno}: `{name}{rest}` has no version after `==`"
            )),
            _ => out.notes.push(format!(
                "{path}:{lineno}: `{name}{rest}` is not pinned with `==`; no version to check"
            )),
        }
    }
    let mut unreadable = unreadable.into_iter();
    if out.packages.is_empty() && out.includes.is_empty() {
        if let Some((lineno, content)) = unreadable.next() {
            return Err(err(
                path,
                Some(lineno),
                format!("cannot read requirement `{}`", truncate(&content, 80)),
            ));
        }
    }
    for (lineno, content) in unreadable {
        out.notes.push(format!(
            "{path}:{lineno}: cannot read requirement `{}` (pip would refuse this file)",
            truncate(&content, 80)
        ));
    }
    Ok(out)
}

fn find_comment(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len()).find(|&i| b[i] == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()))
}

fn split_option(s: &str) -> (&str, &str) {
    if let Some((o, r)) = s.split_once('=') {
        if !o.contains(' ') {
            return (o, r.trim());
        }
    }
    match s.split_once(char::is_whitespace) {
        Some((o, r)) => (o, r.trim()),
        None => {
            // `-rfile.txt`
            if s.len() > 2
                && (s.starts_with("-r") || s.starts_with("-c") || s.starts_with("-e"))
                && !s.starts_with("--")
            {
                (&s[..2], &s[2..])
            } else {
                (s, "")
            }
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

#[derive(Deserialize)]
struct TomlPackage {
    #[serde(default)]
    name: Option<Spanned<toml::Value>>,
    #[serde(default)]
    version: Option<toml::Value>,
    #[serde(default)]
    source: Option<toml::Value>,
    #[serde(default)]
    category: Option<toml::Value>,
    /// Poetry 2: the dependency groups that need the package (`["main"]`, `["dev"]`).
    #[serde(default)]
    groups: Option<toml::Value>,
    /// uv: `[{ name, version? }, …]`; poetry: a table, name → constraint; pdm: requirement
    /// strings.
    #[serde(default)]
    dependencies: Option<toml::Value>,
    /// uv: extras, `{ extra = [{ name, … }] }`.
    #[serde(default, rename = "optional-dependencies")]
    optional_dependencies: Option<toml::Value>,
    /// uv: dependency groups, same shape.
    #[serde(default, rename = "dev-dependencies")]
    dev_dependencies: Option<toml::Value>,
}

impl TomlPackage {
    fn name(&self) -> &str {
        self.name
            .as_ref()
            .and_then(|n| n.get_ref().as_str())
            .unwrap_or("")
    }
}

#[derive(Deserialize)]
struct PackageLock {
    #[serde(default)]
    package: Vec<Spanned<TomlPackage>>,
    #[serde(default)]
    metadata: Option<toml::Value>,
    /// uv's format version.
    #[serde(default)]
    version: Option<toml::Value>,
}

/// The packages of a TOML lockfile's `[[package]]` tables. An entry whose fields have the wrong
/// type is noted, not fatal. `format` is the `[metadata]` key of the format version and the
/// newest major version known; a newer one is read with a note.
fn toml_packages(
    path: &str,
    text: &str,
    format: Option<(&str, u64)>,
    poetry_groups: bool,
    mut keep: impl FnMut(&TomlPackage) -> Result<bool, String>,
) -> Result<Parsed, InventoryError> {
    let lock: PackageLock = toml::from_str(text).map_err(|e| toml_err(path, text, &e))?;
    let mut out = Parsed::default();
    read_packages(
        path,
        text,
        &lock.package,
        poetry_groups,
        &mut keep,
        &mut out,
    );
    out.graph = Some(named_graph(&lock.package, &out.packages));
    if let Some((key, known)) = format {
        let found = lock.metadata.as_ref().and_then(|m| m.get(key));
        if let Some(n) = found.and_then(|v| newer_than(v, known)) {
            let line = find_line(text, key, 0).map_or(0, |x| x.0);
            out.notes.push(format!(
                "{path}:{line}: {key} {n} is newer than this reader knows (up to {known}.x); read as {known}.x, so check the result"
            ));
        }
    }
    Ok(out)
}

/// `poetry_groups`: a package whose `groups` (poetry 2) do not include `main` is development-only.
fn read_packages(
    path: &str,
    text: &str,
    tables: &[Spanned<TomlPackage>],
    poetry_groups: bool,
    keep: &mut impl FnMut(&TomlPackage) -> Result<bool, String>,
    out: &mut Parsed,
) {
    let mut lines = super::LineCounter::new(text);
    for table in tables {
        let p = table.get_ref();
        let line = match &p.name {
            Some(n) => lines.line(n.span().start),
            None => lines.line(table.span().start),
        };
        let name = match p.name.as_ref().map(|n| n.get_ref()) {
            Some(toml::Value::String(n)) => n.clone(),
            Some(other) => {
                out.notes.push(format!(
                    "{path}:{line}: package name {other} is not a string"
                ));
                continue;
            }
            None => {
                out.notes
                    .push(format!("{path}:{line}: a [[package]] without `name`"));
                continue;
            }
        };
        match keep(p) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(why) => {
                out.notes.push(format!("{path}:{line}: {why}"));
                continue;
            }
        }
        let v = match &p.version {
            Some(toml::Value::String(v)) => v.clone(),
            other => {
                let found = other.as_ref().map(|v| v as &dyn std::fmt::Display);
                out.notes.push(bad_version(path, line, &name, found));
                continue;
            }
        };
        let mut pkg = Package::new(PY, name, v, path, Some(line));
        pkg.dev = p.category.as_ref().and_then(|c| c.as_str()) == Some("dev")
            || (poetry_groups && poetry_dev_only(p));
        out.packages.push(pkg);
    }
}

/// Poetry 2 lists the groups that need a package (`groups = ["main", "dev"]`); one that no
/// `main` group needs is for development only. (pdm.lock's `groups` name extras as well as
/// development groups, so pdm packages are not marked.)
fn poetry_dev_only(p: &TomlPackage) -> bool {
    p.groups
        .as_ref()
        .and_then(|g| g.as_array())
        .is_some_and(|groups| {
            !groups.is_empty()
                && groups
                    .iter()
                    .all(|g| g.as_str().is_some_and(|s| s != "main"))
        })
}

/// A requirement (markers already cut off) as its name and what follows its extras:
/// `httpx[socks] >=0.27` → (`httpx`, `Some(">=0.27")`); `None` after extras without `]`. The
/// name is what precedes the first character a name cannot hold; check it with `valid_name`.
fn split_requirement(req: &str) -> (&str, Option<&str>) {
    let req = req.trim_start();
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(req.len());
    let rest = req[end..].trim_start();
    let rest = match rest.strip_prefix('[') {
        Some(extras) => extras.split_once(']').map(|x| x.1.trim_start()),
        None => Some(rest),
    };
    (&req[..end], rest)
}

/// The name a requirement string (`idna<4,>=2.5; python_version >= "3"`, `httpx[socks]==0.28`)
/// starts with.
fn requirement_name(req: &str) -> Option<&str> {
    let n = split_requirement(req).0;
    valid_name(n).then_some(n)
}

/// The version constraints of a poetry lock's dependency entry: `">=1,<2"`,
/// `{version = "==1.*", markers = …}`, or an array of those (one per marker fork).
fn poetry_constraints(v: &toml::Value) -> Vec<&str> {
    match v {
        toml::Value::String(s) => vec![s.as_str()],
        toml::Value::Table(t) => t
            .get("version")
            .and_then(|v| v.as_str())
            .into_iter()
            .collect(),
        toml::Value::Array(a) => a.iter().flat_map(poetry_constraints).collect(),
        _ => Vec::new(),
    }
}

/// The version specifier of a requirement string: `>=1,<2` of `name[extra]>=1,<2; markers`.
fn requirement_specifier(req: &str) -> &str {
    let req = req.split(';').next().unwrap_or(req);
    let rest = split_requirement(req).1.unwrap_or("");
    rest.trim().trim_start_matches('(').trim_end_matches(')')
}

/// Whether `version` satisfies a PEP 440 specifier set (`>=0.40.0,<1.8.0`, `==1.*`, `~=2.1`,
/// `*` or empty for any, a bare version for `==`); `None` when the version or a clause cannot be
/// read (Poetry's own `^1.2` and `~1.2` included).
pub(super) fn satisfies(version: &str, spec: &str) -> Option<bool> {
    use crate::version::Pep440Version as V;
    use std::cmp::Ordering::*;
    let v = V::parse(version).ok()?;
    for clause in spec.split(',').map(str::trim) {
        if clause.is_empty() || clause == "*" {
            continue;
        }
        let op_len = clause
            .find(|c: char| !"<>=!~".contains(c))
            .unwrap_or(clause.len());
        // Poetry writes an exact pin as the bare version.
        let (op, target) = match (&clause[..op_len], clause[op_len..].trim()) {
            ("", t) if t.starts_with(|c: char| c.is_ascii_digit()) => ("==", t),
            x => x,
        };
        let ok = if let Some(prefix) = target.strip_suffix(".*") {
            let want = V::parse(prefix).ok()?;
            let n = want.release().len();
            let head = &v.release()[..n.min(v.release().len())];
            let same = head.len() == n && head == want.release();
            match op {
                "==" => same,
                "!=" => !same,
                _ => return None,
            }
        } else {
            let t = V::parse(target).ok()?;
            let ord = v.cmp(&t);
            match op {
                "==" | "===" => ord == Equal,
                "!=" => ord != Equal,
                ">=" => ord != Less,
                "<=" => ord != Greater,
                ">" => ord == Greater,
                "<" => ord == Less,
                "~=" => {
                    let r = t.release();
                    let head = &r[..r.len().saturating_sub(1)];
                    r.len() >= 2 && ord != Less && v.release().starts_with(head)
                }
                _ => return None,
            }
        };
        if !ok {
            return Some(false);
        }
    }
    Some(true)
}

/// The dependency graph of a poetry or pdm lock: each `[[package]]`'s `dependencies` (poetry:
/// a table keyed by name, optional ones included when the package they name was locked; pdm:
/// requirement strings) resolved by normalised name among `packages`; where several versions of
/// a name are locked (poetry forks by markers), to those the dependency's constraints allow. Neither lock says which packages the
/// project itself requires, so the roots are the packages no other locked package needs; with
/// the `pyproject.toml` beside the lock, [`super::parse_with_includes`] adds the declared ones
/// ([`pyproject_direct`]).
fn named_graph(tables: &[Spanned<TomlPackage>], packages: &[Package]) -> super::Graph {
    let mut by_name: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for (i, p) in packages.iter().enumerate() {
        by_name
            .entry(PY.normalize_name(&p.name))
            .or_default()
            .push(i);
    }
    let mut g = super::Graph::default();
    for table in tables {
        let p = table.get_ref();
        let version = p.version.as_ref().and_then(|v| v.as_str());
        let Some(from) = version.and_then(|v| {
            by_name
                .get(&PY.normalize_name(p.name()))?
                .iter()
                .copied()
                .find(|&i| packages[i].version == v)
        }) else {
            continue;
        };
        // (name, the version constraints written for it).
        let deps: Vec<(&str, Vec<&str>)> = match &p.dependencies {
            Some(toml::Value::Table(t)) => t
                .iter()
                .map(|(n, c)| (n.as_str(), poetry_constraints(c)))
                .collect(),
            Some(toml::Value::Array(a)) => a
                .iter()
                .filter_map(|r| {
                    let r = r.as_str()?;
                    let n = requirement_name(r)?;
                    Some((n, vec![requirement_specifier(r)]))
                })
                .collect(),
            _ => Vec::new(),
        };
        for (n, constraints) in deps {
            let all = by_name.get(&PY.normalize_name(n)).map_or(&[][..], |v| v);
            // Several locked versions (poetry forks by markers): the ones the constraints allow,
            // all of them when none does or a constraint cannot be read.
            let allowed: Vec<usize> = match all {
                [_, _, ..] => all
                    .iter()
                    .copied()
                    .filter(|&i| {
                        constraints
                            .iter()
                            .any(|c| satisfies(&packages[i].version, c).unwrap_or(true))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let targets = if allowed.is_empty() {
                all
            } else {
                &allowed[..]
            };
            for &to in targets {
                g.add(Some(from), to);
            }
        }
    }
    g.roots_unneeded(packages.len());
    g.finish()
}

/// The names of the direct dependencies a `pyproject.toml` declares, normalised: PEP 621
/// `[project]` `dependencies` and `optional-dependencies`, PEP 735 `[dependency-groups]`,
/// Poetry's `[tool.poetry.dependencies]` (but `python`), `dev-dependencies` and
/// `group.*.dependencies`, and pdm's `[tool.pdm.dev-dependencies]`. The project's own name (a
/// self-reference to its extras) is left out. `Err` with the TOML error when it does not parse.
pub(super) fn pyproject_direct(text: &str) -> Result<Direct, String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let get = |path: &[&str]| -> Option<&toml::Value> {
        let mut v = doc.get(path[0])?;
        for k in &path[1..] {
            v = v.get(k)?;
        }
        Some(v)
    };
    let (mut prod, mut dev): (Vec<String>, Vec<String>) = Default::default();
    let strings = |v: Option<&toml::Value>, names: &mut Vec<String>| {
        for r in v.and_then(|v| v.as_array()).into_iter().flatten() {
            if let Some(n) = r.as_str().and_then(requirement_name) {
                names.push(PY.normalize_name(n));
            }
        }
    };
    let lists = |v: Option<&toml::Value>, names: &mut Vec<String>| {
        for list in v.and_then(|t| t.as_table()).into_iter().flatten() {
            strings(Some(list.1), names);
        }
    };
    strings(get(&["project", "dependencies"]), &mut prod);
    lists(get(&["project", "optional-dependencies"]), &mut prod);
    lists(get(&["dependency-groups"]), &mut dev);
    lists(get(&["tool", "pdm", "dev-dependencies"]), &mut dev);
    let keys = |v: Option<&toml::Value>, names: &mut Vec<String>| {
        for k in v
            .and_then(|t| t.as_table())
            .into_iter()
            .flatten()
            .map(|x| x.0)
        {
            if k != "python" {
                names.push(PY.normalize_name(k));
            }
        }
    };
    keys(get(&["tool", "poetry", "dependencies"]), &mut prod);
    keys(get(&["tool", "poetry", "dev-dependencies"]), &mut dev);
    for group in get(&["tool", "poetry", "group"])
        .and_then(|t| t.as_table())
        .into_iter()
        .flatten()
    {
        keys(group.1.get("dependencies"), &mut dev);
    }
    let own = get(&["project", "name"])
        .or_else(|| get(&["tool", "poetry", "name"]))
        .and_then(|n| n.as_str())
        .map(|n| PY.normalize_name(n));
    for names in [&mut prod, &mut dev] {
        names.retain(|n| Some(n) != own.as_ref());
        names.sort();
        names.dedup();
    }
    dev.retain(|n| prod.binary_search(n).is_err());
    Ok(Direct { prod, dev })
}

/// A `pyproject.toml`'s direct dependencies, normalised and sorted: `dev` those only in
/// development groups (PEP 735 groups, Poetry groups, pdm's dev-dependencies), `prod` the others.
pub(super) struct Direct {
    pub(super) prod: Vec<String>,
    pub(super) dev: Vec<String>,
}

/// Add the packages a `pyproject.toml` declares ([`pyproject_direct`]) to the roots of a poetry
/// or pdm lock's graph, and mark what only its development groups lead to as development-only.
/// (The packages nothing else needs stay roots: in a lock that is not stale, the project needs
/// them, whatever form its declaration takes.)
pub(super) fn roots_from_pyproject(out: &mut Parsed, direct: &Direct) {
    let (mut prod, mut dev) = (Vec::new(), Vec::new());
    for (i, p) in out.packages.iter().enumerate() {
        let n = PY.normalize_name(&p.name);
        if direct.prod.binary_search(&n).is_ok() {
            prod.push(i);
        } else if direct.dev.binary_search(&n).is_ok() {
            dev.push(i);
        }
    }
    super::add_declared_roots(out, prod, dev);
}

/// The format version `v` (a string such as `"2.1"` or a number) when its major part is above
/// `known`.
fn newer_than(v: &toml::Value, known: u64) -> Option<String> {
    let s = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        _ => return None,
    };
    let major: u64 = s.split('.').next()?.trim().parse().ok()?;
    (major > known).then(|| format!("`{s}`"))
}

pub(super) fn poetry_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    toml_packages(path, text, Some(("lock-version", 2)), true, |p| {
        let kind = p
            .source
            .as_ref()
            .and_then(|s| s.get("type"))
            .and_then(|t| t.as_str());
        if kind == Some("directory") {
            return Err(format!("`{}` is a local directory package", p.name()));
        }
        Ok(true)
    })
}

pub(super) fn uv_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let lock: PackageLock = toml::from_str(text).map_err(|e| toml_err(path, text, &e))?;
    if let Some(v) = &lock.version {
        if v.as_integer() != Some(1) {
            return Err(err(
                path,
                Some(1),
                format!("unsupported uv.lock version {v} (supported: 1)"),
            ));
        }
    }
    let mut out = Parsed::default();
    read_packages(
        path,
        text,
        &lock.package,
        false,
        &mut |p| Ok(!uv_local(p)),
        &mut out,
    );
    let (graph, prod, dev) = uv_graph(&lock.package, &out.packages);
    out.graph = Some(graph);
    super::add_declared_roots(&mut out, prod, dev);
    Ok(out)
}

/// The project's own packages in a `uv.lock` (editable, virtual, directory, path sources).
fn uv_local(p: &TomlPackage) -> bool {
    p.source.as_ref().is_some_and(|s| {
        ["editable", "virtual", "directory", "path"]
            .iter()
            .any(|k| s.get(*k).is_some())
    })
}

/// The dependency graph of a `uv.lock`: every package's `dependencies`, `optional-dependencies`
/// (extras) and `dev-dependencies` (groups) entries, `{ name, version? }`, resolved by name (and
/// version where uv writes one because several are locked) among `packages`, the ones read; the
/// project's own (editable, virtual) packages' entries are returned as the direct dependencies,
/// production (dependencies, extras) and development (groups), for
/// [`super::add_declared_roots`].
fn uv_graph(
    tables: &[Spanned<TomlPackage>],
    packages: &[Package],
) -> (super::Graph, Vec<usize>, Vec<usize>) {
    let mut g = super::Graph::default();
    let (mut prod_roots, mut dev_roots): (Vec<usize>, Vec<usize>) = Default::default();
    let by_name = super::indices_by_name(packages);
    let find = |e: &toml::Value| -> Option<usize> {
        let hits = by_name.get(e.get("name")?.as_str()?)?;
        match e.get("version").and_then(|v| v.as_str()) {
            Some(v) => hits.iter().copied().find(|&i| packages[i].version == v),
            None if hits.len() == 1 => Some(hits[0]),
            None => None,
        }
    };
    // Entries of `dependencies = [..]` and of every list in `optional-`/`dev-dependencies`.
    let entries = |p: &TomlPackage| -> Vec<toml::Value> {
        let mut v: Vec<toml::Value> = Vec::new();
        if let Some(toml::Value::Array(a)) = &p.dependencies {
            v.extend(a.iter().cloned());
        }
        for t in [&p.optional_dependencies, &p.dev_dependencies]
            .into_iter()
            .flatten()
        {
            if let Some(t) = t.as_table() {
                for list in t.values().filter_map(|l| l.as_array()) {
                    v.extend(list.iter().cloned());
                }
            }
        }
        v
    };
    for table in tables {
        let p = table.get_ref();
        // The project's own packages (a virtual root may have no version) give the roots.
        let from = if uv_local(p) {
            None
        } else {
            let version = p.version.as_ref().and_then(|v| v.as_str());
            let found = version.and_then(|v| {
                by_name
                    .get(p.name())?
                    .iter()
                    .copied()
                    .find(|&i| packages[i].version == v)
            });
            match found {
                Some(i) => Some(i),
                None => continue,
            }
        };
        let Some(from) = from else {
            // The project's dependencies and extras, and its dependency groups
            // (`[package.dev-dependencies]`, uv's name for them).
            if let Some(toml::Value::Array(a)) = &p.dependencies {
                prod_roots.extend(a.iter().filter_map(&find));
            }
            for (t, into) in [
                (&p.optional_dependencies, &mut prod_roots),
                (&p.dev_dependencies, &mut dev_roots),
            ] {
                for list in t
                    .iter()
                    .filter_map(|t| t.as_table())
                    .flat_map(|t| t.values())
                {
                    into.extend(list.as_array().into_iter().flatten().filter_map(&find));
                }
            }
            continue;
        };
        for to in entries(p).iter().filter_map(&find) {
            g.add(Some(from), to);
        }
    }
    (g, prod_roots, dev_roots)
}

pub(super) fn pdm_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    toml_packages(path, text, Some(("lock_version", 4)), false, |_| Ok(true))
}

pub(super) fn pylock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    #[derive(Deserialize)]
    struct Pylock {
        #[serde(rename = "lock-version", default)]
        lock_version: Option<String>,
        #[serde(default)]
        packages: Vec<Spanned<TomlPackage>>,
    }
    let lock: Pylock = toml::from_str(text).map_err(|e| toml_err(path, text, &e))?;
    match lock.lock_version.as_deref() {
        Some(v) if v.split('.').next() == Some("1") => {}
        Some(v) => {
            return Err(err(
                path,
                find_line(text, "lock-version", 0).map(|x| x.0),
                format!("unsupported pylock lock-version `{v}` (supported: 1.x)"),
            ));
        }
        None => return Err(err(path, None, "not a pylock file: no `lock-version`")),
    }
    let mut out = Parsed::default();
    let mut keep = |p: &TomlPackage| match p.version {
        None => Err(format!(
            "`{}` has no version (VCS or directory package)",
            p.name()
        )),
        Some(_) => Ok(true),
    };
    read_packages(path, text, &lock.packages, false, &mut keep, &mut out);
    Ok(out)
}

pub(super) fn pipfile_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| json_err(path, &e))?;
    let obj = v.as_object().ok_or_else(|| {
        err(
            path,
            Some(1),
            "not a Pipfile.lock: top level is not an object",
        )
    })?;
    let mut out = Parsed::default();
    let spec = obj.get("_meta").and_then(|m| m.get("pipfile-spec"));
    if let Some(n) = spec.and_then(|s| s.as_u64()).filter(|n| *n > 6) {
        out.notes.push(format!(
            "{path}:{}: pipfile-spec {n} is newer than this reader knows (up to 6); read as 6, so check the result",
            find_line(text, "\"pipfile-spec\"", 0).map_or(0, |x| x.0)
        ));
    }
    for (section, dev) in [("default", false), ("develop", true)] {
        let map = match obj.get(section) {
            None => continue,
            Some(serde_json::Value::Object(m)) => m,
            Some(_) => {
                // A section of the wrong type used to vanish without a word.
                out.notes.push(format!(
                    "{path}:{}: `{section}` is not an object; its packages were not read",
                    find_line(text, &format!("\"{section}\""), 0).map_or(0, |x| x.0)
                ));
                continue;
            }
        };
        let sec_at = find_line(text, &format!("\"{section}\""), 0).map_or(0, |x| x.1);
        // pipenv writes the packages sorted, as they are read: each search starts where the
        // last one ended (from the section's start again if a hand-edited file is out of order).
        let mut from = sec_at;
        let mut lines = super::LineCounter::new(text);
        for (name, info) in map {
            let key = format!("\"{name}\"");
            let hit = lines.find(&key, from).or_else(|| lines.find(&key, sec_at));
            if let Some((_, at)) = hit {
                from = at;
            }
            let line = hit.map(|x| x.0);
            let ver = match info.get("version") {
                Some(serde_json::Value::String(v)) => v.as_str(),
                Some(other) => {
                    out.notes
                        .push(bad_version(path, line.unwrap_or(0), name, Some(other)));
                    continue;
                }
                None => {
                    out.notes.push(format!(
                        "{path}:{}: `{name}` has no version (VCS or path dependency)",
                        line.unwrap_or(0)
                    ));
                    continue;
                }
            };
            let pinned = match ver.strip_prefix("==") {
                Some(v) => Some(v.trim_start_matches('=')),
                None => ver.starts_with(|c: char| c.is_ascii_digit()).then_some(ver),
            };
            let Some(ver) = pinned else {
                // pipenv writes `"*"` for packages whose markers exclude the locking platform.
                out.notes.push(format!(
                    "{path}:{}: `{name}` is not pinned (`{ver}`; pipenv leaves packages whose markers exclude this platform unresolved); no version to check",
                    line.unwrap_or(0)
                ));
                continue;
            };
            let ver = ver.trim();
            let mut p = Package::new(PY, name.clone(), ver, path, line);
            p.dev = dev;
            out.packages.push(p);
        }
    }
    Ok(out)
}

/// `METADATA` / `PKG-INFO`: RFC 822 headers `Name:` and `Version:`.
pub(super) fn metadata(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let mut name = None;
    let mut version = None;
    let (mut expression, mut free_text) = (None, None);
    let mut classifiers: Vec<String> = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        if line.trim().is_empty() {
            break; // end of headers; the body is the description
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if k.eq_ignore_ascii_case("name") && name.is_none() {
                name = Some((v.trim().to_string(), i as u32 + 1));
            } else if k.eq_ignore_ascii_case("version") && version.is_none() {
                version = Some(v.trim().to_string());
            } else if k.eq_ignore_ascii_case("license-expression") {
                expression = Some(v.trim().to_string());
            } else if k.eq_ignore_ascii_case("classifier") {
                // `License :: OSI Approved :: MIT License` names the licence in its last part.
                if let Some(l) = v.trim().strip_prefix("License ::") {
                    let last = l.rsplit("::").next().unwrap_or(l).trim();
                    if !last.is_empty() && last != "OSI Approved" {
                        classifiers.push(last.to_string());
                    }
                }
            } else if k.eq_ignore_ascii_case("license") {
                // Often the whole licence text, continued on indented lines: only a short
                // one-line value names a licence.
                let continued = lines
                    .peek()
                    .is_some_and(|(_, l)| l.starts_with([' ', '\t']));
                let v = v.trim();
                if !continued && !v.is_empty() && v.len() <= 80 && v != "UNKNOWN" {
                    free_text = Some(v.to_string());
                }
            }
        }
    }
    match (name, version) {
        (Some((n, line)), Some(v)) if !n.is_empty() && !v.is_empty() => {
            let mut out = Parsed::default();
            let mut p = Package::new(PY, n, v, path, Some(line));
            // The expression; else a short `License:`; else the one licence classifier.
            p.license = match expression.filter(|e| !e.is_empty()) {
                Some(e) => Some(super::License::Spdx(e)),
                None => free_text
                    .or_else(|| (classifiers.len() == 1).then(|| classifiers.remove(0)))
                    .map(super::License::Text),
            };
            out.packages.push(p);
            Ok(out)
        }
        _ => Err(err(
            path,
            None,
            "package metadata without `Name:` and `Version:` headers",
        )),
    }
}
