#!/usr/bin/env python3
"""Prototype: reject a location claim by a generalised likelihood-ratio (GLR) test instead of
the constraint model (`region.rs`). Not part of Rampart yet; this measures whether it is worth it.

For a session with landmark minimum RTTs r_i, a place P explains them with a common access delay
a >= 0 and per-landmark excess u_i = r_i - a - 2 d_i(P) / c_fibre - 0.1 >= 0 (the physics line),
the excess being lognormal with median 2 (d_i M + DET) / c_fibre and log-sd S (path inflation
gamma - 1 ~ M e^(S Z), detour DET km). The statistic is
    T = max over places P, access a of log L(P, a)  -  max over a of log L(claim, a)
(places: a polar grid around the claim, 13 rings to 4,300 km x 16 bearings; a on a 0.5 ms grid).
A claim is rejected when T exceeds a threshold.

Reported, for claims >= 1,000 km off (fraud) vs claims < 100 km off (genuine), sessions with >= 3
landmarks, non-relayed: the fraction of fraud rejected at the thresholds that give 0 / 0.5% / 1%
false rejections on this file's own genuine claims, and (with --threshold) at a threshold fixed
elsewhere, with the false rejections it gives here.

Usage: glr_location.py LABELS.jsonl REPORT.jsonl LANDMARKS.json (--model M,S,DET | --fit DET |
       --config GENERATOR_CONFIG.json) [--threshold T]
--model fixes the path model a priori; --fit estimates M and S from the report itself without
labels (every session's claim taken at its word: fit the access delay at the claim, take
log((excess km - DET) / distance) of the landmarks >= 800 km away, median -> M, 1.4826 MAD -> S,
six rounds from M = S = 0.6; a false claim is a minority and moves a median little) with DET
fixed; --config takes M, S, DET from the generator's own parameters (a model learnt perfectly).
Needs numpy (bench/presence/location_bounds.sh installs it into bench/presence/.venv).
"""
import json
import math
import sys

import numpy as np

C_FIBRE = 299.792458 / 1.4682  # km per ms in fibre, as geo.rs
R_EARTH = 6371.0088
RINGS = np.array([0, 150, 300, 500, 750, 1000, 1300, 1600, 2000, 2500, 3000, 3600, 4300], float)
BEARINGS = np.arange(0.0, 360.0, 360.0 / 16)
AGRID = np.arange(0.0, 120.0, 0.5)


def unit(lat, lon):
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], -1)


def destination(lat, lon, bearing, dkm):
    la, lo, b = math.radians(lat), math.radians(lon), np.radians(bearing)
    dr = dkm / R_EARTH
    la2 = np.arcsin(np.sin(la) * np.cos(dr) + np.cos(la) * np.sin(dr) * np.cos(b))
    lo2 = lo + np.arctan2(np.sin(b) * np.sin(dr) * np.cos(la), np.cos(dr) - np.sin(la) * np.sin(la2))
    return np.degrees(la2), np.degrees(lo2)


def access_loglik(dist, r, m, s, det):
    """dist: (P, k) km; r: (k,) ms. Summed log density per place and access-grid step, (P, A)."""
    u = r[None, None, :] - AGRID[None, :, None] - 2.0 * dist[:, None, :] / C_FIBRE - 0.1
    med = 2.0 * (dist * m + det) / C_FIBRE
    uu = np.maximum(u, 0.05)
    lf = -np.log(uu) - 0.5 * (np.log(uu / med[:, None, :]) / s) ** 2
    lf = np.where(u < -1.0, -1e9, lf)  # faster than fibre by more than 1 ms: infeasible
    return lf.sum(-1)


def profile_loglik(dist, r, m, s, det):
    """Max over the access grid of the summed log density, (P,)."""
    return access_loglik(dist, r, m, s, det).max(1)


def fit(sessions, det):
    """Estimate M, S from unlabelled sessions [(rtt, claim distances)], DET fixed."""
    m, s = 0.6, 0.6
    for _ in range(6):
        zs = []
        for rtt, dc in sessions:
            a = AGRID[access_loglik(dc[None, :], rtt, m, s, det)[0].argmax()]
            excess = (rtt - a - 2.0 * dc / C_FIBRE - 0.1) * C_FIBRE / 2.0
            far = (dc >= 800.0) & (excess - det > 0)
            zs.extend(np.log((excess[far] - det) / dc[far]).tolist())
        z = np.array(zs)
        mz = float(np.median(z))
        m, s = math.exp(mz), 1.4826 * float(np.median(np.abs(z - mz)))
    return m, s


def main(argv):
    if len(argv) < 5:
        print(__doc__)
        return 2
    labels = {}
    for line in open(argv[1]):
        d = json.loads(line)
        labels[d["session"]] = d
    lms = {l["id"]: (l["lat"], l["lon"]) for l in json.load(open(argv[3]))}
    if "--config" in argv:
        g = json.load(open(argv[argv.index("--config") + 1]))
        m, s, det = g["inflation_median"], g["inflation_sigma"], g["detour_km"]
    elif "--fit" in argv:
        m, s, det = None, None, float(argv[argv.index("--fit") + 1])
    else:
        m, s, det = (float(x) for x in argv[argv.index("--model") + 1].split(","))
    fixed = float(argv[argv.index("--threshold") + 1]) if "--threshold" in argv else None
    rr, bb = np.meshgrid(RINGS, BEARINGS)
    sessions = []  # (session id, rtt, distances from the grid (row 0 = the claim))
    for line in open(argv[2]):
        rec = json.loads(line)
        if "session" not in rec:
            continue
        r = rec["session"]
        ids = [l for l in r.get("landmarks", []) if l["id"] in lms]
        if len(ids) < 3 or "claimed" not in r:
            continue
        claim = (r["claimed"]["lat"], r["claimed"]["lon"])
        rtt = np.array([l["min_rtt_ms"] for l in ids])
        lu = unit(np.array([lms[l["id"]][0] for l in ids]), np.array([lms[l["id"]][1] for l in ids]))
        la, lo = destination(claim[0], claim[1], bb.ravel(), rr.ravel())
        dist = R_EARTH * np.arccos(np.clip(unit(la, lo) @ lu.T, -1.0, 1.0))
        sessions.append((r["session"], rtt, dist))
    if m is None:
        m, s = fit([(rtt, dist[0]) for _, rtt, dist in sessions], det)
    fraud, genuine = [], []
    for sid, rtt, dist in sessions:
        lab = labels.get(sid)
        if not lab or lab["relayed"]:
            continue
        off = lab["claim_offset_km"]
        if 100.0 <= off < 1000.0:
            continue
        t = profile_loglik(dist, rtt, m, s, det).max() - profile_loglik(dist[:1], rtt, m, s, det)[0]
        (fraud if off >= 1000.0 else genuine).append(t)
    if not fraud or not genuine:
        print("no sessions to score")
        return 1
    neg = sorted(genuine, reverse=True)
    print(f"model M={m:.3f} S={s:.3f} DET={det:.0f} km: {len(fraud)} claims >= 1,000 km off, {len(neg)} genuine")
    for fpr in (0.0, 0.005, 0.01):
        thr = neg[int(fpr * len(neg))]
        rej = sum(v > thr for v in fraud) / len(fraud)
        print(f"  at {fpr:.1%} false rejections (own threshold {thr:.2f}): rejected {rej:.3f}")
    if fixed is not None:
        rej = sum(v > fixed for v in fraud) / len(fraud)
        fal = sum(v > fixed for v in neg) / len(neg)
        print(f"  at fixed threshold {fixed:.2f}: rejected {rej:.3f}, false rejections {fal:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
