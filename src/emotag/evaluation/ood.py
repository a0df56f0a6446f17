"""Score a model on any labelled file in one taxonomy's space, zero-shot or adapted.

A file's labels are names in one taxonomy: the model's own labels (``goemotions``), or the
Ekman or sentiment groups, which the model's labels are mapped onto
(:meth:`~emotag.inference.predictor.Predictor.decision_view`: the same scores and cuts that
``predict``, batch scoring and the service use). Macro-F1 is the mean F1 over the labels the
file has (``exclude`` leaves some out, e.g. ``neutral`` for the out-of-domain suite, whose
headline is over emotions), with per-label precision/recall/F1/support and a bootstrap
interval (:func:`emotag.evaluation.metrics.bootstrap_intervals`).

``adapted_runs`` measures ``emotag adapt`` honestly: it fits on a seeded sample of the file's
rows and scores only the rest, for several draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..inference.adapt import fit_adaptation
from ..inference.groups import output_names

ADAPT_ROWS = 200   #: labelled rows an adapted run is fitted on (the rest is scored)
ADAPT_DRAWS = 5    #: seeded draws (seeds 0..4) of those rows


@dataclass
class LabelledRows:
    """A file read in a taxonomy's space: ``y[i, j]`` is 1 when row i has label ``names[j]``."""

    path: str
    texts: list[str]
    y: np.ndarray
    names: list[str]


def read_taxonomy_file(predictor: Any, path: Path, taxonomy: str, *, text_column: str = "text",
                       label_column: str = "labels") -> LabelledRows:
    """Rows of ``path`` whose labels must be names of ``taxonomy``'s columns for this model
    (another name is a DataError with its row)."""
    from ..data.datasets import read_labelled_file

    names = output_names(predictor.labels, taxonomy)
    rows = read_labelled_file(Path(path), text_column=text_column, label_column=label_column,
                              label_names=names)
    index = {n: j for j, n in enumerate(names)}
    y = np.zeros((len(rows.texts), len(names)), dtype=np.uint8)
    for i, labels in enumerate(rows.labels):
        y[i, [index[n] for n in labels]] = 1
    return LabelledRows(str(path), rows.texts, y, list(names))


def score_decisions(y: np.ndarray, pred: np.ndarray, names: Sequence[str], *,
                    exclude: Sequence[str] = (), bootstrap: int = 1000, seed: int = 0
                    ) -> dict[str, Any]:
    """Per-label precision/recall/F1/support and macro-F1 over the labels ``y`` has (less
    ``exclude``), with a 95% bootstrap interval of the macro-F1 (``bootstrap`` resamples of
    the rows; 0: none)."""
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    keep = [j for j, n in enumerate(names) if y[:, j].any() and n not in exclude]
    if not keep:
        raise DataError(f"no rows with any of the labels {[n for n in names if n not in exclude]}")
    per_label = {}
    for j in keep:
        tp, fp, fn = (int((y[:, j] & pred[:, j]).sum()), int((~y[:, j] & pred[:, j]).sum()),
                      int((y[:, j] & ~pred[:, j]).sum()))
        per_label[names[j]] = {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
                               "f1": 2 * tp / max(2 * tp + fp + fn, 1), "support": tp + fn}
    out: dict[str, Any] = {
        "n_rows": int(len(y)), "labels": [names[j] for j in keep],
        "macro_f1": float(np.mean([v["f1"] for v in per_label.values()])),
        "per_label": per_label}
    if bootstrap:
        from .metrics import bootstrap_intervals  # scikit-learn: only when intervals are asked

        kept = [names[j] for j in keep]
        iv = bootstrap_intervals(y[:, keep], pred[:, keep], kept, n_resamples=bootstrap,
                                 seed=seed)
        out["macro_f1_interval"] = list(iv["macro_f1"])
    return out


