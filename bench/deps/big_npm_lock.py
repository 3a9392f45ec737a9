#!/usr/bin/env python3
"""Write a large npm lockfile v3 (N packages, 4 random dependencies each, 200 direct) to time how
`rampart sbom` reads a big monorepo's lock. Synthetic: it measures parsing cost, not accuracy.

Usage: big_npm_lock.py OUT_DIR [N]      (default N = 20000; ~6 MB)
then:  time rampart sbom OUT_DIR/package-lock.json > /dev/null
"""
import json
import os
import random
import sys

out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20000
random.seed(1)
pk = {"": {"name": "big", "dependencies": {f"p{i}": "^1" for i in range(min(200, n))}}}
for i in range(n):
    deps = {f"p{random.randrange(n)}": "^1" for _ in range(4)}
    pk[f"node_modules/p{i}"] = {
        "version": f"1.{i % 50}.{i % 7}",
        "integrity": "sha512-" + "A" * 86 + "==",
        "dependencies": deps,
    }
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "package-lock.json"), "w") as f:
    json.dump({"name": "big", "lockfileVersion": 3, "requires": True, "packages": pk}, f, indent=2)
