//! Rust, Go, Ruby and PHP.

use super::{InventoryError, Package, Parsed, err, find_line, json_err, toml_err};
use crate::Ecosystem;
use serde::Deserialize;
use toml::Spanned;

/// `Cargo.lock` (versions 1–4). Packages without a `source` are the workspace's own crates and
/// are not dependencies.
pub(super) fn cargo_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    #[derive(Deserialize)]
    struct Pkg {
        name: Spanned<String>,
        version: String,
        #[serde(default)]
        source: Option<String>,
        #[serde(default)]
        checksum: Option<String>,
        #[serde(default)]
        dependencies: Vec<String>,
    }
    #[derive(Deserialize)]
    struct Lock {
        #[serde(default)]
        version: Option<i64>,
        #[serde(default)]
        package: Vec<Pkg>,
    }
    let lock: Lock = toml::from_str(text).map_err(|e| toml_err(path, text, &e))?;
    if let Some(v) = lock.version {
        if !(1..=4).contains(&v) {
            return Err(err(
                path,
                find_line(text, "version", 0).map(|x| x.0),
                format!("unsupported Cargo.lock version {v} (supported: 1–4)"),
            ));
        }
    }
    let mut out = Parsed::default();
    // Dependency lists, resolved once every package is known: (from, entries); `None` is the
    // workspace's own crates, whose dependencies are the project's direct ones.
    let mut deps: Vec<(Option<usize>, Vec<String>)> = Vec::new();
    let mut lines = super::LineCounter::new(text);
    for p in lock.package {
        let Some(src) = p.source else {
            deps.push((None, p.dependencies));
            continue;
        };
        let line = lines.line(p.name.span().start);
        if !(src.starts_with("registry+") || src.starts_with("sparse+")) {
            out.notes.push(format!(
                "{path}:{line}: `{}` comes from `{src}`, matched as if from crates.io",
                p.name.get_ref()
            ));
        }
        let mut pkg = Package::new(
            Ecosystem::CratesIo,
            p.name.into_inner(),
            p.version,
            path,
            Some(line),
        );
        // SHA-256 of the `.crate` file (lockfile versions 2+).
        if let Some(c) = p
            .checksum
            .filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            pkg.hashes.push(("SHA-256", c.to_ascii_lowercase()));
        }
        deps.push((Some(out.packages.len()), p.dependencies));
        out.packages.push(pkg);
    }
    // An entry is `name`, `name version` or `name version (source)`; the name alone is enough
    // when the lockfile has one version of it.
    let by_name = super::indices_by_name(&out.packages);
    let find = |entry: &str| -> Option<usize> {
        let mut it = entry.split_whitespace();
        let name = it.next()?;
        let version = it.next();
        let mut hits = by_name
            .get(name)?
            .iter()
            .filter(|&&i| version.is_none_or(|v| out.packages[i].version == v));
        let first = *hits.next()?;
        hits.next().is_none().then_some(first)
    };
    let mut graph = super::Graph::default();
    for (from, list) in &deps {
        for to in list.iter().filter_map(|e| find(e)) {
            graph.add(*from, to);
        }
    }
    out.graph = Some(graph.finish());
    Ok(out)
}

/// `go.mod`: `require` lines and blocks, `replace` directives, and the `toolchain` as `stdlib`.
pub(super) fn go_mod(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let mut out = Parsed::default();
    let mut reqs: Vec<(String, String, u32)> = Vec::new();
    let mut replaces: Vec<Replace> = Vec::new();
    let mut block: Option<&str> = None;
    let mut saw_module = false;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i as u32 + 1;
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(b) = block {
            if line == ")" {
                block = None;
                continue;
            }
            directive(b, line, lineno, path, &mut reqs, &mut replaces)?;
            continue;
        }
        let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        match verb {
            "module" => saw_module = true,
            "toolchain" => {
                let v = rest.trim_start_matches("go");
                if crate::version::SemverVersion::parse_go(v).is_ok() {
                    out.packages
                        .push(Package::new(Ecosystem::Go, "stdlib", v, path, Some(lineno)));
                }
            }
            "require" | "replace" | "exclude" | "retract" | "ignore" | "tool" | "godebug" => {
                if rest == "(" {
                    block = Some(verb);
                } else {
                    directive(verb, rest, lineno, path, &mut reqs, &mut replaces)?;
                }
            }
            "go" => {}
            _ => {
                return Err(err(
                    path,
                    Some(lineno),
                    format!("unknown go.mod directive `{verb}`"),
                ));
            }
        }
    }
    if block.is_some() {
        return Err(err(path, None, "unclosed `(` block"));
    }
    if !saw_module && !reqs.is_empty() {
        out.notes.push(format!("{path}: no `module` line"));
    }
    for (name, ver, line) in reqs {
        let mut name = name;
        let mut ver = ver;
        let rep = replaces
            .iter()
            .rev()
            .find(|(old, oldv, _, _)| *old == name && oldv.as_ref().is_none_or(|v| *v == ver));
        if let Some((_, _, new, rline)) = rep {
            match new {
                Some((n, v)) => {
                    name = n.clone();
                    ver = v.clone();
                }
                None => {
                    out.notes.push(format!(
                        "{path}:{rline}: `{name}` is replaced by a local directory; not checked"
                    ));
                    continue;
                }
            }
        }
        out.packages
            .push(Package::new(Ecosystem::Go, name, ver, path, Some(line)));
    }
    Ok(out)
}

