"""An `emotag ensemble` folder is a model: load, predict, batch scoring, serve, evaluate,
calibrate, distil, as any other model folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emotag
from emotag.config import load_config
from emotag.data.datasets import load_goemotions
from emotag.errors import ConfigError, ModelFormatError, NotTrainableError
from emotag.models.base import load_model, model_digest, read_manifest, save_model
from emotag.models.ensemble import EnsembleClassifier, combine
from emotag.training.ensembling import ensemble_run
from emotag.training.pipeline import train_run


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> list[Path]:
    """Two TF-IDF runs on the tiny sample that score differently (word-only, strong vs weak
    regularisation)."""
    root = tmp_path_factory.mktemp("members")
    runs = []
    for name, sets in (("tfidf-a", ["model.C=0.3"]),
                       ("tfidf-b", ["model.C=8", "model.word_ngram_max=1"])):
        cfg = load_config(None, [f"data.data_dir={tiny_data}", "model.model_type=tfidf", *sets])
        train_run(cfg, root / name)
        runs.append(root / name)
    return runs


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory: pytest.TempPathFactory, members: list[Path],
             tiny_data: Path) -> Path:
    out = tmp_path_factory.mktemp("ens") / "ens"
    ensemble_run(members, out, step=0.25)
    return out


def _expected(folder: Path, texts: list[str]) -> np.ndarray:
    """The weighted average of the members' raw scores, as the manifest lists them."""
    spec = read_manifest(folder)["ensemble"]["members"]
    return combine([load_model(folder / m["path"]).predict_proba(texts) for m in spec],
                   [m["weight"] for m in spec])


def test_ensemble_folder_is_a_self_contained_model(ensemble: Path, members: list[Path],
                                                   tiny_data: Path) -> None:
    manifest = read_manifest(ensemble)
    assert manifest["model_type"] == "ensemble"
    record = json.loads((ensemble / "ensemble.json").read_text())
    kept = [m for m, w in zip(record["members"], record["weights"], strict=True) if w > 0]
    entries = manifest["ensemble"]["members"]
    assert [e["source"] for e in entries] == kept
    assert sum(e["weight"] for e in entries) == pytest.approx(1.0)
    for entry in entries:  # members copied: the model files only
        folder = ensemble / entry["path"]
        assert (folder / "emotag.json").is_file()
        assert not (folder / "predictions").exists() and not (folder / "thresholds.json").exists()
        assert model_digest(folder) == model_digest(Path(entry["source"]), decisions=False)
    # what the weight search scored is what the model computes, exactly
    dev = load_goemotions(tiny_data)["dev"]
    predictor = emotag.load(str(ensemble))
    saved = np.load(ensemble / "predictions" / "dev_probs.npy")
    np.testing.assert_array_equal(predictor.predict_proba(dev.texts), saved)
    np.testing.assert_array_equal(saved, _expected(ensemble, dev.texts))
    # thresholds are the ensemble's own
    thresholds = json.loads((ensemble / "thresholds.json").read_text())
    np.testing.assert_allclose(predictor.thresholds, [thresholds[n] for n in predictor.labels])
    tags = predictor.predict("thanks so much, I appreciate it", all_scores=True)
    assert len(tags) == len(predictor.labels)

    # moved elsewhere with its members' run folders gone, it still loads and scores the same
    moved = ensemble.parent / "moved"
    shutil.copytree(ensemble, moved)
    hidden = [m.rename(m.with_name(m.name + ".gone")) for m in members]
    try:
        np.testing.assert_array_equal(emotag.load(str(moved)).predict_proba(dev.texts), saved)
    finally:
        for gone, member in zip(hidden, members, strict=True):
            gone.rename(member)
    shutil.rmtree(moved / entries[0]["path"])
    with pytest.raises(ModelFormatError, match="ensemble member missing"):
        emotag.load(str(moved))


def test_ensemble_classifier_weights_save_and_load(tmp_path: Path, members: list[Path],
                                                   tiny_data: Path) -> None:
    texts = load_goemotions(tiny_data)["test"].texts
    model = EnsembleClassifier(members, [0.3, 0.7])
    expected = (0.3 * load_model(members[0]).predict_proba(texts).astype(np.float64)
                + 0.7 * load_model(members[1]).predict_proba(texts))
    np.testing.assert_allclose(model.predict_proba(texts), expected, atol=1e-6)
    save_model(model, tmp_path / "ens")
    np.testing.assert_array_equal(load_model(tmp_path / "ens").predict_proba(texts),
                                  model.predict_proba(texts))
    # an ensemble of ensembles is a model too
    nested = EnsembleClassifier([tmp_path / "ens", members[0]], [0.5, 0.5])
    save_model(nested, tmp_path / "nested")
    np.testing.assert_allclose(load_model(tmp_path / "nested").predict_proba(texts),
                               0.5 * model.predict_proba(texts)
                               + 0.5 * load_model(members[0]).predict_proba(texts), atol=1e-6)
    with pytest.raises(ConfigError, match="sum to 1"):
        EnsembleClassifier(members, [0.5, 0.6]).predict_proba(texts)
    with pytest.raises(ConfigError, match="2 weights for 1 members"):
        EnsembleClassifier(members[:1], [0.5, 0.5]).predict_proba(texts)
    with pytest.raises(NotTrainableError, match="emotag ensemble"):
        model.fit(None)
    with pytest.raises(ModelFormatError, match="folder not found"):
        EnsembleClassifier([tmp_path / "nope"], [1.0]).predict_proba(texts)