def decisions(predictor: Any, texts: Sequence[str], taxonomy: str
              ) -> tuple[np.ndarray, np.ndarray]:
    """(label probabilities, 0/1 decisions in the taxonomy's columns) for ``texts``."""
    probs = predictor.predict_proba(list(texts))
    scores, _, cuts = predictor.decision_view(probs, taxonomy)
    return probs, np.asarray(scores) >= np.asarray(cuts)[None, :]


def evaluate_file(predictor: Any, path: Path, taxonomy: str = "ekman", *,
                  text_column: str = "text", label_column: str = "labels",
                  exclude: Sequence[str] = (), bootstrap: int = 1000, seed: int = 0
                  ) -> dict[str, Any]:
    """Score ``predictor`` (an :func:`emotag.load` result) on a labelled file in
    ``taxonomy``'s space; see :func:`score_decisions` for what comes back."""
    rows = read_taxonomy_file(predictor, path, taxonomy, text_column=text_column,
                              label_column=label_column)
    _, pred = decisions(predictor, rows.texts, taxonomy)
    out = score_decisions(rows.y, pred, rows.names, exclude=exclude, bootstrap=bootstrap,
                          seed=seed)
    return {"file": str(path), "taxonomy": taxonomy, **out}


def adapted_runs(predictor: Any, rows: LabelledRows, taxonomy: str, *,
                 n_rows: int = ADAPT_ROWS, draws: int = ADAPT_DRAWS,
                 exclude: Sequence[str] = (), bootstrap: int = 1000,
                 probs: np.ndarray | None = None) -> dict[str, Any]:
    """``emotag adapt`` measured on a file: for draw d (seed d), the rows are shuffled with
    ``numpy.random.default_rng(d).permutation``; the first ``n_rows`` fit the adaptation and
    the rest are scored, by both the base model and the adapted one. Returns the mean macro-F1
    over the draws and the mean of the draws' 95% bootstrap bounds (``probs``: the
    predictor's label probabilities of ``rows.texts``, when already computed)."""
    if probs is None:
        probs = predictor.predict_proba(rows.texts)
    base_scores, names, base_cuts = predictor.base_view(probs, taxonomy)
    base_scores = np.asarray(base_scores)
    if len(rows.texts) < n_rows + 50:
        raise DataError(f"{len(rows.texts)} rows; an adapted run needs {n_rows} to fit and at "
                        "least 50 more to score", path=rows.path)
    runs = []
    for draw in range(draws):
        perm = np.random.default_rng(draw).permutation(len(rows.texts))
        fit, rest = perm[:n_rows], perm[n_rows:]
        ad = fit_adaptation(probs[fit], base_scores[fit], rows.y[fit], taxonomy, names,
                            predictor.labels)
        pred = ad.scores(probs[rest], base_scores[rest]) >= ad.cuts(base_cuts)[None, :]
        base_pred = base_scores[rest] >= np.asarray(base_cuts)[None, :]
        runs.append({"seed": draw,
                     "adapted": score_decisions(rows.y[rest], pred, names, exclude=exclude,
                                                bootstrap=bootstrap, seed=draw),
                     "base": score_decisions(rows.y[rest], base_pred, names, exclude=exclude,
                                             bootstrap=0)})

    def mean(key: str) -> float:
        return float(np.mean([r["adapted"][key] for r in runs]))

    per_label = {n: {k: float(np.mean([r["adapted"]["per_label"][n][k] for r in runs]))
                     for k in ("precision", "recall", "f1", "support")}
                 for n in runs[0]["adapted"]["per_label"]}
    out: dict[str, Any] = {
        "n_rows": n_rows, "draws": draws, "macro_f1": mean("macro_f1"),
        "base_macro_f1_same_rows": float(np.mean([r["base"]["macro_f1"] for r in runs])),
        "per_label": per_label, "runs": runs}
    if bootstrap:
        out["macro_f1_interval"] = [
            float(np.mean([r["adapted"]["macro_f1_interval"][i] for r in runs])) for i in (0, 1)]
    return out

