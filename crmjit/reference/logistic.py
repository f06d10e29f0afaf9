"""Pure-Python twins of :mod:`crmjit.kernels.logistic` and a plain Newton fit."""

from __future__ import annotations

import math
import struct

from .value import _at

BLOCK = 256


def exp_neg_abs(z):
    """e^(-|z|)."""
    return math.exp(-abs(z))


def exp_neg_abs32(z):
    """e^(-|z|) (the kernel computes it in float32)."""
    return math.exp(-abs(z))


def log1p_unit(e):
    """log(1 + e)."""
    return math.log1p(e)


def log1p_unit32(e):
    """log(1 + e) (the kernel computes it in float32)."""
    return math.log1p(e)


def sigmoid(z):
    """1 / (1 + e^-z), on the side that cannot overflow."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def sigmoid32(z):
    """1 / (1 + e^-z) (the kernel computes it in float32)."""
    return sigmoid(z)


def log1pexp(z):
    """log(1 + e^z), on the side that cannot overflow."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def row_dot(X, i, W, c, b):
    """b + X[i] . W[c]."""
    return b + sum(x * w for x, w in zip(X[i], W[c]))


def sigmoid_into(z, m):
    """(sigmoid of the first m values, how many of them are NaN or inf)."""
    bad = sum(1 for v in z[:m] if math.isnan(v) or math.isinf(v))
    return [sigmoid(v) for v in z[:m]], bad


def decision_function(X, codes, coefs, intercepts):
    """intercepts[c] + x . coefs[c] per row, c its code (one code: the same for all)."""
    return [row_dot(X, i, coefs, _at(codes, i), intercepts[_at(codes, i)])
            for i in range(len(X))]


def predict_proba(X, codes, coefs, intercepts):
    """sigmoid(intercepts[c] + x . coefs[c]) per row."""
    return [sigmoid(z) for z in decision_function(X, codes, coefs, intercepts)]


def predict_proba_columns(cols, coef, intercept):
    """sigmoid(intercept + sum_j cols[j][i] coef[j]) per row, features given by column."""
    return [sigmoid(intercept + sum(c[i] * w for c, w in zip(cols, coef)))
            for i in range(len(cols[0]))]


