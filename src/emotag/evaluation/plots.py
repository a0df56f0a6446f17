"""The pictures of an evaluation report: per-label F1, precision-recall curves, label
co-occurrence, multi-label confusion, and the loss curve, as PNG bytes.

The only emotag module that draws. matplotlib (Agg, no display) and sklearn are imported
inside the functions that need them, so importing this module stays cheap. Rendering the
report's text is :mod:`emotag.evaluation.report`'s job; this module returns bytes and writes
nothing. Decisions use ``prob >= threshold``, like :mod:`emotag.evaluation.metrics` and
sklearn's ``precision_recall_curve``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import DataError

DPI = 100
PLOT_TITLES = {
    "per_label_f1.png": "Per-label F1, threshold 0.5 vs tuned",
    "pr_curves.png": "Precision-recall curves (red dot: tuned threshold, black x: 0.5)",
    "cooccurrence.png": "Co-occurrence of true labels, P(column | row)",
    "confusion.png": "Multi-label confusion at tuned thresholds, P(predicted column | true row)",
    "loss.png": "Training and validation loss",
}


def plot_split(metrics: Mapping[str, Any]) -> str | None:
    """Plots show the test split when there is one (the honest number), else dev."""
    splits = metrics.get("splits", {})
    for name in ("test", "dev"):
        if name in splits:
            return name
    return next(iter(splits), None)


def metric(value: Any) -> float:
    """Metric value as float; missing values become NaN so plots leave a gap, not a zero."""
    return float("nan") if value is None else float(value)


def _row_normalise(counts: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Divide each row by its support; rows without support become NaN (unknown, not zero)."""
    out = np.full(counts.shape, np.nan)
    np.divide(counts, support[:, None], out=out, where=support[:, None] > 0)
    return out


def cooccurrence_matrix(targets: np.ndarray) -> np.ndarray:
    """P(label col | label row) over true labels; the diagonal is 1 for labels that occur."""
    y = np.asarray(targets, dtype=np.float64)
    counts = y.T @ y
    return _row_normalise(counts, np.diag(counts).copy())


