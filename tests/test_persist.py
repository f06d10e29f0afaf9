"""Saved models: round trips, and clear errors for bad files."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import crmjit
from crmjit.data_gen import make_customers, make_rfm


@pytest.fixture(scope="module")
def fitted():
    c = make_customers(6000, n_features=4, n_segments=6, seed=2)
    X = pd.DataFrame(c.X, columns=["age", "visits", "spend", "tenure"])
    labels = np.array(["a", "b", "c", "d", "e", "f"])[c.segment]
    one = crmjit.LogisticRegression(C=0.5).fit(X, np.where(c.y == 1, "buy", "skip"))
    many = crmjit.BatchedLogisticRegression(C=np.linspace(0.2, 3.0, 6), invalid="flag").fit(
        c.X, c.y, labels)
    rfm = make_rfm(30_000, seed=2)
    bg = crmjit.BetaGeoModel(penalizer_coef=0.001).fit(rfm.frequency, rfm.recency, rfm["T"],
                                                       groups=np.arange(30_000) % 3)
    gg = crmjit.GammaGammaModel().fit(rfm.frequency, rfm.monetary_value)
    return c, X, labels, one, many, rfm, bg, gg


def test_round_trips_predict_identically(fitted, tmp_path):
    c, X, labels, one, many, rfm, bg, gg = fitted
    for model in (one, many, bg, gg):
        model.save(tmp_path / "m.json")
        back = crmjit.load(tmp_path / "m.json")
        assert type(back) is type(model)
        if model is one:
            assert list(back.feature_names_in_) == list(X.columns)
            assert list(back.classes_) == ["buy", "skip"] and back.C == 0.5
            assert np.array_equal(back.predict_proba(X), one.predict_proba(X))
            assert np.array_equal(back.predict(X), one.predict(X))
        elif model is many:
            assert np.array_equal(back.C, many.C) and list(back.groups_) == list(many.groups_)
            assert np.array_equal(back.predict_proba(c.X, labels), many.predict_proba(c.X, labels))
        elif model is bg:
            pd.testing.assert_frame_equal(back.params_, bg.params_)
            pd.testing.assert_frame_equal(back.standard_errors_, bg.standard_errors_)
            g = np.arange(30_000) % 3
            assert np.array_equal(back.p_alive(rfm.frequency, rfm.recency, rfm["T"], groups=g),
                                  bg.p_alive(rfm.frequency, rfm.recency, rfm["T"], groups=g))
        else:
            pd.testing.assert_series_equal(back.params_, gg.params_)
            assert back.n_iter_ == gg.n_iter_ and back.converged_ == gg.converged_


def test_file_is_small_json_with_a_version(fitted, tmp_path):
    _, _, _, one, *_ = fitted
    one.save(tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["format"] == "crmjit-model" and doc["format_version"] == 2
    assert doc["crmjit_version"] == crmjit.__version__
    assert (tmp_path / "m.json").stat().st_size < 4000
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary left behind


def test_bad_files_are_clear_errors(fitted, tmp_path):
    _, _, _, one, *_ = fitted
    path = tmp_path / "m.json"
    one.save(path)
    text = path.read_text()
    (tmp_path / "trunc.json").write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        crmjit.load(tmp_path / "trunc.json")
    doc = json.loads(text)
    doc["payload"]["arrays"]["coef_"]["values"][0] += 1.0
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="corrupted"):
        crmjit.load(tmp_path / "edited.json")
    doc = json.loads(text)
    doc["format_version"] = 99
    (tmp_path / "new.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="format 99.*upgrade crmjit"):
        crmjit.load(tmp_path / "new.json")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a crmjit model"):
        crmjit.load(tmp_path / "other.json")
    (tmp_path / "bin.json").write_bytes(b"\x89PNG\x00\xff")
    with pytest.raises(ValueError, match="not a crmjit model"):
        crmjit.load(tmp_path / "bin.json")
    with pytest.raises(FileNotFoundError):
        crmjit.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="not fitted"):
        crmjit.LogisticRegression().save(tmp_path / "x.json")
    with pytest.raises(ValueError, match="not fitted"):
        crmjit.BetaGeoModel().save(tmp_path / "x.json")


def test_failed_save_leaves_the_old_file(fitted, tmp_path, monkeypatch):
    _, _, _, one, many, *_ = fitted
    path = tmp_path / "m.json"
    one.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(json, "dump", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        many.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_per_segment_C_given_as_a_list_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 2))
    y = (X[:, 0] > 0).astype(int)
    m = crmjit.BatchedLogisticRegression(C=[1.0, 2.0]).fit(X, y, np.arange(400) % 2)
    m.save(tmp_path / "m.json")
    back = crmjit.load(tmp_path / "m.json")
    np.testing.assert_array_equal(back.C, [1.0, 2.0])
    np.testing.assert_array_equal(back.coef_, m.coef_)


DATA = pathlib.Path(__file__).parent / "data"


def test_format_1_files_still_load_and_predict_as_when_written():
    """Files written in format 1 (kept in tests/data with the inputs and the predictions
    they gave then) load and predict the same."""
    cust, rfm = pd.read_csv(DATA / "v1_customers.csv"), pd.read_csv(DATA / "v1_rfm.csv")
    want = json.loads((DATA / "v1_expected.json").read_text())
    for name in want:
        assert json.loads((DATA / f"v1_{name}.json").read_text())["format_version"] == 1
    X = cust[["age", "visits", "spend"]]
    one = crmjit.load(DATA / "v1_logistic.json")
    assert list(one.classes_) == ["buy", "skip"] and list(one.feature_names_in_) == list(X)
    assert one.predict_proba(X)[:, 1].tolist() == want["logistic"]
    many = crmjit.load(DATA / "v1_batched.json")
    assert many.predict_proba(X.to_numpy(), cust.segment.to_numpy()).tolist() == want["batched"]
    bg = crmjit.load(DATA / "v1_betageo.json")
    got = bg.expected_purchases(30, rfm.frequency, rfm.recency, rfm["T"], groups=np.arange(50) % 2)
    assert got.tolist() == want["betageo"]
    gg = crmjit.load(DATA / "v1_gammagamma.json")
    assert gg.expected_average_value(rfm.frequency, rfm.monetary_value).tolist() == \
        want["gammagamma"]


def _rehashed(doc):
    """A hand-edited file whose sha256 was recomputed (it passes the hash check)."""
    from crmjit.persist import _digest
    doc["sha256"] = _digest(doc["payload"])
    return json.dumps(doc)


def _edits(doc):
    """(what, edit of the payload) pairs, each a hostile hand edit."""
    return [
        ("labels null", lambda p: p["labels"].update(classes_=None)),
        ("huge label", lambda p: p["labels"]["classes_"].update(kind="int", values=[0, 10**30])),
        ("one class", lambda p: p["labels"]["classes_"].update(values=["buy"])),
        ("repeated class", lambda p: p["labels"]["classes_"].update(values=["buy", "buy"])),
        ("strings as numbers", lambda p: p["arrays"]["coef_"].update(values=["a"] * 4)),
        ("wrong length", lambda p: p["arrays"]["coef_"].update(shape=[1, 5])),
        ("3-d", lambda p: p["arrays"]["coef_"].update(shape=[1, 2, 2])),
        ("object dtype", lambda p: p["arrays"]["coef_"].update(dtype="|O")),
        ("nan coef", lambda p: p["arrays"]["coef_"]["values"].__setitem__(0, float("nan"))),
        ("no intercept", lambda p: p["arrays"].pop("intercept_")),
        ("bad C", lambda p: p["params"].update(C=-1.0)),
        ("unknown param", lambda p: p["params"].update(bogus=1)),
        ("names", lambda p: p.update(feature_names=["a"])),
        ("no arrays", lambda p: p.pop("arrays")),
        ("unknown model", lambda p: p.update(model="os.system")),
    ]


def test_hand_edited_files_are_clear_errors_at_load(fitted, tmp_path):
    """Every hostile edit with a recomputed hash is a ValueError naming the file at load,
    never an AttributeError, OverflowError or RecursionError, nor a model that fails
    later."""
    _, X, _, one, many, rfm, bg, gg = fitted
    one.save(tmp_path / "m.json")
    text = (tmp_path / "m.json").read_text()
    for what, edit in _edits(json.loads(text)):
        doc = json.loads(text)
        edit(doc["payload"])
        (tmp_path / "e.json").write_text(_rehashed(doc))
        with pytest.raises(ValueError, match="e.json"):
            crmjit.load(tmp_path / "e.json")
    bg.save(tmp_path / "bg.json")
    for value in (-0.5, 0.0, float("inf")):
        doc = json.loads((tmp_path / "bg.json").read_text())
        doc["payload"]["arrays"]["params"]["values"][0] = value  # r of the first segment
        (tmp_path / "e.json").write_text(_rehashed(doc))
        with pytest.raises(ValueError, match=r"params must be > 0|NaN or inf"):
            crmjit.load(tmp_path / "e.json")
    doc = json.loads((tmp_path / "bg.json").read_text())
    doc["payload"]["labels"]["groups_"]["values"].pop()
    (tmp_path / "e.json").write_text(_rehashed(doc))
    with pytest.raises(ValueError, match="shape"):
        crmjit.load(tmp_path / "e.json")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="not a crmjit model file"):
        crmjit.load(tmp_path / "deep.json")


def test_persist_imports_no_model_module():
    """persist is generic: importing it alone loads no model module (no import circle),
    and a load finds the class through the registry the model modules fill."""
    code = ("import sys, crmjit.persist; "
            "print(sorted(m for m in sys.modules if m in ('crmjit.logistic', 'crmjit.batched', "
            "'crmjit.btyd', 'sklearn')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    load = ("import sys, crmjit.persist as p; m = p.load(sys.argv[1]); "
            "print(type(m).__name__, 'crmjit.btyd' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", load, str(DATA / "v1_gammagamma.json")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["GammaGammaModel", "True"]


def test_from_params_checks_what_it_is_given():
    bg = crmjit.BetaGeoModel.from_params([[0.2, 4.0, 0.8, 2.4], [0.3, 5.0, 0.7, 2.0]],
                                         groups=["x", "y"])
    assert list(bg.groups_) == ["x", "y"] and bg.params_.loc["y", "alpha"] == 5.0
    with pytest.raises(ValueError, match="params must be > 0"):
        crmjit.BetaGeoModel.from_params([-0.2, 4.0, 0.8, 2.4])
    with pytest.raises(ValueError, match=r"shape \(1, 3\)"):
        crmjit.BetaGeoModel.from_params([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="repeated"):
        crmjit.GammaGammaModel.from_params([[6.0, 3.0, 15.0]] * 2, groups=["a", "a"])
