"""The simulator's response-time model (simulate.rs) and the relay statistic (relay.rs), shared by
oracle.py and sampling_sd.py. Standard library only."""

LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5]  # relay.rs LEVELS


def quantile(xs, p):
    """Type-7 sample quantile of sorted `xs` (relay.rs `quantile_sorted`)."""
    h = (len(xs) - 1) * p
    i = int(h)
    j = min(i + 1, len(xs) - 1)
    return xs[i] + (h - i) * (xs[j] - xs[i])


def statistic(xs, levels=LEVELS):
    """The session statistic S: the mean of the quantiles at `levels` of sorted `xs`."""
    return sum(quantile(xs, p) for p in levels) / len(levels)


def response(rng, cfg, mu_s, sigma, tau, floor=None):
    """One response time: ex-Gaussian plus an occasional lapse, cut at `floor` when given."""
    h = rng.gauss(mu_s, sigma) + rng.expovariate(1.0 / tau)
    if rng.random() < cfg["lapse_probability"]:
        h += rng.expovariate(1.0 / cfg["lapse_mean_ms"])
    return h if floor is None else max(floor, h)