type Replace = (String, Option<String>, Option<(String, String)>, u32);

fn directive(
    verb: &str,
    line: &str,
    lineno: u32,
    path: &str,
    reqs: &mut Vec<(String, String, u32)>,
    replaces: &mut Vec<Replace>,
) -> Result<(), InventoryError> {
    let unq = |s: &str| s.trim().trim_matches('"').to_string();
    match verb {
        "require" => {
            let mut it = line.split_whitespace();
            let (Some(m), Some(v)) = (it.next(), it.next()) else {
                return Err(err(
                    path,
                    Some(lineno),
                    format!("cannot read requirement `{line}`"),
                ));
            };
            reqs.push((unq(m), unq(v), lineno));
        }
        "replace" => {
            let Some((old, new)) = line.split_once("=>") else {
                return Err(err(
                    path,
                    Some(lineno),
                    format!("`replace` without `=>`: `{line}`"),
                ));
            };
            let o: Vec<&str> = old.split_whitespace().collect();
            let n: Vec<&str> = new.split_whitespace().collect();
            let (Some(on), Some(nn)) = (o.first(), n.first()) else {
                return Err(err(
                    path,
                    Some(lineno),
                    format!("cannot read replace `{line}`"),
                ));
            };
            let target = n.get(1).map(|v| (unq(nn), unq(v)));
            replaces.push((unq(on), o.get(1).map(|v| unq(v)), target, lineno));
        }
        _ => {}
    }
    Ok(())
}

/// `Gemfile.lock`: the `specs:` of the `GEM`, `GIT` and `PATH` sections.
pub(super) fn gemfile_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let mut out = Parsed::default();
    let mut section = "";
    let mut in_specs = false;
    let mut saw_section = false;
    let mut problems: Vec<(u32, String)> = Vec::new();
    // The graph as written: (the spec that needs it — `None` for the project's own PATH gems
    // and DEPENDENCIES — and the name it needs), resolved by name at the end.
    let mut needs: Vec<(Option<usize>, String)> = Vec::new();
    // The package the spec being read became; `Some(None)` for a PATH gem.
    let mut current: Option<Option<usize>> = None;
    // The section's `remote:` (for PATH, the gem's folder relative to the lock).
    let mut remote = String::from(".");
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let lineno = i as u32 + 1;
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            section = line.trim();
            saw_section = true;
            in_specs = false;
            current = None;
            remote = ".".into();
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        // `name (= 1.0)`, `name (~> 2.0, >= 2.0.1)` or `name`; `name!` in DEPENDENCIES for a
        // gem from a PATH or GIT source.
        let dep_name = |t: &str| {
            t.split(" (")
                .next()
                .unwrap_or(t)
                .trim_end_matches('!')
                .to_string()
        };
        if section == "DEPENDENCIES" && indent == 2 {
            needs.push((None, dep_name(t)));
            continue;
        }
        if !matches!(section, "GEM" | "GIT" | "PATH") {
            continue;
        }
        if t == "specs:" {
            in_specs = true;
            continue;
        }
        if let (false, Some(r)) = (in_specs, t.strip_prefix("remote: ")) {
            remote = r.trim().to_string();
            continue;
        }
        if !in_specs {
            continue;
        }
        if indent == 6 {
            if let Some(from) = current {
                needs.push((from, dep_name(t)));
            }
            continue;
        }
        if indent != 4 {
            continue;
        }
        current = None;
        let (Some(open), true) = (t.find(" ("), t.ends_with(')')) else {
            problems.push((lineno, format!("cannot read gem spec `{t}`")));
            continue;
        };
        let name = &t[..open];
        let inner = &t[open + 2..t.len() - 1];
        // `nokogiri (1.16.0-x86_64-linux)`: the platform follows the first `-`.
        let ver = inner.split('-').next().unwrap_or(inner);
        if section == "PATH" {
            out.notes.push(format!(
                "{path}:{lineno}: `{name}` is a local path gem; not checked"
            ));
            out.local_gems.push((name.to_string(), remote.clone()));
            current = Some(None);
            continue;
        }
        current = Some(Some(out.packages.len()));
        out.packages.push(Package::new(
            Ecosystem::RubyGems,
            name,
            ver,
            path,
            Some(lineno),
        ));
    }
    if !saw_section {
        return Err(err(path, None, "not a Gemfile.lock: no GEM section"));
    }
    super::notes_or_error(path, &mut out, problems)?;
    // By name: Bundler locks one version of a gem (one spec per platform it was built for).
    let by_name = super::indices_by_name(&out.packages);
    let mut g = super::Graph::default();
    for (from, name) in &needs {
        for &to in by_name.get(name.as_str()).into_iter().flatten() {
            g.add(*from, to);
        }
    }
    out.graph = Some(g.finish());
    Ok(out)
}

