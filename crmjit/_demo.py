"""``crmjit demo``: synthetic customers valued, scored and modelled end to end, with
timings and checks against the pure-Python reference."""

from __future__ import annotations

import sys
import time

import numpy as np

from ._version import __version__


def _table(rows, headers):
    """Plain-text table with right-aligned columns."""
    cells = [headers] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                     for i, (h, w) in enumerate(zip(headers, widths))), line]
    for r in cells[1:]:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


class _Timer:
    def __init__(self):
        self.rows = []
        self.seconds = 0.0

    def run(self, name, n, func):
        t0 = time.perf_counter()
        result = func()
        dt = time.perf_counter() - t0
        self.seconds = dt
        self.rows.append([name, f"{n:,}", f"{dt:.3f}", f"{n / dt / 1e6:.1f}" if dt else "-"])
        return result


def demo(args, out=None):
    """Generate customers, value them, summarise per channel, check against the twins."""
    out = sys.stdout if out is None else out
    n = args.customers
    print(f"crmjit {__version__} demo: {n:,} synthetic customers, seed {args.seed}", file=out)
    t0 = time.perf_counter()
    from ._compile import helper as start_helper, no_first_call_helper
    # a second process compiles the probabilistic-CLV and metrics kernels into the cache
    # meanwhile: about 15 s each part when cold (the demo: 33.8 -> 19.6 s wall, measured)
    no_first_call_helper()
    helper = start_helper("crmjit._demo", "_warm_btyd")
    try:
        _warm_propensity(args.segments, args.seed)
        _warm_btyd(backwards=helper is not None)
        print(f"JIT warm-up (compile or load from cache): {time.perf_counter() - t0:.2f} s",
              file=out)
        return _run(args, out)
    finally:
        if helper is not None:
            helper.wait()


def _run(args, out):
    """The demo's steps, timed, and their report."""
    import crmjit
    from crmjit import reference
    from crmjit.data_gen import make_customers

    n = args.customers

    timer = _Timer()
    cust = timer.run("generate customers", n, lambda: make_customers(
        n, n_segments=args.segments, seed=args.seed, progress=not args.quiet))
    values = timer.run("CLV (per-customer rate, lifespan)", n,
                       lambda: crmjit.clv(cust.cash_flows, cust.rate, cust.lifespan))
    summary = timer.run("channel summary", n, lambda: crmjit.channel_summary(
        cust.channel, values, cust.spend, cust.new_customers, zero_division="nan"))

    model, scores, test = _propensity_steps(cust, timer)

    # One model per segment, every segment in one call.
    batched, batched_seconds, skipped = None, 0.0, ""
    try:
        batched = timer.run(f"fit one model per segment ({args.segments} segments)", n,
                            lambda: crmjit.BatchedLogisticRegression(invalid="flag").fit(
                                cust.X, cust.y, cust.segment))
        batched_seconds = timer.seconds
    except ValueError as exc:  # too few customers: no segment has both classes
        skipped = str(exc)

    # Probabilistic CLV from a transaction log: RFM -> BG/NBD + Gamma-Gamma -> 12 months.
    btyd = _btyd_steps(n, args, timer)

    k = min(n, args.sample)
    rows = np.random.default_rng(args.seed).choice(n, size=k, replace=False) if k else []
    rows = np.sort(rows)
    expected = reference.clv_matrix(cust.cash_flows[rows].tolist(), cust.rate[rows].tolist(),
                                    cust.lifespan[rows].tolist())
    diff = float(np.max(np.abs(values[rows] - np.asarray(expected)))) if k else 0.0
    scale = float(np.max(np.abs(expected))) if k else 1.0

    print("\nTimings", file=out)
    print(_table(timer.rows, ["step", "customers", "seconds", "M customers/s"]), file=out)
    print(f"\nCLV vs pure-Python reference on {k:,} sampled customers: largest difference "
          f"{diff:.3g} (largest CLV {scale:,.2f})", file=out)

    if model is not None:
        _report_propensity(cust, model, scores, test, rows, out)

    if batched is not None:
        _report_batched(cust, batched, batched_seconds, out)
    else:
        print(f"\nOne model per segment: skipped ({skipped})", file=out)

    _report_btyd(btyd, out)
    _subscriptions(n, args.seed, timer, out)

    print("\nPer channel", file=out)
    body = [[ch, f"{int(r.customers):,}", f"{r.clv_mean:,.2f}", f"{r.clv_total:,.0f}",
             f"{r.cac:,.2f}", f"{r.clv_to_cac:.2f}"] for ch, r in summary.iterrows()]
    print(_table(body, ["channel", "customers", "mean CLV", "total CLV", "CAC", "CLV:CAC"]),
          file=out)
    return 0


