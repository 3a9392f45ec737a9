//! CycloneDX 1.6 JSON software bills of materials.

use crate::detector::Manifest;
use crate::inventory::License;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

/// A random RFC 4122 version-4 UUID (from the standard library's per-process random hash keys).
fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Build a CycloneDX 1.6 BOM for `subject` (the scanned path or image) from inventories.
/// Components are de-duplicated by package URL; every manifest that lists a component is kept
/// as a `rampart:manifest` property (`path:line`). A component that every manifest listing it
/// marks as a development dependency gets `"scope": "excluded"` (CycloneDX: used for
/// development or tests, not at run time); others keep the default scope, `required`. Digests the
/// lockfile pins for the published artifact (npm `integrity`, `Cargo.lock` `checksum`) become
/// `hashes`.
pub fn cyclonedx(subject: &str, manifests: &[Manifest]) -> Value {
    let mut comps: BTreeMap<String, (Value, Vec<String>, bool)> = BTreeMap::new();
    // Each package's purl, per manifest, once: the components and the graph both key on it.
    let purls: Vec<Vec<String>> = manifests
        .iter()
        .map(|m| m.packages.iter().map(|p| p.purl()).collect())
        .collect();
    for (m, purls) in manifests.iter().zip(&purls) {
        for (p, purl) in m.packages.iter().zip(purls) {
            let where_ = m.package_location(p).display();
            let entry = comps.entry(purl.clone()).or_insert_with(|| {
                let (group, name) = match (p.ecosystem, p.name.rsplit_once('/')) {
                    (crate::Ecosystem::Npm, Some((g, n))) if g.starts_with('@') => {
                        (Some(g.to_string()), n.to_string())
                    }
                    _ => (None, p.name.clone()),
                };
                let mut c = json!({
                    "type": "library",
                    "bom-ref": purl,
                    "name": name,
                    "version": p.version,
                    "purl": purl,
                });
                if let Some(g) = group {
                    c["group"] = json!(g);
                }
                (c, Vec::new(), true)
            });
            if !entry.1.contains(&where_) {
                entry.1.push(where_);
            }
            entry.2 &= p.dev;
            if let (None, Some(l)) = (entry.0.get("licenses"), &p.license) {
                entry.0["licenses"] = match l {
                    License::Spdx(e) if is_spdx_expression(e) => json!([{"expression": e}]),
                    License::Spdx(t) | License::Text(t) => json!([{"license": {"name": t}}]),
                };
            }
            if entry.0.get("hashes").is_none() && !p.hashes.is_empty() {
                entry.0["hashes"] = p
                    .hashes
                    .iter()
                    .map(|(alg, hex)| json!({"alg": alg, "content": hex}))
                    .collect();
            }
        }
    }
    // The graph, for the files that record one: purl → purls it depends on; the subject's
    // direct dependencies. Files without a graph add nothing (CycloneDX: unknown).
    let mut depends: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut direct: std::collections::BTreeSet<String> = Default::default();
    for (m, purls) in manifests.iter().zip(&purls) {
        let Some(g) = &m.graph else { continue };
        let purl = |i: usize| purls.get(i).cloned();
        for p in purls {
            depends.entry(p.clone()).or_default();
        }
        for &(from, to) in &g.edges {
            if let (Some(f), Some(t)) = (purl(from), purl(to))
                && f != t
            {
                depends.entry(f).or_default().insert(t);
            }
        }
        direct.extend(g.roots.iter().filter_map(|&i| purl(i)));
    }
    let components: Vec<Value> = comps
        .into_values()
        .map(|(mut c, locs, dev)| {
            if dev {
                c["scope"] = json!("excluded");
            }
            let mut props: Vec<Value> = locs
                .into_iter()
                .map(|l| json!({"name": "rampart:manifest", "value": l}))
                .collect();
            if props.len() > 100 {
                props.truncate(100);
            }
            c["properties"] = Value::Array(props);
            c
        })
        .collect();
    let mut bom = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", uuid_v4()),
        "version": 1,
        "metadata": {
            "timestamp": crate::db::now_rfc3339(),
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "rampart",
                    "version": env!("CARGO_PKG_VERSION"),
                }]
            },
            "component": {
                "type": "application",
                "bom-ref": "rampart:subject",
                "name": subject,
            }
        },
        "components": components,
    });
    if !depends.is_empty() {
        let mut deps = vec![json!({"ref": "rampart:subject", "dependsOn": direct})];
        deps.extend(
            depends
                .into_iter()
                .map(|(r, on)| json!({"ref": r, "dependsOn": on})),
        );
        bom["dependencies"] = Value::Array(deps);
    }
    bom
}

/// Whether `s` has the form of an SPDX license expression: identifiers (`MIT`, `Apache-2.0`,
/// `GPL-2.0+`, `LicenseRef-x`) joined by `AND`/`OR`, an exception after `WITH`, parentheses.
/// Identifiers are not checked against the SPDX list; free text such as `SEE LICENSE IN
/// LICENSE.md` or `BSD` style descriptions with spaces is not an expression.
pub fn is_spdx_expression(s: &str) -> bool {
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    let mut want_operand = true;
    let mut after_with = false;
    let mut depth = 0i32;
    for t in spaced.split_whitespace() {
        let id = t
            .strip_suffix('+')
            .unwrap_or(t)
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && t.starts_with(|c: char| c.is_ascii_alphanumeric());
        let op = matches!(t, "AND" | "OR" | "WITH");
        match (want_operand, t) {
            (true, "(") if !after_with => depth += 1,
            (true, _) if id && !op => {
                want_operand = false;
                after_with = false;
            }
            (false, ")") if depth > 0 => depth -= 1,
            (false, "WITH") => {
                want_operand = true;
                after_with = true;
            }
            (false, "AND" | "OR") => want_operand = true,
            _ => return false,
        }
    }
    !want_operand && depth == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuid_shape() {
        let u = super::uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, super::uuid_v4());
    }

    #[test]
    fn spdx_expressions_by_form() {
        for ok in [
            "MIT",
            "Apache-2.0",
            "GPL-2.0+",
            "(MIT OR Apache-2.0)",
            "MIT OR Apache-2.0 AND BSD-3-Clause",
            "GPL-2.0-only WITH Classpath-exception-2.0",
            "LicenseRef-Proprietary",
            "((MIT))",
        ] {
            assert!(super::is_spdx_expression(ok), "{ok}");
        }
        for bad in [
            "",
            "SEE LICENSE IN LICENSE.md",
            "Apache 2.0",
            "MIT OR",
            "(MIT",
            "MIT)",
            "OR MIT",
            "MIT WITH (X)",
            "BSD style",
        ] {
            assert!(!super::is_spdx_expression(bad), "{bad}");
        }
    }
}
