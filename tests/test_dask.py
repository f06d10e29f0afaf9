"""crmjit.dask on a real dask.distributed LocalCluster: 2 worker processes on loopback,
2 threads each, so crmjit's parallel kernels run concurrently inside a worker."""

import numpy as np
import pytest

import crmjit
import crmjit.dask as cd
from crmjit.data_gen import make_customers

dd = pytest.importorskip("dask.dataframe")  # an install error, not a skip: the test extra has it
FEATS = [f"x{j}" for j in range(5)]


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def data():
    c = make_customers(12_000, n_features=5, n_segments=15, seed=3)
    df = c.to_frame()
    return c, df, dd.from_pandas(df, npartitions=6)


def test_scoring_and_clv_equal_in_memory(client, data):
    c, df, ddf = data
    m = crmjit.LogisticRegression().fit(df[FEATS], df.y)
    s = cd.predict_proba(ddf, m).compute()
    assert (s.index == df.index).all()
    np.testing.assert_allclose(s, m.predict_proba(df[FEATS])[:, 1], rtol=1e-12, atol=0)
    v = cd.clv(ddf, [f"cf{t}" for t in range(1, 13)], "rate", "lifespan").compute()
    np.testing.assert_allclose(v, crmjit.clv(c.cash_flows, c.rate, c.lifespan), rtol=1e-12)


def test_fit_batched_equals_in_memory_fit(client, data, tmp_path):
    c, df, ddf = data
    b = cd.fit_batched(ddf, FEATS, "y", "segment", invalid="flag")
    ref = crmjit.BatchedLogisticRegression(invalid="flag").fit(df[FEATS], df.y, df.segment)
    assert list(b.groups_) == list(ref.groups_)
    np.testing.assert_array_equal(b.coef_, ref.coef_)  # the same rows in the same order
    np.testing.assert_array_equal(b.intercept_, ref.intercept_)
    assert (b.valid_ == ref.valid_).all()
    fitted = ref.groups_[ref.valid_].tolist()
    ok = df.segment.isin(fitted)
    dok = ddf[ddf.segment.isin(fitted)]
    s = cd.predict_proba(dok, b, groups="segment").compute()
    np.testing.assert_allclose(s, ref.predict_proba(df[FEATS][ok], df.segment[ok]),
                               rtol=1e-12)
    b.save(tmp_path / "b.json")  # and a saved model by path
    s2 = cd.predict_proba(dok, str(tmp_path / "b.json"), groups="segment").compute()
    np.testing.assert_array_equal(s, s2)
    # per-segment C in sorted label order
    Cs = np.linspace(0.1, 5.0, len(ref.groups_))
    b = cd.fit_batched(ddf, FEATS, "y", "segment", C=Cs, invalid="flag")
    ref = crmjit.BatchedLogisticRegression(C=Cs, invalid="flag").fit(df[FEATS], df.y, df.segment)
    np.testing.assert_array_equal(b.coef_, ref.coef_)


def test_fit_batched_equal_whatever_the_partitions_row_order(client, data):
    """Partitions whose rows come in another order than the frame's (here: a frame built
    from shuffled rows, the same index): each segment's model still equals the in-memory
    fit to the bit (summed in another row order, they differ in the last bits)."""
    c, df, ddf = data
    mixed = dd.from_pandas(df.sample(frac=1.0, random_state=1), npartitions=5, sort=False)
    b = cd.fit_batched(mixed, FEATS, "y", "segment", invalid="flag")
    ref = crmjit.BatchedLogisticRegression(invalid="flag").fit(df[FEATS], df.y, df.segment)
    np.testing.assert_array_equal(b.coef_, ref.coef_)
    np.testing.assert_array_equal(b.intercept_, ref.intercept_)


def test_bad_input(client, data):
    c, df, ddf = data
    m = crmjit.LogisticRegression().fit(df[FEATS], df.y)
    with pytest.raises(ValueError, match=r"\['x4'\] not in the DataFrame"):
        cd.predict_proba(ddf.drop(columns="x4"), m)
    with pytest.raises(TypeError, match="'channel' must be numeric"):
        cd.fit_batched(ddf, ["x0", "channel"], "y", "segment")
    with pytest.raises(TypeError, match="dask DataFrame"):
        cd.predict_proba(df, m)
    bad = df.copy()
    bad.loc[5, "x2"] = np.nan
    with pytest.raises(ValueError, match=r"\['x2'\] have missing values"):
        cd.predict_proba(dd.from_pandas(bad, npartitions=3), m).compute()
    with pytest.raises(ValueError, match="exactly 2 classes"):
        cd.fit_batched(ddf.assign(y=ddf.segment % 3), FEATS, "y", "segment")