def test_ensemble_through_cli_predict_service_evaluate_calibrate(
        ensemble: Path, tmp_path: Path, tiny_data: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from emotag.cli.app import app
    from emotag.inference.predictor import Predictor
    from emotag.serve import ServeSettings, create_app

    predictor = emotag.load(str(ensemble))
    texts = ["thanks so much, I appreciate it", "why is the table there", "I am so angry"]
    runner = CliRunner()
    # predict, texts given inline
    result = runner.invoke(app, ["predict", str(ensemble), *texts, "--json"])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(printed) == len(texts)
    # predict --input/--output: batch scoring writes the ensemble's scores
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3], "text": texts}).to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["predict", str(ensemble), "--input", str(src),
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    np.testing.assert_allclose(frame[[f"score_{n}" for n in predictor.labels]].to_numpy(),
                               predictor.predict_proba(texts), atol=1e-6)
    # the service
    with TestClient(create_app(Predictor.load(ensemble), ServeSettings(max_wait_ms=0))) as c:
        reply = c.post("/v1/predict", json={"texts": texts, "all_scores": True})
        assert reply.status_code == 200, reply.text
        scores = reply.json()["results"][0]["scores"]
        want = dict(zip(predictor.labels, predictor.predict_proba(texts[0]), strict=True))
        assert scores == pytest.approx({k: float(v) for k, v in want.items()}, abs=1e-6)
        assert c.get("/v1/labels").status_code == 200
    # evaluate: the saved thresholds on the run's own data reproduce the ensemble's numbers
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["evaluate", str(ensemble), "--output", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    before = json.loads((ensemble / "metrics.json").read_text())["splits"]["test"]
    after = json.loads((tmp_path / "ev" / "metrics.json").read_text())["splits"]["test"]
    assert after["tuned"]["averages"]["macro"] == pytest.approx(
        before["tuned"]["averages"]["macro"])
    # calibrate: the ensemble's own calibration is applied on load
    result = runner.invoke(app, ["calibrate", str(ensemble)])
    assert result.exit_code == 0, result.output
    calibrated = emotag.load(str(ensemble))
    assert calibrated.calibrator is not None
    np.testing.assert_allclose(calibrated.predict_proba(texts),
                               calibrated.calibrator.transform(_expected(ensemble, texts)),
                               atol=1e-6)
    (ensemble / "calibration.json").unlink()


def test_ensemble_is_a_distillation_teacher(ensemble: Path, tmp_path: Path,
                                            tiny_data: Path) -> None:
    from emotag.training.distillation import teacher_probs

    train = load_goemotions(tiny_data)["train"]
    student = tmp_path / "student"
    probs = teacher_probs(ensemble, train, cache_dir=student)
    np.testing.assert_array_equal(probs, emotag.load(str(ensemble)).model.predict_proba(
        train.texts))
    assert (student / "teacher_cache" / "train_probs.npy").is_file()
    assert not (ensemble / "predictions" / "train_probs.npy").exists()


def test_ensemble_of_members_without_saved_predictions(tmp_path: Path, members: list[Path],
                                                       tiny_data: Path) -> None:
    """A packaged model (no predictions/) is scored on dev/test, nothing written into it."""
    bare = tmp_path / "bare"
    save_model(load_model(members[1]), bare)
    shutil.copy(members[1] / "thresholds.json", bare / "thresholds.json")
    before = sorted(p.relative_to(bare) for p in bare.rglob("*"))
    ensemble_run([members[0], bare], tmp_path / "ens", step=0.5)
    assert sorted(p.relative_to(bare) for p in bare.rglob("*")) == before
    log = json.loads((tmp_path / "ens" / "run_log.json").read_text())
    assert log["scored_members"] == [str(bare)]
    dev = load_goemotions(tiny_data)["dev"]
    np.testing.assert_array_equal(emotag.load(str(tmp_path / "ens")).predict_proba(dev.texts),
                                  np.load(tmp_path / "ens" / "predictions" / "dev_probs.npy"))


def test_windows_reach_the_members_that_read_tokens(tmp_path: Path, members: list[Path],
                                                   tiny_bert: Path) -> None:
    from emotag.labels import GOEMOTIONS_LABELS
    from emotag.models.transformer import TransformerClassifier

    bert = TransformerClassifier(label_names=GOEMOTIONS_LABELS, backbone=str(tiny_bert),
                                 max_length=16)
    bert._build()
    bert.model_.eval()
    save_model(bert, tmp_path / "bert")
    save_model(EnsembleClassifier([tmp_path / "bert", members[0]], [0.5, 0.5]), tmp_path / "ens")
    assert emotag.load(str(tmp_path / "ens")).window_overlap is None
    windowed = emotag.load(str(tmp_path / "ens"), stride=4)
    assert windowed.window_overlap == 4
    assert windowed.model.members_[0].window_overlap == 4
    long_text = " ".join(["happy"] * 30 + ["furious"] * 30)
    assert windowed.predict_proba(long_text).shape == (len(GOEMOTIONS_LABELS),)