def logistic_pass(X, y, sample_weight, theta, n_chunks, row_stride, hess_stride):
    """(loss, weight, hess_weight, grad, hess): sums of s*logloss, s, s*(p-y)*(x,1) over
    the rows of every row_stride-th block of BLOCK rows, and s*p*(1-p)*(x,1)(x,1)^T over
    every hess_stride-th of those blocks."""
    d = len(theta) - 1
    loss, weight, hw = 0.0, 0.0, 0.0
    grad = [0.0] * (d + 1)
    hess = [[0.0] * (d + 1) for _ in range(d + 1)]
    for i, row in enumerate(X):
        if (i // BLOCK) % row_stride != 0:
            continue
        s = sample_weight[0] if len(sample_weight) == 1 else sample_weight[i]
        weight += s
        x = list(row) + [1.0]
        z = sum(a * b for a, b in zip(x, theta))
        p = sigmoid(z)
        loss += s * (log1pexp(z) - y[i] * z)
        for j in range(d + 1):
            grad[j] += s * (p - y[i]) * x[j]
        if hess_stride > 0 and (i // BLOCK) % (row_stride * hess_stride) == 0:
            hw += s
            for j in range(d + 1):
                for m in range(d + 1):
                    hess[j][m] += s * p * (1 - p) * x[j] * x[m]
    return loss, weight, hw, grad, hess


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


def load_rows(X, y, sample_weight, order, s0, m):
    """(xt, yb, sb, finite): rows s0 .. s0+m-1 of X (rows order[s0 ..] when order is not
    empty) as feature columns xt (d+1 lists of m, ones last), and y, sample_weight at
    positions s0 .. s0+m-1 (already grouped by the caller; the kernel writes the same, cut
    into blocks of B rows); finite: every value of those rows of X is finite."""
    rows = [s0 + r if not order else order[s0 + r] for r in range(m)]
    d = len(X[0])
    xt = [[float(X[i][j]) for i in rows] for j in range(d)] + [[1.0] * m]
    at = range(s0, s0 + m)
    sb = [sample_weight[0] if len(sample_weight) == 1 else sample_weight[p] for p in at]
    finite = all(math.isfinite(v) for col in xt for v in col)
    return xt, [float(y[p]) for p in at], sb, finite


def take(values, rows):
    """[values[i] for i in rows]."""
    return [values[i] for i in rows]


def dot(a, b, m):
    """sum a[r] * b[r] over r < m."""
    return sum(a[r] * b[r] for r in range(m))


def dot4(a, xt, j0, m):
    """Four dot products of a with the rows j0 .. j0+3 of xt over r < m."""
    return tuple(dot(a, xt[j0 + t], m) for t in range(4))


def total(a, m):
    """sum a[r] over r < m."""
    return sum(a[:m])


def hess_upper(xt, q, m):
    """sum_r q[r] xt[:, r] xt[:, r]^T (the kernel adds its upper triangle)."""
    k = len(xt)
    return [[sum(q[r] * xt[j][r] * xt[l][r] for r in range(m)) for l in range(k)]
            for j in range(k)]


def hess_tile(xq, xt, l0, m, j0):
    """The 4 x 4 block added to h[j0:j0+4, l0:l0+4]: sum_r xq[t][r] * xt[l0+u][r] (the
    kernel's xq rows are the Hessian rows j0 .. j0+3 already multiplied by q; j0 only
    places the block)."""
    return [[sum(xq[t][r] * xt[l0 + u][r] for r in range(m)) for u in range(4)]
            for t in range(4)]


def symmetrize(h):
    """h with its upper triangle copied onto the lower one."""
    return [[h[min(j, l)][max(j, l)] for l in range(len(h))] for j in range(len(h))]


def row_terms(z, yb, sb, m):
    """(loss, rb, qb): sum s*logloss, s (p - y) and s p (1 - p) at linear predictors z."""
    p = [sigmoid(v) for v in z[:m]]
    loss = sum(sb[r] * (log1pexp(z[r]) - yb[r] * z[r]) for r in range(m))
    return (loss, [sb[r] * (p[r] - yb[r]) for r in range(m)],
            [sb[r] * p[r] * (1 - p[r]) for r in range(m)])


def theta_dot(X, i, theta):
    """theta[d] + X[i] . theta[:d]."""
    return theta[-1] + sum(float(x) * t for x, t in zip(X[i], theta))


def rows_gradient(X, y, sample_weight, s0, m, theta):
    """(loss, weight, grad) of rows s0 .. s0+m-1."""
    xt, yb, sb, _ = load_rows(X, y, sample_weight, [], s0, m)
    loss, weight, grad, _ = block_terms(xt, yb, sb, m, theta, False)
    return loss, weight, grad


def block_terms(xt, yb, sb, m, theta, want_h):
    """(loss, weight, grad, hess or None) of the first m rows of a loaded block."""
    rows = [[xt[j][r] for j in range(len(xt) - 1)] for r in range(m)]
    loss, weight, _, grad, hess = logistic_pass(rows, yb[:m], sb[:m], theta, 1, 1,
                                                1 if want_h else 0)
    return loss, weight, grad, (hess if want_h else None)


def block_scratch(k, m, block):
    """The kernel's scratch buffers: nothing to compute in Python."""
    return None


def block_temps(B):
    """The kernel's scratch buffers: nothing to compute in Python."""
    return None


def carve(k, m, block):
    """The shapes of a segment's blocked copy carved from a lane buffer: (blocks, k, b),
    (blocks, b), (blocks, b) for m rows in blocks of up to block rows."""
    nb, b = segment_blocks(m, block)
    return (nb, k, b), (nb, b), (nb, b)


def f32(v):
    """v rounded to the nearest float32 (as a Python float; beyond float32's range: inf)."""
    try:
        return struct.unpack("f", struct.pack("f", v))[0]
    except OverflowError:
        return math.copysign(math.inf, v)


def weight_scale(wsum, m):
    """The mean weight wsum / m (1.0 if that is not positive and finite)."""
    scale = wsum / max(m, 1)
    return scale if scale > 0 and math.isfinite(scale) else 1.0


def narrow_block(xt, yb, sb, m, inv):
    """(xs, ys, ss): the first m columns of xt and yb rounded to float32, and sb times inv
    rounded to float32."""
    return ([[f32(v) for v in row[:m]] for row in xt], [f32(v) for v in yb[:m]],
            [f32(v * inv) for v in sb[:m]])


def narrow(xt, yb, sb, m):
    """(xs, ys, ss, scale): the first m columns of a loaded segment's xt and yb rounded to
    float32, and its weights divided by their mean (scale, ``weight_scale``), rounded to
    float32."""
    scale = weight_scale(sum(sb[:m]), m)
    return narrow_block(xt, yb, sb, m, 1.0 / scale) + (scale,)


def narrow_temps(k, B):
    """The kernel's scratch buffers: nothing to compute in Python."""
    return None


def accept(f, ft, g, gt, step, t):
    """Armijo at t times the step, or where float64 cannot resolve the change in f, no
    increase beyond rounding and a smaller gradient (max norm)."""
    slope = sum(a * b for a, b in zip(g, step))
    return math.isfinite(ft) and (ft <= f + 1e-4 * t * slope or (
        ft <= f + 1e-12 * abs(f) and max(map(abs, gt)) < max(map(abs, g))))


def hess32(xs, q, m):
    """sum_r q[r] xs[:, r] xs[:, r]^T of float32 data with the weights divided by their sum,
    rounded to float32 and multiplied back (the kernel sums in float32: compare to about
    1e-5); None where a float32 sum would overflow."""
    qsum = sum(q[:m])
    if not qsum > 0:
        return [[0.0] * len(xs) for _ in xs]
    qs = [f32(v / qsum) for v in q[:m]]
    h = hess_upper(xs, qs, m)
    if any(abs(v) > 3.4028234663852886e38 for row in h for v in row):
        return None
    return [[qsum * v for v in row] for row in h]


def penalised(xt, yb, sb, m, theta, lam, n_free, want_h):
    """(f, g, H or None) of sum s*logloss + 0.5 lam ||w||^2 on a loaded segment; the
    intercept's gradient is zero when it is held fixed (n_free = d).  The kernel's modes
    only choose the precision it computes this in (float64; float32 Hessian sums; all data
    terms in float32)."""
    loss, _, g, h = block_terms(xt, yb, sb, m, theta, want_h)
    d = len(theta) - 1
    f = loss + 0.5 * lam * sum(w * w for w in theta[:d])
    g = [v + (lam * theta[j] if j < d else 0.0) for j, v in enumerate(g)]
    if n_free < d + 1:
        g[d] = 0.0
    if h is not None:
        h = [[v + (lam if j == m2 and j < d else 0.0) for m2, v in enumerate(row)]
             for j, row in enumerate(h)]
    return f, g, h


def segment_newton(xt, yb, sb, m, lam, n_free, tol=1e-12, max_iter=100):
    """The plain fit on a loaded segment: (theta, converged)."""
    rows = [[xt[j][r] for j in range(len(xt) - 1)] for r in range(m)]
    return newton(rows, yb[:m], sb[:m], lam, n_free, tol, max_iter)


def padded(m, pad=16):
    """m rounded up to a multiple of pad (the kernel solves a segment on that many rows,
    the extra ones of weight 0, which change no sum)."""
    return -(-m // pad) * pad


def segment_blocks(m, block):
    """(blocks, rows per block) of a segment of m rows solved in blocks of up to block."""
    b = max(1, min(m, block))
    return max(1, -(-m // b)), b


def lane_size(k, m, block, pad=16):
    """Values in a lane buffer for segments of up to m rows of k columns: a blocked copy
    (blocks, k, b) of the padded rows and two (blocks, b) arrays."""
    nb, b = segment_blocks(padded(m, pad), block)
    return nb * b * (k + 2)


def warm_blocks(nb, min_blocks, stride):
    """How many blocks of a segment of nb blocks form its warm-start subsample: every
    stride-th of the nb - 1 full ones; 0 below min_blocks blocks."""
    return -(-(nb - 1) // stride) if nb >= min_blocks else 0


def block_source(p, nb, nw, stride):
    """The segment block held in block p of its loaded copy: the subsample blocks 0,
    stride, 2 stride, ... (nw of them) first, the other full blocks in order, the last
    block last."""
    if nw == 0:
        return p
    order = list(range(0, nb - 1, stride)) + [c for c in range(nb - 1) if c % stride]
    return (order + [nb - 1])[p]


def warm_start(xt, yb, sb, m, wsum, lam, n_free, tol):
    """The plain fit on the first m columns of a loaded subsample with the penalty scaled
    by its share of the segment's weight wsum; None when the subsample lacks a class."""
    wall = sum(sb[:m])
    wpos = sum(s * v for s, v in zip(sb[:m], yb[:m]))
    if not (wpos > 0 and wall - wpos > 0):
        return None
    return segment_newton(xt, yb, sb, m, lam * wall / wsum, n_free, tol)[0]


def load_copies(X, y, sample_weight, order, s0, rows, wsum, block, min_blocks, stride,
                pad=16):
    """(blocks, finite, scale): a segment's two copies as the kernel lays them out: its
    rows (``load_rows``) padded with zero rows of weight 0 to padded(rows), cut into
    blocks of up to block rows, in the order ``block_source`` gives (the warm-start
    subsample first); each block (xt, yb, sb, xs, ys, ss), the float32 part from
    ``narrow_block`` with the weights divided by scale = weight_scale(wsum, m)."""
    m = padded(rows, pad)
    nb, b = segment_blocks(m, block)
    nw = warm_blocks(nb, min_blocks, stride)
    scale = weight_scale(wsum, m)
    xt, yb, sb, finite = load_rows(X, y, sample_weight, order, s0, rows)
    extra = [0.0] * (m - rows)
    xt, yb, sb = [col + extra for col in xt], yb + extra, sb + extra
    blocks = []
    for p in range(nb):
        at = slice(block_source(p, nb, nw, stride) * b, None)
        cols = [col[at][:b] for col in xt]
        yp, sp = yb[at][:b], sb[at][:b]
        blocks.append((cols, yp, sp) + narrow_block(cols, yp, sp, len(yp), 1.0 / scale))
    return blocks, finite, scale


def fit_segments(X, y, sample_weight, order, offsets, items, lam, n_free):
    """{segment: theta} of the plain fit on each segment in items (the kernel's lanes take
    them in any order; neither the lanes nor the order change any result); None for a
    segment whose rows hold a NaN or inf (the kernel: n_iter -1); segments with lam < 0
    are only checked, not fitted (left out)."""
    out = {}
    for s in items:
        xt, yb, sb, finite = load_rows(X, y, sample_weight, order, offsets[s],
                                       offsets[s + 1] - offsets[s])
        if not finite:
            out[s] = None
        elif lam[s] >= 0:
            out[s] = segment_newton(xt, yb, sb, len(yb), lam[s], n_free)[0]
    return out


def newton_direction(g, H, k):
    """-H[:k, :k]^-1 g[:k] padded with zeros to len(g)."""
    step = solve([row[:k] for row in H[:k]], [-v for v in g[:k]])
    return step + [0.0] * (len(g) - k)


def newton_directions(grads, hess, idx, k):
    """{s: newton_direction(grads[s], hess[s], k)} for s in idx."""
    return {s: newton_direction(grads[s], hess[s], k) for s in idx}


def group_order(codes, n_groups, flags=()):
    """(order, offsets, flag_sums, grouped): a stable sort of row indices by code, segment
    boundaries, the flags summed per segment, and whether the codes were already
    non-decreasing."""
    order = sorted(range(len(codes)), key=lambda i: codes[i])
    offsets = [0] * (n_groups + 1)
    for c in codes:
        offsets[c + 1] += 1
    for s in range(n_groups):
        offsets[s + 1] += offsets[s]
    flag_sums = [0] * n_groups
    for c, f in zip(codes, flags):
        flag_sums[c] += f
    grouped = all(a <= b for a, b in zip(codes, codes[1:]))
    return order, offsets, flag_sums, grouped


def map_labels(labels, table):
    """([table[v] or -1 outside the table, ...], how many are negative)."""
    out = [table[v] if 0 <= v < len(table) else -1 for v in labels]
    return out, sum(1 for c in out if c < 0)


def fit_grouped(X, y, groups, sample_weight, C, fit_intercept=True):
    """The plain fit applied group by group: {label: (coef, intercept)}."""
    out = {}
    for label in sorted(set(groups)):
        rows = [i for i, g in enumerate(groups) if g == label]
        sw = sample_weight if len(sample_weight) == 1 else [sample_weight[i] for i in rows]
        c = C[label] if isinstance(C, dict) else C
        out[label] = fit([X[i] for i in rows], [y[i] for i in rows], sw, c, fit_intercept)
    return out


def solve(A, b):
    """Solve A x = b by Gaussian elimination with partial pivoting."""
    n = len(b)
    M = [list(A[i]) + [b[i]] for i in range(n)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(M[r][c]))
        M[c], M[p] = M[p], M[c]
        for r in range(c + 1, n):
            f = M[r][c] / M[c][c]
            for k in range(c, n + 1):
                M[r][k] -= f * M[c][k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (M[r][n] - sum(M[r][k] * x[k] for k in range(r + 1, n))) / M[r][r]
    return x


def newton(X, y, sample_weight, lam, n_free, tol=1e-12, max_iter=100):
    """Plain Newton on sum s*logloss + 0.5 lam ||w||^2 from zero for tiny data (n_free = d:
    intercept held at 0); returns (theta, converged)."""
    d = len(X[0])
    theta = [0.0] * (d + 1)
    xt = [[float(row[j]) for row in X] for j in range(d)] + [[1.0] * len(X)]
    for _ in range(max_iter):
        _, g, H = penalised(xt, y, sample_weight, len(X), theta, lam, n_free, True)
        step = solve([row[:n_free] for row in H[:n_free]], [-v for v in g[:n_free]])
        for j in range(n_free):
            theta[j] += step[j]
        if max(abs(v) for v in step) < tol:
            return theta, True
    return theta, False


def fit(X, y, sample_weight, C, fit_intercept=True, tol=1e-12, max_iter=100):
    """Plain Newton on C * sum s*logloss + 0.5 ||w||^2 for tiny data; returns (coef, b).
    (The same minimiser as sum s*logloss + 0.5 ||w||^2 / C.)"""
    d = len(X[0])
    theta, _ = newton(X, y, sample_weight, 0.0 if math.isinf(C) else 1.0 / C,
                      d + 1 if fit_intercept else d, tol, max_iter)
    return theta[:d], theta[d]
