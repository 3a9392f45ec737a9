//! JavaScript: npm, yarn and pnpm lockfiles, installed `node_modules`.

use super::{InventoryError, Package, Parsed, bad_version, err, find_line, json_err, sri};
use crate::Ecosystem;
use serde_json::Value;

const NPM: Ecosystem = Ecosystem::Npm;

fn is_registry_version(v: &str) -> bool {
    crate::version::SemverVersion::parse_npm(v).is_ok()
}

/// Where each object key of a pretty-printed JSON file starts a line (`<indent>"key": {`), for
/// line numbers in one pass instead of a search per package: (indent, key) → (byte offset of the
/// line, 1-based line number), in file order.
struct KeyLines<'t> {
    at: std::collections::HashMap<(usize, &'t str), Vec<(usize, u32)>>,
}

impl<'t> KeyLines<'t> {
    fn new(text: &'t str) -> Self {
        let mut at: std::collections::HashMap<(usize, &'t str), Vec<(usize, u32)>> =
            Default::default();
        let mut off = 0;
        for (i, line) in text.split('\n').enumerate() {
            let t = line.trim_end_matches('\r');
            let body = t.trim_start_matches(' ');
            if let Some(key) = body
                .strip_prefix('"')
                .and_then(|b| b.strip_suffix("\": {"))
                .filter(|k| !k.contains('"'))
            {
                at.entry((t.len() - body.len(), key))
                    .or_default()
                    .push((off, i as u32 + 1));
            }
            off += line.len() + 1;
        }
        KeyLines { at }
    }

    /// The first line at or after byte `from` that opens `key` at `indent`: (line, offset).
    fn find(&self, indent: usize, key: &str, from: usize) -> Option<(u32, usize)> {
        let v = self.at.get(&(indent, key))?;
        let i = v.partition_point(|&(o, _)| o < from);
        v.get(i).map(|&(o, l)| (l, o))
    }
}

/// `package-lock.json` / `npm-shrinkwrap.json`, lockfile versions 1, 2 and 3.
pub(super) fn npm_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let v: Value = serde_json::from_str(text).map_err(|e| json_err(path, &e))?;
    let obj = v
        .as_object()
        .ok_or_else(|| err(path, Some(1), "top level is not an object"))?;
    let mut out = Parsed::default();
    let lv_line = || find_line(text, "\"lockfileVersion\"", 0).map_or(1, |x| x.0);
    let lv = match obj.get("lockfileVersion") {
        None => 1,
        Some(x) => match x
            .as_i64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) => {
                if !x.is_i64() {
                    out.notes.push(format!(
                        "{path}:{}: lockfileVersion {x} is not a number; read as {n}",
                        lv_line()
                    ));
                }
                n
            }
            None => {
                return Err(err(
                    path,
                    Some(lv_line()),
                    format!("unreadable lockfileVersion {x}"),
                ));
            }
        },
    };
    if !(1..=3).contains(&lv) {
        return Err(err(
            path,
            Some(lv_line()),
            format!("unsupported lockfileVersion {lv} (supported: 1, 2, 3)"),
        ));
    }
    let key_lines = KeyLines::new(text);
    if let Some(pkgs) = obj.get("packages") {
        let Some(pkgs_map) = pkgs.as_object() else {
            return Err(err(
                path,
                find_line(text, "\"packages\"", 0).map(|x| x.0),
                format!("`packages` is {}, not an object", json_kind(pkgs)),
            ));
        };
        let pkgs = pkgs_map;
        // Index of each package key in `out.packages`, for the graph.
        let mut at_key: std::collections::HashMap<&str, usize> = Default::default();
        for (key, info) in pkgs {
            let Some(idx) = key.rfind("node_modules/") else {
                continue; // the root project or a workspace folder
            };
            let line = key_lines
                .find(4, key, 0)
                .or_else(|| find_line(text, &format!("\"{key}\""), 0))
                .map_or(0, |x| x.0);
            let Some(info) = info.as_object() else {
                out.notes.push(format!(
                    "{path}:{line}: entry `{key}` is {}, not an object",
                    json_kind(info)
                ));
                continue;
            };
            let name = info
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or(&key[idx + "node_modules/".len()..]);
            if info.get("link").and_then(|l| l.as_bool()) == Some(true) {
                let to = info.get("resolved").and_then(|r| r.as_str()).unwrap_or("?");
                // Workspace members are the project's own code; other links are local packages.
                if !is_workspace(obj, to) {
                    out.notes.push(format!(
                        "{path}:{line}: `{name}` is a local package (link to `{to}`); not checked against advisories"
                    ));
                }
                continue;
            }
            let ver = match info.get("version") {
                Some(Value::String(v)) => v.as_str(),
                other => {
                    let found = other.map(|v| v as &dyn std::fmt::Display);
                    out.notes.push(bad_version(path, line, name, found));
                    continue;
                }
            };
            if !is_registry_version(ver) {
                out.notes.push(unregistered(path, line, name, ver));
                continue;
            }
            at_key.insert(key.as_str(), out.packages.len());
            out.packages.push(npm_package(name, ver, path, line, info));
        }
        out.graph = Some(npm_graph(pkgs, &at_key));
        return Ok(out);
    }
    // Version 1: nested `dependencies`.
    fn walk(
        path: &str,
        text: &str,
        key_lines: &KeyLines<'_>,
        deps: &serde_json::Map<String, Value>,
        from: usize,
        out: &mut Parsed,
        depth: usize,
    ) {
        if depth > 64 {
            out.notes.push(format!(
                "{path}: dependencies nested more than 64 deep; deeper ones skipped"
            ));
            return;
        }
        for (name, info) in deps {
            // npm writes an entry at depth d as `"name": {` indented 4 + 4d spaces; a
            // `requires` line `"name": "^1.0"`, or a nested entry of the same name, is not it.
            let found = key_lines
                .find(4 + 4 * depth, name, from)
                .or_else(|| find_line(text, &format!("\"{name}\": {{"), from))
                .or_else(|| find_line(text, &format!("\"{name}\""), from));
            let line = found.map_or(0, |x| x.0);
            let at = found.map_or(from, |x| x.1);
            let Some(info) = info.as_object() else {
                out.notes.push(format!(
                    "{path}:{line}: entry `{name}` is {}, not an object",
                    json_kind(info)
                ));
                continue;
            };
            match info.get("version") {
                Some(Value::String(ver)) => {
                    // Aliases are written `npm:real-name@1.2.3`; registry tarballs by their URL.
                    let (n, v) = match ver.strip_prefix("npm:").and_then(|r| r.rsplit_once('@')) {
                        Some((n, v)) => (n, v),
                        None => registry_tarball(ver).unwrap_or((name.as_str(), ver)),
                    };
                    if is_registry_version(v) {
                        out.packages.push(npm_package(n, v, path, line, info));
                    } else {
                        out.notes.push(unregistered(path, line, name, ver));
                    }
                }
                other => {
                    let found = other.map(|v| v as &dyn std::fmt::Display);
                    out.notes.push(bad_version(path, line, name, found));
                }
            }
            match info.get("dependencies") {
                Some(Value::Object(sub)) => walk(path, text, key_lines, sub, at, out, depth + 1),
                Some(other) => out.notes.push(format!(
                    "{path}:{line}: `dependencies` of `{name}` is {}, not an object; what it nests is skipped",
                    json_kind(other)
                )),
                None => {}
            }
        }
    }
    match obj.get("dependencies") {
        Some(Value::Object(deps)) => walk(path, text, &key_lines, deps, 0, &mut out, 0),
        Some(other) => {
            return Err(err(
                path,
                find_line(text, "\"dependencies\"", 0).map(|x| x.0),
                format!("`dependencies` is {}, not an object", json_kind(other)),
            ));
        }
        None => {}
    }
    Ok(out)
}

