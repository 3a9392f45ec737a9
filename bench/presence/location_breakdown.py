#!/usr/bin/env python3
"""Where location rejections are lost: claims >= 1,000 km from the truth, measured with >= 3
landmarks, rejected (any location reason) by claim offset and by number of landmarks measured;
genuine claims (< 100 km) falsely rejected by number of landmarks.

Usage: location_breakdown.py LABELS.jsonl REPORT.jsonl   (files written by run.sh)"""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from roc import LOC_CODES as LOC  # noqa: E402  (the location reasons roc.py counts as a rejection)
labels = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    labels[d["session"]] = d
by_offset = collections.defaultdict(lambda: [0, 0])
by_count = collections.defaultdict(lambda: [0, 0])
genuine = collections.defaultdict(lambda: [0, 0])
for line in open(sys.argv[2]):
    d = json.loads(line)
    if "session" not in d:
        continue
    r = d["session"]
    lab = labels.get(r["session"])
    if lab is None:
        continue
    m = len(r["landmarks"])
    rejected = bool({x["code"] for x in r["reasons"]} & LOC)
    off = lab["claim_offset_km"]
    if off >= 1000 and m >= 3:
        bucket = "1000-1499" if off < 1500 else "1500-1999" if off < 2000 else "2000-2999" if off < 3000 else ">=3000"
        for table, key in ((by_offset, bucket), (by_count, min(m, 9))):
            table[key][0] += 1
            table[key][1] += rejected
    elif off < 100 and m >= 3:
        genuine[min(m, 9)][0] += 1
        genuine[min(m, 9)][1] += rejected


def fmt(t):
    return ", ".join(f"{k}: {b}/{n} = {b / n:.2f}" for k, (n, b) in sorted(t.items(), key=lambda x: str(x[0])))


print("rejected by claim offset (km):", fmt(by_offset))
print("rejected by landmarks measured (9 = 9 or more):", fmt(by_count))
print("genuine false rejections by landmarks measured:", fmt(genuine))
