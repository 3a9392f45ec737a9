#!/usr/bin/env python3
"""The likelihood-ratio location test alone (`claim-unlikely-location`, likelihood.rs), from a
report of `rampart presence analyze --format jsonl` and the simulator's labels.

Same sessions as roc.py's location line: non-relayed claims >= 1,000 km from the truth (false)
vs < 100 km (genuine), sessions with a `location_test` (a claim and >= 3 landmarks). Prints:
  * rejected / false rejections at each session's own threshold (the report's `threshold`, the shipped one);
  * rejected at the thresholds giving 0 / 0.5 / 1 % false rejections on this file's genuine
    claims (a ceiling for any threshold choice);
  * calibration: P(T > t) on genuine claims against e^-t (Wilks: 2T ~ chi2 with 2 degrees of
    freedom when the model is right), t = 2, 3, 4, 5.3, 7;
  * with --empirical-null: the threshold an empirical null would give (exponential tail of T
    fitted to the 50th-90th percentiles over all sessions, extrapolated to 0.5 %) and its result.

Usage: location_lr.py LABELS.jsonl REPORT.jsonl [--empirical-null]
Standard library only.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from roc import load_jsonl  # noqa: E402


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    labels = {l["session"]: l for l in load_jsonl(argv[1])}
    fraud, genuine, every = [], [], []
    # Whether each session's T is above its own threshold (the report's `threshold`: larger when
    # no landmark is near the claim, likelihood.threshold_far).
    fraud_own, genuine_own = [], []
    threshold = None
    for rec in load_jsonl(argv[2]):
        r = rec.get("session")
        if not isinstance(r, dict):
            continue
        lt = r.get("location_test")
        if not lt:
            continue
        threshold = lt["threshold"]
        t = math.inf if lt["t"] is None else lt["t"]
        every.append(t)
        lab = labels.get(r["session"])
        if not lab or lab["relayed"]:
            continue
        off = lab["claim_offset_km"]
        if off >= 1000.0:
            fraud.append(t)
            fraud_own.append(t > threshold)
        elif off < 100.0:
            genuine.append(t)
            genuine_own.append(t > threshold)
    if not fraud or not genuine:
        print("location LR: no sessions to score")
        return 1

    def result(thr):
        return sum(t > thr for t in fraud) / len(fraud), sum(t > thr for t in genuine) / len(genuine)

    rej, fal = sum(fraud_own) / len(fraud), sum(genuine_own) / len(genuine)
    print(
        f"location LR alone (its thresholds): rejected {rej:.4f} of {len(fraud)}; "
        f"false rejections {fal:.4%} of {len(genuine)}"
    )
    neg = sorted(genuine, reverse=True)
    own = []
    for fpr in (0.0, 0.005, 0.01):
        thr = neg[int(fpr * len(neg))]
        own.append(f"{fpr:.1%}: {result(thr)[0]:.3f} (threshold {thr:.2f})")
    print("  at its own false-rejection rate " + "; ".join(own))
    cal = [f"t={t0}: {sum(t > t0 for t in genuine) / len(genuine):.4f} vs {math.exp(-t0):.4f}" for t0 in (2, 3, 4, 5.3, 7)]
    print("  genuine P(T > t) vs e^-t: " + "; ".join(cal))
    if "--empirical-null" in argv:
        every.sort()
        q = lambda p: every[int(p * len(every))]  # noqa: E731
        lam = math.log(0.5 / 0.1) / (q(0.9) - q(0.5))
        thr = q(0.9) + math.log(0.1 / 0.005) / lam
        r, f = result(thr)
        print(f"  empirical null (tail fitted to the 50th-90th percentiles): threshold {thr:.2f}, rejected {r:.3f}, false {f:.3%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
