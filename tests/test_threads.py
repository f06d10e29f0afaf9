"""Results must not depend on NUMBA_NUM_THREADS, and a shared kernel cache must survive a
change of thread count (numba #7522)."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import hashlib, json
import numpy as np
import crmjit
from crmjit.data_gen import make_customers
from crmjit.value import group_sums
c = make_customers(30_000, n_features=5, n_segments=9, seed=4)
h = {}
h["gen"] = hashlib.sha256(c.X.tobytes() + c.cash_flows.tobytes() + c.y.tobytes()).hexdigest()
v = crmjit.clv(c.cash_flows, c.rate, c.lifespan)
h["clv"] = hashlib.sha256(v.tobytes()).hexdigest()
h["clv_const"] = hashlib.sha256(crmjit.clv(c.rate * 100, c.rate, c.lifespan).tobytes()).hexdigest()
counts, sums = group_sums(v, c.segment.astype(np.intp), 9)
h["group"] = hashlib.sha256(counts.tobytes() + sums.tobytes()).hexdigest()
df = crmjit.channel_summary(c.channel, v, c.spend, c.new_customers)
h["summary"] = hashlib.sha256(df.to_numpy(dtype=float).tobytes()).hexdigest()
m = crmjit.LogisticRegression().fit(c.X, c.y)
h["fit"] = hashlib.sha256(m.coef_.tobytes() + m.intercept_.tobytes()).hexdigest()
big = make_customers(300_000, n_features=4, seed=5)  # several chunks, subsampled Hessian
m = crmjit.LogisticRegression().fit(big.X, big.y)
h["fit_big"] = hashlib.sha256(m.coef_.tobytes() + m.intercept_.tobytes()).hexdigest()
h["score"] = hashlib.sha256(crmjit.predict_proba(big.X, m.coef_[0], m.intercept_[0]).tobytes()).hexdigest()
from crmjit import metrics as mt
sc = crmjit.predict_proba(big.X, m.coef_[0], m.intercept_[0])
seg_of, wts = np.arange(big.X.shape[0]) % 50, np.arange(big.X.shape[0]) % 3 * 0.5
h["metrics"] = repr([mt.roc_auc_score(big.y, sc), mt.roc_auc_score(big.y, sc, sample_weight=wts, groups=seg_of).tolist(),
                     mt.log_loss(big.y, sc, groups=seg_of).tolist(), mt.brier_score(big.y, sc, sample_weight=wts),
                     mt.gains_table(big.y, sc, groups=seg_of % 3).to_numpy().tolist(),
                     [a.tolist() for a in mt.calibration_curve(big.y, sc, 10, strategy="quantile")]])
seg = make_customers(20_000, n_features=4, n_segments=300, seed=6)
b = crmjit.BatchedLogisticRegression(invalid="flag").fit(seg.X, seg.y, seg.segment)
h["batched"] = hashlib.sha256(b.coef_.tobytes() + b.intercept_.tobytes()).hexdigest()
h["batched_score"] = hashlib.sha256(b.predict_proba(seg.X[b.valid_[seg.segment]], seg.segment[b.valid_[seg.segment]]).tobytes()).hexdigest()
skew = make_customers(200_000, n_features=3, n_segments=5, seed=8)  # warm starts, 3-chunk group order
b = crmjit.BatchedLogisticRegression().fit(skew.X, skew.y, skew.segment)
h["batched_big"] = hashlib.sha256(b.coef_.tobytes() + b.intercept_.tobytes()).hexdigest()
huge = make_customers(1_200_000, n_features=2, seed=10)  # a segment for both threads at once
b = crmjit.BatchedLogisticRegression().fit(huge.X, huge.y, np.arange(1_200_000) % 10 == 0)
h["batched_huge"] = hashlib.sha256(b.coef_.tobytes() + b.intercept_.tobytes()).hexdigest()
from crmjit.data_gen import make_rfm, make_transactions
rfm = make_rfm(100_000, seed=7)
h["rfm_gen"] = hashlib.sha256(rfm.to_numpy().tobytes()).hexdigest()
grp = np.arange(100_000) % 7
bg = crmjit.BetaGeoModel().fit(rfm.frequency, rfm.recency, rfm["T"])
bgs = crmjit.BetaGeoModel().fit(rfm.frequency, rfm.recency, rfm["T"], groups=grp)
gg = crmjit.GammaGammaModel().fit(rfm.frequency, rfm.monetary_value)
h["btyd_fit"] = hashlib.sha256(bg.params_.to_numpy().tobytes() + bgs.params_.to_numpy().tobytes() + gg.params_.to_numpy().tobytes()).hexdigest()
v = crmjit.customer_lifetime_value(bg, gg, rfm.frequency, rfm.recency, rfm["T"], rfm.monetary_value)
h["btyd_clv"] = hashlib.sha256(v.to_numpy().tobytes()).hexdigest()
for cls in ("ParetoNBDModel", "ModifiedBetaGeoModel"):  # warm start, chunked sums
    pm = getattr(crmjit, cls)().fit(rfm.frequency, rfm.recency, rfm["T"])
    h[cls] = hashlib.sha256(pm.params_.to_numpy().tobytes()).hexdigest()
life = np.minimum(np.random.default_rng(9).geometric(np.random.default_rng(10).beta(0.7, 1.2, 50_000)), 12)
sbg = crmjit.ShiftedBetaGeoModel().fit(life, life < 12, groups=np.arange(50_000) % 40)
h["sbg"] = hashlib.sha256(sbg.params_.to_numpy().tobytes()).hexdigest()
log, _ = make_transactions(20_000, seed=8)
s = crmjit.rfm_summary(log.sample(frac=1.0, random_state=0), "customer_id", "date", "amount")
h["rfm"] = hashlib.sha256(s.to_numpy().tobytes() + log.to_numpy(dtype=str).tobytes()).hexdigest()
import numba
h["threads"] = numba.get_num_threads()
print(json.dumps(h))
"""


def run(threads, cache_dir):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores to run 2 threads")
def test_results_identical_for_1_and_2_threads(tmp_path):
    one = run(1, tmp_path)
    two = run(2, tmp_path)
    again_one = run(1, tmp_path)  # cache written under 2 threads, reused under 1
    assert one.pop("threads") == 1 and two.pop("threads") == 2
    again_one.pop("threads")
    assert one == two
    assert one == again_one
