"""Per-label decision thresholds chosen on dev probabilities, scikit-learn style.

A multi-label model's 0.5 cut-off is rarely the best one: rare emotions get low scores and
stay below it. :class:`ThresholdTuner` learns one threshold per label (or one for all) from
dev probabilities and targets, then turns probabilities into decisions. The test split must
never be passed to ``fit``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .config import THRESHOLD_STRATEGIES, ThresholdConfig
from .errors import ModelFormatError
from .errors import NotFittedError as EmotagNotFittedError
from .io_utils import atomic_write_json

DEFAULT_GRID = np.round(np.arange(0.02, 0.951, 0.01), 4)


def f1_at_thresholds(probs: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """F1 of every label at every threshold: shape (len(grid), n_labels), vectorised."""
    y = y.astype(bool)
    pred = probs[None, :, :] >= grid[:, None, None]           # (g, n, L)
    tp = (pred & y[None]).sum(axis=1).astype(np.float64)
    fp = (pred & ~y[None]).sum(axis=1)
    fn = (~pred & y[None]).sum(axis=1)
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def micro_f1_at_thresholds(probs: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Micro-F1 at each global threshold in ``grid``."""
    y = y.astype(bool)
    out = np.empty(len(grid))
    for i, t in enumerate(grid):
        pred = probs >= t
        tp = (pred & y).sum()
        denom = pred.sum() + y.sum()
        out[i] = 2 * tp / denom if denom else 0.0
    return out


class ThresholdTuner(BaseEstimator):
    """Learn decision thresholds on dev data.

    Parameters
    ----------
    strategy : {"fixed", "global", "per_label", "per_label_shrunk"}
        ``fixed``: every threshold is ``fixed_threshold``. ``global``: the one threshold with
        the best macro-F1 on dev. ``per_label``: each label's own best-F1 threshold.
        ``per_label_shrunk``: per-label, but pulled towards the global threshold with weight
        ``prior_strength / (prior_strength + n_pos)``, so a label with 13 dev positives
        (grief) is not fitted to noise while frequent labels keep their own optimum.
    prior_strength : float
        Pseudo-count of the shrinkage.
    fixed_threshold : float
        Threshold for ``strategy="fixed"``.
    grid : sequence of float or None
        Candidate thresholds (default 0.02..0.95 step 0.01).
    """

    def __init__(self, strategy: str = "per_label_shrunk", prior_strength: float = 20.0,
                 fixed_threshold: float = 0.5, grid: Sequence[float] | None = None) -> None:
        self.strategy = strategy
        self.prior_strength = prior_strength
        self.fixed_threshold = fixed_threshold
        self.grid = grid

    @classmethod
    def from_config(cls, config: ThresholdConfig) -> ThresholdTuner:
        """An unfitted tuner with a run config's strategy and prior strength."""
        return cls(strategy=config.strategy, prior_strength=config.prior_strength)

    def fit(self, probs: np.ndarray, y: np.ndarray) -> ThresholdTuner:
        """Choose thresholds from dev ``probs`` (n, L) and multi-hot targets ``y`` (n, L)."""
        if self.strategy not in THRESHOLD_STRATEGIES:
            raise ValueError(f"strategy={self.strategy!r}; expected one of "
                             f"{', '.join(THRESHOLD_STRATEGIES)}")
        probs = np.asarray(probs, dtype=np.float64)
        y = np.asarray(y)
        if probs.shape != y.shape or probs.ndim != 2:
            raise ValueError(f"probs {probs.shape} and targets {y.shape} must be the same "
                             "(n_samples, n_labels) shape")
        grid = np.asarray(self.grid if self.grid is not None else DEFAULT_GRID, dtype=np.float64)
        n_labels = probs.shape[1]
        self.n_features_in_ = n_labels
        if self.strategy == "fixed":
            self.thresholds_ = np.full(n_labels, float(self.fixed_threshold))
            return self
        f1 = f1_at_thresholds(probs, y, grid)                   # (g, L)
        global_t = float(grid[int(np.argmax(f1.mean(axis=1)))])
        self.global_threshold_ = global_t
        if self.strategy == "global":
            self.thresholds_ = np.full(n_labels, global_t)
            return self
        # Ties (flat F1 plateaus) resolve to the middle of the best run, not its left edge.
        per_label = np.empty(n_labels)
        for j in range(n_labels):
            best = np.flatnonzero(np.isclose(f1[:, j], f1[:, j].max()))
            per_label[j] = grid[best[len(best) // 2]]
        if self.strategy == "per_label_shrunk":
            n_pos = y.sum(axis=0).astype(np.float64)
            w = n_pos / (n_pos + self.prior_strength)
            per_label = w * per_label + (1 - w) * global_t
        self.thresholds_ = per_label
        return self

    def _fitted(self) -> np.ndarray:
        try:
            check_is_fitted(self, "thresholds_")
        except Exception as e:
            raise EmotagNotFittedError("ThresholdTuner is not fitted; call fit(dev_probs, "
                                       "dev_targets) or ThresholdTuner.load(path)") from e
        return self.thresholds_

    def predict(self, probs: np.ndarray) -> np.ndarray:
        """0/1 decisions: ``probs >= thresholds_`` column by column."""
        return (np.asarray(probs) >= self._fitted()[None, :]).astype(np.uint8)

    def score(self, probs: np.ndarray, y: np.ndarray) -> float:
        """Macro-F1 of the decisions on (probs, y): lets scikit-learn's ``cross_val_score``
        compare strategies on dev folds without ever touching test."""
        from sklearn.metrics import f1_score

        return float(f1_score(np.asarray(y), self.predict(probs), average="macro",
                              zero_division=0))

    def to_dict(self, label_names: Sequence[str]) -> dict[str, float]:
        t = self._fitted()
        if len(label_names) != len(t):
            raise ValueError(f"{len(label_names)} label names for {len(t)} thresholds")
        return {name: round(float(v), 6) for name, v in zip(label_names, t, strict=True)}

    def save(self, path: Path, label_names: Sequence[str]) -> None:
        """``thresholds.json``: label name -> threshold (atomic write)."""
        atomic_write_json(Path(path), self.to_dict(label_names))

    @classmethod
    def from_dict(cls, mapping: dict[str, float], label_names: Sequence[str]) -> ThresholdTuner:
        missing = [n for n in label_names if n not in mapping]
        if missing:
            raise ModelFormatError(f"thresholds lack labels {missing}")
        tuner = cls(strategy="fixed")
        tuner.thresholds_ = np.array([float(mapping[n]) for n in label_names])
        tuner.n_features_in_ = len(label_names)
        return tuner

    @classmethod
    def load(cls, path: Path, label_names: Sequence[str]) -> ThresholdTuner:
        path = Path(path)
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ModelFormatError(f"{path}: cannot read thresholds ({e})") from e
        return cls.from_dict(mapping, label_names)
