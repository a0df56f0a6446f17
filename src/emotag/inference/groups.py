"""Scores and thresholds for the coarser taxonomies (Ekman, sentiment) over a model's labels.

What a group's score means: the probability that at least one of its member labels applies,
read from the member labels' (calibrated) probabilities as if they were independent:
``1 - prod(1 - p_member)`` (noisy-OR). It lies in [0, 1], it is never below the best
member's probability, and a group with one member (``neutral``) scores exactly that label.
Chosen over the best member's probability and the old "any member reaches its threshold"
rule: best or equal on GoEmotions dev and test and on the out-of-domain suite
(``benchmarks/bench_group_scores.py``; numbers in the results document).

Each group has its own threshold, tuned on the model's dev split like the label thresholds and
saved as ``group_thresholds.json`` in the model folder. A model without that file (or whose
file was fitted on the other score scale, calibrated vs raw) uses the documented fallback: a
group fires when its score reaches the lowest threshold among its members, so it fires at
least whenever one of its members does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFormatError, TaxonomyError
from ..labels import GROUPINGS, TAXONOMIES, group_columns, has_taxonomies, taxonomy_groups
from ..utils.files import atomic_write_json

GROUP_THRESHOLDS_FILE = "group_thresholds.json"
GROUP_SCORE = "noisy_or"
_GRID = np.round(np.arange(0.02, 0.96, 0.01), 2)


def available_taxonomies(label_names: Sequence[str]) -> tuple[str, ...]:
    """The taxonomies a model with these labels can answer in: its own labels
    (``goemotions``) always, the groupings only when they cover the labels."""
    return TAXONOMIES if has_taxonomies(label_names) else ("goemotions",)


def check_taxonomy(taxonomy: str, label_names: Sequence[str]) -> None:
    """A :class:`~emotag.errors.TaxonomyError` unless ``taxonomy`` applies to the labels."""
    available = available_taxonomies(label_names)
    if taxonomy in available:
        return
    if taxonomy not in TAXONOMIES:
        raise TaxonomyError(f"unknown taxonomy {taxonomy!r}; this model answers in: "
                            f"{', '.join(available)}")
    shown = ", ".join(label_names[:10]) + (", ..." if len(label_names) > 10 else "")
    raise TaxonomyError(f"taxonomy {taxonomy!r} groups GoEmotions labels, but this model's "
                        f"labels are {shown}; available taxonomies: {', '.join(available)}")


def output_names(label_names: Sequence[str], taxonomy: str) -> list[str]:
    """The score columns a model answers with in ``taxonomy``: its labels, or the groups with
    a member among them (a :class:`~emotag.errors.TaxonomyError` when the labels do not
    cover the taxonomy)."""
    check_taxonomy(taxonomy, label_names)
    return list(label_names) if taxonomy == "goemotions" else member_columns(label_names,
                                                                              taxonomy)[0]


def member_columns(label_names: Sequence[str], taxonomy: str) -> tuple[list[str], list[list[int]]]:
    """Group names and member columns of ``taxonomy``, for groups with at least one member
    among ``label_names``."""
    pairs = [(name, cols) for name, cols in zip(taxonomy_groups(taxonomy),
                                                 group_columns(label_names, taxonomy),
                                                 strict=True) if cols]
    return [n for n, _ in pairs], [c for _, c in pairs]


def noisy_or(probs: np.ndarray, columns: Sequence[Sequence[int]]) -> np.ndarray:
    """(n, n_groups) ``1 - prod(1 - p)`` over each group's member columns."""
    probs = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    out = np.empty((probs.shape[0], len(columns)), dtype=np.float64)
    for j, cols in enumerate(columns):
        out[:, j] = 1.0 - np.prod(1.0 - probs[:, list(cols)], axis=1)
    return out


def fallback_cuts(label_thresholds: np.ndarray, columns: Sequence[Sequence[int]]) -> np.ndarray:
    """The rule for models without tuned group thresholds: each group's lowest member
    threshold."""
    return np.array([float(np.min(np.asarray(label_thresholds)[list(c)])) for c in columns])