/// `composer.lock`: `packages` and `packages-dev`.
pub(super) fn composer_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| json_err(path, &e))?;
    let mut out = Parsed::default();
    let mut found_any = false;
    let mut requires: Vec<(usize, Option<&serde_json::Value>)> = Vec::new();
    let mut stands_in: Vec<(String, usize)> = Vec::new();
    for (key, dev) in [("packages", false), ("packages-dev", true)] {
        let Some(list) = v.get(key).and_then(|l| l.as_array()) else {
            continue;
        };
        found_any = true;
        let mut cursor = find_line(text, &format!("\"{key}\""), 0).map_or(0, |x| x.1);
        let mut lines = super::LineCounter::new(text);
        for p in list {
            let (Some(name), Some(ver)) = (
                p.get("name").and_then(|n| n.as_str()),
                p.get("version").and_then(|n| n.as_str()),
            ) else {
                out.notes.push(format!(
                    "{path}: an entry of `{key}` has no name or version"
                ));
                continue;
            };
            // Entries are in file order: each search starts where the last one ended, and lines
            // are counted once (a search from the start made big files quadratic).
            let found = lines.find(&format!("\"{name}\""), cursor);
            if let Some((_, at)) = found {
                cursor = at;
            }
            if crate::version::PhpVersion::parse(ver).is_err() {
                out.notes.push(format!(
                    "{path}:{}: `{name}` is at branch `{ver}`; no version to check",
                    found.map_or(0, |x| x.0)
                ));
                continue;
            }
            let mut pkg = Package::new(Ecosystem::Packagist, name, ver, path, found.map(|x| x.0));
            pkg.dev = dev;
            // Composer: several licences are a choice.
            let licences: Vec<String> = (p.get("license").and_then(|l| l.as_array()))
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_str().map(|s| s.trim().to_string()))
                .filter(|s| !s.is_empty())
                .collect();
            pkg.license = super::any_of(&licences).map(super::License::Spdx);
            requires.push((out.packages.len(), p.get("require")));
            // What the package stands in for: virtual packages it provides
            // (`psr/log-implementation`) and packages it replaces (`symfony/symfony` replaces
            // `symfony/console`).
            for field in ["provide", "replace"] {
                for alias in p
                    .get(field)
                    .and_then(|r| r.as_object())
                    .into_iter()
                    .flatten()
                {
                    stands_in.push((alias.0.to_ascii_lowercase(), out.packages.len()));
                }
            }
            out.packages.push(pkg);
        }
    }
    if !found_any {
        return Err(err(
            path,
            Some(1),
            "not a composer.lock: no `packages` list",
        ));
    }
    // The graph: each package's `require`, by name (Composer locks one version of a name), else
    // to the packages that provide or replace that name; `php`, `ext-*` and `lib-*` match
    // nothing. The lock does not say what the project requires: the composer.json beside it
    // does ([`roots_from_composer_json`]); until then, the packages nothing else needs.
    let by_name = composer_names(&out.packages);
    stands_in.sort_unstable();
    stands_in.dedup();
    let mut g = super::Graph::default();
    for (from, req) in requires {
        for name in req
            .and_then(|r| r.as_object())
            .into_iter()
            .flatten()
            .map(|x| x.0.to_ascii_lowercase())
        {
            if let Some(&to) = by_name.get(&name) {
                g.add(Some(from), to);
                continue;
            }
            for to in standing_in(&stands_in, &name) {
                if to != from {
                    g.add(Some(from), to);
                }
            }
        }
    }
    g.roots_unneeded(out.packages.len());
    out.graph = Some(g.finish());
    out.descriptors = stands_in;
    Ok(out)
}