/// The package of an npm lockfile entry `info` (any version): its `dev` flag and its
/// `integrity` digests come from the entry. `line` 0 is unknown.
fn npm_package(
    name: &str,
    version: &str,
    path: &str,
    line: u32,
    info: &serde_json::Map<String, Value>,
) -> Package {
    let mut p = Package::new(NPM, name, version, path, Some(line).filter(|l| *l > 0));
    p.dev = info.get("dev").and_then(|d| d.as_bool()) == Some(true);
    p.hashes = info
        .get("integrity")
        .and_then(|i| i.as_str())
        .map(sri)
        .unwrap_or_default();
    p.license = npm_license(info.get("license"), info.get("licenses")).map(super::License::Spdx);
    p
}

/// A `license` field (`"MIT"`, `"(MIT OR Apache-2.0)"`, or the old `{"type": "MIT"}`), else the
/// old `licenses` list (`[{"type": "MIT"}, …]`, any of them: joined with `OR`).
fn npm_license(license: Option<&Value>, licenses: Option<&Value>) -> Option<String> {
    let one = |v: &Value| -> Option<String> {
        let s = v.as_str().or_else(|| v.get("type")?.as_str())?.trim();
        (!s.is_empty()).then(|| s.to_string())
    };
    if let Some(l) = license.and_then(one) {
        return Some(l);
    }
    let list: Vec<String> = licenses?.as_array()?.iter().filter_map(one).collect();
    super::any_of(&list)
}

