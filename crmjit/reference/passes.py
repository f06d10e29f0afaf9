"""Pure-Python twins of :mod:`crmjit.kernels.passes`."""

from __future__ import annotations

from .logloss import BLOCK, load_rows, logistic_pass  # noqa: F401  (the pass's twin)


def tally(part, loss, weight, want_h):
    """part = (loss, weight, hess_weight) with one block's loss and weight added (the
    weight to hess_weight too when the block fed the Hessian)."""
    return [part[0] + loss, part[1] + weight, part[2] + (weight if want_h else 0.0)]


def merge_parts(parts, part_g, part_h):
    """(loss, weight, hess_weight, grad, hess): the per-chunk parts summed, hess
    symmetrised from its upper triangle."""
    grad = [sum(col) for col in zip(*part_g)]
    k = len(grad)
    hess = [[sum(h[min(j, l)][max(j, l)] for h in part_h) for l in range(k)]
            for j in range(k)]
    return (sum(p[0] for p in parts), sum(p[1] for p in parts), sum(p[2] for p in parts),
            grad, hess)


def load_segment(X, y, sample_weight, order, s0, m):
    """The same as ``load_rows`` (the kernel loads the blocks in parallel and returns how
    many of its runs of blocks held a NaN or inf instead of one flag)."""
    return load_rows(X, y, sample_weight, order, s0, m)


def blocks_pass(xt, yb, sb, m, theta, row_stride, hess_stride, block):
    """``logistic_pass`` on a loaded segment (feature columns xt, labels yb, weights sb of
    m rows) with strides counted in blocks of ``block`` rows."""
    rows = [[xt[j][r] for j in range(len(xt) - 1)] for r in range(m)]
    loss, weight, hw, grad, hess = 0.0, 0.0, 0.0, [0.0] * len(theta), None
    k = len(theta)
    hess = [[0.0] * k for _ in range(k)]
    for b0 in range(0, m, block):
        b = b0 // block
        if b % row_stride != 0:
            continue
        want_h = hess_stride > 0 and b % (row_stride * hess_stride) == 0
        part = logistic_pass(rows[b0:b0 + block], yb[b0:b0 + block], sb[b0:b0 + block],
                             theta, 1, 1, 1 if want_h else 0)
        loss, weight, hw = loss + part[0], weight + part[1], hw + part[2]
        grad = [a + c for a, c in zip(grad, part[3])]
        hess = [[a + c for a, c in zip(r1, r2)] for r1, r2 in zip(hess, part[4])]
    return loss, weight, hw, grad, hess


def one_chunk(X, y, sample_weight, theta, start, stop, row_stride, hess_stride):
    """(loss, weight, hess_weight, grad, hess) over rows start .. stop-1 of X, the blocks
    of BLOCK rows chosen by their index from row 0 (every row_stride-th; every
    row_stride * hess_stride-th of all blocks feeds the Hessian)."""
    d = len(theta) - 1
    loss, weight, hw = 0.0, 0.0, 0.0
    grad, hess = [0.0] * (d + 1), [[0.0] * (d + 1) for _ in range(d + 1)]
    for b0 in range(start, stop, BLOCK):
        b = b0 // BLOCK
        if b % row_stride:
            continue
        want_h = hess_stride > 0 and b % (row_stride * hess_stride) == 0
        rows = range(b0, min(stop, b0 + BLOCK))
        sw = sample_weight if len(sample_weight) == 1 else [sample_weight[i] for i in rows]
        part = logistic_pass([X[i] for i in rows], [y[i] for i in rows], sw, theta, 1, 1,
                             1 if want_h else 0)
        loss, weight, hw = loss + part[0], weight + part[1], hw + part[2]
        grad = [a + c for a, c in zip(grad, part[3])]
        hess = [[a + c for a, c in zip(r1, r2)] for r1, r2 in zip(hess, part[4])]
    return loss, weight, hw, grad, hess


def chunk_terms(X, y, sample_weight, theta, chunk, c0, c1, row_stride, hess_stride):
    """{c: one_chunk of rows c*chunk .. c*chunk+chunk-1} for chunks c0 .. c1-1."""
    return {c: one_chunk(X, y, sample_weight, theta, c * chunk, min(len(X), (c + 1) * chunk),
                         row_stride, hess_stride) for c in range(c0, c1)}


def chunk_blocks(xt, yb, sb, m, theta, per, c0, c1, row_stride, hess_stride, block):
    """{c: the sums over blocks c*per .. c*per+per-1 of a loaded segment} for chunks c0 ..
    c1-1, strides counted in blocks of ``block`` rows."""
    k = len(xt)
    out = {}
    for c in range(c0, c1):
        loss, weight, hw, grad, hess = 0.0, 0.0, 0.0, [0.0] * k, [[0.0] * k for _ in range(k)]
        for b in range(c * per, min(-(-m // block), (c + 1) * per)):
            if b % row_stride:
                continue
            want_h = hess_stride > 0 and b % (row_stride * hess_stride) == 0
            r0, r1 = b * block, min(m, (b + 1) * block)
            one = blocks_pass([col[r0:r1] for col in xt], yb[r0:r1], sb[r0:r1], r1 - r0,
                              theta, 1, 1 if want_h else 0, block)
            loss, weight, hw = loss + one[0], weight + one[1], hw + one[2]
            grad = [a + v for a, v in zip(grad, one[3])]
            hess = [[a + v for a, v in zip(u, w)] for u, w in zip(hess, one[4])]
        out[c] = loss, weight, hw, grad, hess
    return out
