"""Turn an evaluation result into the report files of a run folder: report.md, report.html and
plots/*.png.

The text is rendered by Jinja2 from two package templates (``templates/report.md.j2`` and
``templates/report.html.j2``, read through :mod:`importlib.resources`) over one context built
here, so the two reports cannot drift apart; the pictures come from
:mod:`emotag.evaluation.plots`. The HTML inlines its CSS and PNGs (base64) and works offline;
every value from the metrics is HTML-escaped by the template engine.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingDependencyError
from ..utils.files import atomic_write_bytes, atomic_write_text
from .metrics import AVERAGES
from .plots import PLOT_TITLES, draw_plots, metric, plot_split

DEFAULT_TITLE = "emotag evaluation report"
TEMPLATES = "templates"
GROUPING_TITLES = {"ekman": "Ekman groups", "sentiment": "Sentiment groups"}


@dataclass(frozen=True)
class Table:
    """A table of text cells; the templates draw it as markdown or HTML."""

    header: list[str]
    rows: list[list[str]]

    @property
    def numeric(self) -> list[bool]:
        """Per column, right-align it: every body cell is a number (or n/a), as sklearn does;
        the first column never."""
        def is_num(c: str) -> bool:
            return c in ("n/a", "nan") or c.lstrip("+-").replace(".", "", 1).isdigit()

        return [i > 0 and all(is_num(r[i]) for r in self.rows) for i in range(len(self.header))]


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
        delta = metric((t or {}).get("f1")) - metric((b or {}).get("f1"))
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


def _key_values(items: Mapping[str, Any], durations: Sequence[str] = ()) -> Table:
    rows = [[str(k), _fmt_duration(v) if k in durations else _fmt_value(v)]
            for k, v in items.items()]
    return Table(["key", "value"], rows)


def report_context(metrics: Mapping[str, Any], plot_files: Sequence[str] = (),
                   title: str = DEFAULT_TITLE) -> dict[str, Any]:
    """What the templates render: the title, settings tables, summary, per-split tables,
    thresholds and the plots (``title`` and ``src`` under ``plots/``)."""
    names = list(metrics["label_names"])
    splits = metrics.get("splits", {})
    settings = [(heading, _key_values(metrics[key], durations))
                for key, heading, durations in (("model", "Model", ()), ("data", "Data", ()),
                                                ("training", "Training", ("wall_time_s",)))
                if metrics.get(key)]
    per_split = []
    for split, res in splits.items():
        groupings = (res.get("tuned") or {}).get("groupings", {})
        per_split.append({
            "name": split,
            "n": _fmt((res.get("tuned") or res.get("at_0.5") or {}).get("n_examples")),
            "comparison": _comparison_table(res, names),
            "groupings": [(label, _report_table(groupings[key],
                                                list(groupings[key].get("per_label", {}))))
                          for key, label in GROUPING_TITLES.items() if key in groupings],
        })
    thresholds = metrics.get("thresholds", {})
    return {
        "title": title,
        "settings": settings,
        "threshold_strategy": metrics.get("threshold_strategy", "unknown"),
        "summary": _summary_table(splits),
        "splits": per_split,
        "thresholds": Table(["label", "threshold"],
                            [[n, _fmt(thresholds.get(n))] for n in names]),
        "plot_split": plot_split(metrics),
        "plots": [{"file": f, "title": PLOT_TITLES.get(f, f), "src": f"plots/{f}"}
                  for f in plot_files],
    }


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _load_template(name: str) -> str:
    return files(__package__).joinpath(TEMPLATES, name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _environment() -> Any:
    try:
        import jinja2
    except ImportError as e:
        raise MissingDependencyError("writing evaluation reports needs jinja2; "
                                     "pip install 'emotag[train]'") from e
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                            default_for_string=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined)
    env.filters["md_cell"] = _md_cell
    return env


def _render(template: str, context: Mapping[str, Any]) -> str:
    return _environment().get_template(template).render(context)


def classification_report_table(ev: Mapping[str, Any], label_names: Sequence[str]) -> str:
    """Markdown table of one EVAL dict in sklearn's classification_report layout (3 decimals).

    Rows: each label in ``label_names`` order, then "micro avg", "macro avg", "weighted avg",
    "samples avg" (those present in ``ev["averages"]``).
    """
    module = _environment().get_template("tables.md.j2").module
    return str(module.table(_report_table(ev, label_names))).rstrip("\n")


def render_markdown(metrics: Mapping[str, Any], plot_files: Sequence[str] = (),
                    title: str = DEFAULT_TITLE) -> str:
    """Render report.md; ``plot_files`` are file names under ``plots/`` to link (pure, no I/O)."""
    return _render("report.md.j2", report_context(metrics, plot_files, title))


def render_html(metrics: Mapping[str, Any], images: Mapping[str, bytes] | None = None,
                title: str = DEFAULT_TITLE) -> str:
    """Render report.html; ``images`` maps plot file name -> PNG bytes, embedded as data URIs."""
    images = images or {}
    context = report_context(metrics, list(images), title)
    for plot in context["plots"]:
        plot["data"] = base64.b64encode(images[plot["file"]]).decode("ascii")
    return _render("report.html.j2", context)


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
    only after every figure and both texts have rendered, so a failure leaves the previous
    report intact.
    """
    run_dir = Path(run_dir)
    pngs = draw_plots(metrics, probabilities, targets, log_history or [])
    title = f"{DEFAULT_TITLE}: {run_dir.name}" if run_dir.name else DEFAULT_TITLE
    markdown = render_markdown(metrics, list(pngs), title)
    page = render_html(metrics, pngs, title)
    written: list[Path] = []
    for name, data in pngs.items():
        atomic_write_bytes(run_dir / "plots" / name, data)
        written.append(run_dir / "plots" / name)
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    atomic_write_text(md_path, markdown)
    atomic_write_text(html_path, page)
    return [*written, md_path, html_path]
