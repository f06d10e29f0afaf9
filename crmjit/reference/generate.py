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


BTYD_STREAM = 10


def gamma(key, counter, shape):
    """Gamma(shape, 1) by Marsaglia-Tsang from uniforms key, counter, ...: (value, next)."""
    boost = 1.0
    if shape < 1.0:
        boost = uniform(key, counter) ** (1.0 / shape)
        counter += 1
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        rad = math.sqrt(-2.0 * math.log(uniform(key, counter)))
        z = rad * math.cos(2.0 * math.pi * uniform(key, counter + 1))
        counter += 2
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v ** 3
        u = uniform(key, counter)
        counter += 1
        if math.log(u) < 0.5 * z * z + d - d * v + d * math.log(v):
            return d * v * boost, counter


def btyd_customer(key, r, alpha, a, b, p, q, v, t_max, age=-1.0):
    """One simulated customer: (T, purchase ages, amounts); T = age when age > 0."""
    T = age if age > 0 else t_max * uniform(key, 0)
    ctr = 1
    g, ctr = gamma(key, ctr, r)
    lam = g / alpha
    ga, ctr = gamma(key, ctr, a)
    gb, ctr = gamma(key, ctr, b)
    death = ga / (ga + gb)
    gn, ctr = gamma(key, ctr, q)
    nu = gn / v
    t, times, amounts = 0.0, [], []
    while True:
        z, ctr = gamma(key, ctr, p)
        times.append(t)
        amounts.append(z / nu)
        if len(times) > 1:
            if uniform(key, ctr) <= death:
                break
            ctr += 1
        t += -math.log(uniform(key, ctr)) / lam
        ctr += 1
        if t > T:
            break
    return T, times, amounts


def btyd_summary(seed, start, params, t_max, n, ages=()):
    """Exact (frequency, recency, T, mean repeat spend) of customers start..start+n-1 (of
    the given ages, when given)."""
    base = stream_key(seed, BTYD_STREAM)
    out = []
    for i in range(start, start + n):
        T, times, amounts = btyd_customer(stream_key(base, i), *params, t_max,
                                          ages[i - start] if ages else -1.0)
        x = len(times) - 1
        out.append((float(x), times[-1], T, sum(amounts[1:]) / x if x else 0.0))
    return out


def btyd_fill(seed, start, params, t_max, n):
    """Purchase dates (days from the window start) and amounts of customers start.., flat."""
    base = stream_key(seed, BTYD_STREAM)
    when, amount = [], []
    for i in range(start, start + n):
        T, times, amounts = btyd_customer(stream_key(base, i), *params, t_max)
        when += [t + t_max - T for t in times]
        amount += amounts
    return when, amount
