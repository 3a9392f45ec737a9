"""Compare a CycloneDX BOM's graph (stdin file arg 1) with truth {roots, edges} by name (arg 2)."""
import json, re, sys
bom = json.load(open(sys.argv[1])); truth = json.load(open(sys.argv[2]))
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
def name(ref):
    m = re.match(r"pkg:[^/]+/(.+?)@", ref)
    return norm(m.group(1).replace("%40", "@")) if m else ref
subj = bom["metadata"]["component"]["bom-ref"]
roots, edges = set(), set()
for d in bom.get("dependencies", []):
    for t in d.get("dependsOn", []):
        if d["ref"] == subj: roots.add(name(t))
        else: edges.add((name(d["ref"]), name(t)))
tr = set(truth["roots"]); te = set(map(tuple, truth["edges"]))
print(f"roots {len(roots & tr)}/{len(tr)} (extra {sorted(roots - tr)}, missing {sorted(tr - roots)})")
print(f"edges {len(edges & te)}/{len(te)} (extra {sorted(edges - te)}, missing {sorted(te - edges)})")
devs = [c["name"] for c in bom["components"] if c.get("scope") == "excluded"]
print("excluded:", sorted(devs))
