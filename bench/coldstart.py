"""Cold start: each public feature's first call in a fresh Python process, with an empty
numba cache (``cold``) and again with the cache that run left behind (``warm``), beside a
peer making the same call on the same data in a fresh process of its own.

Run alone:  python bench/coldstart.py [--quick] [NAME ...]
The benchmark suite (``test_bench_coldstart.py``) records the same rows in its JSON.

A call's setup (imports, data made with NumPy, a model fitted where the call needs one)
runs first, untimed; the timed part is the call alone, so it pays for compiling (or
loading from the cache) its own kernels only.  The ``import crmjit`` row times the import
itself, and the ``crmjit --version`` and ``crmjit demo`` rows the whole command, process
start included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

DATA = """
import numpy as np
rng = np.random.default_rng(0)
n, d = 5000, 5
X = rng.normal(size=(n, d))
y = (rng.random(n) < 1 / (1 + np.exp(-(X @ rng.normal(size=d) - 0.5)))).astype(np.int64)
Xb = rng.normal(size=(100_000, d))
yb = (rng.random(100_000) < 1 / (1 + np.exp(-Xb[:, 0]))).astype(np.int64)
gb = np.repeat(np.arange(1000), 100)
from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value as _cdnow
_c = _cdnow()
freq, rec, T = (_c[c].to_numpy(float) for c in ("frequency", "recency", "T"))
mon = _c["monetary_value"].to_numpy(float)
"""

LOG = """
import pandas as pd
ids = rng.integers(0, 5000, 70_000)
dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, 70_000), unit="D")
log = pd.DataFrame({"id": ids, "date": dates, "amount": rng.gamma(2, 20, 70_000)})
"""

PARQUET = """
import pathlib, tempfile
import pyarrow as pa, pyarrow.parquet as pq
tmp = pathlib.Path(tempfile.mkdtemp())
pq.write_table(pa.table({f"x{j}": X[:, j] for j in range(d)}), tmp / "in.parquet")
"""

BTYD = """
bg = crmjit.BetaGeoModel().fit(freq, rec, T)
gg = crmjit.GammaGammaModel().fit(freq[freq > 0], mon[freq > 0])
"""

BTYD_PEER = """
from lifetimes import BetaGeoFitter, GammaGammaFitter
bg = BetaGeoFitter().fit(freq, rec, T)
gg = GammaGammaFitter().fit(freq[freq > 0], mon[freq > 0])
"""

SK = "from sklearn.linear_model import LogisticRegression\n"

SBG = """
life = np.minimum(rng.geometric(rng.beta(0.7, 1.2, 5000)), 12).astype(float)
churned = life < 12
"""

BGBB = """
import os, warnings
import pandas as pd
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import lifetimes
_d = pd.read_csv(os.path.join(os.path.dirname(lifetimes.__file__), "datasets", "donations.csv"))
bx, btx, bn, bw = (_d[c].to_numpy(float) for c in ("frequency", "recency", "periods", "weights"))
"""

SBG_PEER = """
from scipy.optimize import minimize
from scipy.special import betaln
def nll(p):
    a, b = np.exp(p)
    return -np.sum(np.where(churned, betaln(a + 1, b + life - 1), betaln(a, b + life))
                   - betaln(a, b))
