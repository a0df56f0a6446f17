"""Adapt a model's decisions to a user's domain from a few hundred labelled rows.

What is learned (measured on the out-of-domain suite: docs/results.md, "Out-of-domain
transfer"): per output column of one taxonomy (the model's labels, or the Ekman or sentiment
groups), a
logistic model ``sigmoid(logit(s) + b + w . x)`` where ``s`` is the base model's score for
that column (it stays the starting point, so the fit is a correction, not a new classifier),
``b`` a bias (the domain's prior) and ``w`` a light refit over ``x``, the standardised logits
of all the model's (calibrated) label probabilities. ``w`` is L2-regularised (``l2``, default
:data:`DEFAULT_L2`), rows are weighted so both classes count equally in the fit, and the
intercept is then moved back by the column's log prior odds, so the adapted score estimates
the probability of the column in the user's domain. Each column's threshold is tuned on
out-of-fold scores of the given rows (5 folds). A column with fewer than
:data:`MIN_POSITIVES` positive rows (in particular one the file never shows) keeps the base
model's score and threshold.

Everything here is numpy: adapting and using an adapted model need only the base install.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, ModelFormatError
from ..utils.files import atomic_write_json
from .decision_files import logit
from .groups import tune_cuts

ADAPTATION_FILE = "adaptation.json"
ADAPTATION_METHOD = "logistic_offset"
DEFAULT_L2 = 100.0
MIN_POSITIVES = 4      #: positive rows a column needs to be adapted
MIN_ROWS = 50          #: rows a file needs: 5 folds of 10 to fit and to estimate the gain
FOLDS = 5


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))


def fit_offset_logistic(x: np.ndarray, y: np.ndarray, offset: np.ndarray, l2: float,
                        weights: np.ndarray | None = None, iterations: int = 50
                        ) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression with a fixed per-row ``offset`` (Newton's method):
    the weights ``w`` and intercept ``b`` of ``sigmoid(offset + b + x @ w)``. The intercept
    is penalised only slightly (1e-2), enough to stay finite when ``y`` is all one class."""
    n, d = x.shape
    xa = np.hstack([x, np.ones((n, 1))])
    sw = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    penalty = np.full(d + 1, float(l2))
    penalty[-1] = 1e-2
    theta = np.zeros(d + 1)
    for _ in range(iterations):
        p = sigmoid(xa @ theta + offset)
        grad = xa.T @ (sw * (p - y)) + penalty * theta
        hess = (xa * (sw * p * (1 - p))[:, None]).T @ xa + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        step *= min(1.0, 5.0 / max(float(np.abs(step).max()), 1e-12))   # damped
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta[:-1], float(theta[-1])


@dataclass
class Adaptation:
    """A fitted adaptation of one taxonomy's columns (see the module docstring)."""

    taxonomy: str
    columns: list[str]                 #: output columns, as the base model reports them
    feature_labels: list[str]          #: the model's labels, whose logits are the features
    adapted: np.ndarray                #: (k,) bool: columns with their own fit
    mean: np.ndarray                   #: (L,) feature standardisation
    scale: np.ndarray                  #: (L,)
    weights: np.ndarray                #: (k, L)
    bias: np.ndarray                   #: (k,)
    thresholds: np.ndarray             #: (k,) cuts of adapted columns (NaN: base cut)
    l2: float = DEFAULT_L2
    info: dict[str, Any] = field(default_factory=dict)

    def scores(self, label_probs: np.ndarray, base_scores: np.ndarray) -> np.ndarray:
        """Adapted scores (n, k) from the model's label probabilities and the base scores of
        the taxonomy's columns; columns that were not adapted keep the base scores."""
        x = (logit(label_probs) - self.mean) / self.scale
        z = logit(base_scores) + self.bias[None, :] + x @ self.weights.T
        return np.where(self.adapted[None, :], sigmoid(z), base_scores).astype(np.float32)

    def cuts(self, base_cuts: np.ndarray) -> np.ndarray:
        return np.where(self.adapted, self.thresholds, base_cuts)

    # ------------------------------------------------------------------ persistence (JSON)
    def to_dict(self) -> dict[str, Any]:
        def r(a: np.ndarray) -> list:
            return np.round(np.asarray(a, dtype=np.float64), 6).tolist()

        thresholds = [None if np.isnan(t) else round(float(t), 6) for t in self.thresholds]
        return {"method": ADAPTATION_METHOD, "taxonomy": self.taxonomy,
                "columns": self.columns, "feature_labels": self.feature_labels,
                "adapted": [bool(a) for a in self.adapted], "l2": self.l2,
                "mean": r(self.mean), "scale": r(self.scale), "weights": r(self.weights),
                "bias": r(self.bias), "thresholds": thresholds, **self.info}

    def save(self, model_dir: Path) -> Path:
        path = Path(model_dir) / ADAPTATION_FILE
        atomic_write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, path: Path, label_names: Sequence[str]) -> Adaptation:
        path = Path(path)
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
            if spec.get("method") != ADAPTATION_METHOD:
                raise KeyError("method")
            if list(spec["feature_labels"]) != list(label_names):
                raise ModelFormatError(f"{path}: adapted for labels {spec['feature_labels']}, "
                                       f"but the model's labels are {list(label_names)}")
            known = ("method", "taxonomy", "columns", "feature_labels", "adapted", "l2", "mean",
                     "scale", "weights", "bias", "thresholds")
            return cls(spec["taxonomy"], list(spec["columns"]), list(spec["feature_labels"]),
                       np.asarray(spec["adapted"], dtype=bool),
                       np.asarray(spec["mean"], dtype=np.float64),
                       np.asarray(spec["scale"], dtype=np.float64),
                       np.asarray(spec["weights"], dtype=np.float64).reshape(
                           len(spec["columns"]), len(label_names)),
                       np.asarray(spec["bias"], dtype=np.float64),
                       np.array([np.nan if t is None else t for t in spec["thresholds"]],
                                dtype=np.float64),
                       float(spec["l2"]), {k: v for k, v in spec.items() if k not in known})
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise ModelFormatError(f"{path}: not an emotag adaptation ({e})") from e


