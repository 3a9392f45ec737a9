"""Peer baseline for bench/deps: offline OSV matching in Python with `packaging` (PyPA's reference
PEP 440 implementation), the way pip-audit-style tools evaluate OSV records.

No maintained offline OSV matcher is published on PyPI (osv-scanner is a Go binary; pip-audit
queries the online API), so this script is the closest same-input peer: it loads the same OSV JSON
corpus, indexes it by (ecosystem, normalised name) and evaluates `versions` and SEMVER/ECOSYSTEM
ranges with the OSV schema's algorithm. SemVer (Go, crates.io) uses a small key function.

usage: peer_match.py CORPUS_DIR PACKAGES.jsonl  -> prints JSON timings
"""
import json
import os
import re
import resource
import sys
import time

from packaging.version import InvalidVersion, Version


def norm(eco, name):
    if eco == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    if eco == "crates.io":
        return name.lower().replace("_", "-")
    return name


def semver_key(v):
    v = v.strip()
    if v.startswith("v"):
        v = v[1:]
    v = v.split("+", 1)[0]
    core, _, pre = v.partition("-")
    nums = [int(x) for x in core.split(".")]
    while len(nums) < 3:
        nums.append(0)
    if not pre:
        return (nums, 1, [])
    ids = [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")]
    return (nums, 0, ids)


def parse(eco, v):
    try:
        if eco == "PyPI":
            return Version(v)
        return semver_key(v)
    except (InvalidVersion, ValueError):
        return None


def affected(eco, aff, ver, pv):
    if ver in (aff.get("versions") or []):
        return True
    if pv is not None and eco == "PyPI":
        for lv in aff.get("versions") or []:
            try:
                if Version(lv) == pv:
                    return True
            except InvalidVersion:
                pass
    if pv is None:
        return False
    for r in aff.get("ranges") or []:
        if r.get("type") not in ("SEMVER", "ECOSYSTEM"):
            continue
        evs = []
        for e in r.get("events") or []:
            for k, val in e.items():
                if k == "introduced" and val == "0":
                    evs.append((0, None, k))
                else:
                    p = parse(eco, val)
                    if p is None:
                        break
                    evs.append((1, p, k))
        evs.sort(key=lambda x: (x[0],) if x[1] is None else (x[0], x[1]))
        hit = False
        for _, p, k in evs:
            if k == "introduced" and (p is None or pv >= p):
                hit = True
            elif k == "fixed" and pv >= p:
                hit = False
            elif k == "last_affected" and pv > p:
                hit = False
        if hit:
            return True
    return False


def main():
    corpus, pkgs_path = sys.argv[1], sys.argv[2]
    t = time.perf_counter()
    index = {}
    for sub in ("PyPI", "Go", "crates.io", "malicious"):
        d = os.path.join(corpus, sub)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            with open(os.path.join(d, f), "rb") as fh:
                rec = json.load(fh)
            if rec.get("withdrawn"):
                continue
            for aff in rec.get("affected") or []:
                pkg = aff.get("package") or {}
                key = (pkg.get("ecosystem"), norm(pkg.get("ecosystem"), pkg.get("name", "")))
                index.setdefault(key, []).append((rec["id"], aff))
    load_ms = (time.perf_counter() - t) * 1000
    pkgs = [json.loads(l) for l in open(pkgs_path)]
    t = time.perf_counter()
    hits = 0
    affected_pkgs = 0
    dump = open(os.environ["PEER_DUMP"], "w") if os.environ.get("PEER_DUMP") else None
    for p in pkgs:
        eco = p["ecosystem"]
        entries = index.get((eco, norm(eco, p["name"])), [])
        if not entries:
            if dump:
                dump.write(f"{eco} {p['name']} {p['version']} \n")
            continue
        pv = parse(eco, p["version"])
        ids = {i for i, a in entries if affected(eco, a, p["version"], pv)}
        hits += len(ids)
        affected_pkgs += bool(ids)
        if dump:
            dump.write(f"{eco} {p['name']} {p['version']} {','.join(sorted(ids))}\n")
    match_ms = (time.perf_counter() - t) * 1000
    print(json.dumps({
        "packages": len(pkgs),
        "load_ms": load_ms,
        "match_ms": match_ms,
        "advisory_hits": hits,
        "affected_packages": affected_pkgs,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
