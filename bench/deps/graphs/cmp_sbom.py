"""Compare a CycloneDX BOM's graph with a reference {roots, edges}.
Usage: python3 cmp_sbom.py BOM.json TRUTH.json [--versions]
Without --versions, packages are compared by PEP 503-normalised name (poetry show --tree names no
versions); with it, as name@version (npm ls, Bundler)."""
import json, re, sys, urllib.parse

bom, truth = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
versions = "--versions" in sys.argv[3:]


def key(ref):
    m = re.match(r"pkg:[^/]+/(.+)@([^?#]+)", ref)
    if not m:
        return ref
    name = urllib.parse.unquote(m.group(1))
    if versions:
        return f"{name}@{urllib.parse.unquote(m.group(2))}"
    return re.sub(r"[-_.]+", "-", name).lower()


subject = bom["metadata"]["component"]["bom-ref"]
roots, edges = set(), set()
for d in bom.get("dependencies", []):
    for t in d.get("dependsOn", []):
        if d["ref"] == subject:
            roots.add(key(t))
        else:
            edges.add((key(d["ref"]), key(t)))
tr, te = set(truth["roots"]), set(map(tuple, truth["edges"]))
print(f"roots {len(roots & tr)}/{len(tr)} (extra {sorted(roots - tr)}, missing {sorted(tr - roots)})")
print(f"edges {len(edges & te)}/{len(te)} (extra {len(edges - te)} {sorted(edges - te)[:6]}, "
      f"missing {len(te - edges)} {sorted(te - edges)[:6]})")
print("excluded:", sorted(c["name"] for c in bom["components"] if c.get("scope") == "excluded"))
