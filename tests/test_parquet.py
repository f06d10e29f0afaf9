"""score_parquet and the pipeline commands (generate, fit, score)."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import crmjit
from crmjit import cli
from crmjit.data_gen import customer_chunks, make_customers, make_rfm

FEATS = [f"x{j}" for j in range(5)]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pq")
    c = make_customers(30_000, n_features=5, n_segments=7, seed=5, dtype=np.float32)
    df = c.to_frame()
    df.insert(0, "customer_id", np.arange(30_000) + 10**9)
    path = folder / "customers.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=7000)
    return c, df, path


def test_scores_equal_in_memory_scores(base, tmp_path):
    c, df, path = base
    model = crmjit.LogisticRegression().fit(df[FEATS], df.y)
    stats = crmjit.score_parquet(path, model, tmp_path / "out.parquet", id_column="customer_id",
                                 batch_rows=4096, progress=False)
    out = pq.read_table(tmp_path / "out.parquet").to_pandas()
    assert stats["rows"] == 30_000 and list(out.columns) == ["customer_id", "score"]
    assert (out.customer_id.to_numpy() == df.customer_id.to_numpy()).all()
    assert out.score.dtype == np.float32  # float32 features scored in float32
    np.testing.assert_allclose(out.score, model.predict_proba(df[FEATS])[:, 1], rtol=1e-6)
    # a saved model by path, and per-segment models
    many = crmjit.BatchedLogisticRegression(invalid="flag").fit(df[FEATS], df.y, df.segment)
    many.save(tmp_path / "many.json")
    crmjit.score_parquet(path, tmp_path / "many.json", tmp_path / "seg.parquet",
                         groups="segment", progress=False)
    seg = pq.read_table(tmp_path / "seg.parquet").column("score").to_numpy()
    np.testing.assert_allclose(seg, many.predict_proba(df[FEATS], df.segment), rtol=1e-6)


@pytest.mark.parametrize("ids, encoding", [
    (np.arange(9000) * 3 + 10**12, "DELTA_BINARY_PACKED"),  # sorted integers
    (np.random.default_rng(1).permutation(9000), "PLAIN"),  # unsorted: plain is cheaper
    (np.array([f"c{i}" for i in range(9000)], dtype=object), "PLAIN"),  # not integers
])
def test_id_column_encoding_and_round_trip(tmp_path, ids, encoding):
    X = np.random.default_rng(2).standard_normal((9000, 2))
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ids, "a": X[:, 0], "b": X[:, 1]}), path, row_group_size=2000)
    model = crmjit.LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    import numba
    threads = numba.get_num_threads()
    crmjit.score_parquet(path, model, tmp_path / "out.parquet", features=["a", "b"],
                         id_column="id", batch_rows=3000, progress=False)
    meta = pq.ParquetFile(tmp_path / "out.parquet").metadata
    assert encoding in meta.row_group(0).column(0).encodings
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column("id").to_pylist() == list(ids)
    np.testing.assert_allclose(out.column("score").to_numpy(), model.predict_proba(X)[:, 1],
                               rtol=1e-12)
    assert numba.get_num_threads() == threads  # scoring ran on fewer; restored afterwards


def test_clv_columns_when_asked(tmp_path):
    rfm = make_rfm(5000, seed=3).reset_index()
    rfm["f0"] = np.linspace(-1, 1, 5000)
    pq.write_table(pa.Table.from_pandas(rfm, preserve_index=False), tmp_path / "rfm.parquet")
    bg = crmjit.BetaGeoModel().fit(rfm.frequency, rfm.recency, rfm["T"])
    gg = crmjit.GammaGammaModel().fit(rfm.frequency, rfm.monetary_value)
    m = crmjit.LogisticRegression().fit(rfm[["f0"]], (rfm.frequency > 0).astype(int))
    crmjit.score_parquet(tmp_path / "rfm.parquet", m, tmp_path / "o.parquet",
                         clv=dict(purchase_model=bg, spend_model=gg), batch_rows=1000,
                         progress=False)
    out = pq.read_table(tmp_path / "o.parquet").to_pandas()
    want = crmjit.customer_lifetime_value(bg, gg, rfm.frequency, rfm.recency, rfm["T"],
                                          rfm.monetary_value)
    np.testing.assert_allclose(out.clv, want, rtol=1e-12)


def test_bad_input_names_the_column_and_leaves_no_output(base, tmp_path):
    c, df, path = base
    model = crmjit.LogisticRegression().fit(df[FEATS], df.y)
    plain = crmjit.LogisticRegression().fit(df[FEATS].to_numpy(), df.y)  # no names
    out = tmp_path / "out.parquet"
    with pytest.raises(ValueError, match=r"\['x9'\] not in the input"):
        crmjit.score_parquet(path, plain, out, features=FEATS[:4] + ["x9"], progress=False)
    with pytest.raises(ValueError, match="do not match the names"):
        crmjit.score_parquet(path, model, out, features=FEATS[::-1], progress=False)
    with pytest.raises(TypeError, match="'channel' must be numeric"):
        crmjit.score_parquet(path, plain, out, features=FEATS[:4] + ["channel"],
                             progress=False)
    bad = df.copy()
    bad.loc[25_000, "x3"] = None
    pq.write_table(pa.Table.from_pandas(bad, preserve_index=False), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="'x3' has missing values"):
        crmjit.score_parquet(tmp_path / "bad.parquet", model, out, batch_rows=4096,
                             progress=False)  # fails after several batches were written
    with pytest.raises(ValueError, match="needs groups="):
        many = crmjit.BatchedLogisticRegression(invalid="flag").fit(df[FEATS], df.y, df.segment)
        crmjit.score_parquet(path, many, out, progress=False)
    from crmjit.parquet import BATCH_ROWS, default_batch_rows
    assert default_batch_rows(50_000_000) == BATCH_ROWS == 1 << 20
    assert default_batch_rows(1_000_000) == 125_000  # 8 batches overlap read/score/write
    assert default_batch_rows(0) == default_batch_rows(1000) == 1 << 16
    with pytest.raises(ValueError, match="batch_rows must be"):
        crmjit.score_parquet(path, model, out, batch_rows=0, progress=False)
    for bad in (True, 2.5):  # a bool or a float is not a row count
        with pytest.raises(ValueError, match="batch_rows must be"):
            crmjit.score_parquet(path, model, out, batch_rows=bad, progress=False)
    with pytest.raises(ValueError, match="clv needs spend_model="):
        crmjit.score_parquet(path, model, out, clv=dict(purchase_model=None), progress=False)
    with pytest.raises(TypeError, match="model must be a fitted crmjit"):
        crmjit.score_parquet(path, "not a model".split(), out, progress=False)
    with pytest.raises(ValueError, match="cannot read Parquet"):
        crmjit.score_parquet(tmp_path / "nowhere.parquet", model, out, progress=False)
    with pytest.raises(ValueError, match="pass features="):
        crmjit.score_parquet(path, plain, out, progress=False)
    huge = df.copy()
    dtype = df[FEATS[0]].dtype
    steep = crmjit.LogisticRegression().fit(df[FEATS] / 1000, df.y)  # coefficients ~1000x
    big = np.finfo(dtype).max / 2  # finite, but X @ coef overflows
    huge.loc[7, FEATS] = (big * np.sign(steep.coef_[0])).astype(dtype)
    pq.write_table(pa.Table.from_pandas(huge, preserve_index=False), tmp_path / "huge.parquet")
    with pytest.raises(ValueError, match=f"linear predictor overflows {dtype} near row 0"):
        crmjit.score_parquet(tmp_path / "huge.parquet", steep, out, progress=False)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet", "huge.parquet"]


def test_generate_writes_the_in_memory_rows(tmp_path, capsys):
    path = tmp_path / "gen.parquet"
    assert cli.main(["generate", "--customers", "2500", "--features", "3", "--seed", "4",
                     "--chunk-rows", "1000", "--quiet", str(path)]) == 0
    got = pq.read_table(path).to_pandas()
    want = make_customers(2500, n_features=3, seed=4).to_frame()
    assert got.drop(columns="customer_id").equals(want)
    assert (got.customer_id.to_numpy() == np.arange(2500)).all()
    parts = list(customer_chunks(2500, n_features=3, seed=4, chunk_rows=700))
    assert pd.concat(parts, ignore_index=True).equals(got)


def test_fit_and_score_commands(tmp_path, capsys):
    data = tmp_path / "c.parquet"
    assert cli.main(["generate", "--customers", "20000", "--features", "4", "--segments", "3",
                     "--seed", "1", "--quiet", str(data)]) == 0
    assert cli.main(["fit", str(data), str(tmp_path / "m.json"), "--target", "y",
                     "--features", "x*"]) == 0
    assert cli.main(["fit", str(data), str(tmp_path / "mb.json"), "--target", "y",
                     "--features", "x0,x1,x2,x3", "--groups", "segment"]) == 0
    assert cli.main(["score", "--model", str(tmp_path / "m.json"), "--id-column",
                     "customer_id", "--quiet", str(data), str(tmp_path / "s.parquet")]) == 0
    assert cli.main(["score", "--model", str(tmp_path / "mb.json"), "--groups", "segment",
                     "--quiet", str(data), str(tmp_path / "sb.parquet")]) == 0
    text = capsys.readouterr().out
    assert "fitted one model on 20,000 rows x 4 features" in text
    assert "3 segment models" in text and "scored 20,000 rows" in text
    df = pq.read_table(data).to_pandas()
    m = crmjit.load(tmp_path / "m.json")
    np.testing.assert_allclose(pq.read_table(tmp_path / "s.parquet").column("score"),
                               m.predict_proba(df[m.feature_names_in_])[:, 1], rtol=1e-12)
    # bad data: one line on stderr, exit status 1 (2 is for usage), no output file
    assert cli.main(["score", "--model", str(tmp_path / "m.json"), "--features", "x0,y",
                     "--quiet", str(data), str(tmp_path / "bad.parquet")]) == 1
    assert cli.main(["fit", str(data), str(tmp_path / "z.json"), "--target", "y",
                     "--features", "z*"]) == 1
    assert cli.main(["score", "--model", str(tmp_path / "nope.json"), "--quiet", str(data),
                     str(tmp_path / "bad.parquet")]) == 1
    assert cli.main(["score", "--model", str(tmp_path / "m.json"), "--quiet", str(data),
                     str(data)]) == 1  # the input as the output
    assert cli.main(["generate", "--customers", "10", "--quiet",
                     str(tmp_path / "no_such_folder" / "g.parquet")]) == 1
    err = capsys.readouterr().err
    assert "crmjit score: error: features ['x0', 'y'] do not match" in err
    assert "'z*' matches no column" in err and "nope.json" in err
    assert "it is the input" in err and "no_such_folder does not exist" in err
    assert ".part" not in err
    assert not (tmp_path / "bad.parquet").exists() and not (tmp_path / "z.json").exists()


@pytest.mark.parametrize("command", ["generate", "fit", "score"])
def test_help_is_there(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert "Example: crmjit " + command in capsys.readouterr().out.replace("\n", " ")


def test_folder_dataset_and_integer_features(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "parts"
    folder.mkdir()
    frames = []
    for k in range(3):  # a dataset of three files; one feature stored as integers
        df = pd.DataFrame({"id": np.arange(k * 1000, (k + 1) * 1000),
                           "age": rng.integers(18, 90, 1000),
                           "spend": rng.gamma(2.0, 50.0, 1000)})
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / f"{k}.parquet")
        frames.append(df)
    whole = pd.concat(frames, ignore_index=True)
    y = (whole.spend > 100).astype(int)
    model = crmjit.LogisticRegression().fit(whole[["age", "spend"]].astype(float), y)
    crmjit.score_parquet(folder, model, tmp_path / "o.parquet", id_column="id", progress=False)
    out = pq.read_table(tmp_path / "o.parquet").to_pandas().sort_values("id")
    np.testing.assert_allclose(out.score, model.predict_proba(
        whole[["age", "spend"]].astype(float))[:, 1], rtol=1e-12)
    assert out.score.dtype == np.float64  # mixed/integer features are scored in float64
