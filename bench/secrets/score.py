#!/usr/bin/env python3
"""Score a scanner's report against a corpus truth file.

A finding is true when it is in the same file as a planted secret and its reported secret and the
planted one overlap (one contains the other, or they share a run of at least half the shorter
one): tools capture slightly different spans (a whole URL or only its password). Several findings on one planted
secret count once for recall and are reported as duplicates; a finding matching no planted secret
is a false positive.

Usage: score.py TOOL REPORT TRUTH [--misses N]   (TOOL: rampart | kingfisher | betterleaks)
"""
import argparse
import collections
import json
import os


def norm(path):
    path = path.replace("\\", "/")
    for marker in ("/files/", "files/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path.lstrip("./")


def load(tool, report):
    out = []  # (file, line, secret, rule)
    if tool == "rampart":
        doc = json.load(open(report))
        for f in doc["findings"]:
            out.append((norm(f["location"]["path"]), f["location"].get("line"), f.get("secret", ""), f["rule"]))
    elif tool == "kingfisher":
        text = open(report).read()
        doc = json.JSONDecoder().raw_decode(text)[0]
        for f in doc.get("findings", []):
            g = f["finding"]
            out.append((norm(g["path"]), g.get("line"), g.get("snippet", ""), f["rule"]["id"]))
    elif tool == "betterleaks":
        doc = json.load(open(report))
        for f in doc.get("findings") or []:
            m = f["match"]
            out.append((norm(f["location"]["path"]), f["location"].get("start_line"), m.get("value") or m.get("full", ""), f["rule_id"]))
    else:
        raise SystemExit(f"unknown tool {tool}")
    return out


def overlap(a, b):
    """Same secret, captured with different spans: one contains the other, or they share a run as
    long as half the shorter one (secrets of one kind share prefixes such as a JWT header or a
    PEM armour line, so a short shared run is not enough)."""
    if not a or not b:
        return False
    if a in b or b in a:
        return True
    k = max(16, min(len(a), len(b)) // 2)
    if len(a) < k or len(b) < k:
        return False
    grams = {a[i:i + k] for i in range(len(a) - k + 1)}
    return any(b[i:i + k] in grams for i in range(len(b) - k + 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool")
    ap.add_argument("report")
    ap.add_argument("truth")
    ap.add_argument("--misses", type=int, default=0, help="print up to N misses and false positives")
    a = ap.parse_args()
    truth = [json.loads(l) for l in open(a.truth)]
    by_file = collections.defaultdict(list)
    for i, t in enumerate(truth):
        by_file[t["file"]].append(i)
    found = set()
    tp = fp = dup = 0
    fps = []
    for (path, line, secret, rule) in load(a.tool, a.report):
        # Prefer a planted secret not yet found, so two findings of two similar secrets in one
        # file are not both credited to the first.
        matches = [i for i in by_file.get(path, []) if overlap(secret, truth[i]["secret"])]
        fresh = [i for i in matches if i not in found]
        hit = fresh[0] if fresh else (matches[0] if matches else None)
        if hit is None:
            fp += 1
            fps.append((path, line, rule, secret[:60]))
        elif hit in found:
            dup += 1
        else:
            found.add(hit)
            tp += 1
    recall = len(found) / len(truth) if truth else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    missed = collections.Counter(truth[i]["provider"] for i in range(len(truth)) if i not in found)
    result = {
        "tool": a.tool,
        "planted": len(truth),
        "true_positives": tp,
        "false_positives": fp,
        "duplicates": dup,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "missed_by_provider": dict(missed.most_common()),
    }
    print(json.dumps(result))
    if a.misses:
        for i in [i for i in range(len(truth)) if i not in found][: a.misses]:
            t = truth[i]
            print("MISS", t["provider"], t["file"], t["line"], t["secret"][:70])
        for f in fps[: a.misses]:
            print("FP  ", *f)


if __name__ == "__main__":
    main()