/// The dependency graph of a lockfile v2/v3: each entry's `dependencies`,
/// `optionalDependencies` and `peerDependencies` resolved the way Node resolves `require` — the
/// nearest `node_modules/<name>` walking up from the entry's own folder. The root (`""`) and
/// workspace folders give the direct dependencies (their `devDependencies` too). Links are
/// followed to their target folder.
fn npm_graph(
    pkgs: &serde_json::Map<String, Value>,
    at_key: &std::collections::HashMap<&str, usize>,
) -> super::Graph {
    // The package a dependency `name` of the entry at `key` resolves to.
    let resolve = |key: &str, name: &str| -> Option<usize> {
        let mut base = key.to_string();
        loop {
            let candidate = if base.is_empty() {
                format!("node_modules/{name}")
            } else {
                format!("{base}/node_modules/{name}")
            };
            if let Some(i) = at_key.get(candidate.as_str()) {
                return Some(*i);
            }
            if let Some(e) = pkgs.get(&candidate) {
                // A link: the package is the folder it points at, if that is installed.
                if let Some(to) = e.get("resolved").and_then(|r| r.as_str()) {
                    return at_key.get(to).copied();
                }
            }
            if base.is_empty() {
                return None;
            }
            // Up one level: drop the last `node_modules/<name>` (or the workspace folder).
            base = match base.rfind("/node_modules/") {
                Some(i) => base[..i].to_string(),
                None => String::new(),
            };
        }
    };
    let mut g = super::Graph::default();
    for (key, info) in pkgs {
        let from = at_key.get(key.as_str()).copied();
        let project = !key.contains("node_modules/");
        if from.is_none() && !project {
            continue;
        }
        let mut sections = vec!["dependencies", "optionalDependencies", "peerDependencies"];
        if project {
            sections.push("devDependencies");
        }
        for sec in sections {
            let Some(deps) = info.get(sec).and_then(|d| d.as_object()) else {
                continue;
            };
            for name in deps.keys() {
                if let Some(to) = resolve(key, name) {
                    g.add(from, to);
                }
            }
        }
    }
    g.finish()
}

/// Whether `folder` is one of the `workspaces` globs of the root `package.json` copy in a
/// lockfile v2/v3 (`packages[""].workspaces`, an array or `{"packages": [...]}`).
fn is_workspace(lock: &serde_json::Map<String, Value>, folder: &str) -> bool {
    let root = lock.get("packages").and_then(|p| p.get(""));
    let ws = root.and_then(|r| r.get("workspaces"));
    let globs = ws
        .and_then(|w| {
            w.as_array()
                .or_else(|| w.get("packages").and_then(|p| p.as_array()))
        })
        .map(|a| a.iter().filter_map(|g| g.as_str()).collect::<Vec<_>>())
        .unwrap_or_default();
    globs
        .iter()
        .any(|g| glob_dir_match(g.trim_start_matches("./"), folder))
}

/// Match a workspace glob (`packages/*`, `apps/**`, `tools/cli`) against a folder.
fn glob_dir_match(glob: &str, folder: &str) -> bool {
    let g: Vec<&str> = glob.trim_end_matches('/').split('/').collect();
    let f: Vec<&str> = folder.split('/').collect();
    fn m(g: &[&str], f: &[&str]) -> bool {
        match (g.first(), f.first()) {
            (None, None) => true,
            (Some(&"**"), _) => m(&g[1..], f) || (!f.is_empty() && m(g, &f[1..])),
            (Some(p), Some(s)) => seg(p, s) && m(&g[1..], &f[1..]),
            _ => false,
        }
    }
    fn seg(p: &str, s: &str) -> bool {
        match p.split_once('*') {
            None => p == s,
            Some((pre, post)) => {
                s.len() >= pre.len() + post.len() && s.starts_with(pre) && s.ends_with(post)
            }
        }
    }
    m(&g, &f)
}

/// `(name, version)` of a public-registry tarball URL
/// (`https://registry.npmjs.org/@scope/name/-/name-1.2.3.tgz`), as npm lockfile v1 writes for a
/// dependency given by its tarball.
fn registry_tarball(url: &str) -> Option<(&str, &str)> {
    let rest = ["https://", "http://"]
        .iter()
        .find_map(|s| url.strip_prefix(s))?;
    let rest = ["registry.npmjs.org/", "registry.yarnpkg.com/"]
        .iter()
        .find_map(|h| rest.strip_prefix(h))?;
    let (name, file) = rest.split_once("/-/")?;
    let base = name.rsplit('/').next()?;
    let ver = file
        .strip_suffix(".tgz")?
        .strip_prefix(base)?
        .strip_prefix('-')?;
    is_registry_version(ver).then_some((name, ver))
}