def _propensity_steps(cust, timer):
    """One model on the largest segment (segment 0: its own true model), fitted on 80 % of
    its customers (judged on the other 20 %), then every customer scored: (model, scores,
    held-out rows), or (None, None, rows) when the 80 % lack a class."""
    import crmjit
    seg0 = np.flatnonzero(cust.segment == 0)
    cut = int(0.8 * seg0.size)
    train, test = seg0[:cut], seg0[cut:]
    if not (train.size and np.unique(cust.y[train]).size == 2):
        return None, None, test
    Xtr, ytr = cust.X[train], cust.y[train]
    model = timer.run("fit propensity (segment 0, 80 %)", train.size,
                      lambda: crmjit.LogisticRegression().fit(Xtr, ytr))
    scores = timer.run("score propensity (all customers)", cust.X.shape[0],
                       lambda: crmjit.predict_proba(cust.X, model.coef_[0], model.intercept_[0]))
    return model, scores, test


def _report_propensity(cust, model, scores, test, rows, out):
    """Coefficient recovery, held-out AUC against the true model's, and the scores
    against the pure-Python reference on the sampled rows."""
    import crmjit
    from crmjit import reference
    from crmjit.metrics import gains_table, roc_auc_score

    true_w, true_b = cust.coef[0], cust.intercept[0]
    coef_err = float(np.max(np.abs(model.coef_[0] - true_w)))
    print(f"\nPropensity (segment 0): {model.n_iter_[0]} Newton iterations; largest "
          f"|fitted - true| coefficient {coef_err:.3f} (true coefficients up to "
          f"{np.max(np.abs(true_w)):.2f}); intercept {model.intercept_[0]:.3f} vs true "
          f"{true_b:.3f}", file=out)
    if test.size and np.unique(cust.y[test]).size == 2:
        auc = roc_auc_score(cust.y[test], scores[test])
        best = roc_auc_score(cust.y[test], crmjit.predict_proba(cust.X[test], true_w, true_b))
        print(f"Held-out AUC {auc:.4f} on {test.size:,} customers (the true model "
              f"scores {best:.4f})", file=out)
        _report_gains(gains_table(cust.y[test], scores[test]), out)
    k = len(rows)
    ref_p = reference.predict_proba(cust.X[rows].tolist(), [0], [model.coef_[0].tolist()],
                                    [float(model.intercept_[0])])
    pdiff = float(np.max(np.abs(scores[rows] - np.asarray(ref_p)))) if k else 0.0
    print(f"Scores vs pure-Python reference on {k:,} sampled customers: largest "
          f"difference {pdiff:.3g}", file=out)


def _report_gains(gains, out):
    """The held-out customers' gains table: who to target first."""
    print("Held-out customers by score decile (1 = highest scores):", file=out)
    body = [[int(r.bin), f"{r.min_score:.3f}", f"{r.customers:,.0f}", f"{r.positives:,.0f}",
             f"{r.response_rate:.1%}", f"{r.cumulative_gain:.1%}", f"{r.lift:.2f}"]
            for r in gains.itertuples()]
    print(_table(body, ["decile", "score >=", "customers", "buyers", "rate",
                        "cum. gain", "lift"]), file=out)


def _warm_propensity(segments, seed):
    """Compile (or load from the cache) the value and propensity kernels on tiny inputs, so
    that the timings measure the work, not the JIT."""
    import crmjit
    from crmjit.data_gen import make_customers

    small = make_customers(64, n_segments=segments, seed=seed)
    crmjit.clv(small.cash_flows, small.rate, small.lifespan)
    crmjit.channel_summary(small.channel, small.rate, small.spend + 1, small.new_customers + 1)
    crmjit.LogisticRegression().fit(small.X, np.arange(64) % 2)
    crmjit.predict_proba(small.X, small.coef[0], 0.0)
    small = make_customers(4000, n_features=3, n_segments=2, seed=1)
    crmjit.BatchedLogisticRegression(invalid="flag").fit(small.X, small.y, small.segment)