def test_workqueue_layer_is_serialised_not_crashed(tmp_path):
    """Under numba's workqueue layer a concurrent launch of a numba parallel kernel aborts
    the process; crmjit launches none (its threads are its own).  Four dask threads,
    eight partitions."""
    import os
    import subprocess
    import sys
    script = r"""
import numpy as np, dask, dask.dataframe as dd
import crmjit, crmjit.dask as cd
from crmjit.data_gen import make_customers
c = make_customers(40_000, n_features=5, seed=1)
df = c.to_frame()
m = crmjit.LogisticRegression().fit(c.X, c.y)
ddf = dd.from_pandas(df, npartitions=8)
with dask.config.set(scheduler="threads", num_workers=4):
    s = cd.predict_proba(ddf, m, features=[f"x{j}" for j in range(5)]).compute()
assert np.allclose(s.to_numpy(), m.predict_proba(c.X)[:, 1], rtol=1e-12)
import numba
print(numba.config.THREADING_LAYER)
"""
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue", NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "workqueue"


def test_clv_with_a_scalar_rate_and_all_periods(client, data):
    c, df, ddf = data
    v = cd.clv(ddf, [f"cf{t}" for t in range(1, 13)], 0.01).compute()
    np.testing.assert_allclose(v, crmjit.clv(c.cash_flows, 0.01), rtol=1e-12)


def test_btyd_pipeline_equals_in_memory(client):
    """Transaction log -> RFM -> BG/NBD + Gamma-Gamma -> CLV on the cluster, partitioned by
    customer, against the same calls in memory: equal (the fits to the bit)."""
    import pandas as pd
    from crmjit.data_gen import make_transactions
    log, _ = make_transactions(6000, seed=5)
    log["region"] = np.where(log.customer_id % 4 == 0, "a", "b")
    ddf = dd.from_pandas(log, npartitions=5).shuffle(on="customer_id")
    rfm = cd.rfm_summary(ddf, "customer_id", "date", "amount", freq="W")
    want = crmjit.rfm_summary(log, "customer_id", "date", "amount", freq="W")
    pd.testing.assert_frame_equal(rfm.compute().sort_index(), want)
    bg, gg = cd.fit_btyd(rfm)
    bg_m = crmjit.BetaGeoModel().fit(want.frequency, want.recency, want["T"])
    spend = (want.frequency > 0) & (want.monetary_value > 0)
    gg_m = crmjit.GammaGammaModel().fit(want.frequency[spend], want.monetary_value[spend])
    assert bg.params_.equals(bg_m.params_) and gg.params_.equals(gg_m.params_)
    value = cd.customer_lifetime_value(bg, gg, rfm, time=6, freq="W").compute().sort_index()
    # to rounding: customers sharing a frequency share a precomputed table when there are
    # enough of them in one call, so a partition's mix moves the last bit
    np.testing.assert_allclose(value.to_numpy(), crmjit.customer_lifetime_value(
        bg_m, gg_m, want.frequency, want.recency, want["T"], want.monetary_value, time=6,
        freq="W"), rtol=1e-13)
    with_region = rfm.map_partitions(
        lambda df: df.assign(region=np.where(df.index % 4 == 0, "a", "b")))
    bg_r, _ = cd.fit_btyd(with_region, groups="region")
    g = np.where(want.index % 4 == 0, "a", "b")
    want_r = crmjit.BetaGeoModel().fit(want.frequency, want.recency, want["T"], groups=g)
    assert bg_r.params_.equals(want_r.params_)
    pareto, _ = cd.fit_btyd(rfm, model="pareto")
    assert pareto.params_.equals(crmjit.ParetoNBDModel().fit(want.frequency, want.recency,
                                                             want["T"]).params_)
    with pytest.raises(ValueError, match="model must be one of"):
        cd.fit_btyd(rfm, model="bgbb")


def test_btyd_pipeline_needs_customers_in_one_partition(client):
    import pandas as pd
    log = pd.DataFrame({"id": [1, 1, 2, 2], "date": pd.to_datetime(
        ["2024-01-01", "2024-02-01", "2024-01-03", "2024-03-01"]), "amount": [1.0, 2, 3, 4]})
    split = dd.from_pandas(log, npartitions=2, sort=False)
    rfm = cd.rfm_summary(dd.from_pandas(log.iloc[[0, 2, 1, 3]], npartitions=2, sort=False),
                         "id", "date", "amount")
    with pytest.raises(ValueError, match=r"customers \[1, 2\] appear in several partitions"):
        cd.fit_btyd(rfm)
    with pytest.raises(ValueError, match=r"columns \['when'\] not in the DataFrame"):
        cd.rfm_summary(split, "id", "when")