/// What a JSON value is, for messages.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The note for a package passed over because `ver` is not a registry version.
fn unregistered(path: &str, line: u32, name: &str, ver: &str) -> String {
    let local = ["file:", "link:", "portal:", "workspace:"]
        .iter()
        .any(|p| ver.starts_with(p));
    if local {
        format!(
            "{path}:{line}: `{name}` is a local package (`{ver}`); not checked against advisories"
        )
    } else if ver.contains(':') || ver.contains('/') {
        format!("{path}:{line}: `{name}` is not from the registry (`{ver}`)")
    } else {
        format!("{path}:{line}: `{name}` has version `{ver}`, which is not a SemVer version")
    }
}

/// Split `name@range` (scoped names start with `@`).
fn split_spec(spec: &str) -> Option<(&str, &str)> {
    let s = spec.trim().trim_matches('"');
    let skip = usize::from(s.starts_with('@'));
    let at = s[skip..].find('@')? + skip;
    Some((&s[..at], &s[at + 1..]))
}

/// `name@range` of a line of an entry's `dependencies`: `mime-types "~2.1.34"` (v1),
/// `mime-types: "npm:~2.1.34"` or `"@types/node": "npm:*"` (berry).
fn yarn_dependency(t: &str, berry: bool) -> Option<String> {
    let (name, range) = if let Some(rest) = t.strip_prefix('"') {
        let (n, r) = rest.split_once('"')?;
        (n, r.trim_start_matches(':'))
    } else if berry {
        t.split_once(": ")?
    } else {
        t.split_once(' ')?
    };
    let range = range.trim().trim_matches('"');
    (!name.is_empty() && !range.is_empty()).then(|| format!("{name}@{range}"))
}

/// The graph of a yarn.lock: each entry's dependencies resolved to the entry that answers
/// their `name@range` (`answers`, sorted; berry also as `name@npm:range`, which older berry
/// files leave out of dependency lines). Berry's workspace entries give the roots; yarn 1
/// has none, so its roots are the packages nothing else needs until
/// [`roots_from_package_json`] adds the declared ones.
fn yarn_graph(
    answers: &[(String, usize)],
    wants: &[(Option<usize>, Vec<String>)],
    n: usize,
    berry: bool,
) -> super::Graph {
    let find = |d: &str| -> Option<usize> {
        let look = |d: &str| {
            let i = answers.partition_point(|(a, _)| a.as_str() < d);
            answers.get(i).filter(|(a, _)| a == d).map(|(_, p)| *p)
        };
        look(d).or_else(|| {
            let (name, range) = split_spec(d)?;
            (berry && !range.contains(':')).then(|| look(&format!("{name}@npm:{range}")))?
        })
    };
    let mut g = super::Graph::default();
    for (from, deps) in wants {
        for to in deps.iter().filter_map(|d| find(d)) {
            g.add(*from, to);
        }
    }
    if !berry {
        g.roots_unneeded(n);
    }
    g.finish()
}

/// Add the dependencies a yarn project's `package.json` declares (`dependencies`,
/// `devDependencies`, `optionalDependencies`) to the roots of its lock's graph, and mark the
/// packages only its `devDependencies` lead to as development-only.
pub(super) fn roots_from_package_json(out: &mut Parsed, manifest: &Value) {
    let find = |name: &str, range: &str| {
        [format!("{name}@{range}"), format!("{name}@npm:{range}")]
            .into_iter()
            .find_map(|d| {
                let i = out.descriptors.partition_point(|(a, _)| *a < d);
                out.descriptors.get(i).filter(|(a, _)| *a == d).map(|x| x.1)
            })
    };
    let (mut prod, mut dev) = (Vec::new(), Vec::new());
    for (section, is_dev) in [
        ("dependencies", false),
        ("optionalDependencies", false),
        ("devDependencies", true),
    ] {
        let Some(deps) = manifest.get(section).and_then(|d| d.as_object()) else {
            continue;
        };
        for (name, range) in deps {
            if let Some(i) = range.as_str().and_then(|r| find(name, r)) {
                if is_dev { dev.push(i) } else { prod.push(i) }
            }
        }
    }
    super::add_declared_roots(out, prod, dev);
}

