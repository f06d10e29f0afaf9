"""crmjit on dask DataFrames, partition by partition (``pip install 'crmjit[dask]'``).

Works the same on a laptop's threads, a ``LocalCluster`` or a multi-machine
``dask.distributed`` cluster: every function here only builds dask graphs of ordinary
crmjit calls on pandas partitions, so the kernels run where the data lives.

Threading.  Each dask worker thread calls crmjit, so several calls run at once in one
process; that is safe whatever numba threading layer is installed, because crmjit runs its
parallel work on threads of its own (``crmjit._threads``), not on numba's pool.  Set
``NUMBA_NUM_THREADS`` to the cores each call may use (e.g. 1 on a worker with as many
threads as cores).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .batched import BatchedLogisticRegression

def _dd():
    try:
        import dask.dataframe as dd
    except ImportError:  # pragma: no cover - the test extra installs it
        raise ImportError("crmjit.dask needs dask: pip install 'crmjit[dask]'") from None
    return dd


def _check_frame(ddf, columns, what="columns"):
    dd = _dd()
    if not isinstance(ddf, dd.DataFrame):
        raise TypeError(f"expected a dask DataFrame, got {type(ddf).__name__}")
    missing = [c for c in columns if c not in ddf.columns]
    if missing:
        raise ValueError(f"{what} {missing} not in the DataFrame (columns: "
                         f"{list(ddf.columns)[:20]})")


def _numeric(ddf, columns):
    for c in columns:
        kind = ddf[c].dtype.kind
        if kind not in "fiu":
            raise TypeError(f"column {c!r} must be numeric, got {ddf[c].dtype}")


def _matrix(df, columns):
    nulls = [c for c in columns if df[c].isna().any()]
    if nulls:
        raise ValueError(f"column(s) {nulls} have missing values (nulls)")
    dtypes = {df[c].dtype for c in columns}
    dtype = np.float32 if dtypes == {np.dtype(np.float32)} else np.float64
    return df[columns].to_numpy(dtype=dtype)


def predict_proba(ddf, model, features=None, groups=None):
    """Positive-class probability per row: a dask Series named ``score`` with ddf's index.

    model : fitted LogisticRegression / BatchedLogisticRegression, or a saved model's path
    (loaded here once and shipped with the graph).  features : columns in coefficient
    order (default: the names the model was fitted on).  groups : segment column, for a
    BatchedLogisticRegression."""
    from .parquet import _features, _resolve_model
    model, batched = _resolve_model(model)
    features = _features(model, features)
    if batched and groups is None:
        raise ValueError("a BatchedLogisticRegression needs groups= (the segment column)")
    if not batched and groups is not None:
        raise ValueError("groups= is for a BatchedLogisticRegression")
    _check_frame(ddf, features + ([groups] if groups else []))
    _numeric(ddf, features)

    def part(df):
        X = _matrix(df, features)
        if batched:
            import warnings
            with warnings.catch_warnings():  # names were matched above
                warnings.filterwarnings("ignore", "X does not have valid feature")
                p = model.predict_proba(X, df[groups].to_numpy())
        else:
            from .logistic import predict_proba as score
            p = score(X, model.coef_[0].astype(X.dtype), model.intercept_[0])
        return pd.Series(p.astype(np.float64), index=df.index, name="score")
    return ddf.map_partitions(part, meta=pd.Series([], dtype=np.float64, name="score"))


def clv(ddf, cash_flows, rate, lifespan=None):
    """Discounted-cash-flow CLV per row (:func:`crmjit.clv`) as a dask Series ``clv``.

    cash_flows : the per-period cash-flow columns, in period order.  rate : a column name
    or a number.  lifespan : a column name, a number, or None (all periods)."""
    from .value import clv as clv_kernel
    cash_flows = list(cash_flows)
    cols = cash_flows + [c for c in (rate, lifespan) if isinstance(c, str)]
    _check_frame(ddf, cols)
    _numeric(ddf, cols)

    def part(df):
        cf = _matrix(df, cash_flows)
        r = df[rate].to_numpy(dtype=np.float64) if isinstance(rate, str) else rate
        life = (df[lifespan].to_numpy() if isinstance(lifespan, str) else lifespan)
        v = clv_kernel(cf, r, life)
        return pd.Series(v, index=df.index, name="clv")
    return ddf.map_partitions(part, meta=pd.Series([], dtype=np.float64, name="clv"))


def fit_batched(ddf, features, target, groups, **estimator_params):
    """One :class:`~crmjit.BatchedLogisticRegression` model per segment, each segment
    fitted on the worker holding its rows: the frame is shuffled by ``groups`` (so a
    segment's rows share one partition), every partition fits its segments, and the
    per-segment coefficients are gathered into one fitted estimator.  Each partition's
    rows are put back in index order first, so on a frame whose index is sorted each
    segment sees its rows in the in-memory order and its model equals, to the bit, the
    in-memory fit of the whole frame (for segments below ``big_segment_rows``; beyond,
    to rounding, ~1e-12).  ``estimator_params`` go to the estimator (C may be one value
    per segment, in sorted label order)."""
    features = list(features)
    _check_frame(ddf, features + [target, groups])
    _numeric(ddf, features)
    est = BatchedLogisticRegression(**estimator_params)
    labels_all = np.sort(ddf[groups].dropna().unique().compute().to_numpy())
    classes = np.sort(ddf[target].dropna().unique().compute().to_numpy())
    if classes.shape[0] != 2:
        raise ValueError(f"{target} must hold exactly 2 classes, found {classes.shape[0]}")
    C = est.C
    if np.ndim(C) == 1:
        if len(C) != labels_all.shape[0]:
            raise ValueError(f"C has {len(C)} values but there are {labels_all.shape[0]} "
                             "segments")
        C_of = dict(zip(labels_all.tolist(), np.asarray(C, dtype=np.float64).tolist()))
    params = {k: v for k, v in est.get_params().items() if k != "C"}
    cols = features + [target, groups]
    d = len(features)
    out_cols = (["label"] + [f"coef{j}" for j in range(d)]
                + ["intercept", "n_iter", "converged", "valid"])
    meta = pd.DataFrame({c: pd.Series([], dtype=np.float64) for c in out_cols})
    meta["label"] = pd.Series([], dtype=ddf[groups].dtype)
    meta["n_iter"] = meta["n_iter"].astype(np.int64)
    meta["converged"] = meta["converged"].astype(bool)
    meta["valid"] = meta["valid"].astype(bool)

    def part(df):
        if df.shape[0] == 0:
            return meta.copy()
        df = df.sort_index(kind="stable")  # each segment's rows in the frame's order
        X = _matrix(df, features)
        y = (df[target].to_numpy() == classes[1]).astype(np.int8)
        g = df[groups].to_numpy()
        local = np.sort(pd.unique(g))
        c = np.array([C_of[v] for v in local.tolist()]) if np.ndim(C) == 1 else C
        m = BatchedLogisticRegression(C=c, **params).fit(X, y, g)
        res = pd.DataFrame(m.coef_, columns=[f"coef{j}" for j in range(d)])
        res.insert(0, "label", m.groups_)
        res["intercept"] = m.intercept_
        res["n_iter"] = m.n_iter_.astype(np.int64)
        res["converged"] = m.converged_
        res["valid"] = m.valid_
        return res[out_cols]
    shuffled = ddf[cols].shuffle(on=groups)
    res = shuffled.map_partitions(part, meta=meta).compute()
    res = res.sort_values("label", kind="stable").reset_index(drop=True)
    return BatchedLogisticRegression._from_state({
        "params": est.get_params(),
        "arrays": {"coef_": res[[f"coef{j}" for j in range(d)]].to_numpy(dtype=np.float64),
                   "intercept_": res["intercept"].to_numpy(dtype=np.float64),
                   "n_iter_": res["n_iter"].to_numpy(dtype=np.int64),
                   "converged_": res["converged"].to_numpy(dtype=bool),
                   "valid_": res["valid"].to_numpy(dtype=bool)},
        "labels": {"classes_": classes, "groups_": res["label"].to_numpy()},
        "feature_names": [str(f) for f in features]})


__all__ = ["clv", "fit_batched", "predict_proba"]


# ----------------------------------------------------------------- probabilistic CLV
def rfm_summary(ddf, customer_id_col, datetime_col, monetary_value_col=None,
                observation_period_end=None, freq="D"):
    """:func:`crmjit.rfm_summary` of a transaction log partitioned by customer (each
    customer's purchases in one partition: ``ddf.shuffle(on=customer_id_col)``): a dask
    DataFrame, one row per customer, equal to the in-memory summary.  The end of
    observation defaults to the last purchase in the whole log (one pass to find it)."""
    from .rfm import rfm_summary as summary
    cols = [customer_id_col, datetime_col] + ([monetary_value_col] if monetary_value_col
                                              else [])
    _check_frame(ddf, cols)
    end = observation_period_end
    if end is None:
        end = _dd().to_datetime(ddf[datetime_col]).max().compute()
    meta = summary(ddf._meta_nonempty[cols].head(1), customer_id_col, datetime_col,
                   monetary_value_col, observation_period_end=end, freq=freq)

    def part(df):
        if len(df) == 0:
            return meta.iloc[:0]
        return summary(df, customer_id_col, datetime_col, monetary_value_col,
                       observation_period_end=end, freq=freq)
    return ddf[cols].map_partitions(part, meta=meta.iloc[:0])


def fit_btyd(rfm, groups=None, model="bgnbd", **params):
    """A purchase model (``model``: "bgnbd" BG/NBD, "pareto" Pareto/NBD or "mbgnbd"
    MBG/NBD) and Gamma-Gamma fitted on a dask RFM summary (``rfm_summary``; with a
    ``groups`` column, one parameter set per segment): (purchase model, GammaGammaModel),
    equal to the fits of the in-memory summary.  One row per customer is small: it is
    collected, sorted by customer as the in-memory summary is, and fitted here; a
    customer in two partitions is an error.  params: passed to both models (e.g.
    penalizer_coef)."""
    from .btyd_clv import fit_pair
    _check_frame(rfm, ["frequency", "recency", "T", "monetary_value"]
                 + ([groups] if groups else []))
    frame = rfm.compute().sort_index(kind="stable")
    twice = frame.index[frame.index.duplicated()]
    if len(twice):
        raise ValueError(f"customers {twice[:5].tolist()} appear in several partitions: "
                         f"partition the log by customer (ddf.shuffle(on=...)) first")
    g = frame[groups].to_numpy() if groups else None
    return fit_pair(frame.frequency, frame.recency, frame["T"], frame.monetary_value, g,
                    model, **params)


def customer_lifetime_value(purchase_model, spend_model, rfm, time=12, discount_rate=0.01,
                            freq="D", groups=None):
    """:func:`crmjit.customer_lifetime_value` of every customer of a dask RFM summary,
    partition by partition: a dask Series named ``clv`` (the summary's index)."""
    from .btyd_clv import customer_lifetime_value as value
    _check_frame(rfm, ["frequency", "recency", "T", "monetary_value"]
                 + ([groups] if groups else []))

    def part(df):
        if len(df) == 0:
            return pd.Series([], index=df.index, dtype=np.float64, name="clv")
        out = value(purchase_model, spend_model, df.frequency, df.recency, df["T"],
                    df.monetary_value, time=time, discount_rate=discount_rate, freq=freq,
                    groups=None if groups is None else df[groups].to_numpy())
        return pd.Series(np.asarray(out), index=df.index, name="clv")
    return rfm.map_partitions(part, meta=pd.Series([], dtype=np.float64, name="clv"))
