"""``emotag evaluate``: the run's own data unless --data says otherwise, the data named in the
output and the report, and --taxonomy for files labelled with group names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score
from typer.testing import CliRunner

from emotag.cli.app import app
from emotag.errors import DataError

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tfidf"
    result = runner.invoke(app, ["train", "--output", str(out), "--set", "model.model_type=tfidf",
                                 "--set", f"data.data_dir={tiny_data}"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


def test_evaluate_scores_the_data_the_run_was_trained_on(run: Path, tiny_data: Path,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: evaluate ignored train_config.json and scored the bundled GoEmotions (5,427
    test rows) for a run trained on other data, without a word."""
    monkeypatch.delenv("EMOTAG_DATA_DIR", raising=False)
    out = tmp_path / "ev"
    result = runner.invoke(app, ["evaluate", str(run), "--output", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    metrics = json.loads((out / "metrics.json").read_text())
    assert {s: m["tuned"]["n_examples"] for s, m in metrics["splits"].items()} == \
        {"dev": 60, "test": 60}  # the tiny data of the run, not the bundled copy
    assert metrics["data"]["config"] == str(run / "train_config.json")
    assert str(tiny_data / "test.tsv") in metrics["data"]["test"]
    assert f"data from: {run / 'train_config.json'}" in result.output
    assert "## Data" in (out / "report.md").read_text()
    # the saved thresholds are the run's: same tuned test numbers as at training time
    trained = json.loads((run / "metrics.json").read_text())["splits"]["test"]["tuned"]
    assert metrics["splits"]["test"]["tuned"]["averages"] == trained["averages"]


def test_evaluate_on_a_data_file_names_it(run: Path, tmp_path: Path) -> None:
    data = tmp_path / "mine.csv"
    data.write_text("text,labels\nthanks so much,gratitude\nI am so angry,\"anger,annoyance\"\n"
                    "happy glad,joy\n", encoding="utf-8")
    out = tmp_path / "ev"
    result = runner.invoke(app, ["evaluate", str(run), "--data", str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["splits"]) == ["test"]
    assert metrics["splits"]["test"]["tuned"]["n_examples"] == 3
    assert metrics["data"] == {"config": f"--data {data}", "test": f"{data} (3 rows)"}
    assert f"data from: --data {data}" in result.output


def test_a_missing_file_of_the_runs_config_is_named(run: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in run.iterdir():
        if f.is_file():
            (moved / f.name).write_bytes(f.read_bytes())
    (moved / "tfidf").mkdir()
    for f in (run / "tfidf").iterdir():
        (moved / "tfidf" / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((moved / "train_config.json").read_text())
    cfg["data"] |= {"dataset": "files", "train_file": "gone/train.csv",
                    "validation_file": "gone/dev.csv", "test_file": None}
    (moved / "train_config.json").write_text(json.dumps(cfg))
    result = runner.invoke(app, ["evaluate", str(moved)])
    assert isinstance(result.exception, DataError)
    message = str(result.exception)
    assert "data.train_file" in message and "gone/train.csv" in message and "--data" in message


@pytest.mark.parametrize("args, hint", [
    (["--taxonomy", "ekman"], "--data"),
    (["--taxonomy", "plutchik", "--data", "x.csv"], "expected one of"),
    (["--data", "x.csv", "--retune-thresholds"], "does not combine"),
])
def test_option_mistakes_are_usage_errors(run: Path, args: list[str], hint: str) -> None:
    result = runner.invoke(app, ["evaluate", str(run), *args])
    assert result.exit_code == 2 and hint in result.output


EKMAN_ROWS = [("I am so angry at them", "anger"), ("that is disgusting, gross", "disgust"),
              ("I'm terrified of the dark", "fear"), ("thank you, this is wonderful!", "joy"),
              ("I miss her so much, I cried", "sadness"),
              ("wow, I did not expect that", "surprise"), ("the meeting is at noon", "neutral"),
              ("so happy and also a bit scared", "joy,fear")]


def ekman_file(path: Path, rows: list[tuple[str, str]] = EKMAN_ROWS) -> Path:
    """A file in the shape of the out-of-domain suite: text, Ekman names, source_split."""
    path.write_text("text\tlabels\tsource_split\n" + "".join(
        f"{t}\t{labels}\ttest\n" for t, labels in rows), encoding="utf-8")
    return path


def test_evaluate_a_file_labelled_with_ekman_groups(tmp_path: Path) -> None:
    """The shipped GoEmotions model on an Ekman-labelled file: scored in group space."""
    from emotag.inference.predictor import DEFAULT_MODEL_DIR, Predictor
    from emotag.labels import taxonomy_groups

    data, out = ekman_file(tmp_path / "ekman.tsv"), tmp_path / "ev"
    printed = invoke_ok("evaluate", DEFAULT_MODEL_DIR, "--data", data, "--taxonomy", "ekman",
                        "-o", out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["label_names"] == list(taxonomy_groups("ekman"))
    assert metrics["model"]["taxonomy"] == "ekman"
    assert metrics["splits"]["test"]["tuned"]["n_examples"] == len(EKMAN_ROWS)
    assert metrics["data"]["test"] == f"{data} ({len(EKMAN_ROWS)} rows)"
    assert f"data from: --data {data}" in printed
    # the decisions are the library's group decisions (Predictor.predict, taxonomy=ekman)
    predictor = Predictor.load(DEFAULT_MODEL_DIR)
    want = [{x["label"] for x in r}
            for r in predictor.predict([t for t, _ in EKMAN_ROWS], taxonomy="ekman")]
    names = metrics["label_names"]
    pred = np.array([[n in w for n in names] for w in want], dtype=int)
    truth = np.array([[n in labels.split(",") for n in names] for _, labels in EKMAN_ROWS],
                     dtype=int)
    per_label = metrics["splits"]["test"]["tuned"]["per_label"]
    expected = f1_score(truth, pred, average=None, zero_division=0)
    assert [per_label[n]["f1"] for n in names] == pytest.approx(list(expected))


def test_taxonomy_mistakes(tmp_path: Path) -> None:
    from emotag.inference.predictor import DEFAULT_MODEL_DIR

    # a label that is not a group of the taxonomy: the file, the line and the valid names
    bad = ekman_file(tmp_path / "bad.tsv", [("hello there", "neutral"), ("hm", "curiosity")])
    result = runner.invoke(app, ["evaluate", str(DEFAULT_MODEL_DIR), "--data", str(bad),
                                 "--taxonomy", "ekman", "-o", str(tmp_path / "o")])
    assert isinstance(result.exception, DataError)
    assert "line 3: unknown label 'curiosity'" in str(result.exception)
    # a grouping the model's labels do not cover: one line, exit code 2, nothing loaded
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "emotag.json").write_text(json.dumps(
        {"format_version": 1, "model_type": "tfidf", "label_names": ["urgent", "billing"]}))
    result = runner.invoke(app, ["evaluate", str(custom), "--data", str(bad),
                                 "--taxonomy", "ekman"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "urgent, billing" in result.stderr


def invoke_ok(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output
