#!/usr/bin/env python3
"""Upper bound for rejecting false location claims, under the simulator's own path model.

For every labelled location-fraud session (claim >= 1,000 km from the truth, >= 3 landmarks) the
oracle knows the landmarks the session measured, the claimed place *and the true place*, and the
generator's exact distributions: the shared access delay (the configured mixture of uniform
ranges), each path's inflation (gamma - 1 lognormal) and detour (exponential). It also sees every
landmark's base RTT exactly (no queueing jitter, no sampling). By the Neyman-Pearson lemma its
best test of "the user is at the claim" against "the user is at the truth" is the likelihood
ratio; the threshold is set so that a genuine user at the claim, measuring the same landmarks, is
falsely rejected ALPHA of the time. The fraction of fraud draws rejected is an upper bound on
what any detector can reach for that session's geometry at that false-rejection rate (a real
detector knows neither the truth nor the population this well, and sees noisy minima).

The likelihood of an RTT vector x at a place P integrates the common access delay a out:
    p(x | P) = sum_a p(a) prod_i f(x_i - a | d_i(P)),
with f the density of 2 (d gamma + detour) / c_fibre + 0.1 on a 0.25 ms grid.

Usage: oracle_location.py CONFIG.json LABELS.jsonl REPORT.jsonl LANDMARKS.json [ALPHA [DRAWS]]
Needs numpy and scipy (bench/presence/location_bounds.sh installs them into bench/presence/.venv).
"""
import json
import math
import os
import sys

import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glr_location import C_FIBRE, R_EARTH, unit  # noqa: E402

H = 0.25  # grid step, ms


def main(argv):
    if len(argv) < 5:
        print(__doc__)
        return 2
    cfg = json.load(open(argv[1]))
    alpha = float(argv[5]) if len(argv) > 5 else 0.01
    draws = int(argv[6]) if len(argv) > 6 else 4000
    labels = {}
    for line in open(argv[2]):
        d = json.loads(line)
        labels[d["session"]] = d
    lms = {l["id"]: (l["lat"], l["lon"]) for l in json.load(open(argv[4]))}
    m, s, det = cfg["inflation_median"], cfg["inflation_sigma"], cfg["detour_km"]
    rng = np.random.default_rng(0)

    # Access prior on the grid.
    amax = max(a["base_ms"][1] for a in cfg["access"]) + 1.0
    agrid = np.arange(0.0, amax, H)
    pa = np.zeros_like(agrid)
    wsum = sum(a["weight"] for a in cfg["access"])
    for acc in cfg["access"]:
        lo, hi = acc["base_ms"]
        inside = (agrid >= lo) & (agrid <= hi)
        if inside.any():
            pa[inside] += acc["weight"] / wsum / inside.sum()
    logpa = np.log(np.maximum(pa, 1e-300))
    keep = pa > 0
    agrid, logpa = agrid[keep], logpa[keep]

    def sample_access(n):
        w = np.array([a["weight"] for a in cfg["access"]], float)
        k = rng.choice(len(w), size=n, p=w / w.sum())
        lo = np.array([cfg["access"][i]["base_ms"][0] for i in k])
        hi = np.array([cfg["access"][i]["base_ms"][1] for i in k])
        return lo + (hi - lo) * rng.random(n)

    def density(d, ymax):
        """log f(y | d) on the grid 0..ymax (y = x - a)."""
        edges = np.arange(0.0, ymax + H, H)
        base = 2.0 * d / C_FIBRE + 0.1
        scale = 2.0 * d * m / C_FIBRE  # lognormal part: scale * exp(s Z)
        # Mass of the lognormal part per bin, then convolve with the exponential detour.
        z = edges - base
        with np.errstate(divide="ignore", invalid="ignore"):
            if scale > 1e-9:
                cdf = np.where(z > 0, norm.cdf(np.log(np.maximum(z, 1e-300) / scale) / s), 0.0)
            else:
                cdf = (z >= 0).astype(float)
        mass = np.diff(cdf)
        mean_d = 2.0 * det / C_FIBRE
        ecdf = 1.0 - np.exp(-edges / mean_d)
        emass = np.diff(ecdf)
        conv = np.convolve(mass, emass)[: len(mass)]
        return np.log(np.maximum(conv / H, 1e-300))

    def loglik(x, dens):
        """x: (n, k) RTTs; dens: list of k log-density arrays. Returns (n,) log p(x)."""
        n, k = x.shape
        acc = np.zeros((n, len(agrid)))
        for i in range(k):
            y = x[:, i : i + 1] - agrid[None, :]
            idx = np.floor(y / H).astype(np.int64)
            ok = (idx >= 0) & (idx < len(dens[i]))
            v = np.full(idx.shape, math.log(1e-300))
            v[ok] = dens[i][idx[ok]]
            acc += v
        return logsumexp(acc + logpa[None, :], axis=1)

    def draw(dists, n):
        a = sample_access(n)
        k = len(dists)
        gamma = 1.0 + m * np.exp(s * rng.standard_normal((n, k)))
        detour = rng.exponential(det, (n, k)) if det > 0 else np.zeros((n, k))
        return a[:, None] + 2.0 * (np.array(dists)[None, :] * gamma + detour) / C_FIBRE + 0.1

    def dist(p, q):
        c = float(np.clip(unit(*p) @ unit(*q), -1.0, 1.0))
        return R_EARTH * math.acos(c)

    by_band = {}
    total, power_sum = 0, 0.0
    for line in open(argv[3]):
        rec = json.loads(line)
        if "session" not in rec:
            continue
        r = rec["session"]
        lab = labels.get(r["session"])
        if not lab or lab["claim_offset_km"] < 1000.0 or lab["relayed"]:
            continue
        ids = [l["id"] for l in r.get("landmarks", []) if l["id"] in lms]
        if len(ids) < 3 or "claimed" not in r:
            continue
        claim = (r["claimed"]["lat"], r["claimed"]["lon"])
        truth = (lab["true_lat"], lab["true_lon"])
        dc = [dist(claim, lms[i]) for i in ids]
        dt = [dist(truth, lms[i]) for i in ids]
        ymax = 2.0 * max(dc + dt) * (1.0 + m * math.exp(5 * s)) / C_FIBRE + 20 * det / C_FIBRE + 50.0
        dens_c = [density(d, ymax) for d in dc]
        dens_t = [density(d, ymax) for d in dt]
        x0 = draw(dc, draws)  # genuine user at the claim
        x1 = draw(dt, draws)  # user at the truth
        llr0 = loglik(x0, dens_t) - loglik(x0, dens_c)
        llr1 = loglik(x1, dens_t) - loglik(x1, dens_c)
        thr = np.quantile(llr0, 1.0 - alpha)
        power = float(np.mean(llr1 > thr))
        band = min(3000, int(lab["claim_offset_km"] // 500 * 500))
        b = by_band.setdefault(band, [0, 0.0])
        b[0] += 1
        b[1] += power
        total += 1
        power_sum += power
    if total == 0:
        print("no location-fraud sessions with >= 3 landmarks")
        return 1
    print(f"oracle location bound at {alpha:.1%} false rejection: {power_sum / total:.3f} of {total} claims >= 1,000 km off")
    for band in sorted(by_band):
        n, p = by_band[band]
        label = f"{band}-{band + 499} km" if band < 3000 else ">= 3000 km"
        print(f"  {label}: {p / n:.3f} (n={n})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