def _warm_btyd(backwards=False):
    """Compile (or load from the cache) the probabilistic-CLV and metrics kernels, step by
    step; the demo's helper process takes the steps in order while the demo, done with its
    own, takes them backwards: the two meet in the middle instead of compiling the same
    steps."""
    import warnings

    import crmjit
    from crmjit import metrics
    from crmjit.data_gen import make_rfm, make_transactions

    rfm = make_rfm(3000, seed=1)
    f, r, T, m = rfm.frequency, rfm.recency, rfm["T"], rfm.monetary_value
    bg = crmjit.BetaGeoModel.from_params([0.243, 30.9, 0.793, 2.426])  # a valid model
    gg = crmjit.GammaGammaModel.from_params([6.25, 3.74, 15.4])
    labels = np.arange(100) % 2
    cohort = crmjit.cohort_data([1000, 631, 468, 382])
    steps = [
        lambda: crmjit.rfm_summary(make_transactions(50, seed=1)[0], "customer_id", "date",
                                   "amount", freq="h"),
        lambda: crmjit.BetaGeoModel(max_iter=3).fit(f, r, T),
        lambda: crmjit.GammaGammaModel(max_iter=3).fit(f, m),
        # CLV and the holdout check's expected purchases (one horizon: the same kernels)
        lambda: crmjit.customer_lifetime_value(bg, gg, f, r, T, m, freq="H"),
        lambda: metrics.roc_auc_score(labels, np.linspace(0, 1, 100)),
        lambda: metrics.gains_table(labels, np.linspace(0, 1, 100)),
        lambda: crmjit.ShiftedBetaGeoModel().fit(cohort.lifetime, cohort.churned,
                                                 cohort.customers),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # three iterations: not converged
        for step in steps[::-1] if backwards else steps:
            step()


def _btyd_steps(n, args, timer):
    """Simulate a transaction log from known BG/NBD + Gamma-Gamma parameters, summarise,
    fit both models and value every customer; returns what the report needs (or the
    reason it was skipped)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    import crmjit
    from crmjit.data_gen import make_transactions

    log, truth = timer.run("simulate transaction log (BG/NBD)", n, lambda: make_transactions(
        n, seed=args.seed, progress=not args.quiet))
    rfm = timer.run(f"RFM summary ({len(log):,} transactions)", len(log),
                    lambda: crmjit.rfm_summary(log, "customer_id", "date", "amount",
                                               freq="h"))
    f, r, T, m = rfm["frequency"], rfm["recency"], rfm["T"], rfm["monetary_value"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            bg = timer.run("fit BG/NBD", len(rfm), lambda: crmjit.BetaGeoModel().fit(f, r, T))
            gg = timer.run("fit Gamma-Gamma", len(rfm),
                           lambda: crmjit.GammaGammaModel().fit(f, m))
    except (ValueError, ConvergenceWarning) as exc:  # a handful of customers: no MLE
        return str(exc)
    value = timer.run("12-month CLV (BG/NBD + Gamma-Gamma)", len(rfm), lambda: (
        crmjit.customer_lifetime_value(bg, gg, f, r, T, m, time=12, discount_rate=0.01,
                                       freq="H")))
    holdout = timer.run(f"holdout check (fit to {HOLDOUT_FROM}, check after)", len(rfm),
                        lambda: _holdout(log))
    return bg, gg, value, truth, holdout


HOLDOUT_FROM = "2025-10-01"  # the simulated log covers 2025: the last quarter held out


def _holdout(log):
    """BG/NBD fitted on the daily summary of the purchases to HOLDOUT_FROM, checked on the
    purchases after it (``crmjit.holdout_report``); the report, or why there is none."""
    import crmjit
    try:
        cal = crmjit.rfm_calibration_holdout(log, "customer_id", "date", HOLDOUT_FROM)
        bg = crmjit.BetaGeoModel().fit(cal.frequency_cal, cal.recency_cal, cal.T_cal)
    except ValueError as exc:  # a handful of customers: nobody before the split, or no MLE
        return str(exc)
    return crmjit.holdout_report(bg, cal)


SBG_TRUTH = {"alpha": 0.704, "beta": 1.182}  # Fader & Hardie's "regular" customers


def _subscriptions(n, seed, timer, out):
    """Subscribers simulated from sBG with known parameters (each renews with their own
    probability, theta ~ Beta(alpha, beta)), watched for 12 periods; the fit recovers the
    parameters and values a new subscriber."""
    import crmjit
    rng = np.random.default_rng(seed)
    left = rng.geometric(rng.beta(SBG_TRUTH["alpha"], SBG_TRUTH["beta"], n))
    lifetime, churned = np.minimum(left, 12), left <= 12
    try:
        model = timer.run("fit sBG (subscriptions, 12 periods)", n,
                          lambda: crmjit.ShiftedBetaGeoModel().fit(lifetime, churned))
    except ValueError as exc:  # no customer at all
        print(f"\nSubscriptions (sBG): skipped ({exc})", file=out)
        return
    est = ", ".join(f"{k} {model.params_[k]:.3f} (true {v}, se {model.standard_errors_[k]:.2g})"
                    for k, v in SBG_TRUTH.items())
    print(f"\nSubscriptions (sBG) on {n:,} simulated subscribers: {est}; after 12 "
          f"periods {model.survival(12):.1%} remain; a new subscriber's discounted expected "
          f"renewals at 10 % a period: {model.derl(0.10):.2f}", file=out)


def _report_btyd(btyd, out):
    if isinstance(btyd, str):
        print(f"\nProbabilistic CLV: skipped ({btyd})", file=out)
        return
    from crmjit.data_gen import BTYD_TRUTH

    bg, gg, value, truth, holdout = btyd
    rows = []
    for model in (bg, gg):
        for name, est in model.params_.items():
            se = model.standard_errors_[name]
            if name == "alpha":  # fitted in hours, the truth is in days
                est, se = est / 24.0, se / 24.0
            rows.append([name, f"{BTYD_TRUTH[name]:.4g}", f"{est:.4g}", f"{se:.2g}",
                         f"{(est - BTYD_TRUTH[name]) / se:+.1f}"])
    print("\nProbabilistic CLV: parameters recovered from the hourly RFM summary of the "
          "simulated log (alpha in days; a daily summary, where purchases on the same day "
          "count once, biases r and alpha by a few standard errors)", file=out)
    print(_table(rows, ["parameter", "true", "fitted", "std. error", "(fitted - true) / se"]),
          file=out)
    print(f"12-month CLV: mean {float(np.mean(value)):,.2f}, total {float(np.sum(value)):,.0f}"
          f" over {len(value):,} customers; {int(truth['frequency'].gt(0).sum()):,} bought "
          "more than once", file=out)
    _report_holdout(holdout, out)


def _report_holdout(holdout, out):
    """Predicted against actual holdout purchases, by calibration frequency."""
    if isinstance(holdout, str):
        print(f"Holdout check: skipped ({holdout})", file=out)
        return
    s = holdout.summary
    print(f"Holdout check: fitted on the purchases to {HOLDOUT_FROM}; after it "
          f"{s.customers:,.0f} customers made {s.actual_total:,.0f} repeat purchases, the "
          f"model predicted {s.predicted_total:,.0f} (per customer: MAE {s.mae:.3f}, "
          f"correlation {s.correlation:.3f})", file=out)
    body = [[f"{f:g}", f"{r.customers:,.0f}", f"{r.actual:.3f}", f"{r.predicted:.3f}"]
            for f, r in holdout.by_frequency.iloc[:6].iterrows()]
    print(_table(body, ["purchases before", "customers", "mean after: actual",
                        "predicted"]), file=out)


def _sklearn_loop_seconds(cust, labels, max_rows=250_000, sample=5):
    """Seconds for scikit-learn's LogisticRegression() fitted segment by segment: timed
    on every segment up to max_rows customers, else on `sample` segments scaled by rows
    (at the default million customers, every segment would add 1.7 s to the demo)."""
    import warnings

    from sklearn.linear_model import LogisticRegression as SkLogReg

    n = cust.y.shape[0]
    order = np.argsort(cust.segment, kind="stable")
    bounds = np.searchsorted(cust.segment[order], np.arange(cust.coef.shape[0] + 1))
    chosen = list(labels) if n <= max_rows else list(labels[:: max(1, len(labels) // sample)])
    rows = 0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g in chosen:
            idx = order[bounds[g]:bounds[g + 1]]
            SkLogReg().fit(cust.X[idx], cust.y[idx])
            rows += idx.size
    elapsed = time.perf_counter() - t0
    if n <= max_rows:
        return elapsed, "timed on every segment"
    return elapsed * n / max(rows, 1), f"estimated from {len(chosen)} segments, scaled by rows"


def _report_batched(cust, model, ours, out):
    valid = model.valid_
    labels = model.groups_[valid]
    sk, how = _sklearn_loop_seconds(cust, labels)
    err = np.max(np.abs(model.coef_[valid] - cust.coef[labels]), axis=1)
    sizes = np.bincount(cust.segment, minlength=cust.coef.shape[0])[labels]
    worst = int(np.argmax(err))
    print(f"\nOne model per segment: {valid.sum()} of {valid.size} segments fitted "
          f"({(~valid).sum()} flagged: one class only) in {ours:.2f} s; scikit-learn "
          f"looping over segments: {sk:.2f} s ({how}), {sk / ours:.1f}x slower", file=out)
    print(f"Recovery of the true per-segment coefficients: median over segments of the "
          f"largest |fitted - true| {np.median(err):.3f}; worst {err[worst]:.3f} (segment "
          f"{labels[worst]}, {sizes[worst]:,} customers)", file=out)
