"""Metrics as plain data: the classification report of the original study and more.

:func:`evaluate_decisions` returns a dict (per-label precision/recall/F1/support; micro, macro,
weighted and samples averages; subset accuracy, Hamming loss, macro ROC-AUC; the Ekman and
sentiment groupings). Only ``report.py`` and the CLI turn it into text or pictures.
:func:`bootstrap_intervals` says how much of a headline number is the luck of the split.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    hamming_loss,
    roc_auc_score,
)

from ..errors import ConfigError, DataError
from ..labels import GROUPINGS, group_matrix, has_taxonomies
from .thresholds import f1_from_counts

AVERAGES = ("micro", "macro", "weighted", "samples")
# What :func:`headline` and :func:`bootstrap_intervals` return, in the order tables show them
# (the groupings only for the GoEmotions taxonomy).
HEADLINE_KEYS = ("macro_f1", "micro_f1", *(f"{tax}_macro_f1" for tax in GROUPINGS))


def _report(y: np.ndarray, pred: np.ndarray, names: Sequence[str]) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        rep = classification_report(y, pred, target_names=list(names), output_dict=True,
                                    zero_division=0)

    def clean(d: dict) -> dict:
        return {"precision": float(d["precision"]), "recall": float(d["recall"]),
                "f1": float(d["f1-score"]), "support": int(d["support"])}

    return {"per_label": {n: clean(rep[n]) for n in names},
            "averages": {a: clean(rep[f"{a} avg"]) for a in AVERAGES}}


def macro_roc_auc(y: np.ndarray, probs: np.ndarray) -> float | None:
    """Macro ROC-AUC over labels that have both classes present (None if none do)."""
    keep = [j for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
    if not keep:
        return None
    return float(roc_auc_score(y[:, keep], probs[:, keep], average="macro"))


def evaluate_decisions(y: np.ndarray, probs: np.ndarray, thresholds: np.ndarray,
                       label_names: Sequence[str], *, groupings: bool = True) -> dict:
    """Every metric of the report for one split at one set of thresholds."""
    y = np.asarray(y).astype(np.uint8)
    probs = np.asarray(probs, dtype=np.float64)
    pred = (probs >= np.asarray(thresholds)[None, :]).astype(np.uint8)
    out = {"n_examples": int(len(y)), **_report(y, pred, label_names),
           "subset_accuracy": float(accuracy_score(y, pred)),
           "hamming_loss": float(hamming_loss(y, pred)),
           "roc_auc_macro": macro_roc_auc(y, probs)}
    if groupings and has_taxonomies(label_names):
        out["groupings"] = {}
        for tax in GROUPINGS:
            gy, names = group_matrix(y, label_names, tax)
            gp, _ = group_matrix(pred, label_names, tax)
            out["groupings"][tax] = _report(gy, gp, names)
    return out


def evaluate_split(y: np.ndarray, probs: np.ndarray, tuned: np.ndarray,
                   label_names: Sequence[str]) -> dict:
    """``{"at_0.5": ..., "tuned": ...}`` for one split."""
    return {"at_0.5": evaluate_decisions(y, probs, np.full(len(label_names), 0.5), label_names),
            "tuned": evaluate_decisions(y, probs, tuned, label_names)}


def headline(metrics_split: dict) -> dict[str, float]:
    """The few numbers people quote: macro/micro F1 and group macro-F1 at tuned thresholds."""
    t = metrics_split["tuned"]
    out = {"macro_f1": t["averages"]["macro"]["f1"], "micro_f1": t["averages"]["micro"]["f1"]}
    for tax, g in t.get("groupings", {}).items():
        out[f"{tax}_macro_f1"] = g["averages"]["macro"]["f1"]
    return out


def bootstrap_intervals(y: np.ndarray, pred: np.ndarray, label_names: Sequence[str], *,
                        n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
                        ) -> dict[str, tuple[float, float]]:
    """Percentile intervals of the :func:`headline` numbers over resamples of the rows.

    Why: a test split of 5,427 texts moves macro-F1 by about ±0.025 and the Ekman macro-F1 by
    about ±0.018 by which texts it happens to hold (GoEmotions, emotag's best ensemble). A
    difference between two models, or between a model and a goal line, that lies inside that
    interval is one the split cannot tell apart. The model and thresholds are held fixed:
    ``pred`` are the 0/1 decisions already made. Rows are drawn with replacement
    (``n_resamples`` multinomial count vectors, seeded), and every F1 is computed from the
    weighted counts at once, so 1,000 resamples of GoEmotions' test split take about a second.

    Returns ``{"macro_f1": (low, high), "micro_f1": ..., "ekman_macro_f1": ...,
    "sentiment_macro_f1": ...}``; the groupings only when :func:`has_taxonomies` says they
    apply, like :func:`headline`.
    """
    y = np.asarray(y).astype(bool)
    pred = np.asarray(pred).astype(bool)
    if y.shape != pred.shape or y.ndim != 2 or y.shape[1] != len(label_names):
        raise DataError(f"targets {y.shape} and decisions {pred.shape} must both be "
                        f"(n_rows, {len(label_names)})")
    if len(y) == 0:
        raise DataError("no rows to resample: the split is empty")
    if n_resamples < 1 or not 0 < confidence < 1:
        raise ConfigError(f"n_resamples={n_resamples} must be >= 1 and confidence={confidence} "
                          "between 0 and 1")
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=n_resamples)
    counts = counts.astype(np.float64)                       # (B, n): how often each row is drawn

    def weighted_counts(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
        """(B, columns) true-positive, false-positive and false-negative counts."""
        t, p = t.astype(bool), p.astype(bool)
        return counts @ (t & p), counts @ (~t & p), counts @ (t & ~p)

    tp, fp, fn = weighted_counts(y, pred)
    stats = {"macro_f1": f1_from_counts(tp, fp, fn).mean(axis=1),
             "micro_f1": f1_from_counts(tp.sum(1), fp.sum(1), fn.sum(1))}
    if has_taxonomies(label_names):
        for tax in GROUPINGS:
            groups = weighted_counts(group_matrix(y.astype(np.uint8), label_names, tax)[0],
                                     group_matrix(pred.astype(np.uint8), label_names, tax)[0])
            stats[f"{tax}_macro_f1"] = f1_from_counts(*groups).mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    return {k: (float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail)))
            for k, v in stats.items()}
