"""Write DIR/Pipfile.lock with N packages (default 20,000) in pipenv's layout, for timing
`rampart sbom DIR/Pipfile.lock`. Usage: python3 bench/deps/big_pipfile_lock.py DIR [N]"""
import hashlib, json, os, sys

out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20000
os.makedirs(out, exist_ok=True)
pkgs = {}
for i in range(n):
    name = f"pkg-{i:05d}"
    h = hashlib.sha256(name.encode()).hexdigest()
    pkgs[name] = {"hashes": [f"sha256:{h}"], "index": "pypi", "markers": "python_version >= '3.8'",
                  "version": f"=={i % 7}.{i % 13}.{i % 5}"}
lock = {"_meta": {"hash": {"sha256": "0" * 64}, "pipfile-spec": 6, "requires": {"python_version": "3.11"},
                  "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": True}]},
        "default": dict(sorted(pkgs.items())), "develop": {}}
with open(os.path.join(out, "Pipfile.lock"), "w") as f:
    json.dump(lock, f, indent=4, sort_keys=True)
    f.write("\n")
