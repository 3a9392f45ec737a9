#!/usr/bin/env python3
"""Run Rampart, picklescan, modelscan and fickling over the corpus written by gen_corpus.py and
report detection rate, false positives and throughput, same machine, same run.

Usage: python compare.py CORPUS_DIR RAMPART_CMD...   (RAMPART_CMD gets CORPUS_DIR appended and
must print one JSON object per file with findings: {"path", "findings", "skipped"})

A file counts as flagged by a peer when the peer reports an issue for it; peers' scan *errors* are
reported separately ("flagged or error"), since an error is not a verdict a user can act on but
does stop a pipeline that treats errors as failures. Rampart is flagged when it reports a finding.
"""
import io
import json
import logging
import os
import subprocess
import sys
import time
import contextlib

corpus = sys.argv[1]
rampart_cmd = sys.argv[2:]
manifest = json.load(open(os.path.join(corpus, "manifest.json")))
files = [m["file"] for m in manifest]
label = {m["file"]: m["label"] for m in manifest}
tech = {m["file"]: m["technique"] for m in manifest}
total_bytes = sum(os.path.getsize(os.path.join(corpus, f)) for f in files)
logging.disable(logging.CRITICAL)


REPEAT = 1
ONLY = None  # restrict peers to these files (throughput phase)


def targets():
    return (ONLY or files) * REPEAT


def run_rampart():
    best = None
    roots = [os.path.join(corpus, f) for f in ONLY] if ONLY else [corpus]
    for _ in range(3):
        t0 = time.perf_counter()
        p = subprocess.run(rampart_cmd + roots * REPEAT, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    verdict = {f: (False, False) for f in files}
    if ONLY:
        return verdict, best
    # `rampart scan … -f jsonl`: one finding per line, then {"skipped": …} lines.
    for line in p.stdout.splitlines():
        o = json.loads(line)
        if o.get("kind") != "unsafe-model":
            continue
        rel = os.path.relpath(o["location"]["path"], corpus)
        if rel in verdict:
            verdict[rel] = (True, False)
    return verdict, best


def quiet(fn, *a):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*a)


def run_picklescan():
    from picklescan import scanner
    verdict = {}
    t0 = time.perf_counter()
    for f in targets():
        try:
            r = quiet(scanner.scan_file_path, os.path.join(corpus, f))
            verdict[f] = (r.infected_files > 0 or r.issues_count > 0, bool(r.scan_err))
        except Exception:
            verdict[f] = (False, True)
    return verdict, time.perf_counter() - t0


def run_modelscan():
    from modelscan.modelscan import ModelScan
    verdict = {}
    t0 = time.perf_counter()
    for f in targets():
        try:
            r = quiet(ModelScan().scan, os.path.join(corpus, f))
            issues = r.get("issues", [])
            errors = r.get("errors", [])
            verdict[f] = (len(issues) > 0, len(errors) > 0)
        except Exception:
            verdict[f] = (False, True)
    return verdict, time.perf_counter() - t0


def run_fickling():
    import zipfile
    import fickling
    from fickling.analysis import Severity
    verdict = {}
    t0 = time.perf_counter()
    for f in targets():
        p = os.path.join(corpus, f)
        try:
            if zipfile.is_zipfile(p):
                rs = list(quiet(fickling.scan_zip_archive, p, True).values())
            else:
                rs = [quiet(fickling.scan_file, p, True)]
            flagged = any(r.severity > Severity.LIKELY_SAFE and r.results for r in rs)
            err = any(r.errors for r in rs)
            verdict[f] = (flagged, err)
        except Exception:
            verdict[f] = (False, True)
    return verdict, time.perf_counter() - t0


def versions():
    import importlib.metadata as md
    return {k: md.version(k) for k in ["picklescan", "modelscan", "fickling"]}


tools = {"rampart": run_rampart, "picklescan": run_picklescan, "modelscan": run_modelscan, "fickling": run_fickling}
results = {}
for name, fn in tools.items():
    v, secs = fn()
    results[name] = (v, secs)

mal = [f for f in files if label[f] == "malicious"]
ben = [f for f in files if label[f] == "benign"]
rows = []
for name, (v, secs) in results.items():
    det = sum(1 for f in mal if v[f][0])
    det_err = sum(1 for f in mal if v[f][0] or v[f][1])
    fp = sum(1 for f in ben if v[f][0])
    fp_err = sum(1 for f in ben if v[f][0] or v[f][1])
    rows.append((name, det, det_err, fp, fp_err, secs))

base = dict((r[0], r[5]) for r in rows)["picklescan"]
print(f"corpus: {len(files)} files ({len(mal)} malicious, {len(ben)} benign), {total_bytes / 1e6:.1f} MB; peers {versions()}")
print()
print("| tool | malicious flagged | flagged or scan error | benign flagged (FP) | FP incl. scan errors | wall time | MB/s | speed vs picklescan |")
print("|---|---|---|---|---|---|---|---|")
for name, det, det_err, fp, fp_err, secs in rows:
    print(f"| {name} | {det}/{len(mal)} ({100 * det / len(mal):.1f}%) | {det_err}/{len(mal)} | {fp}/{len(ben)} | {fp_err}/{len(ben)} | {secs:.2f} s | {total_bytes / 1e6 / secs:.0f} | {base / secs:.1f}x |")
print()
print()
# Throughput: every benign file scanned REPEAT times (a corpus of real library output).
ben_bytes = sum(os.path.getsize(os.path.join(corpus, f)) for f in ben)
pick = [f for f in ben if f.endswith((".pkl", ".joblib"))]
pick_bytes = sum(os.path.getsize(os.path.join(corpus, f)) for f in pick)
REPEAT = 1
print("Throughput (warm page cache; Rampart best of 3 runs including process start, peers one in-process run):")
print()
print("| tool | all benign files (%d files, %.1f MB per pass) | speed vs picklescan | raw pickle + joblib files only (%d files, %.1f MB per pass) | speed vs picklescan |" % (len(ben), ben_bytes / 1e6, len(pick), pick_bytes / 1e6))
print("|---|---|---|---|---|")
tp = {}
for name, fn in tools.items():
    row = []
    for subset in (ben, pick):
        ONLY = subset
        runs = [fn() for _ in range(3 if name == "rampart" else 1)]
        row.append(min(r[1] for r in runs))
    tp[name] = row
ONLY = None
for name, (a, b) in tp.items():
    print(f"| {name} | {a:.2f} s ({REPEAT * ben_bytes / 1e6 / a:.0f} MB/s) | {tp['picklescan'][0] / a:.1f}x | {b:.2f} s ({REPEAT * pick_bytes / 1e6 / b:.0f} MB/s) | {tp['picklescan'][1] / b:.1f}x |")
print()
rv = results["rampart"][0]
for name in ["picklescan", "modelscan", "fickling"]:
    v = results[name][0]
    caught = [f for f in mal if v[f][0] and not rv[f][0]]
    print(f"{name} flags but Rampart misses: {caught if caught else 'none'}")
print()
print("Malicious samples missed, per tool (flag only):")
for name, (v, _) in results.items():
    missed = [f for f in mal if not v[f][0]]
    print(f"- {name} ({len(missed)}): " + ", ".join(f"{os.path.basename(f)}" for f in missed))
print()
print("False positives, per tool (flag only):")
for name, (v, _) in results.items():
    fps = [f for f in ben if v[f][0]]
    print(f"- {name} ({len(fps)}): " + ", ".join(fps))
json.dump({n: {f: list(v[f]) for f in files} for n, (v, _) in results.items()}, open(os.path.join(corpus, "..", "results.json"), "w"), indent=1)
