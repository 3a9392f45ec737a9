#!/usr/bin/env python3
"""Location results by where the claim is and by how many ring landmarks were measured.

Same sessions as roc.py's location line: non-relayed claims >= 1,000 km from the truth (false)
vs < 100 km (genuine), with >= 3 landmarks measured. "Rejected" = any location reason. Groups:
  * region of the claimed place, by coarse latitude/longitude boxes (not borders);
  * landmarks measured 800-3,000 km from the claim (the ring of `rampart presence plan`);
  * the measured landmark nearest the claim (`plan::NEAR_MAX_KM` is 800 km).

Usage: location_by_region.py LABELS.jsonl REPORT.jsonl
Standard library only.
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from roc import LOC_CODES, load_jsonl  # noqa: E402


def region(lat, lon):
    if lon < -30:
        return "North America" if lat > 7 else "South America"
    if lat >= 42 and lon >= 45:
        return "Russia, Central Asia"
    if lat >= 35 and lon < 45:
        return "Europe"
    if lon < 35 or (lon < 52 and lat < 12):
        return "Africa" if lat < 35 else "Europe"
    if lon < 63:
        return "Middle East"
    if lon < 92 and lat >= 5:
        return "South Asia"
    if lat <= -11 or lon >= 160:
        return "Oceania"
    return "East, South-East Asia"


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    labels = {l["session"]: l for l in load_jsonl(argv[1])}
    by_region = collections.defaultdict(lambda: [0, 0, 0, 0])
    by_ring = collections.defaultdict(lambda: [0, 0, 0, 0])
    by_near = collections.defaultdict(lambda: [0, 0, 0, 0])
    for rec in load_jsonl(argv[2]):
        r = rec.get("session")
        if not isinstance(r, dict):
            continue
        lab = labels.get(r["session"])
        c = r.get("claimed")
        lms = r.get("landmarks") or []
        if not lab or lab["relayed"] or not c or len(lms) < 3:
            continue
        off = lab["claim_offset_km"]
        if 100.0 <= off < 1000.0:
            continue
        hit = any(x["code"] in LOC_CODES for x in r["reasons"])
        dist = [x["distance_km"] for x in lms if x.get("distance_km") is not None]
        ring = sum(1 for d in dist if 800.0 <= d <= 3000.0)
        near = min(dist, default=float("inf"))
        near = "< 300" if near < 300 else "300-800" if near < 800 else "800-1,500" if near < 1500 else ">= 1,500"
        ring = "8+" if ring >= 8 else "5-7" if ring >= 5 else str(ring) if ring >= 3 else "0-2"
        k = 0 if off >= 1000.0 else 2
        for g in (by_region[region(c["lat"], c["lon"])], by_ring[ring], by_near[near]):
            g[k] += 1
            g[k + 1] += hit

    def show(title, groups, order=None):
        print(title)
        for name in order or sorted(groups, key=lambda n: -groups[n][2]):
            if name not in groups:
                continue
            nf, rf, ng, rg = groups[name]
            rej = f"{rf}/{nf} = {rf / nf:.3f}" if nf else "-"
            fal = f"{rg}/{ng} = {rg / ng:.2%}" if ng else "-"
            print(f"  {name:22s} false claims rejected {rej:18s} genuine rejected {fal}")

    show("by region of the claim:", by_region)
    show("by landmarks measured 800-3,000 km from the claim:", by_ring, ["0-2", "3", "4", "5-7", "8+"])
    show("by the measured landmark nearest the claim (km):", by_near, ["< 300", "300-800", "800-1,500", ">= 1,500"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
