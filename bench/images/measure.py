#!/usr/bin/env python3
"""Time Rampart and Kingfisher on one image archive; check which planted secrets each found."""
import argparse, json, os, statistics, subprocess, tempfile

ap = argparse.ArgumentParser()
for k in ("rampart", "kingfisher", "image", "out"):
    ap.add_argument("--" + k, required=True)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--runs", type=int, default=3)
a = ap.parse_args()
truth = json.load(open(a.image + ".truth.json"))
size = os.path.getsize(a.image)


def timed(cmd):
    with tempfile.NamedTemporaryFile(mode="r", suffix=".time") as tf:
        subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", tf.name] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall, user, sys_, rss = tf.read().split()[-4:]
        return float(wall), float(user) + float(sys_), int(rss) / 1024


j = str(a.threads)
tools = {
    "rampart": lambda rep: [a.rampart, "scan", a.image, "-j", j, "-f", "json", "-o", rep, "--fail-on", "none", "--no-progress", "--show-secrets"],
    # Kingfisher's default size limits make it abort on a layer of several hundred MB ("layer …
    # was not found" after extraction), so it runs with --no-limits; its default run is reported too.
    "kingfisher": lambda rep: [a.kingfisher, "scan", "docker", "--archive", a.image, "--no-validate", "-j", j, "-f", "json", "-o", rep, "--no-update-check", "--no-limits"],
}
default_kf = subprocess.run([a.kingfisher, "scan", "docker", "--archive", a.image, "--no-validate", "-j", j, "-f", "json", "-o", os.devnull, "--no-update-check"],
                            capture_output=True, text=True)
kf_note = "succeeds" if default_kf.returncode in (0, 200) else f"fails (exit {default_kf.returncode}: " + next((l.strip() for l in default_kf.stderr.splitlines() if "not found" in l or "Error" in l), "error") + ")"
print(f"image: `{a.image}` ({size / 1e6:.0f} MB, docker save, uncompressed layers); threads {a.threads}; "
      f"median of {a.runs} runs after a warm-up; load before {os.getloadavg()[0]:.2f}\n")
print("| tool | wall s | CPU s | MB/s | peak RSS MB | findings | planted secrets found |")
print("|---|---:|---:|---:|---:|---:|---:|")
rows = {}
found_by = {}
for t, cmd in tools.items():
    rep = os.path.join(a.out, f"{t}.json")
    timed(cmd(rep))
    runs = [timed(cmd(rep)) for _ in range(a.runs)]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    rss = max(r[2] for r in runs)
    text = open(rep).read()
    if t == "kingfisher":
        n = len(json.JSONDecoder().raw_decode(text)[0].get("findings", []))
    else:
        n = len(json.loads(text)["findings"])
    found_by[t] = [k for k, v in truth.items() if v in text]
    rows[t] = (wall, rss)
    print(f"| {t} | {wall:.2f} | {cpu:.2f} | {size / 1e6 / wall:.0f} | {rss:.0f} | {n} | {len(found_by[t])}/{len(truth)} |")
print()
for t in tools:
    missed = [k for k in truth if k not in found_by[t]]
    print(f"- {t} missed: {', '.join(missed) if missed else 'none'}")
print(f"- Kingfisher with its default limits on this image: {kf_note}")
r, k = rows["rampart"], rows["kingfisher"]
print(f"\nRampart vs Kingfisher: {k[0] / r[0]:.2f}x throughput; peak RSS {r[1]:.0f} MB vs {k[1]:.0f} MB. "
      f"load after {os.getloadavg()[0]:.2f}")