def check_enough_rows(n: int, path: str | None = None) -> None:
    """A DataError, with the number needed, when ``n`` rows are too few to adapt on."""
    if n < MIN_ROWS:
        raise DataError(f"{n} labelled rows; adapting needs at least {MIN_ROWS} ({FOLDS} folds "
                        f"of {MIN_ROWS // FOLDS}) to fit and to estimate the gain, and a few "
                        "hundred to gain much", path=path)


def _balanced(y: np.ndarray) -> np.ndarray:
    pos = float(y.mean())
    return np.where(y > 0, 0.5 / pos, 0.5 / (1 - pos))


def _fit_column(x: np.ndarray, y: np.ndarray, offset: np.ndarray, l2: float
                ) -> tuple[np.ndarray, float]:
    """One column: balanced fit, then the intercept moved back by the log prior odds."""
    w, b = fit_offset_logistic(x, y, offset, l2, _balanced(y))
    prior = float(np.clip(y.mean(), 1e-3, 1 - 1e-3))
    return w, b + float(np.log(prior / (1 - prior)))


def _fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n) % folds


def fit_adaptation(label_probs: np.ndarray, base_scores: np.ndarray, y: np.ndarray,
                   taxonomy: str, columns: Sequence[str], label_names: Sequence[str], *,
                   l2: float = DEFAULT_L2, seed: int = 0) -> Adaptation:
    """Fit on ``label_probs`` (n, L: the predictor's reported label scores), ``base_scores``
    (n, k: its scores of the taxonomy's columns) and multi-hot targets ``y`` (n, k)."""
    label_probs = np.asarray(label_probs, dtype=np.float64)
    base_scores = np.asarray(base_scores, dtype=np.float64)
    y = np.asarray(y).astype(np.float64)
    feats = logit(label_probs)
    mean, scale = feats.mean(axis=0), feats.std(axis=0) + 1e-6
    x = (feats - mean) / scale
    offsets = logit(base_scores)
    k = len(columns)
    weights, bias = np.zeros((k, x.shape[1])), np.zeros(k)
    thresholds = np.full(k, np.nan)
    positives = y.sum(axis=0)
    adapted = (positives >= MIN_POSITIVES) & (positives <= len(y) - MIN_POSITIVES)
    fold = _fold_ids(len(y), FOLDS, seed)
    for j in np.flatnonzero(adapted):
        oof = np.empty(len(y))
        for f in range(FOLDS):
            tr, te = fold != f, fold == f
            if y[tr, j].sum() == 0 or y[tr, j].sum() == tr.sum():
                oof[te] = sigmoid(offsets[te, j])
                continue
            w, b = _fit_column(x[tr], y[tr, j], offsets[tr, j], l2)
            oof[te] = sigmoid(offsets[te, j] + b + x[te] @ w)
        thresholds[j] = tune_cuts(oof[:, None], y[:, [j]])[0]
        weights[j], bias[j] = _fit_column(x, y[:, j], offsets[:, j], l2)
    return Adaptation(taxonomy, list(columns), list(label_names), adapted, mean, scale,
                      weights, bias, thresholds, float(l2),
                      {"rows": int(len(y)), "positives": {c: int(p) for c, p in
                                                          zip(columns, positives, strict=True)}})


