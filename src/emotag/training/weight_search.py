"""Choosing ensemble weights on dev: a grid over the simplex, scored after threshold tuning.

Weights are searched on the simplex to maximise dev macro-F1 after threshold tuning on dev,
from the members' saved dev probabilities (no model is re-run); test is never looked at.

Two ways to score a simplex point (``selection``): ``in_sample`` tunes every label's threshold
on all of dev and reads macro-F1 on the same rows, which flatters points whose rare labels
happen to fit; ``held_out`` re-scores the ``top`` best in-sample points with thresholds fitted
on 4/5 of dev and read on the other fifth (5 folds x 2 shuffles) and keeps the best of those.
The held-out score is the threshold tuner's own objective (``ThresholdTuner.score``): macro-F1,
plus the Ekman and sentiment macro-F1s when the thresholds are re-tuned for those groups, so the
weights are picked for what the thresholds then aim at.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ..config import WEIGHT_SELECTIONS
from ..errors import ConfigError
from ..evaluation.thresholds import DEFAULT_GRID, ThresholdTuner, f1_at_thresholds
from ..models.ensemble import combine

SEARCH_GRID = np.round(np.arange(0.02, 0.951, 0.02), 4)  # thresholds, coarse during the search


def simplex_grid(n_members: int, step: float) -> np.ndarray:
    """All weight vectors with entries in multiples of ``step`` that sum to 1."""
    k = round(1 / step)
    rows = [c for c in itertools.product(range(k + 1), repeat=n_members - 1) if sum(c) <= k]
    return np.array([[*c, k - sum(c)] for c in rows], dtype=np.float64) / k


def tuned_macro_f1(probs: np.ndarray, y: np.ndarray, grid: np.ndarray | None = None) -> float:
    """Dev macro-F1 when every label gets its own best threshold (the search objective)."""
    grid = grid if grid is not None else DEFAULT_GRID
    return float(f1_at_thresholds(probs, y, grid).max(axis=0).mean())


def dev_folds(n_rows: int, n_splits: int = 5, repeats: int = 2
              ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, held-out rows) pairs: ``repeats`` shuffles of ``n_splits``-fold splits, seeded
    so that every candidate is scored on the same folds."""
    from sklearn.model_selection import KFold

    rows = np.arange(n_rows)
    return [split for seed in range(repeats)
            for split in KFold(n_splits, shuffle=True, random_state=seed).split(rows)]


def held_out_score(probs: np.ndarray, y: np.ndarray,
                   folds: Sequence[tuple[np.ndarray, np.ndarray]],
                   tuner: ThresholdTuner | None = None) -> float:
    """Mean score on each held-out fold of thresholds fitted on the rest of dev: macro-F1,
    plus the groups' macro-F1s when ``tuner`` re-tunes for them (``ThresholdTuner.score``)."""
    from sklearn.base import clone

    template = tuner if tuner is not None else ThresholdTuner(grid=SEARCH_GRID)
    return float(np.mean([clone(template).fit(probs[fit], y[fit]).score(probs[held], y[held])
                          for fit, held in folds]))


def check_selection(selection: str) -> None:
    """Refuse an unknown weight selection (``emotag ensemble --select``)."""
    if selection not in WEIGHT_SELECTIONS:
        raise ConfigError(f"--select {selection!r} (weight selection); expected one of "
                          f"{', '.join(WEIGHT_SELECTIONS)}")


def score_weightings(dev_probs: Sequence[np.ndarray], y_dev: np.ndarray, step: float = 0.1, *,
                     held_out: int | None = 0, tuner: ThresholdTuner | None = None
                     ) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
    """Every simplex point, its in-sample dev macro-F1, and the held-out score
    (:func:`held_out_score`) of the ``held_out`` best in-sample points (None: all; 0: none),
    keyed by point index in in-sample rank order."""
    points = simplex_grid(len(dev_probs), step)
    in_sample = np.array([tuned_macro_f1(combine(dev_probs, w), y_dev, SEARCH_GRID)
                          for w in points])
    ranked = np.argsort(-in_sample, kind="stable")[:held_out]
    folds = dev_folds(len(y_dev)) if len(ranked) else []
    held = {int(i): held_out_score(combine(dev_probs, points[i]), y_dev, folds, tuner)
            for i in ranked}
    return points, in_sample, held


def search_weights(dev_probs: Sequence[np.ndarray], y_dev: np.ndarray, step: float = 0.1, *,
                   selection: str = "in_sample", top: int = 30,
                   tuner: ThresholdTuner | None = None) -> tuple[np.ndarray, float]:
    """The simplex point with the best dev score and that score.

    ``in_sample``: per-label best thresholds on all of dev (ties: the earliest point).
    ``held_out``: of the ``top`` best in-sample points, the one whose thresholds (``tuner``,
    default per-label shrunk; cloned per fold) score best on held-out dev folds; the returned
    score is then that held-out score (macro-F1, plus the groups' when ``tuner`` has them).
    """
    check_selection(selection)
    if len(dev_probs) == 1:
        return np.ones(1), tuned_macro_f1(dev_probs[0], y_dev)
    points, in_sample, held = score_weightings(
        dev_probs, y_dev, step, held_out=max(1, top) if selection == "held_out" else 0,
        tuner=tuner)
    if selection == "in_sample":
        best_w = points[int(np.argmax(in_sample))]
        return best_w, tuned_macro_f1(combine(dev_probs, best_w), y_dev)
    best = max(held, key=held.__getitem__)  # ties: the better in-sample point
    return points[best], held[best]
