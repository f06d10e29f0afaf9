"""Saved models: round trips, and clear errors for bad files."""

import json

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
    assert doc["format"] == "crmjit-model" and doc["format_version"] == 1
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