"""

#: name: (setup, call, peer, peer setup, peer call)
FEATURES = {
    "LogisticRegression.fit": (
        "import crmjit; crmjit.LogisticRegression" + DATA, "crmjit.LogisticRegression().fit(X, y)",
        "sklearn", SK + DATA, "LogisticRegression().fit(X, y)"),
    "BatchedLogisticRegression.fit": (
        "import crmjit; crmjit.BatchedLogisticRegression" + DATA,
        "crmjit.BatchedLogisticRegression().fit(Xb, yb, gb)",
        "sklearn-loop", SK + DATA,
        "[LogisticRegression().fit(Xb[g * 100:g * 100 + 100], yb[g * 100:g * 100 + 100]) "
        "for g in range(1000)]"),
    "predict_proba": (
        "import crmjit; crmjit.predict_proba" + DATA, "crmjit.predict_proba(X, np.ones(d), 0.5)",
        "numpy", DATA, "1 / (1 + np.exp(-(X @ np.ones(d) + 0.5)))"),
    "clv": (
        "import crmjit; crmjit.clv" + DATA, "crmjit.clv(np.full((n, 12), 20.0), 0.01)",
        "numpy", DATA, "np.full((n, 12), 20.0) @ (1.01 ** -np.arange(1, 13))"),
    "make_customers": (
        "from crmjit.data_gen import make_customers", "make_customers(10_000, n_features=5)",
        "numpy-rng", "import numpy as np",
        "np.random.default_rng(0).normal(size=(10_000, 5))"),
    "rfm_summary": (
        "import crmjit; crmjit.rfm_summary" + DATA + LOG,
        "crmjit.rfm_summary(log, 'id', 'date', 'amount')",
        "lifetimes", "from lifetimes.utils import summary_data_from_transaction_data" + DATA
        + LOG, "summary_data_from_transaction_data(log, 'id', 'date', 'amount')"),
    "BetaGeoModel.fit": (
        "import crmjit; crmjit.BetaGeoModel" + DATA, "crmjit.BetaGeoModel().fit(freq, rec, T)",
        "lifetimes", "from lifetimes import BetaGeoFitter" + DATA,
        "BetaGeoFitter().fit(freq, rec, T)"),
    "GammaGammaModel.fit": (
        "import crmjit; crmjit.GammaGammaModel" + DATA,
        "crmjit.GammaGammaModel().fit(freq[freq > 0], mon[freq > 0])",
        "lifetimes", "from lifetimes import GammaGammaFitter" + DATA,
        "GammaGammaFitter().fit(freq[freq > 0], mon[freq > 0])"),
    "customer_lifetime_value": (
        "import crmjit" + DATA + BTYD,
        "crmjit.customer_lifetime_value(bg, gg, freq, rec, T, mon, time=12, "
        "discount_rate=0.01)",
        "lifetimes", DATA + BTYD_PEER,
        "gg.customer_lifetime_value(bg, _c.frequency, _c.recency, _c['T'], _c.monetary_value, "
        "time=12, discount_rate=0.01)"),
    "BetaGeoModel.expected_purchases": (
        "import crmjit" + DATA + BTYD, "bg.expected_purchases(30, freq, rec, T)",
        "lifetimes", DATA + BTYD_PEER,
        "bg.conditional_expected_number_of_purchases_up_to_time(30, freq, rec, T)"),
    "ParetoNBDModel.fit": (
        "import crmjit; crmjit.ParetoNBDModel" + DATA, "crmjit.ParetoNBDModel().fit(freq, rec, T)",
        "lifetimes", "from lifetimes import ParetoNBDFitter" + DATA,
        "ParetoNBDFitter().fit(freq, rec, T)"),
    "ModifiedBetaGeoModel.fit": (
        "import crmjit; crmjit.ModifiedBetaGeoModel" + DATA,
        "crmjit.ModifiedBetaGeoModel().fit(freq, rec, T)",
        "lifetimes", "from lifetimes import ModifiedBetaGeoFitter" + DATA,
        "ModifiedBetaGeoFitter().fit(freq, rec, T)"),
    "BetaGeoBetaBinomModel.fit": (
        "import crmjit; crmjit.BetaGeoBetaBinomModel" + DATA + BGBB,
        "crmjit.BetaGeoBetaBinomModel().fit(bx, btx, bn, weights=bw)",
        "lifetimes", "from lifetimes import BetaGeoBetaBinomFitter" + DATA + BGBB,
        "BetaGeoBetaBinomFitter().fit(bx, btx, bn, weights=bw)"),
    "ShiftedBetaGeoModel.fit": (
        "import crmjit; crmjit.ShiftedBetaGeoModel" + DATA + SBG,
        "crmjit.ShiftedBetaGeoModel().fit(life, churned)",
        "scipy", DATA + SBG + SBG_PEER, "minimize(nll, [0.0, 0.0], method='L-BFGS-B')"),
    "metrics.roc_auc_score": (
        "from crmjit import metrics" + DATA, "metrics.roc_auc_score(y, X[:, 0])",
        "sklearn", "from sklearn.metrics import roc_auc_score" + DATA,
        "roc_auc_score(y, X[:, 0])"),
    "metrics.gains_table": (
        "from crmjit import metrics" + DATA, "metrics.gains_table(y, X[:, 0])",
        "pandas", "import pandas as pd" + DATA,
        "pd.DataFrame({'y': y, 'b': pd.qcut(-X[:, 0], 10, labels=False)})"
        ".groupby('b')['y'].agg(['size', 'sum'])"),
    "score_parquet": (
        "import crmjit" + DATA + PARQUET + "m = crmjit.LogisticRegression().fit(X, y)\n",
        "crmjit.score_parquet(tmp / 'in.parquet', m, tmp / 'out.parquet', "
        "features=[f'x{j}' for j in range(d)])",
        "pyarrow-read", DATA + PARQUET, "pq.read_table(tmp / 'in.parquet').to_pandas()"),
}

#: rows the quick benchmark keeps (CI tracks them)
QUICK = ("import crmjit", "crmjit --version", "LogisticRegression.fit", "predict_proba",
         "clv")


def _script(setup, call):
    return (f"{setup}\nimport time as _t\n_t0 = _t.perf_counter()\n{call}\n"
            f"print('SECONDS', _t.perf_counter() - _t0)\n")


def _env(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, CRMJIT_CACHE_DIR=cache_dir)
    env.pop("CRMJIT_NO_CACHE", None)
    return env


def run_call(setup, call, cache_dir, timeout=900):
    """Seconds of ``call`` after ``setup`` in a fresh interpreter using cache_dir."""
    done = subprocess.run([sys.executable, "-c", _script(setup, call)], env=_env(cache_dir),
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"cold-start call failed: {call}\n{done.stderr[-3000:]}")
    return float(done.stdout.rsplit("SECONDS", 1)[1].split()[0])


def run_command(argv, cache_dir, timeout=900):
    """Wall seconds of a whole command (process start included) using cache_dir."""
    t0 = time.perf_counter()
    subprocess.run(argv, env=_env(cache_dir), check=True, capture_output=True,
                   timeout=timeout)
    return time.perf_counter() - t0


def _crmjit_command():
    exe = shutil.which("crmjit", path=os.path.dirname(sys.executable)) or "crmjit"
    return [exe]


def measure(name):
    """{"cold": s, "warm": s, "peer": name, "peer_s": s} for one row of the table."""
    with tempfile.TemporaryDirectory(prefix="crmjit-cold-") as cache:
        if name == "import crmjit":
            cold = run_call("", "import crmjit", cache)
            warm = run_call("", "import crmjit", cache)
            peer, peer_s = "import sklearn.linear_model", run_call(
                "", "import sklearn.linear_model", cache)
        elif name in ("crmjit --version", "crmjit --help", "crmjit demo"):
            argv = _crmjit_command() + name.split()[1:]
            if name == "crmjit demo":
                argv += ["--quiet"]
            cold = run_command(argv, cache)
            warm = run_command(argv, cache)
            peer, peer_s = "python -c pass", run_command([sys.executable, "-c", "pass"], cache)
        else:
            setup, call, peer, psetup, pcall = FEATURES[name]
            cold = run_call(setup, call, cache)
            warm = run_call(setup, call, cache)
            peer_s = run_call(psetup, pcall, cache)
    return {"cold": cold, "warm": warm, "peer": peer, "peer_s": peer_s}


ROWS = ("import crmjit", "crmjit --version", "crmjit --help") + tuple(FEATURES) + (
    "crmjit demo",)


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args
    names = [a for a in args if a != "--quick"] or list(QUICK if quick else ROWS)
    print(f"{'first call':32s} {'cold s':>8s} {'warm s':>8s}  peer")
    for name in names:
        r = measure(name)
        print(f"{name:32s} {r['cold']:8.2f} {r['warm']:8.2f}  {r['peer']} {r['peer_s']:.2f} s",
              flush=True)


if __name__ == "__main__":
    main()
