"""Counter-based random numbers and the synthetic-customer row kernel.

Every random number is a pure function of ``(seed, stream, counter)``: SplitMix64's output
function applied to ``key(seed, stream) + (counter + 1) * golden_gamma``, i.e. SplitMix64
with random access.  A row's values therefore do not depend on which chunk or thread
produced it, which is what makes ``make_customers`` byte-identical for any thread count
and any chunking.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import serial

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO_PI = 2.0 * math.pi
_INV_2_53 = 1.0 / 9007199254740992.0

# Stream ids: one independent stream per generated quantity.  NumPy integers, not Python
# ones: numba types a global Python int as a literal and compiles ``_stream_key`` once per
# stream id (9 compiles, 0.5 s cold, measured); an np.int64 is one type.
(STREAM_X, STREAM_SEGMENT, STREAM_Y, STREAM_CHANNEL, STREAM_MARGIN, STREAM_FLOWS,
 STREAM_RATE, STREAM_LIFE, STREAM_COEF, STREAM_INTERCEPT, STREAM_BTYD) = np.arange(11)


@serial
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@serial
def _stream_key(seed, stream):
    return _mix64(seed ^ ((np.uint64(stream) + np.uint64(1)) * GAMMA))


@serial
def _uniform(key, counter):
    """Uniform double in (0, 1], 53 random bits."""
    z = _mix64(key + (counter + np.uint64(1)) * GAMMA)
    return (np.float64(z >> np.uint64(11)) + 1.0) * _INV_2_53


@serial
def _normal_pair(key, pair):
    """Two independent standard normals (Box-Muller) from uniforms 2*pair and 2*pair+1."""
    c = np.uint64(2) * pair
    rad = math.sqrt(-2.0 * math.log(_uniform(key, c)))
    theta = _TWO_PI * _uniform(key, c + np.uint64(1))
    return rad * math.cos(theta), rad * math.sin(theta)


@serial
def _normals(seed, stream, out):
    """out.ravel()[k] = k-th standard normal of the stream (flat C-order index)."""
    key = _stream_key(seed, stream)
    flat = out.ravel()
    for k in range(0, flat.shape[0], 2):
        z0, z1 = _normal_pair(key, np.uint64(k // 2))
        flat[k] = z0
        if k + 1 < flat.shape[0]:
            flat[k + 1] = z1
    return out


@serial
def _customer_rows(seed, start, seg_cdf, coef, intercept, chan_cdf, chan_mu, churn,
                    X, segment, y, channel, cash_flows, rate, lifespan):
    """Fill rows [start, start + len(y)) of a synthetic customer base into the outputs.

    seed : uint64.  seg_cdf (G,), chan_cdf (K,): cumulative probabilities ending at 1.0.
    coef (G, d), intercept (G,): true logistic model per segment.  chan_mu (K,): mean log
    margin per channel.  churn: per-period churn probability for the geometric lifespan.
    Outputs: X (m, d) float, segment (m,) int32, y (m,) int8, channel (m,) int8,
    cash_flows (m, p) float, rate (m,) float64, lifespan (m,) int64.
    """
    m, d = X.shape
    p = cash_flows.shape[1]
    k_x = _stream_key(seed, STREAM_X)
    k_seg = _stream_key(seed, STREAM_SEGMENT)
    k_y = _stream_key(seed, STREAM_Y)
    k_ch = _stream_key(seed, STREAM_CHANNEL)
    k_mar = _stream_key(seed, STREAM_MARGIN)
    k_flow = _stream_key(seed, STREAM_FLOWS)
    k_rate = _stream_key(seed, STREAM_RATE)
    k_life = _stream_key(seed, STREAM_LIFE)
    log_keep = math.log1p(-churn)
    n_px = np.uint64((d + 1) // 2)
    n_pf = np.uint64((p + 1) // 2)
    for i in range(m):
        g = np.uint64(start + i)
        # Features: normal pair k fills columns 2k and 2k+1 (row-major pair counter).
        for k in range((d + 1) // 2):
            z0, z1 = _normal_pair(k_x, g * n_px + np.uint64(k))
            X[i, 2 * k] = z0
            if 2 * k + 1 < d:
                X[i, 2 * k + 1] = z1
        s = np.searchsorted(seg_cdf, _uniform(k_seg, g))
        logit = intercept[s]
        for j in range(d):
            logit += coef[s, j] * np.float64(X[i, j])  # the stored (possibly float32) value
        segment[i] = s
        prob = 1.0 / (1.0 + math.exp(-logit))
        y[i] = 1 if _uniform(k_y, g) <= prob else 0
        ch = np.searchsorted(chan_cdf, _uniform(k_ch, g))
        channel[i] = ch
        zm, _ = _normal_pair(k_mar, g)
        margin = math.exp(chan_mu[ch] + 0.5 * zm)
        for k in range((p + 1) // 2):
            z0, z1 = _normal_pair(k_flow, g * n_pf + np.uint64(k))
            cash_flows[i, 2 * k] = margin * (1.0 + 0.2 * z0)
            if 2 * k + 1 < p:
                cash_flows[i, 2 * k + 1] = margin * (1.0 + 0.2 * z1)
        rate[i] = 0.005 + 0.015 * _uniform(k_rate, g)
        life = 1 + int(math.floor(math.log(_uniform(k_life, g)) / log_keep))
        lifespan[i] = min(life, p)


# ------------------------------------------------------------------ BG/NBD + Gamma-Gamma


@serial
def _gamma(key, counter, shape):
    """Gamma(shape, 1) variate (Marsaglia-Tsang; shape < 1 boosted by U^(1/shape)) from
    the uniforms key, counter, counter+1, ...  Returns (value, next counter)."""
    boost = 1.0
    if shape < 1.0:
        boost = _uniform(key, counter) ** (1.0 / shape)
        counter += np.uint64(1)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        rad = math.sqrt(-2.0 * math.log(_uniform(key, counter)))
        z = rad * math.cos(_TWO_PI * _uniform(key, counter + np.uint64(1)))
        counter += np.uint64(2)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u = _uniform(key, counter)
        counter += np.uint64(1)
        if math.log(u) < 0.5 * z * z + d - d * v + d * math.log(v):
            return d * v * boost, counter


@serial
def _btyd_customer(key, r, alpha, a, b, p, q, v, t_max, age, times, amounts):
    """Simulate one customer: age T ~ U(0, t_max] (or T = age when age > 0, the uniform
    drawn all the same); rate lambda ~ Gamma(r, alpha); death
    probability ~ Beta(a, b); spend scale nu ~ Gamma(q, v).  Purchases at 0 and after
    Exp(lambda) gaps up to T, dying after each repeat purchase with that probability;
    each spend ~ Gamma(p, nu).  Writes purchase times (age at purchase) and amounts into
    times/amounts when they are long enough (a first, counting pass passes length 0).
    Returns (T, purchases incl. the first, age at the last purchase, repeat spend total)."""
    ctr = np.uint64(0)
    T = t_max * _uniform(key, ctr)
    if age > 0.0:
        T = age
    ctr += np.uint64(1)
    g, ctr = _gamma(key, ctr, r)
    lam = g / alpha
    ga, ctr = _gamma(key, ctr, a)
    gb, ctr = _gamma(key, ctr, b)
    death = ga / (ga + gb)
    gn, ctr = _gamma(key, ctr, q)
    nu = gn / v
    t = 0.0
    last = 0.0
    spent = 0.0
    k = 0
    while True:
        z, ctr = _gamma(key, ctr, p)
        if k < times.shape[0]:
            times[k] = t
            amounts[k] = z / nu
        if k > 0:
            spent += z / nu
        last = t
        k += 1
        if k > 1:
            if _uniform(key, ctr) <= death:
                break
            ctr += np.uint64(1)
        t += -math.log(_uniform(key, ctr)) / lam
        ctr += np.uint64(1)
        if t > T:
            break
    return T, k, last, spent


@serial
def _btyd_summary(seed, start, params, t_max, ages, x, tx, T, m):
    """Customers [start, start + len(x)): exact summaries (frequency = repeat purchases,
    recency = age at the last purchase, T, mean repeat spend, 0 without repeats).
    params (7,) = (r, alpha, a, b, p, q, v); ages: the customers' ages (len(x),), or empty
    for ages uniform on (0, t_max]."""
    base = _stream_key(seed, STREAM_BTYD)
    times = np.empty(0)
    amounts = np.empty(0)
    for i in range(x.shape[0]):
        key = _stream_key(base, np.uint64(start + i))
        age, k, last, spent = _btyd_customer(key, params[0], params[1], params[2], params[3],
                                             params[4], params[5], params[6], t_max,
                                             ages[i] if ages.shape[0] > 0 else -1.0, times,
                                             amounts)
        T[i] = age
        x[i] = k - 1
        tx[i] = last
        m[i] = spent / (k - 1) if k > 1 else 0.0
    return x


@serial
def _btyd_fill(seed, start, params, t_max, counts_ptr, x, tx, T, m, birth, when, amount):
    """Second pass: purchases of customer i at when[counts_ptr[i]:counts_ptr[i+1]] (age at
    purchase + birth), amounts likewise, and the exact summary (x, tx, T, m)."""
    base = _stream_key(seed, STREAM_BTYD)
    for i in range(x.shape[0]):
        key = _stream_key(base, np.uint64(start + i))
        lo, hi = counts_ptr[i], counts_ptr[i + 1]
        age, k, last, spent = _btyd_customer(key, params[0], params[1], params[2], params[3],
                                             params[4], params[5], params[6], t_max, -t_max,
                                             when[lo:hi], amount[lo:hi])
        T[i] = age
        x[i] = k - 1
        tx[i] = last
        m[i] = spent / (k - 1) if k > 1 else 0.0
        b0 = t_max - age
        birth[i] = b0
        for j in range(lo, hi):
            when[j] += b0
    return x
