"""``emotag predict --engine ray``: the Ray Data path writes what the single-process path
computes (same rows, same columns, same scores), on a local Ray of 2 CPUs.

The model is the tiny random BERT of conftest with a random head, saved without training:
an fp32 PyTorch model, whose scores do not depend on which texts share a batch, so the two
engines must agree to float rounding whatever Ray's batch boundaries are. Its thresholds are
set to each label's 97th percentile score, so rows get different numbers of labels and
``pred_labels`` is a real check.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import emotag
from conftest import make_rows
from emotag.errors import ConfigError, DataError, MissingDependencyError
from emotag.inference.batch_scoring import output_column_names, score_columns
from emotag.labels import GOEMOTIONS_LABELS

N_ROWS = 300


@pytest.fixture(scope="module")
def random_model(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> Path:
    """An untrained transformer model folder (tiny BERT + random head) with thresholds."""
    from emotag.evaluation.thresholds import ThresholdTuner
    from emotag.models.base import save_model
    from emotag.models.transformer import TransformerClassifier

    folder = tmp_path_factory.mktemp("random-model")
    model = TransformerClassifier(label_names=GOEMOTIONS_LABELS, backbone=str(tiny_bert),
                                  max_length=32)
    model._build()
    model.model_.eval()
    save_model(model, folder)
    probs = model.predict_proba([t for t, _ in make_rows(200, seed=7)])
    tuner = ThresholdTuner(strategy="fixed")
    tuner.thresholds_ = np.quantile(probs, 0.97, axis=0)
    tuner.save(folder / "thresholds.json", GOEMOTIONS_LABELS)
    return folder


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    """A few hundred texts with string ids that type guessing would break ("00042" -> 42)."""
    texts = [t for t, _ in make_rows(N_ROWS, seed=3)]
    texts[10] = ""  # an empty text is a text
    texts[11] = "thanks, \"quoted\"\nand a second line"  # CSV quoting and newlines survive
    return pd.DataFrame({"id": [f"{i:05d}" for i in range(N_ROWS)], "text": texts,
                         "source": ["reddit" if i % 3 else "forum" for i in range(N_ROWS)]})


@pytest.fixture(scope="module")
def ray_local():  # noqa: ANN201
    """One local Ray for the module: 2 CPUs for the actors + 1 slot for reading/writing."""
    ray = pytest.importorskip("ray", reason="the Ray path needs the ray extra")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=3, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def read_output(folder: Path) -> pd.DataFrame:
    """Every Parquet file of a Ray output folder, in file-name order (= input order)."""
    files = sorted(folder.glob("*.parquet"))
    assert files, f"no parquet written in {folder}"
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def write_input(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path, index=False, row_group_size=70)  # several row groups
    return path


# --------------------------------------------------------------------------- no ray needed
def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.inference.ray_scoring import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "emotag\[ray\]"'):
        import_ray()


def test_plan_pool_fills_the_cpus() -> None:
    from emotag.inference.ray_scoring import plan_pool

    assert plan_pool(8, None, None) == (8, 1)   # one single-threaded actor per CPU
    assert plan_pool(8, 2, None) == (2, 4)      # threads = cpus // actors
    assert plan_pool(8, None, 3) == (2, 3)      # actors = cpus // threads
    assert plan_pool(2, 4, None) == (4, 1)      # at least one thread
    with pytest.raises(ConfigError, match="num_actors"):
        plan_pool(8, 0, None)


def test_inputs_expand_globs_and_refuse_mixed_formats(tmp_path: Path) -> None:
    from emotag.inference.ray_io import expand_inputs

    for name in ("b.parquet", "a.parquet", "c.csv"):
        (tmp_path / name).write_text("x")
    paths, fmt = expand_inputs(str(tmp_path / "*.parquet"))
    assert fmt == "parquet" and [Path(p).name for p in paths] == ["a.parquet", "b.parquet"]
    with pytest.raises(DataError, match="mix formats"):
        expand_inputs(tmp_path)  # a folder: all three files
    with pytest.raises(DataError, match="no file matches"):
        expand_inputs(str(tmp_path / "*.jsonl"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="unsupported input type"):
        expand_inputs(tmp_path / "notes.txt")


# --------------------------------------------------------------------------- with ray
@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_ray_equals_single_process(ray_local, random_model: Path, corpus: pd.DataFrame,  # noqa: ANN001
                                   tmp_path: Path, suffix: str) -> None:
    from emotag.inference.ray_scoring import score_files

    source = write_input(corpus, tmp_path / f"in{suffix}")
    result = score_files(random_model, source, tmp_path / "out", num_actors=2, batch_size=64,
                         progress=False)
    assert (result.num_actors, result.threads_per_actor, result.rows) == (2, 1, N_ROWS)
    out = read_output(tmp_path / "out")
    labels = list(GOEMOTIONS_LABELS)
    assert list(out.columns) == ["id", "text", "source", *output_column_names(labels)]
    # same rows, in input order, input columns untouched (ids stay strings, CSV included)
    assert out["id"].tolist() == corpus["id"].tolist()
    assert out["text"].tolist() == corpus["text"].tolist()
    assert out["source"].tolist() == corpus["source"].tolist()
    expected = score_columns(emotag.load(random_model), corpus["text"].tolist())
    assert out["pred_labels"].tolist() == expected["pred_labels"]
    n_labels = {len(p.split(",")) if p else 0 for p in expected["pred_labels"]}
    assert len(n_labels) > 1 and max(n_labels) < len(labels)  # the thresholds matter here
    for name in labels:
        column = out[f"score_{name}"].to_numpy()
        assert column.dtype == np.float32
        np.testing.assert_allclose(column, expected[f"score_{name}"], atol=1e-5, rtol=0)


def test_ray_scores_an_ensemble_model(ray_local, random_model: Path,  # noqa: ANN001
                                      corpus: pd.DataFrame, tmp_path: Path) -> None:
    """An `emotag ensemble` folder is a model for Ray too: its members travel inside it."""
    import shutil

    from emotag.inference.ray_scoring import score_files
    from emotag.models.base import save_model
    from emotag.models.ensemble import EnsembleClassifier

    ens = tmp_path / "ens"
    save_model(EnsembleClassifier([random_model, random_model], [0.25, 0.75]), ens)
    shutil.copy(random_model / "thresholds.json", ens / "thresholds.json")
    source = write_input(corpus.head(100), tmp_path / "in.parquet")
    score_files(ens, source, tmp_path / "out", num_actors=1, batch_size=50, progress=False)
    out = read_output(tmp_path / "out")
    expected = score_columns(emotag.load(ens), corpus["text"].head(100).tolist())
    assert out["pred_labels"].tolist() == expected["pred_labels"]
    for name in GOEMOTIONS_LABELS:
        np.testing.assert_allclose(out[f"score_{name}"].to_numpy(), expected[f"score_{name}"],
                                   atol=1e-5, rtol=0)


def test_ray_honours_taxonomy_top_k_and_threshold(ray_local, random_model: Path,  # noqa: ANN001
                                                  corpus: pd.DataFrame, tmp_path: Path) -> None:
    from emotag.inference.ray_scoring import score_files

    source = write_input(corpus, tmp_path / "in.parquet")
    score_files(random_model, source, tmp_path / "out", num_actors=1, threads_per_actor=2,
                batch_size=100, taxonomy="ekman", top_k=2, threshold=0.4, progress=False)
    out = read_output(tmp_path / "out")
    expected = score_columns(emotag.load(random_model), corpus["text"].tolist(),
                             taxonomy="ekman", top_k=2, threshold=0.4)
    groups = [c[len("score_"):] for c in expected if c.startswith("score_")]
    assert groups == ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
    assert list(out.columns) == ["id", "text", "source", *expected]
    assert out["pred_labels"].tolist() == expected["pred_labels"]
    assert max(len(p.split(",")) for p in expected["pred_labels"]) == 2
    for name in groups:
        np.testing.assert_allclose(out[f"score_{name}"], expected[f"score_{name}"], atol=1e-5)


def test_ray_errors_are_emotag_errors(ray_local, random_model: Path, corpus: pd.DataFrame,  # noqa: ANN001
                                      tmp_path: Path) -> None:
    from emotag.inference.ray_scoring import score_files

    bad = corpus.copy()
    bad.loc[5, "text"] = None
    source = write_input(bad, tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="null value"):  # raised inside an actor
        score_files(random_model, source, tmp_path / "out", num_actors=1, progress=False)
    with pytest.raises(DataError, match="missing column 'body'"):
        score_files(random_model, source, tmp_path / "out2", text_column="body",
                    progress=False)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x.parquet").write_text("x")
    with pytest.raises(ConfigError, match="not an empty folder"):
        score_files(random_model, source, tmp_path / "taken", progress=False)


# --------------------------------------------------------------------------- the CLI
def test_cli_engine_ray(ray_local, random_model: Path, corpus: pd.DataFrame,  # noqa: ANN001
                        tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from emotag.cli.app import app

    source = write_input(corpus.rename(columns={"text": "body"}), tmp_path / "in.parquet")
    result = CliRunner().invoke(app, [
        "predict", str(random_model), "--engine", "ray", "--input", str(source), "--output",
        str(tmp_path / "out"), "--text-column", "body", "--num-actors", "2", "--batch-size", "100",
        "--top-k", "1", "--no-progress"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    said = " ".join(result.output.split())
    assert f"wrote {N_ROWS} rows" in said and "2 actor(s) x 1 thread(s)" in said
    out = read_output(tmp_path / "out")
    expected = score_columns(emotag.load(random_model), corpus["text"].tolist(), top_k=1)
    assert out["id"].tolist() == corpus["id"].tolist()
    assert out["pred_labels"].tolist() == expected["pred_labels"]


def test_cli_engine_ray_usage_errors(random_model: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from emotag.cli.app import app

    runner = CliRunner()
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,hello\n")
    base = ["predict", str(random_model), "--input", str(source)]
    cases = [(["--engine", "ray"], "give both"),                       # no --output
             ([*base[2:], "--output", "o", "--num-actors", "2"], "need --engine ray"),
             (["--engine", "spark", "--output", "o"], "expected local or ray"),
             (["--engine", "ray", "--output", "o", "--resume"], "empty --output"),
             (["--engine", "ray", "--output", "o", "--threads", "2"], "--threads-per-actor")]
    for extra, message in cases:
        args = base[:2] + extra if extra[:2] == base[2:] else [*base, *extra]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output.replace("\n", " "), (extra, result.output)
    monkeypatch.setitem(sys.modules, "ray", None)
    result = runner.invoke(app, [*base, "--engine", "ray", "--output", str(tmp_path / "o")])
    assert isinstance(result.exception, MissingDependencyError)
    assert 'pip install "emotag[ray]"' in str(result.exception)
