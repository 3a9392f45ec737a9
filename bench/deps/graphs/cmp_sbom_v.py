"""Compare a CycloneDX BOM's graph (arg 1) with truth {roots, edges} as name@version (arg 2)."""
import json, re, sys, urllib.parse
bom = json.load(open(sys.argv[1])); truth = json.load(open(sys.argv[2]))
def nv(ref):
    m = re.match(r"pkg:npm/(.+)@([^?#]+)", ref)
    return urllib.parse.unquote(m.group(1)) + "@" + urllib.parse.unquote(m.group(2)) if m else ref
subj = bom["metadata"]["component"]["bom-ref"]
roots, edges = set(), set()
for d in bom.get("dependencies", []):
    for t in d.get("dependsOn", []):
        if d["ref"] == subj: roots.add(nv(t))
        else: edges.add((nv(d["ref"]), nv(t)))
tr = set(truth["roots"]); te = set(map(tuple, truth["edges"]))
print(f"roots {len(roots & tr)}/{len(tr)} (extra {sorted(roots - tr)[:8]}, missing {sorted(tr - roots)[:8]})")
print(f"edges {len(edges & te)}/{len(te)} (extra {len(edges - te)} {sorted(edges - te)[:6]}, missing {len(te - edges)} {sorted(te - edges)[:6]})")