/// One entry of a yarn.lock.
struct YarnEntry {
    header: String,
    line: u32,
    version: Option<String>,
    resolution: Option<String>,
    integrity: Option<String>,
    /// `name@range` of each `dependencies`/`optionalDependencies` line.
    deps: Vec<String>,
}

/// One yarn.lock entry into `out`: a package, a note (local packages), or a problem.
fn yarn_entry(path: &str, e: YarnEntry, out: &mut Parsed, problems: &mut Vec<(u32, String)>) {
    let (h, line) = (e.header, e.line);
    if h == "__metadata" {
        return;
    }
    let first = h.split(", ").next().unwrap_or("").trim().trim_matches('"');
    let Some((name, range)) = split_spec(first) else {
        problems.push((line, format!("cannot read entry `{h}`")));
        return;
    };
    let res = e.resolution.unwrap_or_default();
    let local = ["workspace:", "link:", "portal:", "file:"]
        .iter()
        .find(|p| range.starts_with(**p) || res.contains(&format!("@{p}")));
    if let Some(p) = local {
        // Workspace members are the project's own code; other local packages are noted.
        if *p != "workspace:" {
            // Berry appends `::locator=<workspace>` to local ranges.
            let range = range.split("::").next().unwrap_or(range);
            out.notes.push(format!(
                "{path}:{line}: `{name}` is a local package (`{range}`); not checked against advisories"
            ));
        }
        return;
    }
    let Some(ver) = e.version else {
        problems.push((line, format!("entry `{name}` has no version")));
        return;
    };
    if !is_registry_version(&ver) {
        out.notes.push(unregistered(path, line, name, &ver));
        return;
    }
    // Aliases: `alias@npm:real@^1` — the real name is in the range.
    let real = range
        .strip_prefix("npm:")
        .and_then(split_spec)
        .map(|(n, _)| n)
        .unwrap_or(name);
    let mut p = Package::new(NPM, real, &ver, path, Some(line));
    // Yarn 1's `integrity` is the npm tarball's; berry's `checksum` is of its own cache
    // archive, another artifact, so it is not used.
    p.hashes = e.integrity.as_deref().map(sri).unwrap_or_default();
    out.packages.push(p);
}

/// `yarn.lock`, classic (v1) and berry (v2+, YAML).
///
/// An entry that cannot be read is noted and passed over; the file is an error only when nothing
/// in it could be read.
pub(super) fn yarn_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let berry = text.lines().any(|l| l.starts_with("__metadata:"));
    let mut out = Parsed::default();
    let mut problems: Vec<(u32, String)> = Vec::new();
    // The graph: every descriptor an entry answers, and each entry's dependencies as written;
    // `None` for a workspace (the project).
    let mut answers: Vec<(String, usize)> = Vec::new();
    let mut wants: Vec<(Option<usize>, Vec<String>)> = Vec::new();
    let mut finish = |mut e: YarnEntry, out: &mut Parsed, problems: &mut Vec<(u32, String)>| {
        let before = out.packages.len();
        let descriptors: Vec<String> = (e.header.split(", "))
            .map(|d| d.trim().trim_matches('"').to_string())
            .collect();
        let workspace = descriptors.iter().any(|d| d.contains("@workspace:"));
        let deps = std::mem::take(&mut e.deps);
        yarn_entry(path, e, out, problems);
        if out.packages.len() > before {
            answers.extend(descriptors.into_iter().map(|d| (d, before)));
            wants.push((Some(before), deps));
        } else if workspace {
            wants.push((None, deps));
        }
    };
    let mut entry: Option<YarnEntry> = None;
    let mut in_deps = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let lineno = i as u32 + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            if let Some(e) = entry.take() {
                finish(e, &mut out, &mut problems);
            }
            in_deps = false;
            match line.strip_suffix(':') {
                Some(h) => {
                    entry = Some(YarnEntry {
                        header: h.to_string(),
                        line: lineno,
                        version: None,
                        resolution: None,
                        integrity: None,
                        deps: Vec::new(),
                    })
                }
                None => problems.push((
                    lineno,
                    format!("expected `package@range:`, found `{}`", line.trim()),
                )),
            }
            continue;
        }
        let Some(e) = entry.as_mut() else {
            continue; // the body of an entry whose header could not be read
        };
        let t = line.trim();
        let indent = line.len() - line.trim_start().len();
        if indent == 4 && in_deps {
            if let Some(d) = yarn_dependency(t, berry) {
                e.deps.push(d);
            }
            continue;
        }
        if indent != 2 {
            continue;
        }
        in_deps = matches!(t, "dependencies:" | "optionalDependencies:");
        let sep = if berry { ": " } else { " " };
        let Some((key, val)) = t.split_once(sep) else {
            continue;
        };
        let val = val.trim().trim_matches('"').to_string();
        match key {
            "version" => e.version = Some(val),
            "resolution" => e.resolution = Some(val),
            "integrity" if !berry => e.integrity = Some(val),
            _ => {}
        }
    }
    if let Some(e) = entry.take() {
        finish(e, &mut out, &mut problems);
    }
    answers.sort();
    out.graph = Some(yarn_graph(&answers, &wants, out.packages.len(), berry));
    out.descriptors = answers;
    super::notes_or_error(path, &mut out, problems)?;
    if let Some(n) = truncated(path, text) {
        out.notes.push(n);
    }
    if !berry && !out.packages.is_empty() && !text.contains("yarn lockfile v1") {
        out.notes.push(format!(
            "{path}: no `# yarn lockfile v1` header; read as v1"
        ));
    }
    Ok(out)
}

