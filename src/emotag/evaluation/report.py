"""Turn an evaluation result into the report files of a training run folder.

This is the only emotag module that draws. matplotlib (Agg) and sklearn are imported inside
the functions that need them, so importing it stays cheap and needs no display. report.md and
report.html render one shared list of blocks, so they cannot drift apart and no markdown
library is needed; the HTML inlines its CSS and PNGs (base64) and works offline. Decisions use
``prob >= threshold``, like emotag.evaluation.metrics and sklearn's precision_recall_curve.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..utils.files import atomic_write_bytes, atomic_write_text

AVERAGES = ("micro", "macro", "weighted", "samples")
DPI = 100
DEFAULT_TITLE = "emotag evaluation report"
PLOT_TITLES = {
    "per_label_f1.png": "Per-label F1, threshold 0.5 vs tuned",
    "pr_curves.png": "Precision-recall curves (red dot: tuned threshold, black x: 0.5)",
    "cooccurrence.png": "Co-occurrence of true labels, P(column | row)",
    "confusion.png": "Multi-label confusion at tuned thresholds, P(predicted column | true row)",
    "loss.png": "Training and validation loss",
}


# One document model, two renderers (markdown and HTML).
@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Image:
    title: str
    src: str  # relative to the run folder, e.g. "plots/loss.png"


Block = Heading | Para | Table | Image


def _num(value: Any) -> float:
    """Metric value as float; missing values become NaN so plots leave a gap, not a zero."""
    return float("nan") if value is None else float(value)


def _fmt(value: Any) -> str:
    """Three decimals like sklearn's classification_report; ``n/a`` where a metric is None."""
    if value is None:
        return "n/a"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    value = float(value)
    return "nan" if math.isnan(value) else f"{value:.3f}"


def _fmt_support(value: Any) -> str:
    return "n/a" if value is None else str(int(round(float(value))))


