"""Per-label decision thresholds chosen on dev probabilities, scikit-learn style.

A multi-label model's 0.5 cut-off is rarely the best one: rare emotions get low scores and
stay below it. :class:`ThresholdTuner` learns one threshold per label (or one for all) from
dev probabilities and targets, then turns probabilities into decisions. The test split must
never be passed to ``fit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..config import THRESHOLD_STRATEGIES, ThresholdConfig
from ..errors import ConfigError, DataError
from ..errors import NotFittedError as EmotagNotFittedError
from ..inference.decision_files import read_thresholds, thresholds_from_mapping
from ..utils.files import atomic_write_json

DEFAULT_GRID = np.round(np.arange(0.02, 0.951, 0.01), 4)


def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Element-wise F1 from true-positive, false-positive and false-negative counts (0 where
    a label is neither true nor predicted, as the classification report's ``zero_division=0``)."""
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros(np.shape(tp)), where=denom > 0)


def f1_at_thresholds(probs: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """F1 of every label at every threshold: shape (len(grid), n_labels), vectorised."""
    y = y.astype(bool)
    pred = probs[None, :, :] >= grid[:, None, None]           # (g, n, L)
    tp = (pred & y[None]).sum(axis=1).astype(np.float64)
    fp = (pred & ~y[None]).sum(axis=1)
    fn = (~pred & y[None]).sum(axis=1)
    return f1_from_counts(tp, fp, fn)


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


def grouped_macro_f1s(y: np.ndarray, pred: np.ndarray,
                      groups: Sequence[Sequence[Sequence[int]]]) -> np.ndarray:
    """Macro-F1 of 0/1 decisions over the labels, then over each grouping's groups (a group is
    predicted, or true, when any of its columns is): for GoEmotions with
    :func:`emotag.labels.taxonomy_columns`, (macro, Ekman, sentiment) macro-F1."""
    y = np.asarray(y).astype(bool)
    pred = np.asarray(pred).astype(bool)

    def macro(t: np.ndarray, p: np.ndarray) -> float:
        return float(f1_from_counts((p & t).sum(0).astype(np.float64), (p & ~t).sum(0),
                         (~p & t).sum(0)).mean())

    out = [macro(y, pred)]
    for grouping in groups:
        g_true = np.stack([y[:, list(cols)].any(axis=1) for cols in grouping], axis=1)
        g_pred = np.stack([pred[:, list(cols)].any(axis=1) for cols in grouping], axis=1)
        out.append(macro(g_true, g_pred))
    return np.array(out)


def group_objective(y: np.ndarray, pred: np.ndarray,
                    groups: Sequence[Sequence[Sequence[int]]], group_weight: float) -> float:
    """``macro-F1 + group_weight * sum of the groupings' macro-F1s`` of 0/1 decisions: what
    :func:`retune_for_groups` maximises, so that weights or settings chosen by it aim at the
    same thing as the thresholds."""
    parts = grouped_macro_f1s(y, pred, groups if group_weight else ())
    return float(parts[0] + group_weight * parts[1:].sum())


def retune_for_groups(probs: np.ndarray, y: np.ndarray, thresholds: np.ndarray,
                      groups: Sequence[Sequence[Sequence[int]]], group_weight: float,
                      grid: np.ndarray | None = None, passes: int = 2,
                      shrink: tuple[float, np.ndarray] | None = None) -> np.ndarray:
    """Thresholds re-tuned for ``macro-F1 + group_weight * sum of group macro-F1s``.

    Why: when a group (Ekman's "joy", sentiment's "positive") counts as predicted as soon as
    any member label is, the per-label optimum is not the group optimum: eleven labels each
    tuned for their own F1 add up their false positives in "positive". Coordinate ascent from
    ``thresholds``: each label in turn (a fixed shuffled order, ``passes`` times) gets the grid
    value that maximises the objective with the other thresholds held; only the groups that
    contain the label are recomputed, for all grid values at once.

    ``shrink=(global_threshold, w)`` keeps ``per_label_shrunk``'s pull towards the global
    threshold: label ``j`` gets ``w[j] * best + (1 - w[j]) * global_threshold``. Without it the
    re-tuning would hand a label with 13 dev positives its own noisy optimum back.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y).astype(bool)
    grid = np.asarray(grid if grid is not None else DEFAULT_GRID, dtype=np.float64)
    t = np.array(thresholds, dtype=np.float64)
    n_labels = probs.shape[1]
    member_of = [[(grouping, [list(c) for c in grouping if j in c]) for grouping in groups]
                 for j in range(n_labels)]
    for _ in range(passes):
        for j in np.random.RandomState(0).permutation(n_labels):
            pred_j = probs[:, j][:, None] >= grid[None, :]          # (n, grid)
            y_j = y[:, j][:, None]
            objective = f1_from_counts((pred_j & y_j).sum(0), (pred_j & ~y_j).sum(0),
                            (~pred_j & y_j).sum(0)) / n_labels
            for grouping, containing in member_of[j]:
                for cols in containing:
                    others = [c for c in cols if c != j]
                    rest = ((probs[:, others] >= t[others]).any(axis=1) if others
                            else np.zeros(len(probs), dtype=bool))
                    group_pred = rest[:, None] | pred_j
                    group_true = y[:, cols].any(axis=1)[:, None]
                    objective = objective + group_weight / len(grouping) * f1_from_counts(
                        (group_pred & group_true).sum(0), (group_pred & ~group_true).sum(0),
                        (~group_pred & group_true).sum(0))
            best = grid[int(np.argmax(objective))]
            t[j] = best if shrink is None else shrink[1][j] * best + (1 - shrink[1][j]) * shrink[0]
    return t


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
    group_weight : float
        With ``groups``: after the strategy, re-tune each label's threshold in turn for
        ``macro-F1 + group_weight * sum of the groupings' macro-F1`` (see
        :func:`retune_for_groups`). 0 (the default) leaves the strategy's thresholds alone.
    groups : groupings of label columns, or None
        Each grouping is a list of groups, each a list of column indices; a group is predicted
        when any of its columns is. For GoEmotions, :func:`emotag.labels.taxonomy_columns`
        gives the Ekman and sentiment groupings.
    """

    def __init__(self, strategy: str = "per_label_shrunk", prior_strength: float = 20.0,
                 fixed_threshold: float = 0.5, grid: Sequence[float] | None = None,
                 group_weight: float = 0.0,
                 groups: Sequence[Sequence[Sequence[int]]] | None = None) -> None:
        self.strategy = strategy
        self.prior_strength = prior_strength
        self.fixed_threshold = fixed_threshold
        self.grid = grid
        self.group_weight = group_weight
        self.groups = groups

    @classmethod
    def from_config(cls, config: ThresholdConfig,
                    label_names: Sequence[str] | None = None) -> ThresholdTuner:
        """An unfitted tuner with a run config's settings.

        ``label_names`` lets ``group_weight`` find the Ekman and sentiment groupings; labels
        outside the GoEmotions taxonomy have none, and the weight then changes nothing.
        """
        from ..labels import taxonomy_columns

        groups = (taxonomy_columns(label_names) or None
                  if config.group_weight > 0 and label_names is not None else None)
        return cls(strategy=config.strategy, prior_strength=config.prior_strength,
                   group_weight=config.group_weight, groups=groups)

    def fit(self, probs: np.ndarray, y: np.ndarray) -> ThresholdTuner:
        """Choose thresholds from dev ``probs`` (n, L) and multi-hot targets ``y`` (n, L)."""
        if self.strategy not in THRESHOLD_STRATEGIES:
            raise ConfigError(f"strategy={self.strategy!r}; expected one of "
                              f"{', '.join(THRESHOLD_STRATEGIES)}")
        probs = np.asarray(probs, dtype=np.float64)
        y = np.asarray(y)
        if probs.shape != y.shape or probs.ndim != 2:
            raise DataError(f"probs {probs.shape} and targets {y.shape} must be the same "
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
        shrink = None
        if self.strategy == "per_label_shrunk":
            n_pos = y.sum(axis=0).astype(np.float64)
            w = n_pos / (n_pos + self.prior_strength)
            per_label = w * per_label + (1 - w) * global_t
            shrink = (global_t, w)
        if self.group_weight < 0:
            raise ConfigError(f"group_weight={self.group_weight}; expected 0 or more")
        if self.group_weight > 0 and self.groups:
            per_label = retune_for_groups(probs, y, per_label, self.groups, self.group_weight,
                                          grid, shrink=shrink)
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
        """The tuner's objective on (probs, y): macro-F1, plus ``group_weight`` x the
        groupings' macro-F1s when the tuner re-tunes for groups. Lets scikit-learn's
        ``cross_val_score`` and the ensemble's held-out weight search compare settings on dev
        folds by what the thresholds are fitted for, without ever touching test."""
        weight = self.group_weight if self.groups else 0.0
        return group_objective(y, self.predict(probs), self.groups or (), weight)

    def to_dict(self, label_names: Sequence[str]) -> dict[str, float]:
        t = self._fitted()
        if len(label_names) != len(t):
            raise DataError(f"{len(label_names)} label names for {len(t)} thresholds")
        return {name: round(float(v), 6) for name, v in zip(label_names, t, strict=True)}

    def save(self, path: Path, label_names: Sequence[str]) -> None:
        """``thresholds.json``: label name -> threshold (atomic write)."""
        atomic_write_json(Path(path), self.to_dict(label_names))

    @classmethod
    def from_dict(cls, mapping: dict[str, float], label_names: Sequence[str]) -> ThresholdTuner:
        return cls._with_thresholds(thresholds_from_mapping(mapping, label_names))

    @classmethod
    def load(cls, path: Path, label_names: Sequence[str]) -> ThresholdTuner:
        return cls._with_thresholds(read_thresholds(path, label_names))

    @classmethod
    def _with_thresholds(cls, thresholds: np.ndarray) -> ThresholdTuner:
        tuner = cls(strategy="fixed")
        tuner.thresholds_ = thresholds
        tuner.n_features_in_ = len(thresholds)
        return tuner