/// The packages that provide or replace `name`, from the sorted (name, package) list of what
/// each package stands in for.
fn standing_in<'a>(
    aliases: &'a [(String, usize)],
    name: &'a str,
) -> impl Iterator<Item = usize> + 'a {
    let first = aliases.partition_point(|(alias, _)| alias.as_str() < name);
    aliases[first..]
        .iter()
        .take_while(move |(alias, _)| alias == name)
        .map(|(_, i)| *i)
}

/// Composer package names, lowercased (Composer compares them case-insensitively), to their
/// index (Composer locks one version of a name).
fn composer_names(packages: &[Package]) -> std::collections::HashMap<String, usize> {
    (packages.iter().enumerate())
        .map(|(i, p)| (p.name.to_ascii_lowercase(), i))
        .collect()
}

/// Add what a `composer.json` requires (`require`, `require-dev`) to the roots of its lock's
/// graph, and mark what only `require-dev` leads to as development-only.
pub(super) fn roots_from_composer_json(out: &mut Parsed, manifest: &serde_json::Value) {
    let by_name = composer_names(&out.packages);
    let names = |key: &str| -> Vec<usize> {
        (manifest
            .get(key)
            .and_then(|r| r.as_object())
            .into_iter()
            .flatten())
        .flat_map(|(n, _)| {
            let n = n.to_ascii_lowercase();
            if let Some(&i) = by_name.get(&n) {
                return vec![i];
            }
            // A virtual package (`psr/log-implementation`) or a replaced one: whatever
            // provides or replaces it.
            standing_in(&out.descriptors, &n).collect()
        })
        .collect()
    };
    let (prod, dev) = (names("require"), names("require-dev"));
    super::add_declared_roots(out, prod, dev);
}

/// Groups whose gems a production install leaves out (`BUNDLE_WITHOUT=development:test`); a gem
/// in any other group, `default` included, counts as production.
const GEM_DEV_GROUPS: [&str; 2] = ["development", "test"];

/// The gems a Gemfile declares, each with the groups of all its declarations (`default` for
/// none): `gem` lines, their `group:`/`groups:` options and the `group … do … end` blocks around
/// them. Ruby is not run: a gem declared by code (a loop, `eval_gemfile`, a helper method) is not
/// seen, and conditionals count as if every branch ran.
pub(super) fn gemfile_groups(text: &str) -> Vec<(String, Vec<String>)> {
    let mut gems: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    // The groups each open block adds (none for `if`, `platforms … do` and the like).
    let mut blocks: Vec<Vec<String>> = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = strip_ruby_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        // A `gem` call continued on the next line after a comma.
        if !pending.is_empty() || (is_call(line, "gem") && line.ends_with(',')) {
            pending.push_str(line);
            pending.push(' ');
            if line.ends_with(',') || line.ends_with('\\') {
                continue;
            }
        }
        let stmt = if pending.is_empty() {
            line.to_string()
        } else {
            std::mem::take(&mut pending)
        };
        let stmt = stmt.trim();
        let word = stmt
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if word == "end" {
            blocks.pop();
            continue;
        }
        if is_call(stmt, "gem") {
            let rest = &stmt[3..];
            let Some(name) = ruby_strings(rest).into_iter().next() else {
                continue;
            };
            let mut groups: Vec<String> = blocks.iter().flatten().cloned().collect();
            for key in [
                "groups:",
                "group:",
                ":groups =>",
                ":group =>",
                ":groups=>",
                ":group=>",
            ] {
                if let Some(at) = rest.find(key) {
                    groups.extend(ruby_symbols_and_strings(option_value(
                        &rest[at + key.len()..],
                    )));
                }
            }
            if groups.is_empty() {
                groups.push("default".into());
            }
            let entry = gems.entry(name).or_default();
            entry.extend(groups);
            entry.sort();
            entry.dedup();
            if ends_block(stmt) {
                blocks.push(Vec::new());
            }
            continue;
        }
        if is_call(stmt, "group") && ends_block(stmt) {
            let args = stmt[5..].rsplit_once("do").map_or("", |x| x.0);
            // Options (`optional: true`) are not groups.
            let args = args.split('{').next().unwrap_or(args);
            let names = (args
                .split(',')
                .filter(|a| !a.contains(':') || a.trim().starts_with(':')))
            .flat_map(ruby_symbols_and_strings)
            .collect();
            blocks.push(names);
            continue;
        }
        let opens = ends_block(stmt)
            || (matches!(
                word,
                "if" | "unless"
                    | "case"
                    | "while"
                    | "until"
                    | "begin"
                    | "def"
                    | "class"
                    | "module"
                    | "for"
            ) && !stmt.ends_with(" end")
                && !stmt.ends_with(";end"));
        if opens {
            blocks.push(Vec::new());
        }
    }
    gems.into_iter().collect()
}

