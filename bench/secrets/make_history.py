#!/usr/bin/env python3
"""Build a git history from a real source tree: each commit adds the next package directory of
TREE (copied), edits one earlier file and deletes another, so that blobs repeat across commits and
some content exists only in history. Usage: make_history.py TREE OUT [--commits N]"""
import argparse, os, random, shutil, subprocess

ap = argparse.ArgumentParser()
ap.add_argument("tree")
ap.add_argument("out")
ap.add_argument("--commits", type=int, default=400)
a = ap.parse_args()
rng = random.Random(7)
env = dict(os.environ, GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.org",
           GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.org")
os.makedirs(a.out, exist_ok=True)
git = lambda *args: subprocess.run(["git", *args], cwd=a.out, env=env, check=True, stdout=subprocess.DEVNULL)
git("init", "-q", "-b", "main")
dirs = sorted(d for d in os.listdir(a.tree) if os.path.isdir(os.path.join(a.tree, d)))[: a.commits]
files = []
for i, d in enumerate(dirs):
    shutil.copytree(os.path.join(a.tree, d), os.path.join(a.out, d), symlinks=True,
                    ignore=shutil.ignore_patterns(".git", "*.so", "*.a"))
    for root, _, fs in os.walk(os.path.join(a.out, d)):
        files += [os.path.join(root, f) for f in fs if os.path.isfile(os.path.join(root, f))]
    if len(files) > 10:
        victim = rng.choice(files)
        with open(victim, "ab") as fh:
            fh.write(f"\n// edited in commit {i}\n".encode())
        gone = rng.choice(files)
        if gone != victim and os.path.exists(gone):
            os.remove(gone)
            files.remove(gone)
    git("add", "-A")
    git("commit", "-qm", f"add {d}")
size = subprocess.run(["git", "count-objects", "-vH"], cwd=a.out, capture_output=True, text=True).stdout
print(f"history: {len(dirs)} commits\n{size}")
