"""Truth {roots, edges} by name@version from `npm ls --all --json` (stdin)."""
import json, sys
d = json.load(sys.stdin)
roots, edges = set(), set()
def walk(parent, deps):
    for name, info in (deps or {}).items():
        v = info.get("version")
        if not v: continue
        me = f"{name}@{v}"
        if parent is None: roots.add(me)
        else: edges.add((parent, me))
        walk(me, info.get("dependencies"))
walk(None, d.get("dependencies"))
json.dump({"roots": sorted(roots), "edges": sorted(edges)}, sys.stdout)
