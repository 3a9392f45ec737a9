#!/usr/bin/env python3
"""Upper bound for catching relays in *cold-start* sessions (no baseline of the user's own yet),
under the simulator's own distributions.

An oracle that knows the exact network RTT of every loop, sees infinitely many loops (so a
session's statistic S — the mean of the 10th..50th percentiles of the response time, as in
`relay.rs` — carries no sampling error) and knows the population of people exactly, still cannot
tell a slow person from a quick person behind a relay: its best test for "S is shifted up" is a
threshold on S. This script draws people from the generator's parameters (`--print-config`
output), sets the threshold at 1% false alarms, and reports the fraction of the simulated
relays (their labelled added delay, from the labels file) above it.

Usage: oracle.py CONFIG.json LABELS.jsonl [MIN_ADDED_MS [MAX_ADDED_MS]]   (standard library only)
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from people import response, statistic  # noqa: E402

cfg = json.load(open(sys.argv[1]))
labels = sys.argv[2]
lo = float(sys.argv[3]) if len(sys.argv) > 3 else 40.0
hi = float(sys.argv[4]) if len(sys.argv) > 4 else float("inf")
rng = random.Random(0)
PEOPLE, DRAWS = 3000, 1500


def session_stat():
    # The person and the session exactly as simulate.rs draws them.
    floor = cfg["human_floor_ms"]
    mu = max(rng.gauss(cfg["human_mu_ms"], cfg["human_mu_sd_ms"]), floor + 20.0)
    sigma = rng.uniform(*cfg["human_sigma_ms"])
    tau = rng.uniform(*cfg["human_tau_ms"])
    mu_s = rng.gauss(mu, cfg["human_session_sd_ms"])
    return statistic(sorted(response(rng, cfg, mu_s, sigma, tau, floor) for _ in range(DRAWS)))


genuine = sorted(session_stat() for _ in range(PEOPLE))
threshold = genuine[int(0.99 * len(genuine))]
added = [
    l["added_delay_ms"]
    for l in map(json.loads, open(labels))
    if l["relayed"] and lo <= l["added_delay_ms"] < hi
]
if not added:
    sys.exit(f"{labels}: no relayed session with added delay in [{lo}, {hi}) ms")
caught = sum(genuine[rng.randrange(len(genuine))] + a > threshold for a in added)
added.sort()
print(
    f"{sys.argv[1]}: {len(added)} relays adding {lo:g}–{hi:g} ms (median {added[len(added) // 2]:.0f} ms): "
    f"oracle cold-start TPR at 1% FPR = {caught / len(added):.3f}"
)
