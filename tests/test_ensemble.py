"""Ensembles: weights searched on dev from saved run predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emotag.errors import ConfigError, ModelFormatError
from emotag.labels import GOEMOTIONS_LABELS
from emotag.models.ensemble import combine
from emotag.training.ensembling import ensemble_run
from emotag.training.weight_search import (
    dev_folds,
    held_out_score,
    search_weights,
    simplex_grid,
)
from emotag.utils.files import atomic_save_npy, atomic_write_json


def test_simplex_grid_sums_to_one() -> None:
    grid = simplex_grid(3, 0.25)
    assert len(grid) == 15  # C(4 + 2, 2)
    np.testing.assert_allclose(grid.sum(axis=1), 1.0)
    assert (grid >= 0).all()


def test_search_prefers_the_informative_member() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((300, 5)) < 0.2).astype(np.uint8)
    good = np.clip(y * 0.7 + rng.random(y.shape) * 0.3, 0, 1)
    noise = rng.random(y.shape)
    weights, score = search_weights([noise, good], y, step=0.1)
    assert weights[1] >= 0.8 and score > 0.9
    np.testing.assert_allclose(combine([noise, good], np.array([0.0, 1.0])), good, atol=1e-6)


def test_held_out_selection_scores_weights_on_rows_their_thresholds_never_saw() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((400, 4)) < 0.25).astype(np.uint8)
    good = np.clip(y * 0.3 + rng.random(y.shape) * 0.7, 0, 1)  # overlapping classes
    noise = rng.random(y.shape)
    in_w, in_score = search_weights([noise, good], y, step=0.25)
    held_w, held_score = search_weights([noise, good], y, step=0.25, selection="held_out", top=3)
    assert held_w[1] >= 0.75 and in_w[1] >= 0.75
    # the held-out score is the mean over 10 folds of thresholds fitted on the other rows ...
    folds = dev_folds(len(y))
    assert len(folds) == 10 and all(len(np.intersect1d(f, h)) == 0 for f, h in folds)
    assert held_score == pytest.approx(held_out_score(combine([noise, good], held_w), y, folds))
    # ... which the in-sample score (thresholds read on the rows they were fitted on) flatters
    assert held_score < in_score
    with pytest.raises(ConfigError, match="held_out"):
        search_weights([noise, good], y, selection="cross")


def _fake_run(folder: Path, dev: np.ndarray, test: np.ndarray) -> Path:
    atomic_write_json(folder / "emotag.json", {"label_names": list(GOEMOTIONS_LABELS)})
    atomic_save_npy(folder / "predictions" / "dev_probs.npy", dev.astype(np.float32))
    atomic_save_npy(folder / "predictions" / "test_probs.npy", test.astype(np.float32))
    return folder


def test_ensemble_run_end_to_end(tmp_path: Path, tiny_data: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.data.datasets import load_goemotions

    monkeypatch.setenv("EMOTAG_DATA_DIR", str(tiny_data))
    splits = load_goemotions(tiny_data)
    rng = np.random.default_rng(1)

    def informative(y: np.ndarray) -> np.ndarray:
        return np.clip(y * 0.6 + rng.random(y.shape) * 0.4, 0, 1)

    a = _fake_run(tmp_path / "a", informative(splits["dev"].labels),
                  informative(splits["test"].labels))
    b = _fake_run(tmp_path / "b", rng.random(splits["dev"].labels.shape),
                  rng.random(splits["test"].labels.shape))
    metrics = ensemble_run([a, b], tmp_path / "ens", step=0.5)
    saved = json.loads((tmp_path / "ens" / "ensemble.json").read_text())
    assert saved["weights"] == [1.0, 0.0] and saved["members"] == [str(a), str(b)]
    assert metrics["splits"]["test"]["tuned"]["averages"]["micro"]["f1"] > 0.9
    for name in ("thresholds.json", "report.md", "run_log.json", "predictions/test_probs.npy"):
        assert (tmp_path / "ens" / name).is_file()
    # members that are saved predictions only: scores and thresholds, but not a model
    assert not (tmp_path / "ens" / "emotag.json").exists()
    assert "not_a_model" in metrics["model"]

    # --group-weight: thresholds re-tuned on dev for the Ekman/sentiment groups as well
    from emotag.evaluation.thresholds import ThresholdTuner
    from emotag.labels import taxonomy_columns

    grouped = ensemble_run([a, b], tmp_path / "ens-g", step=0.5, group_weight=1.0)
    assert grouped["model"]["threshold_group_weight"] == 1.0
    names = saved["label_names"]
    dev_probs = np.load(tmp_path / "ens-g" / "predictions" / "dev_probs.npy")
    expected = ThresholdTuner(group_weight=1.0, groups=taxonomy_columns(names)).fit(
        dev_probs, splits["dev"].labels)
    got = json.loads((tmp_path / "ens-g" / "thresholds.json").read_text())
    np.testing.assert_allclose([got[n] for n in names], expected.thresholds_, atol=1e-6)

    # --select held_out: recorded with the weights it chose
    ensemble_run([a, b], tmp_path / "ens-h", step=0.5, selection="held_out", top=2)
    held = json.loads((tmp_path / "ens-h" / "ensemble.json").read_text())
    assert held["weights"][0] >= 0.5
    assert (held["weight_selection"], held["weight_top"]) == ("held_out", 2)
    assert held["weight_score"] == "macro_f1"
    # with --group-weight the held-out search scores what the thresholds are tuned for
    ensemble_run([a, b], tmp_path / "ens-hg", step=0.5, selection="held_out", top=2,
                 group_weight=1.0)
    held_g = json.loads((tmp_path / "ens-hg" / "ensemble.json").read_text())
    assert held_g["weight_score"] == "macro_f1 + 1 x (ekman + sentiment macro_f1)"
    assert saved["weight_selection"] == "in_sample" and "weight_top" not in saved
    with pytest.raises(ConfigError, match="--select 'cv'"):
        ensemble_run([a, b], tmp_path / "ens-x", selection="cv")
    assert not (tmp_path / "ens-x").exists()


def test_ensemble_rejects_mismatched_runs(tmp_path: Path, tiny_data: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOTAG_DATA_DIR", str(tiny_data))
    a = _fake_run(tmp_path / "a", np.zeros((60, 28)), np.zeros((60, 28)))
    b = _fake_run(tmp_path / "b", np.zeros((59, 28)), np.zeros((60, 28)))
    with pytest.raises(Exception, match="dev predictions"):
        ensemble_run([a, b], tmp_path / "ens")
    with pytest.raises(ModelFormatError, match="not a run"):
        ensemble_run([tmp_path], tmp_path / "ens")
