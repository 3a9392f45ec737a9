//! CycloneDX 1.6 JSON software bills of materials.

use crate::detector::Manifest;
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
    for m in manifests {
        for p in &m.packages {
            let purl = p.purl();
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
    for m in manifests {
        let Some(g) = &m.graph else { continue };
        // Each package's purl once, not once per edge it is on.
        let purls: Vec<String> = m.packages.iter().map(|p| p.purl()).collect();
        let purl = |i: usize| purls.get(i).cloned();
        for p in &purls {
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
}
