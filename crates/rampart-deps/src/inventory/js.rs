//! JavaScript: npm, yarn and pnpm lockfiles, installed `node_modules`.

use super::{InventoryError, Package, Parsed, err, find_line, json_err};
use crate::Ecosystem;
use serde_json::Value;

const NPM: Ecosystem = Ecosystem::Npm;

fn is_registry_version(v: &str) -> bool {
    crate::version::SemverVersion::parse_npm(v).is_ok()
}

/// `package-lock.json` / `npm-shrinkwrap.json`, lockfile versions 1, 2 and 3.
pub(super) fn npm_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let v: Value = serde_json::from_str(text).map_err(|e| json_err(path, &e))?;
    let obj = v
        .as_object()
        .ok_or_else(|| err(path, Some(1), "top level is not an object"))?;
    let lv = obj
        .get("lockfileVersion")
        .and_then(|x| x.as_i64())
        .unwrap_or(1);
    if !(1..=3).contains(&lv) {
        return Err(err(
            path,
            find_line(text, "\"lockfileVersion\"", 0).map(|x| x.0),
            format!("unsupported lockfileVersion {lv} (supported: 1, 2, 3)"),
        ));
    }
    let mut out = Parsed::default();
    if let Some(pkgs) = obj.get("packages").and_then(|p| p.as_object()) {
        for (key, info) in pkgs {
            let Some(idx) = key.rfind("node_modules/") else {
                continue; // the root project or a workspace folder
            };
            if info.get("link").and_then(|l| l.as_bool()) == Some(true) {
                continue;
            }
            let name = info
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or(&key[idx + "node_modules/".len()..]);
            let line = find_line(text, &format!("\"{key}\""), 0).map(|x| x.0);
            let Some(ver) = info.get("version").and_then(|v| v.as_str()) else {
                continue;
            };
            if !is_registry_version(ver) {
                out.notes.push(format!(
                    "{path}:{}: `{name}` is not from the registry (`{ver}`)",
                    line.unwrap_or(0)
                ));
                continue;
            }
            let mut p = Package::new(NPM, name, ver, path, line);
            p.dev = info.get("dev").and_then(|d| d.as_bool()) == Some(true);
            out.packages.push(p);
        }
        return Ok(out);
    }
    // Version 1: nested `dependencies`.
    fn walk(
        path: &str,
        text: &str,
        deps: &serde_json::Map<String, Value>,
        from: usize,
        out: &mut Parsed,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        for (name, info) in deps {
            let found = find_line(text, &format!("\"{name}\""), from);
            let line = found.map(|x| x.0);
            let at = found.map_or(from, |x| x.1);
            if let Some(ver) = info.get("version").and_then(|v| v.as_str()) {
                // Aliases are written `npm:real-name@1.2.3`.
                let (n, v) = match ver.strip_prefix("npm:").and_then(|r| r.rsplit_once('@')) {
                    Some((n, v)) => (n, v),
                    None => (name.as_str(), ver),
                };
                if is_registry_version(v) {
                    let mut p = Package::new(NPM, n, v, path, line);
                    p.dev = info.get("dev").and_then(|d| d.as_bool()) == Some(true);
                    out.packages.push(p);
                } else {
                    out.notes.push(format!(
                        "{path}:{}: `{name}` is not from the registry (`{ver}`)",
                        line.unwrap_or(0)
                    ));
                }
            }
            if let Some(sub) = info.get("dependencies").and_then(|d| d.as_object()) {
                walk(path, text, sub, at, out, depth + 1);
            }
        }
    }
    if let Some(deps) = obj.get("dependencies").and_then(|d| d.as_object()) {
        walk(path, text, deps, 0, &mut out, 0);
    }
    Ok(out)
}

/// Split `name@range` (scoped names start with `@`).
fn split_spec(spec: &str) -> Option<(&str, &str)> {
    let s = spec.trim().trim_matches('"');
    let skip = usize::from(s.starts_with('@'));
    let at = s[skip..].find('@')? + skip;
    Some((&s[..at], &s[at + 1..]))
}

