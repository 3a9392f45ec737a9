#!/usr/bin/env python3
"""Score `rampart presence analyze --format jsonl` output against simulator labels.

usage: roc.py LABELS.jsonl REPORT.jsonl [--name NAME] [--json OUT.json]

Prints (and optionally writes as JSON):
  * relay detection: ROC of the relay evidence z-score (`evidence_z`: the interaction loops'
    z combined with the keystrokes'; `z` in reports older than that), relays adding >= 40 ms vs
    all non-relayed sessions, and of the loops' z alone ("loops only"); TPR at the threshold
    giving <= 1 % false alarms, split by whether the user had >= 3 clean sessions before (own
    baseline) or not (population prior); AUC; and the rates at the shipped default threshold
    (verdict relay-suspected).
  * location: sessions whose claim is >= 1,000 km from the truth, measured with >= 3 landmarks:
    fraction rejected (any location reason); false rejections on genuine sessions.
  * "impossible" verdicts on genuine sessions (must be 0).
  * impossible travel: labelled fraud logins found; false pairs.
Only the standard library is used.
"""
import json
import sys

LOC_CODES = {"claim-outside-region", "claim-unlikely-location", "rtt-below-physical-bound", "rtt-below-physical-bound-single-sample", "rtt-below-fibre-bound"}


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                yield json.loads(line)


def auc(pos, neg):
    # Mann-Whitney U with ties counted half.
    allv = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum = 0.0
    i = 0
    n = len(allv)
    while i < n:
        j = i
        while j < n and allv[j][0] == allv[i][0]:
            j += 1
        avg = (i + j + 1) / 2.0
        rank_sum += avg * sum(1 for k in range(i, j) if allv[k][1] == 1)
        i = j
    np_, nn = len(pos), len(neg)
    if np_ == 0 or nn == 0:
        return float("nan")
    return (rank_sum - np_ * (np_ + 1) / 2.0) / (np_ * nn)


