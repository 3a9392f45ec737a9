#!/usr/bin/env python3
"""Sampling SD of the relay statistic S (mean of response-time quantiles, relay.rs) from a
session of N loops, for people drawn from a simulator profile (`presence simulate
--print-config` output), for several choices of quantile levels. Standard library only.

Usage: sampling_sd.py CONFIG.json [LOOPS]"""
import json
import os
import random
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from people import response, statistic  # noqa: E402

cfg = json.load(open(sys.argv[1]))
n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
rng = random.Random(1)
PEOPLE, REPS = 400, 12
LEVEL_SETS = [[0.1, 0.2, 0.3, 0.4, 0.5], [0.05, 0.1, 0.15, 0.2, 0.25, 0.3], [0.02, 0.05, 0.1, 0.15, 0.2]]


def session(sigma, tau):
    return sorted(response(rng, cfg, 0.0, sigma, tau) for _ in range(n))


people = [(rng.uniform(*cfg["human_sigma_ms"]), rng.uniform(*cfg["human_tau_ms"])) for _ in range(PEOPLE)]
sessions = [[session(s, t) for _ in range(REPS)] for s, t in people]
for levels in LEVEL_SETS:
    sds = [
        statistics.pstdev([statistic(x, levels) for x in reps])
        for reps in sessions
    ]
    var = statistics.fmean(v * v for v in sds)
    print(f"{sys.argv[1]}: levels {levels}: median SD {statistics.median(sds):.2f} ms, "
          f"mean variance {var:.1f} ms² (n={n} loops)")