/// `yarn.lock`, classic (v1) and berry (v2+, YAML).
pub(super) fn yarn_lock(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let berry = text.lines().any(|l| l.starts_with("__metadata:"));
    let mut out = Parsed::default();
    let mut header: Option<(String, u32)> = None;
    let mut version: Option<String> = None;
    let mut resolution: Option<String> = None;
    let flush = |header: &mut Option<(String, u32)>,
                 version: &mut Option<String>,
                 resolution: &mut Option<String>,
                 out: &mut Parsed|
     -> Result<(), InventoryError> {
        if let Some((h, line)) = header.take() {
            if h == "__metadata" {
                *version = None;
                *resolution = None;
                return Ok(());
            }
            let first = h.split(", ").next().unwrap_or("").trim().trim_matches('"');
            let Some((name, range)) = split_spec(first) else {
                return Err(err(path, Some(line), format!("cannot read entry `{h}`")));
            };
            let ver = version.take();
            let res = resolution.take();
            let protocol_local = ["workspace:", "link:", "portal:", "file:"].iter().any(|p| {
                range.starts_with(p) || res.as_deref().is_some_and(|r| r.contains(&format!("@{p}")))
            });
            if protocol_local {
                return Ok(());
            }
            let Some(ver) = ver else {
                return Err(err(
                    path,
                    Some(line),
                    format!("entry `{name}` has no version"),
                ));
            };
            if !is_registry_version(&ver) {
                out.notes.push(format!(
                    "{path}:{line}: `{name}` is not from the registry (`{ver}`)"
                ));
                return Ok(());
            }
            // Aliases: `alias@npm:real@^1` — the real name is in the range.
            let real = range
                .strip_prefix("npm:")
                .and_then(split_spec)
                .map(|(n, _)| n)
                .unwrap_or(name);
            out.packages
                .push(Package::new(NPM, real, ver, path, Some(line)));
        }
        *version = None;
        *resolution = None;
        Ok(())
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let lineno = i as u32 + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') {
            flush(&mut header, &mut version, &mut resolution, &mut out)?;
            let Some(h) = line.strip_suffix(':') else {
                return Err(err(
                    path,
                    Some(lineno),
                    format!("expected `package@range:`, found `{}`", line.trim()),
                ));
            };
            header = Some((h.to_string(), lineno));
            continue;
        }
        let t = line.trim();
        let indent = line.len() - line.trim_start().len();
        if indent != 2 {
            continue;
        }
        let (key, val) = if berry {
            match t.split_once(": ") {
                Some((k, v)) => (k, v),
                None => continue,
            }
        } else {
            match t.split_once(' ') {
                Some((k, v)) => (k, v),
                None => continue,
            }
        };
        let val = val.trim().trim_matches('"').to_string();
        match key {
            "version" => version = Some(val),
            "resolution" => resolution = Some(val),
            _ => {}
        }
    }
    flush(&mut header, &mut version, &mut resolution, &mut out)?;
    if !berry && !out.packages.is_empty() && !text.contains("yarn lockfile v1") {
        out.notes.push(format!(
            "{path}: no `# yarn lockfile v1` header; read as v1"
        ));
    }
    Ok(out)
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
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let lineno = i as u32 + 1;
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_packages = line.trim_end() == "packages:";
            continue;
        }
        if !in_packages {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent != 2 || !line.trim_end().ends_with(':') {
            continue;
        }
        let key = line.trim().trim_end_matches(':').trim_matches(['\'', '"']);
        let key = key.strip_prefix('/').unwrap_or(key);
        // Drop peer-dependency suffixes: `(react@18.2.0)` in v6+, `_react@18.2.0` in v5.
        let key = key.split('(').next().unwrap_or(key);
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
            out.notes.push(format!(
                "{path}:{lineno}: `{name}` is not from the registry (`{ver}`)"
            ));
            continue;
        }
        out.packages
            .push(Package::new(NPM, name, ver, path, Some(lineno)));
    }
    Ok(out)
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
                out.packages.push(Package::new(NPM, n, ver, path, line));
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