def tune_cuts(scores: np.ndarray, y: np.ndarray, grid: np.ndarray = _GRID) -> np.ndarray:
    """Per column, the grid threshold with the best F1 (the middle of a tied run)."""
    scores, y = np.asarray(scores, dtype=np.float64), np.asarray(y).astype(bool)
    cuts = np.empty(scores.shape[1])
    for j in range(scores.shape[1]):
        pred = scores[:, j][None, :] >= grid[:, None]                   # (g, n)
        tp = (pred & y[:, j]).sum(1)
        f1 = 2 * tp / np.maximum(pred.sum(1) + y[:, j].sum(), 1)
        best = np.flatnonzero(np.isclose(f1, f1.max()))
        cuts[j] = grid[best[len(best) // 2]]
    return cuts


def fit_group_thresholds(probs: np.ndarray, y: np.ndarray, label_names: Sequence[str]
                         ) -> dict[str, dict[str, float]]:
    """Per grouping, group name -> the noisy-OR threshold with the best F1 on (``probs``,
    multi-hot ``y``), both in ``label_names`` order (the model's dev split, scored on the scale
    the predictor reports: calibrated when the model folder has a calibration)."""
    out: dict[str, dict[str, float]] = {}
    for taxonomy in GROUPINGS:
        names, cols = member_columns(label_names, taxonomy)
        truth = np.stack([np.asarray(y)[:, c].any(axis=1) for c in cols], axis=1)
        cuts = tune_cuts(noisy_or(probs, cols), truth)
        out[taxonomy] = {n: round(float(t), 6) for n, t in zip(names, cuts, strict=True)}
    return out


def save_group_thresholds(model_dir: Path, thresholds: dict[str, dict[str, float]], *,
                          calibrated: bool, fitted_on: str = "dev") -> Path:
    """Write ``group_thresholds.json`` (atomic)."""
    path = Path(model_dir) / GROUP_THRESHOLDS_FILE
    atomic_write_json(path, {"score": GROUP_SCORE, "calibrated": bool(calibrated),
                             "fitted_on": fitted_on, "thresholds": thresholds})
    return path


def load_group_thresholds(model_dir: Path, *, calibrated: bool
                          ) -> dict[str, dict[str, float]] | None:
    """The saved group thresholds, or None when the folder has none or they were fitted on
    the other score scale (then the fallback rule applies)."""
    path = Path(model_dir) / GROUP_THRESHOLDS_FILE
    if not path.is_file():
        return None
    try:
        spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ModelFormatError(f"{path}: cannot read group thresholds ({e})") from e
    if spec.get("score") != GROUP_SCORE or not isinstance(spec.get("thresholds"), dict):
        raise ModelFormatError(f"{path}: expected score {GROUP_SCORE!r} and a 'thresholds' "
                               "object per taxonomy")
    if bool(spec.get("calibrated")) != calibrated:
        return None
    return {t: {str(k): float(v) for k, v in groups.items()}
            for t, groups in spec["thresholds"].items()}


def group_view(probs: np.ndarray, label_names: Sequence[str], label_thresholds: np.ndarray,
               taxonomy: str, saved: dict[str, dict[str, float]] | None
               ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Noisy-OR scores, group names and cuts on ``taxonomy`` (saved cuts, else the
    fallback)."""
    check_taxonomy(taxonomy, label_names)
    names, cols = member_columns(label_names, taxonomy)
    cuts = fallback_cuts(label_thresholds, cols)
    tuned = (saved or {}).get(taxonomy, {})
    cuts = np.array([tuned.get(n, c) for n, c in zip(names, cuts, strict=True)])
    return noisy_or(probs, cols).astype(np.float32), names, cuts


def tune_model_groups(predictor: Any, texts: Sequence[str], y: np.ndarray) -> Path:
    """Score a labelled dev split with a loaded predictor (``y`` multi-hot in its label order),
    fit the group thresholds on its reported scores and save them into its folder."""
    if predictor.path is None:
        raise ModelFormatError("the predictor has no model folder to save group thresholds in")
    fitted = fit_group_thresholds(predictor.predict_proba(list(texts)), y, predictor.labels)
    return save_group_thresholds(predictor.path, fitted,
                                 calibrated=predictor.calibrator is not None)