def label_confusion_matrix(targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Fraction of examples with true label row that were predicted col; diagonal = recall."""
    y = np.asarray(targets, dtype=np.float64)
    p = np.asarray(predictions, dtype=np.float64)
    return _row_normalise(y.T @ p, y.sum(axis=0))


@contextmanager
def _subplots(plt: ModuleType, **kwargs: Any) -> Iterator[tuple[Any, Any]]:
    """plt.subplots that always closes its figure, so long runs do not leak memory."""
    fig, axes = plt.subplots(**kwargs)
    try:
        yield fig, axes
    finally:
        plt.close(fig)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _plot_per_label_f1(plt: ModuleType, names: list[str], res: Mapping[str, Any],
                       split: str) -> bytes:
    y, h = np.arange(len(names)), 0.4
    with _subplots(plt, figsize=(8, 0.3 * len(names) + 1.5)) as (fig, ax):
        for offset, key, label, color in ((-h / 2, "at_0.5", "threshold 0.5", "#9aa5b1"),
                                          (h / 2, "tuned", "tuned thresholds", "#1f77b4")):
            per = (res.get(key) or {}).get("per_label", {})
            values = [metric((per.get(n) or {}).get("f1")) for n in names]
            ax.barh(y + offset, values, height=h, label=label, color=color)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("F1")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="lower right")
        ax.set_title(f"Per-label F1 ({split})")
        return _png(fig)


def _operating_point(y: np.ndarray, p: np.ndarray, threshold: float) -> tuple[float, float]:
    """(precision, recall) at ``p >= threshold``; precision NaN when nothing is predicted."""
    pred = p >= threshold
    tp = float(np.sum(pred & y))
    precision = tp / pred.sum() if pred.any() else float("nan")
    return precision, tp / max(float(y.sum()), 1.0)


def _plot_pr_curves(plt: ModuleType, names: list[str], probs: np.ndarray, y: np.ndarray,
                    thresholds: np.ndarray, split: str) -> bytes:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    ncols = 7
    nrows = max(1, math.ceil(len(names) / ncols))
    with _subplots(plt, nrows=nrows, ncols=ncols, figsize=(2.6 * ncols, 2.3 * nrows),
                   sharex=True, sharey=True, squeeze=False) as (fig, axes):
        for j, ax in enumerate(axes.flat):
            if j >= len(names):
                ax.axis("off")
                continue
            yj, pj = y[:, j], probs[:, j]
            if not yj.any():
                ax.set_title(f"{names[j]} (no positives)", fontsize=9)
                continue
            precision, recall, _ = precision_recall_curve(yj, pj)
            ax.plot(recall, precision, lw=1.2)
            ax.axhline(yj.mean(), color="grey", lw=0.6, ls=":")  # chance level = prevalence
            for t, style in ((thresholds[j], {"marker": "o", "color": "#d62728"}),
                             (0.5, {"marker": "x", "color": "black"})):
                prec_t, rec_t = _operating_point(yj, pj, float(t))
                ax.plot([rec_t], [prec_t], ls="none", ms=5, **style)
            ax.set_title(f"{names[j]}  AP={average_precision_score(yj, pj):.2f}", fontsize=9)
        axes[0, 0].set_xlim(0, 1)
        axes[0, 0].set_ylim(0, 1.02)
        fig.supxlabel("recall")
        fig.supylabel("precision")
        fig.suptitle(f"Precision-recall per label ({split}; dot = tuned threshold, x = 0.5)")
        return _png(fig)


def _plot_heatmap(plt: ModuleType, matrix: np.ndarray, names: list[str], title: str,
                  xlabel: str, vmax: float | None, label_diagonal: bool = False) -> bytes:
    with _subplots(plt, figsize=(11, 10)) as (fig, ax):
        # NaN cells (masked diagonal, labels absent from the split) are grey, not "zero"
        cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
        im = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=0, vmax=vmax)
        ticks = np.arange(len(names))
        ax.set_xticks(ticks, names, rotation=90, fontsize=8)
        ax.set_yticks(ticks, names, fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("true label")
        ax.set_title(title)
        for i in range(len(names)) if label_diagonal else ():  # e.g. recall on the diagonal
            v = matrix[i, i]
            if not math.isnan(v):
                ax.text(i, i, f"{v:.2f}", ha="center", va="center",
                        fontsize=6, color="white" if v < 0.6 else "black")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        return _png(fig)


def _plot_loss(plt: ModuleType, log_history: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Train "loss" and "eval_loss" vs step; None when the history holds neither."""
    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    val = [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e and "step" in e]
    if not train and not val:
        return None
    with _subplots(plt, figsize=(8, 4.5)) as (fig, ax):
        if train:
            ax.plot(*zip(*train, strict=True), label="train loss", lw=1.2)
        if val:
            ax.plot(*zip(*val, strict=True), label="validation loss", marker="o", lw=1.2)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title("Training and validation loss")
        return _png(fig)


def _check_arrays(split: str, probs: Any, targets: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(targets)
    if p.ndim != 2 or p.shape[1] != n or y.shape != p.shape:
        raise DataError(f"split {split!r}: expected probabilities and targets of shape "
                        f"(n, {n}), got {p.shape} and {y.shape}")
    return p, y.astype(bool)


def draw_plots(metrics: Mapping[str, Any], probabilities: Mapping[str, np.ndarray],
               targets: Mapping[str, np.ndarray],
               log_history: Sequence[Mapping[str, Any]] = ()) -> dict[str, bytes]:
    """File name -> PNG bytes of every plot the inputs allow, in the report's order.

    Per-label plots use :func:`plot_split`'s split. The PR, co-occurrence and confusion plots
    need that split's arrays; ``loss.png`` needs loss entries in ``log_history``.
    """
    names = list(metrics["label_names"])
    split = plot_split(metrics)
    import matplotlib

    matplotlib.use("Agg")  # headless; done here so importing this module stays cheap
    import matplotlib.pyplot as plt

    pngs: dict[str, bytes] = {}
    if split is not None:
        pngs["per_label_f1.png"] = _plot_per_label_f1(plt, names, metrics["splits"][split], split)
        if split in probabilities and split in targets:
            probs, y = _check_arrays(split, probabilities[split], targets[split], len(names))
            thr = metrics.get("thresholds", {})
            thresholds = np.array([float(thr.get(n, 0.5)) for n in names])
            pngs["pr_curves.png"] = _plot_pr_curves(plt, names, probs, y, thresholds, split)
            cooc = cooccurrence_matrix(y)
            np.fill_diagonal(cooc, np.nan)  # P(row | row) = 1 would swamp the colour scale
            pngs["cooccurrence.png"] = _plot_heatmap(
                plt, cooc, names, f"Label co-occurrence P(col | row), {split} (diagonal masked)",
                "co-occurring label", None)
            confusion = label_confusion_matrix(y, probs >= thresholds)
            pngs["confusion.png"] = _plot_heatmap(
                plt, confusion, names, f"P(predicted col | true row), tuned thresholds, {split}"
                " (diagonal = recall)", "predicted label", 1.0, label_diagonal=True)
    loss = _plot_loss(plt, log_history)
    if loss is not None:
        pngs["loss.png"] = loss
    return pngs
