#!/usr/bin/env python3
"""Run Rampart, Kingfisher and Betterleaks on the same inputs with the same thread count; report
precision/recall on the corpus and wall time, CPU time, throughput and peak RSS on the tree and
the git history (median of RUNS runs after one warm-up run). Prints Markdown."""
import argparse, json, os, statistics, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
for k in ("rampart", "kingfisher", "betterleaks", "tree", "history", "corpus", "out"):
    ap.add_argument("--" + k, required=True)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--runs", type=int, default=3)
a = ap.parse_args()
here = os.path.dirname(os.path.abspath(__file__))


def timed(cmd):
    """Run cmd under /usr/bin/time; return (wall s, user+sys s, max RSS MB)."""
    with tempfile.NamedTemporaryFile(mode="r", suffix=".time") as tf:
        r = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", tf.name] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall, user, sys_, rss = tf.read().split()[-4:]
        return float(wall), float(user) + float(sys_), int(rss) / 1024, r.returncode


def du(path, git=False):
    if git:
        out = subprocess.run(["git", "count-objects", "-v"], cwd=path, capture_output=True, text=True).stdout
        kv = dict(l.split(": ") for l in out.strip().splitlines())
        return (int(kv["size"]) + int(kv["size-pack"])) * 1024
    return int(subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout.split()[0])


def cmds(tool, target, report, history=False):
    j = str(a.threads)
    if tool == "rampart":
        extra = ["--git"] if history else []
        return [a.rampart, "scan", target, "-j", j, "-f", "json", "-o", report, "--fail-on", "none", "--no-progress", "--show-secrets"] + extra
    if tool == "kingfisher":
        extra = [] if history else ["--git-history", "none"]
        return [a.kingfisher, "scan", target, "--no-validate", "-j", j, "-f", "json", "-o", report, "--no-update-check"] + extra
    if tool == "betterleaks":
        sub = "git" if history else "fs"
        return [a.betterleaks, sub, target, "-j", j, "--no-banner", "-s", "-o", report]
    raise ValueError(tool)


def findings(tool, report):
    try:
        if tool == "kingfisher":
            return len(json.JSONDecoder().raw_decode(open(report).read())[0].get("findings", []))
        return len(json.load(open(report)).get("findings") or [])
    except Exception:
        return -1


tools = ["rampart", "kingfisher", "betterleaks"]
print(f"threads: {a.threads}, runs: {a.runs} (median after one warm-up), load before: {os.getloadavg()[0]:.2f}\n")

# Corpus.
print("### Precision and recall on the generated corpus\n")
meta = open(os.path.join(a.corpus, "..", "corpus.json")).read().strip() if os.path.exists(os.path.join(a.corpus, "..", "corpus.json")) else ""
print(f"corpus: {meta}\n")
print("| tool | planted | true positives | false positives | duplicates | precision | recall |")
print("|---|---:|---:|---:|---:|---:|---:|")
misses = {}
for t in tools:
    rep = os.path.join(a.out, f"corpus-{t}.json")
    timed(cmds(t, os.path.join(a.corpus, "files"), rep))
    s = json.loads(subprocess.run([sys.executable, os.path.join(here, "score.py"), t, rep, os.path.join(a.corpus, "truth.jsonl")],
                                  capture_output=True, text=True).stdout.splitlines()[0])
    misses[t] = s["missed_by_provider"]
    print(f"| {t} | {s['planted']} | {s['true_positives']} | {s['false_positives']} | {s['duplicates']} | {s['precision']:.4f} | {s['recall']:.4f} |")
print()
for t in tools:
    print(f"- {t} misses by provider: {misses[t] or 'none'}")
print()

for label, target, history in (("tree", a.tree, False), ("git history", a.history, True)):
    size = du(target, git=history)
    print(f"### Throughput: {label} `{target}` ({size / 1e6:.0f} MB{' packed objects' if history else ''})\n")
    print("| tool | wall s (median) | CPU s | MB/s | peak RSS MB | findings |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = {}
    for t in tools:
        rep = os.path.join(a.out, f"{label.replace(' ', '-')}-{t}.json")
        timed(cmds(t, target, rep, history))  # warm-up (page cache, rule caches)
        runs = [timed(cmds(t, target, rep, history)) for _ in range(a.runs)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rss = max(r[2] for r in runs)
        rows[t] = (wall, rss)
        print(f"| {t} | {wall:.2f} | {cpu:.2f} | {size / 1e6 / wall:.0f} | {rss:.0f} | {findings(t, rep)} |")
    kw, krss = rows["kingfisher"]
    rw, rrss = rows["rampart"]
    print(f"\nRampart vs Kingfisher: {kw / rw:.2f}x throughput, peak RSS {rrss:.0f} MB vs {krss:.0f} MB; "
          f"vs Betterleaks: {rows['betterleaks'][0] / rw:.2f}x.\n")
print(f"load after: {os.getloadavg()[0]:.2f}")
