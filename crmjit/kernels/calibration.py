"""Per-segment sums behind the probability metrics (:mod:`crmjit.metrics`): log loss and
Brier score (``_loss_sums``) and the reliability diagram's bins (``_calibration_sums``).

Each kernel reads a span of rows into its own slot (``crmjit._ranking._slots``: spans fixed
by the row count), and the caller adds the slots in span order, so no result depends on
the thread count.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import serial


@serial
def _loss_sums(p, y, w, codes, eps, out, start, stop):
    """For rows start <= i < stop, per segment (codes empty: one): out[g] += (w log loss,
    w (y - p)^2, w), the log loss of p clipped to [eps, 1 - eps] as scikit-learn does
    (the negative class's probability 1 - p clipped likewise)."""
    grouped = codes.shape[0] > 0
    one_w = w.shape[0] == 1
    for i in range(start, stop):
        g = codes[i] if grouped else 0
        wi = w[0] if one_w else w[i]
        pi = np.float64(p[i])
        q = pi if y[i] != 0 else 1.0 - pi
        q = min(max(q, eps), 1.0 - eps)
        d = y[i] - pi
        out[g, 0] -= wi * math.log(q)
        out[g, 1] += wi * d * d
        out[g, 2] += wi
    return out


@serial
def _calibration_sums(p, y, w, codes, inner, out, start, stop):
    """For rows start <= i < stop: the bin of p[i] among its segment's inner bin edges
    inner[g] (ascending; bin = how many edges are < p, NumPy's ``searchsorted``), and
    out[g, bin] += (w, w y, w p, 1)."""
    grouped = codes.shape[0] > 0
    one_w = w.shape[0] == 1
    k = inner.shape[1]
    for i in range(start, stop):
        g = codes[i] if grouped else 0
        pi = np.float64(p[i])
        lo = 0
        hi = k
        while lo < hi:  # the first edge >= p
            mid = (lo + hi) // 2
            if inner[g, mid] < pi:
                lo = mid + 1
            else:
                hi = mid
        wi = w[0] if one_w else w[i]
        acc = out[g, lo]
        acc[0] += wi
        acc[1] += wi * y[i]
        acc[2] += wi * pi
        acc[3] += 1.0
    return out
