"""Ensembles: weights searched on dev from saved run predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emotag.ensemble import combine, search_weights, simplex_grid
from emotag.errors import ModelFormatError
from emotag.io_utils import atomic_save_npy, atomic_write_json
from emotag.labels import GOEMOTIONS_LABELS
from emotag.pipeline import ensemble_run


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


def _fake_run(folder: Path, dev: np.ndarray, test: np.ndarray) -> Path:
    atomic_write_json(folder / "emotag.json", {"label_names": list(GOEMOTIONS_LABELS)})
    atomic_save_npy(folder / "predictions" / "dev_probs.npy", dev.astype(np.float32))
    atomic_save_npy(folder / "predictions" / "test_probs.npy", test.astype(np.float32))
    return folder


def test_ensemble_run_end_to_end(tmp_path: Path, tiny_data: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.data import load_goemotions

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

    # --group-weight: thresholds re-tuned on dev for the Ekman/sentiment groups as well
    from emotag.labels import taxonomy_columns
    from emotag.thresholds import ThresholdTuner

    grouped = ensemble_run([a, b], tmp_path / "ens-g", step=0.5, group_weight=1.0)
    assert grouped["model"]["threshold_group_weight"] == 1.0
    names = saved["label_names"]
    dev_probs = np.load(tmp_path / "ens-g" / "predictions" / "dev_probs.npy")
    expected = ThresholdTuner(group_weight=1.0, groups=taxonomy_columns(names)).fit(
        dev_probs, splits["dev"].labels)
    got = json.loads((tmp_path / "ens-g" / "thresholds.json").read_text())
    np.testing.assert_allclose([got[n] for n in names], expected.thresholds_, atol=1e-6)


def test_ensemble_rejects_mismatched_runs(tmp_path: Path, tiny_data: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOTAG_DATA_DIR", str(tiny_data))
    a = _fake_run(tmp_path / "a", np.zeros((60, 28)), np.zeros((60, 28)))
    b = _fake_run(tmp_path / "b", np.zeros((59, 28)), np.zeros((60, 28)))
    with pytest.raises(Exception, match="dev predictions"):
        ensemble_run([a, b], tmp_path / "ens")
    with pytest.raises(ModelFormatError, match="not a run"):
        ensemble_run([tmp_path], tmp_path / "ens")
