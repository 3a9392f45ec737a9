#!/usr/bin/env python3
"""Detection of the whole inbound pipeline (`rampart guard check --direction in`, default policy),
rules only (`--no-classifier`) and rules + classifier, on the JSONL sets that
bench/guardrails/extract.py writes. Usage: pipeline_eval.py RAMPART_BIN SET.jsonl..."""
import json, subprocess, sys, collections
from concurrent.futures import ThreadPoolExecutor
BIN = sys.argv[1]
sets = sys.argv[2:]
def check(text, clf):
    args = [BIN, "guard", "check", "--direction", "in", "--format", "json"] + ([] if clf else ["--no-classifier"])
    r = subprocess.run(args, input=text.encode(), capture_output=True)
    try:
        return json.loads(r.stdout)["action"]
    except Exception:
        return "error:" + r.stderr.decode()[:100]
for path in sets:
    rows = [json.loads(l) for l in open(path)]
    for clf in (False, True):
        with ThreadPoolExecutor(2) as ex:
            acts = list(ex.map(lambda r: check(r["text"], clf), rows))
        by = collections.defaultdict(lambda: [0, 0])
        for r, a in zip(rows, acts):
            k = r.get("label", "?")
            by[k][0] += 1
            by[k][1] += a == "block"
        print(path.split("/")[-1], "rules+classifier" if clf else "rules only",
              {k: f"{b}/{n} = {100*b/n:.1f}% blocked" for k, (n, b) in by.items()}, flush=True)
