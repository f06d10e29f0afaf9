"""class_weight on both estimators: scikit-learn's meaning ("balanced" within each segment
for the batched model), equal to scikit-learn with the same weights to 1e-6."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import LogisticRegression as SkLogReg

import crmjit


def rare(rng, n=3000):
    """Features and a ~8 % positive label: where class weights matter."""
    X = rng.standard_normal((n, 4))
    return X, (X[:, 0] + rng.standard_normal(n) > 2.0).astype(int)


def sk_tight(**kw):
    return SkLogReg(tol=1e-10, max_iter=10_000, **kw)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 20.0}, {1: 5}])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_sklearn(rng, class_weight, weighted):
    X, y = rare(rng)
    sw = rng.uniform(0, 2, len(y)) if weighted else None
    ours = crmjit.LogisticRegression(class_weight=class_weight).fit(X, y, sample_weight=sw)
    theirs = sk_tight(class_weight=class_weight).fit(X, y, sample_weight=sw)
    assert_allclose(ours.coef_, theirs.coef_, atol=1e-6, rtol=0)
    assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-6, rtol=0)
    plain = crmjit.LogisticRegression().fit(X, y, sample_weight=sw)
    assert abs(ours.intercept_[0] - plain.intercept_[0]) > 0.1  # the weights did something


def test_batched_balanced_is_per_segment_and_string_labels(rng):
    X, y = rare(rng, 4000)
    groups = np.array(["a", "b", "c", "d"])[rng.integers(0, 4, len(y))]
    labels = np.where(y == 1, "buy", "skip")
    sw = rng.uniform(0.5, 1.5, len(y))
    many = crmjit.BatchedLogisticRegression(class_weight="balanced").fit(
        X, labels, groups, sample_weight=sw)
    for s, g in enumerate(many.groups_):
        rows = groups == g
        one = sk_tight(class_weight="balanced").fit(X[rows], labels[rows], sample_weight=sw[rows])
        assert_allclose(many.coef_[s], one.coef_[0], atol=1e-6, rtol=0)
    by_dict = crmjit.BatchedLogisticRegression(class_weight={"buy": 10.0}).fit(X, labels, groups)
    rows = groups == "b"
    one = sk_tight(class_weight={"buy": 10.0}).fit(X[rows], labels[rows])
    assert_allclose(by_dict.coef_[1], one.coef_[0], atol=1e-6, rtol=0)


def test_bad_class_weight_and_save_load(rng, tmp_path):
    X, y = rare(rng)
    with pytest.raises(ValueError, match="class_weight"):
        crmjit.LogisticRegression(class_weight="auto").fit(X, y)
    with pytest.raises(ValueError, match="class_weight"):
        crmjit.LogisticRegression(class_weight={7: 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="only 1 class"):  # the positives weigh nothing
        crmjit.LogisticRegression(class_weight={1: 0.0}).fit(X, y)
    groups = np.arange(len(y)) % 3
    with pytest.raises(ValueError, match="class_weight"):
        crmjit.BatchedLogisticRegression(class_weight="auto").fit(X, y, groups)
    with pytest.raises(ValueError, match="class_weight"):
        crmjit.BatchedLogisticRegression(class_weight={7: 2.0}).fit(X, y, groups)
    m = crmjit.LogisticRegression(class_weight={0: 1.0, 1: 3.0}).fit(X, y)
    m.save(tmp_path / "m.json")
    back = crmjit.load(tmp_path / "m.json")
    assert back.class_weight == {0: 1.0, 1: 3.0}
    np.testing.assert_array_equal(back.coef_, m.coef_)
