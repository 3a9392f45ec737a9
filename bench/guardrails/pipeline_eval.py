#!/usr/bin/env python3
"""Detection of the whole inbound pipeline (`rampart guard check --direction in`, default policy),
rules only (`--no-classifier`) and rules + classifier, on the JSONL sets that
bench/guardrails/extract.py writes. One `guard check --jsonl` process per set and mode.
Usage: pipeline_eval.py RAMPART_BIN [--policy FILE] SET.jsonl...
(--policy: a policy file passed to every check, e.g. one setting inbound.classifier_threshold)"""
import collections
import json
import subprocess
import sys
import time

BIN = sys.argv[1]
sets = sys.argv[2:]
policy = []
if sets[:1] == ["--policy"]:
    policy, sets = ["--policy", sets[1]], sets[2:]
for path in sets:
    rows = [json.loads(l) for l in open(path, encoding="utf-8")]
    lines = "".join(json.dumps({"id": i, "text": r["text"]}) + "\n" for i, r in enumerate(rows))
    for clf in (False, True):
        args = [BIN, "guard", "check", "--direction", "in", "--jsonl"] + policy + ([] if clf else ["--no-classifier"])
        t0 = time.perf_counter()
        r = subprocess.run(args, input=lines.encode(), capture_output=True)
        secs = time.perf_counter() - t0
        if r.returncode not in (0, 1):
            sys.exit(f"{path}: guard check failed: {r.stderr.decode()[:500]}")
        acts = {}
        for line in r.stdout.decode().split("\n"):
            if not line:
                continue
            v = json.loads(line)
            acts[v["id"]] = v.get("action", "error:" + v.get("error", "?"))
        assert len(acts) == len(rows), f"{path}: {len(acts)} results for {len(rows)} rows"
        by = collections.defaultdict(lambda: [0, 0])
        for i, row in enumerate(rows):
            k = row.get("label", "?")
            by[k][0] += 1
            by[k][1] += acts[i] == "block"
        print(path.split("/")[-1], "rules+classifier" if clf else "rules only",
              {k: f"{b}/{n} = {100*b/n:.1f}% blocked" for k, (n, b) in by.items()},
              f"({len(rows)} rows in {secs:.2f} s)", flush=True)