/// A note when a generated text lockfile does not end with a newline: its writer always ends
/// one, so the file was most likely cut off and what followed is missing.
fn truncated(path: &str, text: &str) -> Option<String> {
    if text.is_empty() || text.ends_with('\n') {
        return None;
    }
    let line = text.lines().count();
    Some(format!(
        "{path}:{line}: the file ends in the middle of a line, so it looks truncated; entries after it are missing"
    ))
}

/// `pnpm-lock.yaml`, lockfile versions 5.x, 6.x, 7.x and 9.x (the `packages:` section).
pub(super) fn pnpm_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let mut lv: Option<f64> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(v) = line.strip_prefix("lockfileVersion:") {
            let v = v.trim().trim_matches(['\'', '"']);
            lv = Some(v.parse().map_err(|_| {
                err(
                    path,
                    Some(i as u32 + 1),
                    format!("unreadable lockfileVersion `{v}`"),
                )
            })?);
            break;
        }
    }
    let Some(lv) = lv else {
        return Err(err(path, None, "not a pnpm lockfile: no `lockfileVersion`"));
    };
    if !(5.0..10.0).contains(&lv) || (8.0..9.0).contains(&lv) {
        return Err(err(
            path,
            find_line(text, "lockfileVersion", 0).map(|x| x.0),
            format!("unsupported pnpm lockfileVersion {lv} (supported: 5.x, 6.x, 7.x, 9.x)"),
        ));
    }
    let slash_style = lv < 6.0;
    let mut out = Parsed::default();
    let mut in_packages = false;
    let mut last: Option<usize> = None;
    // The graph, collected as written and resolved at the end (importers come before packages).
    let mut top = String::new();
    let mut owner: Option<PnpmOwner> = None;
    let mut dep_block = false;
    let mut pending_name: Option<String> = None;
    let mut refs: Vec<(PnpmOwner, String, String)> = Vec::new();
    let (mut tab_line, mut open_brace_line) = (None, None);
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let lineno = i as u32 + 1;
        let body = line.trim_start_matches([' ', '\t']);
        if tab_line.is_none() && line[..line.len() - body.len()].contains('\t') {
            tab_line = Some(lineno);
        }
        // pnpm writes every flow mapping (`resolution: {integrity: …}`) on one line.
        if open_brace_line.is_none() && body.matches('{').count() > body.matches('}').count() {
            open_brace_line = Some(lineno);
        }
        if !line.starts_with([' ', '\t']) && !line.trim().is_empty() {
            let top_line = line.trim_end();
            in_packages = top_line == "packages:";
            top = top_line.trim_end_matches(':').to_string();
            // Single-project v5–v8 lockfiles list the direct dependencies at the top level.
            dep_block = matches!(
                top.as_str(),
                "dependencies" | "devDependencies" | "optionalDependencies"
            );
            owner = match top.as_str() {
                "devDependencies" => Some(PnpmOwner::DevProject),
                _ => dep_block.then_some(PnpmOwner::Project),
            };
            pending_name = None;
            if let Some(v) = top_line.strip_prefix("packages:").map(str::trim) {
                if !v.is_empty() && v != "{}" && !v.starts_with('#') {
                    return Err(err(
                        path,
                        Some(lineno),
                        format!("`packages` is `{v}`, not a mapping of packages"),
                    ));
                }
            }
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        pnpm_graph_line(
            &top,
            indent,
            line.trim(),
            last,
            &mut owner,
            &mut dep_block,
            &mut pending_name,
            &mut refs,
        );
        if !in_packages {
            continue;
        }
        // v5–v8 mark a package used only by development dependencies with `dev: true`.
        if indent == 4 && line.trim_end() == "    dev: true" {
            if let Some(p) = last.and_then(|i| out.packages.get_mut(i)) {
                p.dev = true;
            }
            continue;
        }
        // `resolution: {integrity: sha512-…}` (a tarball URL or a git commit instead for others).
        if indent == 4 {
            if let Some(r) = line.trim().strip_prefix("resolution: {integrity: ") {
                let i = r.trim_end_matches('}').split(',').next().unwrap_or("");
                if let Some(p) = last.and_then(|i| out.packages.get_mut(i)) {
                    p.hashes = sri(i.trim());
                }
            }
            continue;
        }
        if indent != 2 || !line.trim_end().ends_with(':') {
            continue;
        }
        last = None;
        let key = line.trim().trim_end_matches(':').trim_matches(['\'', '"']);
        let key = key.strip_prefix('/').unwrap_or(key);
        // Drop peer-dependency suffixes: `(react@18.2.0)` in v6+, `_react@18.2.0` in v5.
        let key = key.split('(').next().unwrap_or(key);
        if ["file:", "link:", "portal:", "workspace:"]
            .iter()
            .any(|p| key.starts_with(p))
        {
            out.notes.push(format!(
                "{path}:{lineno}: `{key}` is a local package; not checked against advisories"
            ));
            continue;
        }
        let (name, ver) = if slash_style {
            match key.rsplit_once('/') {
                Some((n, v)) => (n, v.split('_').next().unwrap_or(v)),
                None => {
                    out.notes
                        .push(format!("{path}:{lineno}: cannot read package key `{key}`"));
                    continue;
                }
            }
        } else {
            match split_spec(key) {
                Some(x) => x,
                None => {
                    out.notes
                        .push(format!("{path}:{lineno}: cannot read package key `{key}`"));
                    continue;
                }
            }
        };
        if !is_registry_version(ver) {
            out.notes.push(unregistered(path, lineno, name, ver));
            continue;
        }
        last = Some(out.packages.len());
        out.packages
            .push(Package::new(NPM, name, ver, path, Some(lineno)));
    }
    if let Some(l) = tab_line {
        out.notes.push(format!(
            "{path}:{l}: a tab in the indentation is not valid YAML (pnpm refuses this file); read anyway"
        ));
    }
    if let Some(l) = open_brace_line {
        out.notes.push(format!(
            "{path}:{l}: `{{` is not closed on its line (pnpm writes each flow mapping on one line): the file is damaged or truncated; read anyway"
        ));
    }
    out.notes.extend(truncated(path, text));
    let (graph, prod, dev) = pnpm_graph(&out.packages, refs);
    out.graph = Some(graph);
    // pnpm 9 marks no package `dev`; what only the projects' devDependencies lead to is.
    super::add_declared_roots(&mut out, prod, dev);
    Ok(out)
}

