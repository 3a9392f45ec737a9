//! Distribution package databases: Debian's dpkg status and Alpine's apk database.
//!
//! Advisories for distributions are per release (`Debian:12`, `Alpine:v3.19`). The release is
//! taken from the database itself: the version of `base-files` (Debian: `12.4+deb12u5` → 12) or
//! of `alpine-release` / `alpine-base` (`3.19.1-r0` → v3.19). Without it packages are listed but
//! not matched, and a note says why.

use super::{InventoryError, Package, Parsed, err};
use crate::Ecosystem;

struct Para {
    line: u32,
    fields: Vec<(String, String)>,
}

impl Para {
    fn get(&self, k: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
}

fn paragraphs(text: &str, sep: char) -> Vec<Para> {
    let mut out = Vec::new();
    let mut cur: Option<Para> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            if let Some(p) = cur.take() {
                out.push(p);
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            continue; // continuation (descriptions, conffiles)
        }
        let Some((k, v)) = line.split_once(sep) else {
            continue;
        };
        let p = cur.get_or_insert(Para {
            line: i as u32 + 1,
            fields: Vec::new(),
        });
        p.fields.push((k.trim().to_string(), v.trim().to_string()));
    }
    if let Some(p) = cur {
        out.push(p);
    }
    out
}

/// `var/lib/dpkg/status` (or one file of `status.d/`).
pub(super) fn dpkg_status(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let paras = paragraphs(text, ':');
    if paras.is_empty() && !text.trim().is_empty() {
        return Err(err(
            path,
            Some(1),
            "not a dpkg status file: no `Field: value` paragraphs",
        ));
    }
    let mut out = Parsed::default();
    let mut release: Option<String> = None;
    let mut ubuntu = false;
    for p in &paras {
        if p.get("Package") == Some("base-files") {
            if let Some(v) = p.get("Version") {
                if v.contains("ubuntu") {
                    ubuntu = true;
                } else {
                    let major: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
                    if !major.is_empty() {
                        release = Some(major);
                    }
                }
            }
        }
    }
    for p in &paras {
        let (Some(name), Some(ver)) = (p.get("Package"), p.get("Version")) else {
            out.notes.push(format!(
                "{path}:{}: paragraph without Package and Version",
                p.line
            ));
            continue;
        };
        if let Some(st) = p.get("Status") {
            if st.split_whitespace().nth(2) != Some("installed") {
                continue;
            }
        }
        let eco = if ubuntu {
            Ecosystem::Ubuntu
        } else {
            Ecosystem::Debian
        };
        let mut pkg = Package::new(eco, name, ver, path, Some(p.line));
        pkg.release = release.clone();
        if let Some(src) = p.get("Source") {
            // `Source: glibc` or `Source: glibc (2.36-9+deb12u4)`.
            let (sname, sver) = match src.split_once('(') {
                Some((n, v)) => (n.trim(), Some(v.trim_end_matches(')').trim())),
                None => (src.trim(), None),
            };
            if !sname.is_empty() {
                pkg.source_name = Some(sname.to_string());
            }
            if let Some(v) = sver.filter(|v| !v.is_empty()) {
                pkg.source_version = Some(v.to_string());
            }
        }
        out.packages.push(pkg);
    }
    if ubuntu {
        out.notes.push(format!(
            "{path}: Ubuntu packages are listed but not matched (Ubuntu releases are not derived yet)"
        ));
    } else if release.is_none() && !out.packages.is_empty() {
        out.notes.push(format!(
            "{path}: Debian release unknown (no base-files package); packages are listed but not matched"
        ));
    }
    Ok(out)
}

/// `lib/apk/db/installed`.
pub(super) fn apk_installed(path: &str, text: &str) -> Result<Parsed, InventoryError> {
    let paras = paragraphs(text, ':');
    if paras.is_empty() && !text.trim().is_empty() {
        return Err(err(
            path,
            Some(1),
            "not an apk database: no `X:value` records",
        ));
    }
    let mut out = Parsed::default();
    let mut release = None;
    for p in &paras {
        if matches!(p.get("P"), Some("alpine-release" | "alpine-base")) {
            if let Some(v) = p.get("V") {
                let parts: Vec<&str> = v.split(['.', '-', '_']).take(2).collect();
                if parts.len() == 2 && parts.iter().all(|x| x.bytes().all(|b| b.is_ascii_digit())) {
                    release = Some(format!("v{}.{}", parts[0], parts[1]));
                }
            }
        }
    }
    for p in &paras {
        let (Some(name), Some(ver)) = (p.get("P"), p.get("V")) else {
            out.notes
                .push(format!("{path}:{}: record without P: and V:", p.line));
            continue;
        };
        let mut pkg = Package::new(Ecosystem::Alpine, name, ver, path, Some(p.line));
        pkg.release = release.clone();
        if let Some(o) = p.get("o").filter(|o| *o != name) {
            pkg.source_name = Some(o.to_string());
        }
        out.packages.push(pkg);
    }
    if release.is_none() && !out.packages.is_empty() {
        out.notes.push(format!(
            "{path}: Alpine release unknown (no alpine-release package); packages are listed but not matched"
        ));
    }
    Ok(out)
}
