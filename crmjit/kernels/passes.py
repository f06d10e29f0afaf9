"""Training passes for one model (``crmjit._newton``), one chunk at a time: the loss,
gradient and (optionally subsampled) Hessian of a chunk of X's rows in one fused read
(``_chunk_terms``), or of a chunk of a large segment already loaded in blocks
(``_chunk_blocks``).

The caller cuts the rows into a fixed number of chunks (a function of the size only), runs
the chunks on several threads (``crmjit._threads``), each into its own slot, and merges the
slots in chunk order (``_merge_parts``): identical results for any thread count.

For the rows read, with weights s_i, labels y_i in {0, 1} and p_i = sigmoid(theta . (x_i, 1)):
loss = sum_i s_i logloss_i, weight = sum_i s_i, grad = sum_i s_i (p_i - y_i) (x_i, 1), and
hess = sum_i s_i p_i (1 - p_i) (x_i, 1)(x_i, 1)^T over the blocks that feed the Hessian
(every ``hess_stride``-th of them; stride 1 is the exact Hessian, 0 skips it), whose weight
is summed apart (hess_weight) so that the solver can rescale.  No penalty, no C.
"""

from __future__ import annotations

import numpy as np

from ._jit import serial, serial_inline
from .logloss import (_block_scratch, _block_temps, _block_terms, _load_rows, _rows_gradient,
                      _symmetrize)

BLOCK = 256  # rows per block: the block's buffers (a few KiB) stay in L1


@serial
def _chunk_terms(X, y, sample_weight, theta, chunk, c0, c1, row_stride, hess_stride, parts,
                 part_g, part_h):
    """For each chunk c in [c0, c1) (rows c*chunk .. c*chunk+chunk-1 of X, chunk a multiple
    of BLOCK; of every ``row_stride``-th block of BLOCK rows, counted from row 0): its sums
    into its own slot, parts[c] (3,) = (loss, weight, hess_weight) (``_tally``), part_g[c]
    (d+1,) and part_h[c] (d+1, d+1) (upper triangle).  X : (n, d) float32/float64, any
    order; y : (n,) uint8 or float64 in {0, 1}; sample_weight : (1,) or (n,) float64;
    theta : (d+1,), intercept last.  Blocks that feed the Hessian are loaded transposed
    (``_load_rows``); the others are read in place (``_rows_gradient``).  One task of the
    threads takes a range of chunks: fewer hand-offs, the same slots.  Scratch:
    BLOCK * (d + 11) float64."""
    k = X.shape[1] + 1
    n = X.shape[0]
    xt, yb, sb, z, e, rb, qb, xq = _block_scratch(k, BLOCK, BLOCK)
    no_order = np.empty(0, dtype=np.int32)  # the batched fit's order type: one signature
    for c in range(c0, c1):
        _one_chunk(X, y, sample_weight, theta, c * chunk, min(n, c * chunk + chunk),
                   row_stride, hess_stride, parts[c], part_g[c], part_h[c], xt, yb, sb, z, e,
                   rb, qb, xq, no_order)
    return c1 - c0


@serial_inline
def _one_chunk(X, y, sample_weight, theta, start, stop, row_stride, hess_stride, part, g, h,
               xt, yb, sb, z, e, rb, qb, xq, no_order):
    """``_chunk_terms`` of rows start .. stop-1 into one slot (part, g, h)."""
    for s0 in range(start, stop, BLOCK):
        if (s0 // BLOCK) % row_stride != 0:
            continue
        want_h = hess_stride > 0 and (s0 // BLOCK) % (row_stride * hess_stride) == 0
        m = min(BLOCK, stop - s0)
        if want_h:
            _load_rows(X, y, sample_weight, no_order, s0, m, xt, yb, sb)
            bl, bw = _block_terms(xt[0], yb[0], sb[0], m, theta, want_h, z, e, rb, qb, xq, g,
                                  h)
        else:
            bl, bw = _rows_gradient(X, y, sample_weight, s0, m, theta, yb[0], sb[0], z, e, rb,
                                    qb, g)
        _tally(part, bl, bw, want_h)


@serial
def _tally(part, loss, weight, want_h):
    """Add one block's (loss, weight) to a chunk's running sums part = (loss, weight,
    hess_weight); the weight counts towards hess_weight when the block fed the Hessian."""
    part[0] += loss
    part[1] += weight
    if want_h:
        part[2] += weight


@serial
def _merge_parts(parts, part_g, part_h, grad, hess):
    """Sum the per-chunk results of a training pass (parts (chunks, 3) of ``_tally`` sums,
    gradients, Hessians' upper triangles) in chunk order, the same answer for any thread
    count, into grad and hess (symmetrised); returns (loss, weight, hess_weight)."""
    total = 0.0
    weight = 0.0
    hess_weight = 0.0
    k = grad.shape[0]
    for j in range(k):  # loops, not array expressions: those compile ufunc machinery
        grad[j] = 0.0  # (0.5 s of a cold fit, measured)
        for l in range(k):
            hess[j, l] = 0.0
    for c in range(parts.shape[0]):
        total += parts[c, 0]
        weight += parts[c, 1]
        hess_weight += parts[c, 2]
        for j in range(k):
            grad[j] += part_g[c, j]
            for l in range(k):
                hess[j, l] += part_h[c, j, l]
    _symmetrize(hess)
    return total, weight, hess_weight


@serial
def _chunk_blocks(xt, yb, sb, m, theta, per, c0, c1, row_stride, hess_stride, parts, part_g,
                  part_h):
    """``_chunk_terms`` on a segment already loaded in blocks (xt (nb, d+1, B), yb, sb (nb,
    B) of m rows): for each chunk c in [c0, c1), the sums over its blocks c*per ..
    c*per+per-1 into slot c, strides counted in blocks."""
    B = xt.shape[2]
    nb = (m + B - 1) // B
    z, e, rb, qb, xq = _block_temps(B)
    for c in range(c0, c1):
        part, g, h = parts[c], part_g[c], part_h[c]
        for b in range(c * per, min(nb, (c + 1) * per)):
            if b % row_stride != 0:
                continue
            want_h = hess_stride > 0 and b % (row_stride * hess_stride) == 0
            bl, bw = _block_terms(xt[b], yb[b], sb[b], min(B, m - b * B), theta, want_h, z, e,
                                  rb, qb, xq, g, h)
            _tally(part, bl, bw, want_h)
    return c1 - c0