/// Whose dependency a pnpm lockfile line lists.
#[derive(Clone)]
enum PnpmOwner {
    /// The project (top-level `dependencies`, or an importer).
    Project,
    /// The project's `devDependencies`.
    DevProject,
    /// A package of the `packages` section, by index (v5–v8).
    Package(usize),
    /// A `snapshots` key, `name@version(peers)` (v9), resolved at the end.
    Snapshot(String),
}

/// Follow one line of a pnpm lockfile for the graph: who owns the dependency lists that follow,
/// and each `name: version` (or `name:` + `version: x`) entry in them.
#[allow(clippy::too_many_arguments)]
fn pnpm_graph_line(
    top: &str,
    indent: usize,
    t: &str,
    last_package: Option<usize>,
    owner: &mut Option<PnpmOwner>,
    dep_block: &mut bool,
    pending: &mut Option<String>,
    refs: &mut Vec<(PnpmOwner, String, String)>,
) {
    let unquote = |s: &str| s.trim().trim_matches(['\'', '"']).to_string();
    let is_dep_section = |k: &str| {
        matches!(
            k,
            "dependencies:" | "optionalDependencies:" | "devDependencies:"
        )
    };
    // `name: version` at `entry` indent, or `name:` then `version: x` one level deeper.
    let mut entry = |entry_indent: usize, owner: &Option<PnpmOwner>| {
        let Some(o) = owner.clone() else { return };
        if indent == entry_indent {
            match t.split_once(':') {
                Some((n, v)) if !v.trim().is_empty() => {
                    refs.push((o, unquote(n), unquote(v)));
                    *pending = None;
                }
                Some((n, _)) => *pending = Some(unquote(n)),
                None => {}
            }
        } else if indent == entry_indent + 2 {
            if let (Some(n), Some(v)) = (pending.as_ref(), t.strip_prefix("version:")) {
                refs.push((o, n.clone(), unquote(v)));
            }
        }
    };
    match top {
        "dependencies" | "devDependencies" | "optionalDependencies" => entry(2, owner),
        "importers" => {
            if indent == 2 {
                *owner = Some(PnpmOwner::Project);
                *dep_block = false;
            } else if indent == 4 {
                *dep_block = is_dep_section(t);
                *owner = Some(if t == "devDependencies:" {
                    PnpmOwner::DevProject
                } else {
                    PnpmOwner::Project
                });
            } else if *dep_block {
                entry(6, owner);
            }
        }
        "packages" | "snapshots" => {
            if indent == 2 {
                *dep_block = false;
                *owner = if top == "snapshots" {
                    let k = t.trim_end_matches(" {}").trim_end_matches(':');
                    Some(PnpmOwner::Snapshot(unquote(k)))
                } else {
                    None // set from the package pushed for this key, below
                };
            } else if indent == 4 {
                // Dev dependencies of a package are not installed with it.
                *dep_block = matches!(t, "dependencies:" | "optionalDependencies:");
                if top == "packages" {
                    *owner = last_package.map(PnpmOwner::Package);
                }
            } else if *dep_block {
                entry(6, owner);
            }
        }
        _ => {}
    }
}