def tpr_at_fpr(pos, neg, fpr):
    if not neg or not pos:
        return float("nan"), float("nan")
    s = sorted(neg, reverse=True)
    k = int(fpr * len(s))  # allowed false alarms
    thr = s[k] if k < len(s) else float("-inf")
    # strictly greater than thr => at most k negatives above
    tp = sum(1 for v in pos if v > thr)
    return tp / len(pos), thr


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    labels = {l["session"]: l for l in load_jsonl(argv[1])}
    name = argv[argv.index("--name") + 1] if "--name" in argv else argv[2]
    out_json = argv[argv.index("--json") + 1] if "--json" in argv else None
    sessions = {}
    travel = []
    for rec in load_jsonl(argv[2]):
        if "session" in rec:
            sessions[rec["session"]["session"]] = rec["session"]
        elif "travel" in rec:
            travel.append(rec["travel"])
    missing = [s for s in labels if s not in sessions]
    res = {"name": name, "sessions": len(sessions), "labels": len(labels), "missing_reports": len(missing)}

    def z(r):
        rel = r["relay"]
        return rel.get("evidence_z", rel["z"])

    def z_loops(r):
        return r["relay"]["z"]

    # Reports of relayed (>= 40 ms) sessions with and without the user's own baseline, and of
    # non-relayed ones; each ranked below by the verdict's z and by the loops' z alone.
    rep_base, rep_cold, rep_neg = [], [], []
    for sid, lab in labels.items():
        r = sessions.get(sid)
        if r is None or r.get("relay") is None:
            continue
        if lab["relayed"] and lab["added_delay_ms"] >= 40.0:
            (rep_base if lab["clean_history"] >= 3 else rep_cold).append(r)
        elif not lab["relayed"]:
            rep_neg.append(r)
    rep_pos = rep_base + rep_cold
    pos_all, pos_base, pos_cold, neg = ([z(r) for r in rs] for rs in (rep_pos, rep_base, rep_cold, rep_neg))
    lpos_all, lpos_cold, lneg = ([z_loops(r) for r in rs] for rs in (rep_pos, rep_cold, rep_neg))
    pos_verdict = sum(r["verdict"] == "relay-suspected" for r in rep_pos)
    neg_verdict = sum(r["verdict"] == "relay-suspected" for r in rep_neg)
    t_all, thr = tpr_at_fpr(pos_all, neg, 0.01)
    t_base, _ = tpr_at_fpr(pos_base, neg, 0.01)
    t_cold, _ = tpr_at_fpr(pos_cold, neg, 0.01)
    res["relay"] = {
        "positives": len(pos_all),
        "positives_with_baseline": len(pos_base),
        "positives_cold_start": len(pos_cold),
        "negatives": len(neg),
        "auc": auc(pos_all, neg),
        "threshold_z_at_1pct_fpr": thr,
        "tpr_at_1pct_fpr": t_all,
        "tpr_at_1pct_fpr_with_baseline": t_base,
        "tpr_at_1pct_fpr_cold_start": t_cold,
        "loops_only_tpr_at_1pct_fpr": tpr_at_fpr(lpos_all, lneg, 0.01)[0],
        "loops_only_tpr_at_1pct_fpr_cold_start": tpr_at_fpr(lpos_cold, lneg, 0.01)[0],
        "loops_only_auc": auc(lpos_all, lneg),
        "default_verdict_tpr": pos_verdict / len(pos_all) if pos_all else float("nan"),
        "default_verdict_fpr": neg_verdict / len(neg) if neg else float("nan"),
    }
    # Location.
    far = rej = gen = gen_rej = 0
    impossible_genuine = impossible_far = 0
    for sid, lab in labels.items():
        r = sessions.get(sid)
        if r is None:
            continue
        codes = {x["code"] for x in r["reasons"]}
        measured = len(r["landmarks"])
        genuine = lab["claim_offset_km"] < 100.0
        if genuine and r["verdict"] == "impossible":
            impossible_genuine += 1
        if lab["claim_offset_km"] >= 1000.0:
            impossible_far += r["verdict"] == "impossible"
            if measured >= 3:
                far += 1
                rej += bool(codes & LOC_CODES)
        elif genuine and measured >= 3:
            gen += 1
            gen_rej += bool(codes & LOC_CODES)
    res["location"] = {
        "far_claims": far,
        "far_rejected": rej / far if far else float("nan"),
        "far_impossible": impossible_far,
        "genuine_claims": gen,
        "genuine_false_rejections": gen_rej / gen if gen else float("nan"),
        "impossible_on_genuine": impossible_genuine,
    }
    # Travel.
    fraud_sessions = {s for s, l in labels.items() if l["travel_fraud"]}
    # A pair is also true when one of its logins claims a place >= 500 km from the truth (a
    # location-fraud session right after a genuine one is impossible travel in the claims).
    false_claim = {s for s, l in labels.items() if l["claim_offset_km"] >= 500.0}
    found = set()
    false_pairs = 0
    for t in travel:
        hit = t["to_session"] in fraud_sessions or t["from_session"] in fraud_sessions
        explained = t["to_session"] in false_claim or t["from_session"] in false_claim
        if hit or explained:
            found |= {t["to_session"], t["from_session"]} & fraud_sessions
        else:
            false_pairs += 1
    res["travel"] = {
        "fraud_logins": len(fraud_sessions),
        "found": len(found),
        "recall": len(found) / len(fraud_sessions) if fraud_sessions else float("nan"),
        "false_pairs": false_pairs,
        "pairs": len(travel),
    }
    verdicts = {}
    for r in sessions.values():
        verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
    res["verdicts"] = verdicts
    rl, lo, tr = res["relay"], res["location"], res["travel"]
    print(f"== {name}: {len(sessions)} sessions judged ({len(missing)} labelled sessions missing) verdicts={verdicts}")
    print(
        f"relay (>=40 ms, <=200 loops): TPR@1%FPR {rl['tpr_at_1pct_fpr']:.3f} "
        f"[own baseline {rl['tpr_at_1pct_fpr_with_baseline']:.3f} n={rl['positives_with_baseline']}, "
        f"cold start {rl['tpr_at_1pct_fpr_cold_start']:.3f} n={rl['positives_cold_start']}], AUC {rl['auc']:.4f}, "
        f"negatives {rl['negatives']}; default threshold: TPR {rl['default_verdict_tpr']:.3f} FPR {rl['default_verdict_fpr']:.4f}; "
        f"loops only: TPR@1%FPR {rl['loops_only_tpr_at_1pct_fpr']:.3f} cold start {rl['loops_only_tpr_at_1pct_fpr_cold_start']:.3f} AUC {rl['loops_only_auc']:.4f}"
    )
    print(
        f"location (>=1000 km off, >=3 landmarks): rejected {lo['far_rejected']:.4f} of {lo['far_claims']}; "
        f"genuine false rejections {lo['genuine_false_rejections']:.4f} of {lo['genuine_claims']}; "
        f"impossible on genuine: {lo['impossible_on_genuine']}; impossible on far claims: {lo['far_impossible']}"
    )
    print(f"travel: {tr['found']}/{tr['fraud_logins']} travel-fraud logins found; {tr['false_pairs']} of {tr['pairs']} pairs involve no false claim")
    if out_json:
        with open(out_json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