/// Whether `stmt` calls `name` (`gem "x"`, `gem("x")`, `group :test do`).
fn is_call(stmt: &str, name: &str) -> bool {
    stmt.strip_prefix(name)
        .is_some_and(|r| r.starts_with([' ', '(', '\t']))
}

/// Whether `stmt` opens a `do … end` block (`do` or `do |x|` at its end).
fn ends_block(stmt: &str) -> bool {
    let s = stmt.trim_end();
    let s = match s.strip_suffix('|') {
        Some(inner) => inner.rsplit_once('|').map_or(s, |x| x.0).trim_end(),
        None => s,
    };
    s == "do" || s.ends_with(" do") || s.ends_with(")do")
}

/// `line` without a `#` comment (a `#` inside a string literal is kept).
fn strip_ruby_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => return &line[..i],
            _ => {}
        }
        escaped = false;
    }
    line
}

/// The string literals of `s`, in order (`"a"`, `'b'`).
fn ruby_strings(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find(['"', '\'']) {
        let q = rest[start..].chars().next().unwrap_or('"');
        let body = &rest[start + 1..];
        let Some(end) = body.find(q) else { break };
        out.push(body[..end].to_string());
        rest = &body[end + 1..];
    }
    out
}

/// The value of an option: up to the next top-level `,` (an array counts as one value).
fn option_value(s: &str) -> &str {
    let s = s.trim_start();
    if s.starts_with('[') || s.starts_with("%i[") || s.starts_with("%w[") {
        return s.find(']').map_or(s, |e| &s[..=e]);
    }
    s.split(',').next().unwrap_or(s)
}

/// Symbols (`:test`), strings (`"test"`) and `%i[…]` / `%w[…]` words in `s`, as names.
fn ruby_symbols_and_strings(s: &str) -> Vec<String> {
    let mut out = ruby_strings(s);
    for open in ["%i[", "%w["] {
        if let Some(at) = s.find(open) {
            let words = &s[at + 3..];
            let words = words.split(']').next().unwrap_or(words);
            out.extend(words.split_whitespace().map(str::to_string));
        }
    }
    for part in s.split([',', '[', ']', ' ', '(', ')']) {
        if let Some(sym) = part.trim().strip_prefix(':') {
            let sym: String = sym
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !sym.is_empty() {
                out.push(sym);
            }
        }
    }
    out
}

/// The gems a gemspec declares with `add_development_dependency` (Ruby is not run: the first
/// string argument of each such call).
pub(super) fn gemspec_development(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = strip_ruby_comment(raw);
        if let Some(at) = line.find(".add_development_dependency") {
            let rest = &line[at + ".add_development_dependency".len()..];
            if rest.starts_with([' ', '(', '\t']) {
                out.extend(ruby_strings(rest).into_iter().next());
            }
        }
    }
    out
}

/// Apply a Gemfile to its lock's graph: gems only in development/test groups are development
/// roots, and what only they lead to is marked development-only (the lock's DEPENDENCIES already
/// gave the roots).
pub(super) fn roots_from_gemfile(out: &mut Parsed, gems: &[(String, Vec<String>)]) {
    let by_name = super::indices_by_name(&out.packages);
    let (mut prod, mut dev) = (Vec::new(), Vec::new());
    for (name, groups) in gems {
        let only_dev = groups.iter().all(|g| GEM_DEV_GROUPS.contains(&g.as_str()));
        for &i in by_name.get(name.as_str()).into_iter().flatten() {
            if only_dev { dev.push(i) } else { prod.push(i) }
        }
    }
    super::add_declared_roots(out, prod, dev);
}