/// Resolve the collected references against the packages read: the edges among packages, and
/// the projects' direct dependencies, from `dependencies`/`optionalDependencies` and from
/// `devDependencies` (for [`super::add_declared_roots`]).
fn pnpm_graph(
    packages: &[Package],
    refs: Vec<(PnpmOwner, String, String)>,
) -> (super::Graph, Vec<usize>, Vec<usize>) {
    let (mut prod, mut dev): (Vec<usize>, Vec<usize>) = Default::default();
    let mut at: std::collections::HashMap<(&str, &str), usize> = Default::default();
    for (i, p) in packages.iter().enumerate() {
        at.entry((p.name.as_str(), p.version.as_str())).or_insert(i);
    }
    // `1.2.3(peer@1)` (v6+), `1.2.3_peer@1` (v5) → `1.2.3`; an alias names the real package:
    // `/real/1.2.3` (v5), `/real@1.2.3` (v6–v8), `real@1.2.3` (v9).
    let find = |name: &str, v: &str| -> Option<usize> {
        let v = v.split('(').next().unwrap_or(v);
        let (n, ver) = if v.starts_with(|c: char| c.is_ascii_digit()) {
            (name, v)
        } else {
            let r = v.strip_prefix('/').unwrap_or(v);
            match split_spec(r) {
                Some(x) => x,
                None => r.rsplit_once('/')?,
            }
        };
        at.get(&(n, ver.split('_').next().unwrap_or(ver))).copied()
    };
    let mut g = super::Graph::default();
    for (owner, name, version) in refs {
        if version.starts_with("link:") || version.starts_with("file:") {
            continue;
        }
        let Some(to) = find(&name, &version) else {
            continue;
        };
        match owner {
            PnpmOwner::Project => prod.push(to),
            PnpmOwner::DevProject => dev.push(to),
            PnpmOwner::Package(from) => g.add(Some(from), to),
            PnpmOwner::Snapshot(key) => {
                let key = key.split('(').next().unwrap_or(&key);
                if let Some(from) = split_spec(key).and_then(|(n, v)| at.get(&(n, v)).copied()) {
                    g.add(Some(from), to);
                }
            }
        }
    }
    (g, prod, dev)
}

/// `node_modules/<name>/package.json` of an installed package.
pub(super) fn node_modules_package(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let v: Value = serde_json::from_str(text).map_err(|e| json_err(path, &e))?;
    let name = v.get("name").and_then(|n| n.as_str());
    let ver = v.get("version").and_then(|n| n.as_str());
    let mut out = Parsed::default();
    match (name, ver) {
        (Some(n), Some(ver)) if !n.is_empty() => {
            if is_registry_version(ver) {
                let line = find_line(text, "\"version\"", 0).map(|x| x.0);
                let mut p = Package::new(NPM, n, ver, path, line);
                p.license =
                    npm_license(v.get("license"), v.get("licenses")).map(super::License::Spdx);
                out.packages.push(p);
            } else {
                out.notes
                    .push(format!("{path}: `{n}` has a non-SemVer version `{ver}`"));
            }
            Ok(out)
        }
        _ => {
            // Folders such as `node_modules/foo/package.json` without name/version exist (e.g.
            // nested "exports" stubs); they are not packages.
            out.notes
                .push(format!("{path}: package.json without name and version"));
            Ok(out)
        }
    }
}
