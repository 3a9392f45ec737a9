"""Compare a BOM's `excluded` components (arg 1) with the package manager's dev-only packages:
everything in its full listing (arg 3) that is not in its production listing (arg 2). Listings are
`npm ls --all [--omit=dev] --json` or `pnpm list --depth Infinity [--prod] --json` output."""
import json, sys

def flat(d, out):
    if isinstance(d, list):  # pnpm list gives one entry per project
        d = d[0]
    for sec in ("dependencies", "devDependencies", "optionalDependencies"):
        for n, i in (d.get(sec) or {}).items():
            if i.get("version"):
                out.add(f"{n}@{i['version']}")
                flat(i, out)
    return out

def key(c):
    return f"{c['group'] + '/' if c.get('group') else ''}{c['name']}@{c['version']}"

bom = json.load(open(sys.argv[1]))
prod = flat(json.load(open(sys.argv[2])), set())
alln = flat(json.load(open(sys.argv[3])), set())
excl = {key(c) for c in bom["components"] if c.get("scope") == "excluded"}
truth = alln - prod
print(f"components {len(bom['components'])}, listed {len(alln)}; excluded {len(excl)}, "
      f"dev-only per the tool {len(truth)}, same {len(excl & truth)}")
print("excluded, not dev-only per the tool:", sorted(excl - truth))
print("  of which not installed here:", sorted((excl - truth) - alln))
print("dev-only per the tool, not excluded:", sorted(truth - excl))