def macro_f1(y: np.ndarray, pred: np.ndarray, columns: Sequence[int]) -> float:
    """Mean F1 over ``columns`` of multi-hot ``y`` and decisions ``pred``."""
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    f1 = [2 * (y[:, j] & pred[:, j]).sum() / max(y[:, j].sum() + pred[:, j].sum(), 1)
          for j in columns]
    return float(np.mean(f1)) if f1 else float("nan")


def cross_validated_gain(label_probs: np.ndarray, base_scores: np.ndarray,
                         base_cuts: np.ndarray, y: np.ndarray, taxonomy: str,
                         columns: Sequence[str], label_names: Sequence[str], *,
                         l2: float = DEFAULT_L2, seed: int = 0, n_resamples: int = 1000
                         ) -> dict[str, Any]:
    """Macro-F1 (over the columns the rows show) of the base and the adapted decisions on
    out-of-fold rows: each fold scored by an adaptation fitted on the other folds. Also a
    95% paired-bootstrap interval of the gain over the rows."""
    y = np.asarray(y).astype(bool)
    check_enough_rows(len(y))
    fold = _fold_ids(len(y), FOLDS, seed + 1)
    adapted_pred = np.zeros(y.shape, dtype=bool)
    for f in range(FOLDS):
        tr, te = fold != f, fold == f
        ad = fit_adaptation(label_probs[tr], base_scores[tr], y[tr], taxonomy, columns,
                            label_names, l2=l2, seed=seed)
        adapted_pred[te] = ad.scores(label_probs[te], base_scores[te]) >= ad.cuts(base_cuts)
    base_pred = np.asarray(base_scores) >= np.asarray(base_cuts)[None, :]
    shown = [j for j in range(y.shape[1]) if y[:, j].any()]
    base, adapted = macro_f1(y, base_pred, shown), macro_f1(y, adapted_pred, shown)
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(y), len(y))
        gains.append(macro_f1(y[idx], adapted_pred[idx], shown)
                     - macro_f1(y[idx], base_pred[idx], shown))
    low, high = np.percentile(gains, [2.5, 97.5])
    return {"rows": int(len(y)), "folds": FOLDS, "columns": [columns[j] for j in shown],
            "base_macro_f1": base, "adapted_macro_f1": adapted, "gain": adapted - base,
            "gain_interval": [float(low), float(high)]}


def adapt_model(data: Path, output: Path, *, model_dir: Path | None = None,
                taxonomy: str = "goemotions", text_column: str = "text",
                label_column: str = "labels", l2: float = DEFAULT_L2, seed: int = 0
                ) -> dict[str, Any]:
    """``emotag adapt``: fit an adaptation of ``model_dir`` (default: the shipped model) on the
    labelled file ``data`` (labels: names of ``taxonomy``'s columns), estimate its gain by
    cross-validation, and write ``output``: a copy of the model folder plus
    ``adaptation.json``. Returns the cross-validation summary and what was adapted."""
    import shutil
    import tempfile

    from ..evaluation.ood import read_taxonomy_file
    from ..models.base import model_files
    from ..utils.files import replace_dir, sha256_file
    from .predictor import Predictor

    predictor = Predictor.load(model_dir)
    base = Path(predictor.path)
    output = Path(output)
    if output.resolve() == base.resolve() or base.resolve() in output.resolve().parents:
        raise DataError("--output is the model folder itself or inside it; give a new folder",
                        path=str(output))
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise DataError("--output exists and is not an empty folder; give a new one",
                        path=str(output))
    rows = read_taxonomy_file(predictor, data, taxonomy, text_column=text_column,
                              label_column=label_column)
    check_enough_rows(len(rows.texts), str(data))
    probs = predictor.predict_proba(rows.texts)
    scores, names, cuts = predictor.base_view(probs, taxonomy)
    cv = cross_validated_gain(probs, np.asarray(scores), cuts, rows.y, taxonomy, names,
                              predictor.labels, l2=l2, seed=seed)
    adaptation = fit_adaptation(probs, scores, rows.y, taxonomy, names, predictor.labels,
                                l2=l2, seed=seed)
    adaptation.info.update({"base_model": str(base), "data": str(data),
                            "data_sha256": sha256_file(Path(data)), "cross_validation": cv})
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        for src in model_files(base):
            rel = src.relative_to(base)
            if rel.as_posix() != ADAPTATION_FILE:
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, tmp / rel)
        adaptation.save(tmp)
        replace_dir(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    kept = {n: int(p) for n, p, a in zip(names, rows.y.sum(axis=0), adaptation.adapted,
                                         strict=True) if not a}
    return {"output": str(output), "base_model": str(base), "taxonomy": taxonomy,
            "rows": len(rows.texts), "cross_validation": cv,
            "adapted": [n for n, a in zip(names, adaptation.adapted, strict=True) if a],
            "kept_base": kept}