def _fmt_value(value: Any) -> str:
    """Config values keep their precision (a learning rate of 2e-5 must not print as 0.000)."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def _fmt_duration(seconds: Any) -> str:
    if seconds is None:
        return "n/a"
    s = float(seconds)
    h, rem = divmod(int(round(s)), 3600)
    return f"{s:.1f} s ({h}h {rem // 60:02d}m {rem % 60:02d}s)"


def _prf(m: Mapping[str, Any] | None) -> list[str]:
    m = m or {}
    return [_fmt(m.get("precision")), _fmt(m.get("recall")), _fmt(m.get("f1"))]


def _report_table(ev: Mapping[str, Any], label_names: Sequence[str]) -> Table:
    """sklearn classification_report layout: one row per label, then the four averages."""
    per, avgs = ev.get("per_label", {}), ev.get("averages", {})
    rows = [[n, *_prf(per.get(n)), _fmt_support((per.get(n) or {}).get("support"))]
            for n in label_names]
    rows += [[f"{a} avg", *_prf(avgs[a]), _fmt_support(avgs[a].get("support"))]
             for a in AVERAGES if a in avgs]
    return Table(["label", "precision", "recall", "f1-score", "support"], rows)


def classification_report_table(ev: Mapping[str, Any], label_names: Sequence[str]) -> str:
    """Markdown table of one EVAL dict in sklearn's classification_report layout (3 decimals).

    Rows: each label in ``label_names`` order, then "micro avg", "macro avg", "weighted avg",
    "samples avg" (those present in ``ev["averages"]``).
    """
    return _md_table(_report_table(ev, label_names))


def _comparison_table(res: Mapping[str, Any], label_names: Sequence[str]) -> Table:
    """Side-by-side 0.5 vs tuned, so the effect of threshold tuning is visible per label."""
    base, tuned = res.get("at_0.5") or {}, res.get("tuned") or {}
    keys = [(n, base.get("per_label", {}).get(n), tuned.get("per_label", {}).get(n))
            for n in label_names]
    keys += [(f"{a} avg", base.get("averages", {}).get(a), tuned.get("averages", {}).get(a))
             for a in AVERAGES]
    rows = []
    for name, b, t in keys:
        if b is None and t is None:
            continue
        delta = _num((t or {}).get("f1")) - _num((b or {}).get("f1"))
        support = (t or b or {}).get("support")
        rows.append([name, *_prf(b), *_prf(t), "n/a" if math.isnan(delta) else f"{delta:+.3f}",
                     _fmt_support(support)])
    header = ["label", "P@0.5", "R@0.5", "F1@0.5", "P tuned", "R tuned", "F1 tuned", "ΔF1",
              "support"]
    return Table(header, rows)


def _summary_table(splits: Mapping[str, Any]) -> Table:
    rows = []
    for split, res in splits.items():
        for key, label in (("at_0.5", "0.5"), ("tuned", "tuned")):
            ev = res.get(key)
            if ev is None:
                continue
            f1s = [_fmt(ev.get("averages", {}).get(a, {}).get("f1")) for a in AVERAGES]
            rows.append([split, label, _fmt(ev.get("n_examples")), *f1s,
                         _fmt(ev.get("subset_accuracy")), _fmt(ev.get("hamming_loss")),
                         _fmt(ev.get("roc_auc_macro"))])
    header = ["split", "thresholds", "n", "micro-F1", "macro-F1", "weighted-F1", "samples-F1",
              "subset acc.", "hamming loss", "ROC-AUC macro"]
    return Table(header, rows)


def _plot_split(metrics: Mapping[str, Any]) -> str | None:
    """Plots show the test split when there is one (the honest number), else dev."""
    splits = metrics.get("splits", {})
    for name in ("test", "dev"):
        if name in splits:
            return name
    return next(iter(splits), None)


def _document(metrics: Mapping[str, Any], plot_files: Sequence[str], title: str) -> list[Block]:
    names = list(metrics["label_names"])
    splits = metrics.get("splits", {})
    blocks: list[Block] = [Heading(1, title)]
    if metrics.get("model"):
        rows = [[str(k), _fmt_value(v)] for k, v in metrics["model"].items()]
        blocks += [Heading(2, "Model"), Table(["key", "value"], rows)]
    if metrics.get("training"):
        rows = [[str(k), _fmt_duration(v) if k == "wall_time_s" else _fmt_value(v)]
                for k, v in metrics["training"].items()]
        blocks += [Heading(2, "Training"), Table(["key", "value"], rows)]
    blocks += [
        Heading(2, "Summary"),
        Para(f"Threshold strategy: {metrics.get('threshold_strategy', 'unknown')}. "
             "A label is predicted when its probability >= its threshold. Thresholds were "
             "tuned on dev, so tuned dev scores are optimistic; trust the test rows."),
        _summary_table(splits),
    ]
    for split, res in splits.items():
        n = (res.get("tuned") or res.get("at_0.5") or {}).get("n_examples")
        blocks += [Heading(2, f"Split: {split} (n = {_fmt(n)})"),
                   Heading(3, "Per-label report, threshold 0.5 vs tuned"),
                   _comparison_table(res, names)]
        groupings = (res.get("tuned") or {}).get("groupings", {})
        for key, label in (("ekman", "Ekman groups"), ("sentiment", "Sentiment groups")):
            if key in groupings:
                group = groupings[key]
                blocks += [Heading(3, f"{label} (tuned thresholds)"),
                           _report_table(group, list(group.get("per_label", {})))]
    thresholds = metrics.get("thresholds", {})
    blocks += [Heading(2, "Thresholds per label"),
               Table(["label", "threshold"], [[n, _fmt(thresholds.get(n))] for n in names])]
    if plot_files:
        blocks += [Heading(2, "Plots"),
                   Para(f"Per-label plots use the {_plot_split(metrics)} split.")]
        blocks += [Image(PLOT_TITLES.get(f, f), f"plots/{f}") for f in plot_files]
    return blocks


def _numeric(table: Table) -> list[bool]:
    """Right-align a column only when every body cell is a number (or n/a), as sklearn does."""
    def is_num(c: str) -> bool:
        return c in ("n/a", "nan") or c.lstrip("+-").replace(".", "", 1).isdigit()

    return [i > 0 and all(is_num(r[i]) for r in table.rows) for i in range(len(table.header))]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in table.header) + " |",
             "|" + "|".join("---:" if num else ":---" for num in _numeric(table)) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def render_markdown(metrics: Mapping[str, Any], plot_files: Sequence[str] = (),
                    title: str = DEFAULT_TITLE) -> str:
    """Render report.md; ``plot_files`` are file names under ``plots/`` to link (pure, no I/O)."""
    parts = []
    for block in _document(metrics, plot_files, title):
        if isinstance(block, Heading):
            parts.append("#" * block.level + " " + block.text)
        elif isinstance(block, Para):
            parts.append(block.text)
        elif isinstance(block, Table):
            parts.append(_md_table(block))
        else:
            parts.append(f"![{block.title}]({block.src})")
    return "\n\n".join(parts) + "\n"


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;"
    "color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:14px}"
    "th,td{border:1px solid #ccc;padding:2px 8px}th{background:#f3f3f3}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.avg td{font-weight:600;background:#fafafa}"
    "figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}"
)


def _html_table(table: Table) -> str:
    esc = html.escape
    td = ['<td class="num">' if num else "<td>" for num in _numeric(table)]
    out = ["<table>", "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in table.header) + "</tr>"]
    for row in table.rows:
        cls = ' class="avg"' if row and row[0].endswith(" avg") else ""
        cells = "".join(f"{t}{esc(c)}</td>" for t, c in zip(td, row, strict=True))
        out.append(f"<tr{cls}>{cells}</tr>")
    return "\n".join(out + ["</table>"])


def render_html(metrics: Mapping[str, Any], images: Mapping[str, bytes] | None = None,
                title: str = DEFAULT_TITLE) -> str:
    """Render report.html; ``images`` maps plot file name -> PNG bytes, embedded as data URIs."""
    images = images or {}
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"]
    for block in _document(metrics, list(images), title):
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            out.append(f"<p>{esc(block.text)}</p>")
        elif isinstance(block, Table):
            out.append(_html_table(block))
        else:
            data = base64.b64encode(images[Path(block.src).name]).decode("ascii")
            out.append(f'<figure><img alt="{esc(block.title)}" src="data:image/png;base64,'
                       f'{data}"><figcaption>{esc(block.title)}</figcaption></figure>')
    return "\n".join(out + ["</body></html>"]) + "\n"


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
            values = [_num((per.get(n) or {}).get("f1")) for n in names]
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
        raise ValueError(f"split {split!r}: expected probabilities and targets of shape "
                         f"(n, {n}), got {p.shape} and {y.shape}")
    return p, y.astype(bool)


def write_report(
    run_dir: Path,
    metrics: dict[str, Any],
    probabilities: dict[str, np.ndarray],
    targets: dict[str, np.ndarray],
    log_history: list[dict[str, Any]] | None = None,
) -> list[Path]:
    """Write report.md, report.html and plots/*.png into run_dir; return the paths written.

    Per-label plots use the test split if ``metrics["splits"]`` has one, else dev. The PR,
    co-occurrence and confusion plots are skipped when that split has no arrays; loss.png is
    skipped without loss entries in ``log_history``. All files are written atomically, and
    only after every figure has rendered, so a failure leaves the previous report intact.
    """
    run_dir = Path(run_dir)
    names = list(metrics["label_names"])
    split = _plot_split(metrics)
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
    loss = _plot_loss(plt, log_history or [])
    if loss is not None:
        pngs["loss.png"] = loss

    title = f"{DEFAULT_TITLE}: {run_dir.name}" if run_dir.name else DEFAULT_TITLE
    written: list[Path] = []
    for name, data in pngs.items():
        atomic_write_bytes(run_dir / "plots" / name, data)
        written.append(run_dir / "plots" / name)
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    atomic_write_text(md_path, render_markdown(metrics, list(pngs), title))
    atomic_write_text(html_path, render_html(metrics, pngs, title))
    return [*written, md_path, html_path]
