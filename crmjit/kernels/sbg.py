"""The shifted-beta-geometric (sBG) likelihood of contractual customers (Fader & Hardie
2007): each customer renews each period with their own probability 1 - theta, theta ~
Beta(alpha, beta) across customers.  With lifetime t (periods stayed):

* churned at the end of period t (t >= 1): P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)
* still active after t periods (t >= 0):   S(t)     = B(alpha, beta + t) / B(alpha, beta)

Both depend on (t, churned) only, so the log-likelihood, its gradient and Hessian in
(alpha, beta) are sums over a table of the distinct keys 2 t + churned per segment with
their total weights (``crmjit._btyd_core._Layout``), in log-gammas and their digamma /
trigamma derivatives.  Accumulator layout (``NACC_SBG`` = 6): the value, the gradient,
the Hessian's upper triangle (aa, ab, bb).
"""

from __future__ import annotations

import math

from ._jit import serial
from .special import _digamma, _trigamma

NACC_SBG = 6


@serial
def _sbg_table_pass(ux, uw, u_ptr, params, active, out, start, stop):
    """Per segment g: the weighted log-likelihood of the distinct keys ux[u_ptr[g]:
    u_ptr[g+1]] (2 t + churned) with total weights uw, and its derivatives.  params (G, 2)
    = (alpha, beta); out (G, 6) is overwritten for active segments."""
    for g in range(start, stop):
        if not active[g]:
            continue
        al, be = params[g, 0], params[g, 1]
        f = 0.0
        ga = 0.0
        gb = 0.0
        haa = 0.0
        hab = 0.0
        hbb = 0.0
        W = 0.0
        for j in range(u_ptr[g], u_ptr[g + 1]):
            key = ux[j]
            w = uw[j]
            t = math.floor(key / 2.0)
            W += w
            top = al + be + t
            if key - 2.0 * t > 0.5:  # churned at the end of period t: B(al + 1, be + t - 1)
                bt = be + t - 1.0
                f += w * math.log(al)
                ga += w / al
                haa -= w / (al * al)
            else:  # still active after t periods: B(al, be + t)
                bt = be + t
            # log Gamma(al) is in both numerators and in B(al, be): it cancels, and is left out
            f += w * (math.lgamma(bt) - math.lgamma(top))
            psi_top = _digamma(top)
            tri_top = _trigamma(top)
            ga -= w * psi_top
            gb += w * (_digamma(bt) - psi_top)
            haa -= w * tri_top
            hab -= w * tri_top
            hbb += w * (_trigamma(bt) - tri_top)
        ab = al + be  # minus W log B(al, be), log Gamma(al) left out as above
        out[g, 0] = f - W * (math.lgamma(be) - math.lgamma(ab))
        out[g, 1] = ga + W * _digamma(ab)
        out[g, 2] = gb - W * (_digamma(be) - _digamma(ab))
        out[g, 3] = haa + W * _trigamma(ab)
        out[g, 4] = hab + W * _trigamma(ab)
        out[g, 5] = hbb - W * (_trigamma(be) - _trigamma(ab))
    return out
