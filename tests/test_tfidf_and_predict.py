"""The TF-IDF baseline (contract, persistence) and prediction from the CLI and Python."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import emotag
from emotag.cli.app import app
from emotag.data.datasets import Split, load_goemotions
from emotag.errors import DataError, ModelFormatError, NotFittedError
from emotag.models import load_model, save_model
from emotag.models.tfidf import TfidfLogRegClassifier

runner = CliRunner()


@pytest.fixture(scope="module")
def tfidf_run(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tfidf"
    result = runner.invoke(app, ["train", "--output", str(out), "--set", "model.model_type=tfidf",
                                 "--set", f"data.data_dir={tiny_data}"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


def test_estimator_contract(tiny_data: Path) -> None:
    model = TfidfLogRegClassifier(C=2.0)
    assert model.get_params()["C"] == 2.0
    with pytest.raises(NotFittedError):
        model.predict_proba(["hello"])
    train = load_goemotions(tiny_data)["train"]
    assert model.fit(train) is model
    assert model.coef_.shape[0] == 28


def test_save_load_round_trip_without_pickle(tmp_path: Path, tiny_data: Path) -> None:
    splits = load_goemotions(tiny_data)
    model = TfidfLogRegClassifier().fit(splits["train"])
    save_model(model, tmp_path / "m")
    files = {p.name for p in (tmp_path / "m").rglob("*") if p.is_file()}
    assert files == {"emotag.json", "vectorizers.json", "weights.safetensors"}
    again = load_model(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(splits["test"].texts),
                               model.predict_proba(splits["test"].texts), atol=1e-6)


def test_tfidf_learns_the_tiny_signal(tfidf_run: Path) -> None:
    metrics = json.loads((tfidf_run / "metrics.json").read_text())
    assert metrics["splits"]["test"]["tuned"]["averages"]["micro"]["f1"] > 0.5


def test_python_api_predict(tfidf_run: Path) -> None:
    pred = emotag.load(tfidf_run)
    assert pred.labels == list(emotag.GOEMOTIONS_LABELS)
    assert pred.thresholds.shape == (28,)
    one = pred.predict("thanks grateful appreciate")
    assert one and one[0]["label"] == "gratitude"
    assert [x["score"] for x in one] == sorted((x["score"] for x in one), reverse=True)
    many = pred.predict(["happy glad", "angry furious"], top_k=1)
    assert [m[0]["label"] for m in many] == ["joy", "anger"]
    assert len(pred.predict("happy", all_scores=True)) == 28
    assert pred.predict("happy", threshold=1.0) == []
    assert pred.predict_proba(["a", "b"]).shape == (2, 28)
    assert pred.predict_proba("a").shape == (28,)


def test_taxonomy_grouping_fires_when_any_member_fires(tfidf_run: Path) -> None:
    pred = emotag.load(tfidf_run)
    texts = ["happy glad", "angry furious", "scared afraid", "the table is there"]
    fine = pred.predict(texts)
    ekman = pred.predict(texts, taxonomy="ekman")
    from emotag.labels import taxonomy_groups

    groups = taxonomy_groups("ekman")
    for f, e in zip(fine, ekman, strict=True):
        expected = {g for g, members in groups.items() if {x["label"] for x in f} & set(members)}
        assert {x["label"] for x in e} >= expected  # no group_thresholds.json: lowest member cut


def test_cli_predict_json_and_input_file(tfidf_run: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["predict", str(tfidf_run), "thanks grateful", "--json",
                                 "--top-k", "2"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.strip().splitlines()[0])
    assert row["text"] == "thanks grateful" and row["labels"][0]["label"] == "gratitude"
    src = tmp_path / "in.jsonl"
    src.write_text('{"body": "happy glad"}\n{"body": "sad crying"}\n')
    result = runner.invoke(app, ["predict", str(tfidf_run), "--input", str(src),
                                 "--text-column", "body", "--json", "--all-scores"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.strip().splitlines()]
    assert len(rows) == 2 and all(len(r["labels"]) == 28 for r in rows)


def test_cli_errors_are_one_line(tfidf_run: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("body\nhello\n")
    result = runner.invoke(app, ["predict", str(tfidf_run), "--input", str(src)])
    assert result.exit_code != 0
    assert "missing column 'text'" in str(result.exception)
    with pytest.raises(ModelFormatError, match="not an emotag model folder"):
        emotag.load(tmp_path)


def test_evaluate_can_retune_thresholds_on_dev(tfidf_run: Path, tiny_data: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOTAG_DATA_DIR", str(tiny_data))
    out = tmp_path / "retuned"
    result = runner.invoke(app, ["evaluate", str(tfidf_run), "--split", "test",
                                 "--retune-thresholds", "--output", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["splits"]) == {"dev", "test"}  # dev added: thresholds are tuned there
    assert metrics["threshold_strategy"] == "per_label_shrunk"
    assert json.loads((out / "thresholds.json").read_text()) == metrics["thresholds"]


def test_evaluate_prints_and_saves_bootstrap_intervals(tfidf_run: Path, tiny_data: Path,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOTAG_DATA_DIR", str(tiny_data))
    out = tmp_path / "with-intervals"
    result = runner.invoke(app, ["evaluate", str(tfidf_run), "--split", "test", "--bootstrap",
                                 "200", "--output", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "95% intervals, 200 resamples" in result.output
    saved = json.loads((out / "intervals.json").read_text())
    assert saved["n_resamples"] == 200 and set(saved["splits"]) == {"test"}
    point = json.loads((out / "metrics.json").read_text())["splits"]["test"]["tuned"]
    low, high = saved["splits"]["test"]["macro_f1"]
    assert low <= point["averages"]["macro"]["f1"] <= high
    bad = runner.invoke(app, ["evaluate", str(tfidf_run), "--bootstrap", "-1"])
    assert bad.exit_code != 0 and "--bootstrap -1" in str(bad.exception)


# --------------------------------------------------------------------------- user labels
def test_label_without_training_example_gets_a_constant_low_score(tiny_data: Path) -> None:
    """Regression: a label with no positive training text raised a bare ValueError; it now
    trains (load_splits warns about such labels) and the label scores near 0."""
    train = load_goemotions(tiny_data)["train"]
    joy = train.label_names.index("joy")
    labels = train.labels.copy()
    labels[:, joy] = 0
    model = TfidfLogRegClassifier().fit(Split("train", train.texts, labels, train.label_names))
    probs = model.predict_proba(["I am so happy and joyful", "ugh"])
    assert probs.shape == (2, 28)
    assert (probs[:, joy] < 1e-4).all()
    assert probs[:, [i for i in range(28) if i != joy]].max() > 1e-3


def test_user_mistakes_in_fit_are_data_errors(tiny_data: Path) -> None:
    train = load_goemotions(tiny_data)["train"]
    with pytest.raises(DataError, match="label names"):
        TfidfLogRegClassifier(label_names=["a", "b"]).fit(train)
    two = Split("train", ["one text", "another"], np.array([[1], [0]], np.uint8), ["x"],
                source="two.csv")
    with pytest.raises(DataError, match=r"two\.csv: cannot build TF-IDF features from 2"):
        TfidfLogRegClassifier().fit(two)


def test_ekman_named_file_trains_a_7_label_model(tmp_path: Path) -> None:
    """Regression: an Ekman-labelled Excel CSV was widened to the 28 GoEmotions labels and
    TF-IDF died with a bare ValueError. Now the saved model carries exactly its labels."""
    from ekman_files import EKMAN_LABELS, write_ekman_files

    files = write_ekman_files(tmp_path / "data", rows=600)
    out = tmp_path / "run"
    result = runner.invoke(app, [
        "train", "--config", "tfidf", "--output", str(out), "--set", "data.dataset=files",
        "--set", f"data.train_file={files['train']}",
        "--set", f"data.validation_file={files['dev']}",
        "--set", f"data.test_file={files['test']}"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    pred = emotag.load(out)
    assert pred.labels == sorted(EKMAN_LABELS)
    assert pred.predict_proba(["I am so happy"]).shape == (1, 7)
    assert {p["label"] for p in pred.predict("I am so happy", all_scores=True)} == set(
        EKMAN_LABELS)
