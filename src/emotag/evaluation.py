"""Metrics as plain data: the classification report of the original study and more.

:func:`evaluate_decisions` returns a dict (per-label precision/recall/F1/support; micro, macro,
weighted and samples averages; subset accuracy, Hamming loss, macro ROC-AUC; the Ekman and
sentiment groupings). Only ``report.py`` and the CLI turn it into text or pictures.
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

from .labels import GROUPINGS, group_matrix, has_taxonomies

AVERAGES = ("micro", "macro", "weighted", "samples")


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
