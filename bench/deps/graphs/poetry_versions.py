"""Version-level edges of a poetry.lock with `packaging` (independent PEP 440 code): each
dependency goes to the locked versions of its name that its constraints allow (all when only
one is locked). Prints JSON {edges: [[from, to]]} as name@version."""
import json, re, sys, tomllib
from packaging.specifiers import SpecifierSet
from packaging.version import Version
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
d = tomllib.load(open(sys.argv[1], "rb"))
by = {}
for p in d["package"]:
    by.setdefault(norm(p["name"]), []).append(p["version"])
def cons(v):
    if isinstance(v, str): return [v]
    if isinstance(v, dict): return [v.get("version", "*")]
    return [c for x in v for c in cons(x)]
edges = set()
for p in d["package"]:
    for n, c in p.get("dependencies", {}).items():
        vs = by.get(norm(n), [])
        fix = lambda s: "" if s == "*" else ("==" + s if s[:1].isdigit() else s)
        if len(vs) > 1:
            ok = [v for v in vs if any(SpecifierSet(fix(s)).contains(Version(v), prereleases=True) for s in cons(c))]
            vs = ok or vs
        for v in vs:
            edges.add((f"{norm(p['name'])}@{p['version']}", f"{norm(n)}@{v}"))
json.dump({"edges": sorted(edges)}, sys.stdout)
