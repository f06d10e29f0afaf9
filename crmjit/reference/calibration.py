"""Pure-Python twins of :mod:`crmjit.kernels.calibration`."""

from __future__ import annotations

import math


def loss_sums(p, y, w, codes, eps, n_groups):
    """Per segment [sum w log loss, sum w (y - p)^2, sum w], p clipped to [eps, 1 - eps]
    (the negative class's 1 - p likewise)."""
    out = [[0.0, 0.0, 0.0] for _ in range(n_groups)]
    for i, (pi, yi) in enumerate(zip(p, y)):
        g = codes[i] if codes else 0
        wi = w[i] if len(w) > 1 else w[0]
        q = min(max(pi if yi else 1.0 - pi, eps), 1.0 - eps)
        out[g][0] -= wi * math.log(q)
        out[g][1] += wi * (yi - pi) ** 2
        out[g][2] += wi
    return out


def calibration_sums(p, y, w, codes, inner):
    """Per segment and bin [sum w, sum w y, sum w p, rows]; the bin of p is how many of its
    segment's inner edges are < p."""
    out = [[[0.0, 0.0, 0.0, 0.0] for _ in range(len(e) + 1)] for e in inner]
    for i, (pi, yi) in enumerate(zip(p, y)):
        g = codes[i] if codes else 0
        wi = w[i] if len(w) > 1 else w[0]
        acc = out[g][sum(1 for e in inner[g] if e < pi)]
        acc[0] += wi
        acc[1] += wi * yi
        acc[2] += wi * pi
        acc[3] += 1.0
    return out
