"""Edges and direct deps from `poetry show --tree` text (stdin) -> JSON {roots, edges} by name."""
import json, re, sys
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
roots, edges, stack = set(), set(), []
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.strip():
        continue
    if not line[0] in "│├└ ":
        name = norm(line.split()[0]); roots.add(name); stack = [name]; continue
    m = re.match(r"^((?:│   |    )*)(?:├── |└── )(\S+)", line)
    depth = len(m.group(1)) // 4 + 1
    name = norm(m.group(2))
    stack = stack[:depth]
    edges.add((stack[-1], name))
    stack.append(name)
json.dump({"roots": sorted(roots), "edges": sorted(edges)}, sys.stdout)
