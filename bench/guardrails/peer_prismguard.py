#!/usr/bin/env python3
"""Run the peer prismguard (PyPI) on the same held-out rows as Rampart's eval.

prismguard's transformer model (prism-pi-v1) is not in the wheel: it needs a model-hub download,
which this benchmark does not allow. So the peer is prismguard's offline *rules-only* mode
(PRISMGUARD_APP_PROFILE=web_chat: normalization, Tier-1 rules, structural heuristics, no ONNX
model, no corpus ANN). It gives a block/allow decision, not a score, so only recall / false-block
rates (no ROC-AUC, no recall at a chosen FPR) are comparable.

Usage: peer_prismguard.py DATA_DIR OUT_JSON
"""

import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("PRISMGUARD_APP_PROFILE", "web_chat")


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    data, out = sys.argv[1], sys.argv[2]
    test = read(os.path.join(data, "test.jsonl"))
    garak = read(os.path.join(data, "garak_unseen.jsonl"))
    dna = read(os.path.join(data, "donotanswer.jsonl"))
    data, out = os.path.abspath(data), os.path.abspath(out)
    # prismguard may create local state files; keep them out of the tree.
    os.chdir(tempfile.mkdtemp(prefix="prismguard-peer-"))
    from prismguard.cli_check import run_check

    def blocked(text):
        try:
            return run_check(text).decision != "allow"
        except Exception as e:  # noqa: BLE001 - a crash on an input counts as "allow", reported
            print(f"peer_prismguard: error on input ({e}); counted as allow", file=sys.stderr)
            return False

    res = {"tool": "prismguard 0.1.10 rules-only (PRISMGUARD_APP_PROFILE=web_chat)"}
    tb = [blocked(r["text"]) for r in test]
    pos = [b for b, r in zip(tb, test) if r["label"] == 1]
    neg = [b for b, r in zip(tb, test) if r["label"] == 0]
    res["test"] = {
        "n_injection": len(pos),
        "n_benign": len(neg),
        "recall": sum(pos) / max(1, len(pos)),
        "benign_false_block_rate": sum(neg) / max(1, len(neg)),
    }
    gb = [blocked(r["text"]) for r in garak]
    res["garak_unseen"] = {"n": len(gb), "blocked": sum(gb), "blocked_rate": sum(gb) / max(1, len(gb))}
    for name in ["bastion_unseen", "agent_unseen", "fresh_unseen"]:
        path = os.path.join(data, name + ".jsonl")
        if not os.path.exists(path):
            continue
        rows = read(path)
        bb = [blocked(r["text"]) for r in rows]
        bpos = [b for b, r in zip(bb, rows) if r["label"] == 1]
        bneg = [b for b, r in zip(bb, rows) if r["label"] == 0]
        res[name] = {
            "recall": sum(bpos) / max(1, len(bpos)),
            "benign_false_block_rate": sum(bneg) / max(1, len(bneg)),
        }
    ordinary_path = os.path.join(data, "ordinary_unseen.jsonl")
    if os.path.exists(ordinary_path):
        ob = [blocked(r["text"]) for r in read(ordinary_path)]
        res["ordinary_unseen"] = {"n": len(ob), "blocked": sum(ob),
                                  "benign_false_block_rate": sum(ob) / max(1, len(ob))}
    db = [blocked(r["text"]) for r in dna]
    res["donotanswer"] = {"n": len(db), "flagged": sum(db), "flagged_rate": sum(db) / max(1, len(db))}

    # Latency on ~4 KB prompts built exactly like the Rust eval does.
    prompts, cur = [], ""
    for r in test + garak:
        cur += r["text"] + "\n"
        if len(cur.encode()) >= 4096:
            b = cur.encode()[:4096].decode("utf-8", errors="ignore")
            prompts.append(b)
            cur = ""
    times = []
    for p in prompts:
        t = time.perf_counter()
        blocked(p)
        times.append((time.perf_counter() - t) * 1e6)
    times.sort()
    res["latency_4kb_us"] = {
        "prompts": len(prompts),
        "median": statistics.median(times) if times else None,
        "p99": times[round((len(times) - 1) * 0.99)] if times else None,
    }
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
