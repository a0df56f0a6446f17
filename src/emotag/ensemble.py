"""Weighted averages of several runs' probabilities, with weights chosen on dev.

Every run folder keeps ``predictions/{dev,test}_probs.npy``; an ensemble is built from those
alone (no model is re-run). Weights are searched on the simplex to maximise dev macro-F1
after threshold tuning on dev; test is only scored once, with the chosen weights.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelFormatError
from .thresholds import f1_at_thresholds


@dataclass
class RunPredictions:
    """A run's saved dev/test probabilities and its label order."""

    path: Path
    label_names: list[str]
    dev: np.ndarray
    test: np.ndarray | None


def load_run_predictions(run_dir: Path) -> RunPredictions:
    run_dir = Path(run_dir)
    manifest = run_dir / "emotag.json"
    meta = run_dir / "ensemble.json"
    source = manifest if manifest.is_file() else meta
    if not source.is_file():
        raise ModelFormatError(f"{run_dir}: neither emotag.json nor ensemble.json; not a run")
    names = json.loads(source.read_text(encoding="utf-8"))["label_names"]
    dev_path = run_dir / "predictions" / "dev_probs.npy"
    if not dev_path.is_file():
        raise ModelFormatError(f"{dev_path} missing; re-run `emotag evaluate {run_dir}`")
    test_path = run_dir / "predictions" / "test_probs.npy"
    test = np.load(test_path, allow_pickle=False) if test_path.is_file() else None
    return RunPredictions(run_dir, names, np.load(dev_path, allow_pickle=False), test)


def simplex_grid(n_members: int, step: float) -> np.ndarray:
    """All weight vectors with entries in multiples of ``step`` that sum to 1."""
    k = round(1 / step)
    rows = [c for c in itertools.product(range(k + 1), repeat=n_members - 1) if sum(c) <= k]
    return np.array([[*c, k - sum(c)] for c in rows], dtype=np.float64) / k


def tuned_macro_f1(probs: np.ndarray, y: np.ndarray, grid: np.ndarray | None = None) -> float:
    """Dev macro-F1 when every label gets its own best threshold (the search objective)."""
    grid = grid if grid is not None else np.round(np.arange(0.02, 0.951, 0.01), 4)
    return float(f1_at_thresholds(probs, y, grid).max(axis=0).mean())


def combine(probs: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    return np.tensordot(np.asarray(weights), np.stack(probs), axes=1).astype(np.float32)


def search_weights(dev_probs: Sequence[np.ndarray], y_dev: np.ndarray,
                   step: float = 0.1) -> tuple[np.ndarray, float]:
    """The simplex point with the best tuned dev macro-F1 (ties: the earliest found)."""
    if len(dev_probs) == 1:
        return np.ones(1), tuned_macro_f1(dev_probs[0], y_dev)
    grid = np.round(np.arange(0.02, 0.951, 0.02), 4)  # coarse during the search
    best_w, best = None, -1.0
    for w in simplex_grid(len(dev_probs), step):
        score = tuned_macro_f1(combine(dev_probs, w), y_dev, grid)
        if score > best + 1e-12:
            best_w, best = w, score
    assert best_w is not None
    return best_w, tuned_macro_f1(combine(dev_probs, best_w), y_dev)


def build_ensemble(runs: Sequence[RunPredictions], y_dev: np.ndarray, *, step: float = 0.1
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Weights chosen on dev; returns (weights, dev_probs, test_probs) of the ensemble.
    Thresholds are then tuned on the returned dev probabilities like for any run."""
    names = runs[0].label_names
    for r in runs[1:]:
        if r.label_names != names:
            raise ModelFormatError(f"{r.path}: label order differs from {runs[0].path}")
        if r.dev.shape != runs[0].dev.shape:
            raise ModelFormatError(f"{r.path}: dev predictions have shape {r.dev.shape}, "
                                   f"{runs[0].path} has {runs[0].dev.shape}")
    weights, _ = search_weights([r.dev for r in runs], y_dev, step)
    dev = combine([r.dev for r in runs], weights)
    test = None
    if all(r.test is not None for r in runs):
        test = combine([r.test for r in runs], weights)  # type: ignore[misc]
    return weights, dev, test
