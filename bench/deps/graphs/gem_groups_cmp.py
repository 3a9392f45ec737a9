"""Development-only gems per Rampart against Bundler's own reading of each Gemfile.

For each GEMFILE: `ruby gem_groups.rb GEMFILE` (Bundler::Dsl evaluates it — Ruby code, so only
trusted files) gives every declared gem and its groups; a Gemfile.lock listing exactly those gems
(and a PATH section for the project's gemspec, copied beside it, when the Gemfile says `gemspec`)
is written to OUT/N/ with the Gemfile, and `rampart sbom` on it must mark as development-only
(`scope: excluded`) exactly the gems whose groups are all development/test.

Usage: python3 gem_groups_cmp.py RAMPART OUT GEMFILE...
"""
import glob
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RAMPART, OUT, gemfiles = sys.argv[1], sys.argv[2], sys.argv[3:]
tot = agree = 0
for k, gf in enumerate(gemfiles):
    r = subprocess.run(["ruby", os.path.join(HERE, "gem_groups.rb"), os.path.abspath(gf)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{gf}: bundler failed: {r.stderr.strip()[-200:]}")
        continue
    deps = {}
    for line in r.stdout.splitlines():
        n, g = line.split("\t")
        deps.setdefault(n, set()).update(g.split(","))
    d = os.path.join(OUT, str(k))
    os.makedirs(d, exist_ok=True)
    shutil.copy(gf, os.path.join(d, "Gemfile"))
    specs = glob.glob(os.path.join(os.path.dirname(gf), "*.gemspec"))
    local = ""
    if specs and "gemspec" in open(gf).read():
        name = os.path.basename(specs[0])[: -len(".gemspec")]
        shutil.copy(specs[0], os.path.join(d, f"{name}.gemspec"))
        local = f"PATH\n  remote: .\n  specs:\n    {name} (1.0.0)\n\n"
        deps.pop(name, None)
    with open(os.path.join(d, "Gemfile.lock"), "w") as f:
        f.write(local + "GEM\n  remote: https://rubygems.org/\n  specs:\n")
        for n in sorted(deps):
            f.write(f"    {n} (1.0.0)\n")
        f.write("\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n")
        for n in sorted(deps):
            f.write(f"  {n}\n")
    s = subprocess.run([RAMPART, "sbom", os.path.join(d, "Gemfile.lock")], capture_output=True, text=True)
    bom = json.loads(s.stdout)
    ex = {c["name"] for c in bom["components"] if c.get("scope") == "excluded"}
    ref = {n for n, g in deps.items() if g <= {"development", "test"}}
    tot += len(deps)
    agree += sum((n in ex) == (n in ref) for n in deps)
    print(f"{gf}: {len(deps)} gems, Bundler dev-only {len(ref)}, Rampart {len(ex)}, same {len(ex & ref)}; "
          f"only Rampart {sorted(ex - ref)}; only Bundler {sorted(ref - ex)}")
print(f"total {agree}/{tot} gems judged alike")
