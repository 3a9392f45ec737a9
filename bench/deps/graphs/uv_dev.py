"""Dev-only packages of a uv project per uv itself against a BOM's `excluded` components.
Usage: uv tree --frozen --universal --no-dedupe --no-dev > prod.txt;
       uv tree --frozen --universal --no-dedupe --all-groups > all.txt;
       rampart sbom uv.lock > bom.json; python3 uv_dev.py bom.json prod.txt all.txt PROJECT@VERSION"""
import json, re, sys

def names(f):
    out = set()
    for line in open(f):
        m = re.search(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])? v(\S+)", line)
        if m:
            out.add(f"{m.group(1).lower()}@{m.group(3)}")
    return out

bom = json.load(open(sys.argv[1]))
truth = names(sys.argv[3]) - names(sys.argv[2]) - {sys.argv[4].lower()}
excl = {f"{c['name'].lower()}@{c['version']}" for c in bom["components"] if c.get("scope") == "excluded"}
print(f"excluded {len(excl)}, dev-only per uv {len(truth)}, same {len(excl & truth)}")
print("extra:", sorted(excl - truth), "missing:", sorted(truth - excl))
