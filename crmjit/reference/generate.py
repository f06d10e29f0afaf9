"""Pure-Python twin of :mod:`crmjit.kernels.generate` (integers masked to 64 bits)."""

from __future__ import annotations

import bisect
import math

MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
STREAMS = {"x": 0, "segment": 1, "y": 2, "channel": 3, "margin": 4, "flows": 5, "rate": 6,
           "life": 7, "coef": 8, "intercept": 9}


def mix64(z):
    """SplitMix64 output function."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def stream_key(seed, stream):
    """Key of one random stream."""
    return mix64(seed ^ (((stream + 1) * GAMMA) & MASK))


def uniform(key, counter):
    """Uniform in (0, 1] from 53 bits."""
    z = mix64((key + (counter + 1) * GAMMA) & MASK)
    return ((z >> 11) + 1.0) / 9007199254740992.0


def normal_pair(key, pair):
    """Box-Muller pair from uniforms 2*pair, 2*pair+1."""
    rad = math.sqrt(-2.0 * math.log(uniform(key, 2 * pair)))
    theta = 2.0 * math.pi * uniform(key, 2 * pair + 1)
    return rad * math.cos(theta), rad * math.sin(theta)


def normals(seed, stream, count):
    """The first ``count`` normals of a stream, flat."""
    key = stream_key(seed, stream)
    out = []
    for k in range(0, count, 2):
        out.extend(normal_pair(key, k // 2))
    return out[:count]


def normal_row(key, row, width):
    """The normals of one row of a (n, width) stream."""
    n_pairs = (width + 1) // 2
    out = []
    for k in range(n_pairs):
        out.extend(normal_pair(key, row * n_pairs + k))
    return out[:width]


def customer_rows(seed, start, seg_cdf, coef, intercept, chan_cdf, chan_mu, churn, n_rows,
                  n_features, n_periods):
    """Rows [start, start + n_rows) of a synthetic base (float64), as a dict of lists."""
    keys = {name: stream_key(seed, s) for name, s in STREAMS.items()}
    out = {k: [] for k in ("X", "segment", "y", "channel", "cash_flows", "rate", "lifespan")}
    for g in range(start, start + n_rows):
        x = normal_row(keys["x"], g, n_features)
        s = bisect.bisect_left(seg_cdf, uniform(keys["segment"], g))
        logit = intercept[s] + sum(c * v for c, v in zip(coef[s], x))
        prob = 1.0 / (1.0 + math.exp(-logit))
        ch = bisect.bisect_left(chan_cdf, uniform(keys["channel"], g))
        margin = math.exp(chan_mu[ch] + 0.5 * normal_pair(keys["margin"], g)[0])
        flows = [margin * (1.0 + 0.2 * z) for z in normal_row(keys["flows"], g, n_periods)]
        life = 1 + math.floor(math.log(uniform(keys["life"], g)) / math.log1p(-churn))
        out["X"].append(x)
        out["segment"].append(s)
        out["y"].append(1 if uniform(keys["y"], g) <= prob else 0)
        out["channel"].append(ch)
        out["cash_flows"].append(flows)
        out["rate"].append(0.005 + 0.015 * uniform(keys["rate"], g))
        out["lifespan"].append(min(life, n_periods))
    return out
