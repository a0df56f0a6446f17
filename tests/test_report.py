"""Tests for emotag.evaluation.report: files written, self-contained HTML, tables, matrices."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from emotag.errors import DataError
from emotag.evaluation.plots import cooccurrence_matrix, label_confusion_matrix
from emotag.evaluation.report import (
    classification_report_table,
    render_html,
    render_markdown,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LABELS = [
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
]  # fmt: skip
EKMAN = {
    "anger": ["anger", "annoyance", "disapproval"],
    "disgust": ["disgust"],
    "fear": ["fear", "nervousness"],
    "joy": ["joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism",
            "relief", "pride", "admiration", "desire", "caring"],
    "sadness": ["sadness", "disappointment", "embarrassment", "grief", "remorse"],
    "surprise": ["surprise", "realization", "confusion", "curiosity"],
    "neutral": ["neutral"],
}  # fmt: skip
SENTIMENT = {
    "positive": EKMAN["joy"],
    "negative": EKMAN["anger"] + EKMAN["disgust"] + EKMAN["fear"] + EKMAN["sadness"],
    "ambiguous": EKMAN["surprise"],
    "neutral": ["neutral"],
}
EXPECTED_PLOTS = {"per_label_f1.png", "pr_curves.png", "cooccurrence.png", "confusion.png",
                  "loss.png"}  # fmt: skip


def _make_data(seed: int, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Random multi-hot targets with every label positive at least once, and noisy probs."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, len(LABELS))) < 0.1).astype(np.int64)
    y[np.arange(len(LABELS)) % n, np.arange(len(LABELS))] = 1
    probs = np.clip(0.35 * y + rng.random(y.shape) * 0.7, 0.0, 1.0).astype(np.float32)
    return probs, y


def _scores(y: np.ndarray, pred: np.ndarray, names: list[str]) -> dict[str, Any]:
    p, r, f, s = precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    per = {n: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
               "support": int(s[i])} for i, n in enumerate(names)}  # fmt: skip
    avgs = {}
    for avg in ("micro", "macro", "weighted", "samples"):
        p, r, f, _ = precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        avgs[avg] = {"precision": float(p), "recall": float(r), "f1": float(f),
                     "support": int(y.sum())}  # fmt: skip
    return {"per_label": per, "averages": avgs}


def _group(y: np.ndarray, pred: np.ndarray, mapping: dict[str, list[str]]) -> dict[str, Any]:
    cols = [[LABELS.index(m) for m in members] for members in mapping.values()]
    gy = np.stack([y[:, c].max(axis=1) for c in cols], axis=1)
    gp = np.stack([pred[:, c].max(axis=1) for c in cols], axis=1)
    return _scores(gy, gp, list(mapping))


def _evaluate(y: np.ndarray, probs: np.ndarray, thresholds: np.ndarray) -> dict[str, Any]:
    pred = (probs >= thresholds).astype(np.int64)
    ev = _scores(y, pred, LABELS)
    ev.update(
        n_examples=int(len(y)),
        subset_accuracy=float(np.mean(np.all(pred == y, axis=1))),
        hamming_loss=float(np.mean(pred != y)),
        roc_auc_macro=float(roc_auc_score(y, probs, average="macro")),
        groupings={"ekman": _group(y, pred, EKMAN), "sentiment": _group(y, pred, SENTIMENT)},
    )
    return ev


def _make_inputs(splits: tuple[str, ...] = ("dev", "test")) -> tuple[dict, dict, dict]:
    data = {s: _make_data(seed) for seed, s in enumerate(splits)}
    thresholds = np.linspace(0.3, 0.7, len(LABELS))
    metrics = {
        "label_names": list(LABELS),
        "thresholds": {n: float(t) for n, t in zip(LABELS, thresholds, strict=True)},
        "threshold_strategy": "per_label",
        "model": {"type": "transformer", "backbone": "<roberta-base>", "lr": 2e-5},
        "training": {"wall_time_s": 3725.4, "epochs": 3},
        "splits": {
            s: {"at_0.5": _evaluate(y, p, np.full(len(LABELS), 0.5)),
                "tuned": _evaluate(y, p, thresholds)}
            for s, (p, y) in data.items()
        },
    }  # fmt: skip
    probabilities = {s: p for s, (p, _) in data.items()}
    targets = {s: y for s, (_, y) in data.items()}
    return metrics, probabilities, targets


LOG_HISTORY = [
    {"loss": 0.9, "step": 10, "epoch": 0.5},
    {"loss": 0.6, "step": 20, "epoch": 1.0},
    {"eval_loss": 0.7, "step": 20, "epoch": 1.0},
    {"train_loss": 0.75, "step": 20, "epoch": 1.0},
]


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], dict]:
    run_dir = tmp_path_factory.mktemp("run")
    metrics, probabilities, targets = _make_inputs()
    paths = write_report(run_dir, metrics, probabilities, targets, LOG_HISTORY)
    return run_dir, paths, metrics


def test_write_report_returns_existing_paths(full_report: tuple[Path, list[Path], dict]) -> None:
    run_dir, paths, _ = full_report
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    names = {p.name for p in paths}
    assert names == EXPECTED_PLOTS | {"report.md", "report.html"}
    assert {p.name for p in (run_dir / "plots").iterdir()} == EXPECTED_PLOTS
    # atomic writes leave no temp files behind
    assert sorted(p.name for p in run_dir.iterdir()) == ["plots", "report.html", "report.md"]


def test_pngs_are_png(full_report: tuple[Path, list[Path], dict]) -> None:
    _, paths, _ = full_report
    pngs = [p for p in paths if p.suffix == ".png"]
    assert len(pngs) == len(EXPECTED_PLOTS)
    for p in pngs:
        assert p.read_bytes()[:8] == PNG_MAGIC, p


def test_html_is_self_contained(full_report: tuple[Path, list[Path], dict]) -> None:
    run_dir, _, _ = full_report
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""src\s*=\s*["']?https?://""", page)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(EXPECTED_PLOTS)
    assert all(base64.b64decode(b)[:8] == PNG_MAGIC for b in images)
    # text from the metrics is escaped, not injected as markup
    assert "&lt;roberta-base&gt;" in page and "<roberta-base>" not in page
    assert "macro avg" in page and all(name in page for name in LABELS)


def test_markdown_has_tables_labels_and_plot_links(
    full_report: tuple[Path, list[Path], dict],
) -> None:
    run_dir, _, metrics = full_report
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "macro avg" in md
    for name in LABELS:
        assert name in md
    for plot in EXPECTED_PLOTS:
        assert f"](plots/{plot})" in md
        assert (run_dir / "plots" / plot).is_file()
    assert "per_label" in md  # threshold strategy
    assert "3725.4 s (1h 02m 05s)" in md  # training wall time
    assert "| lr | 2e-05 |" in md  # config floats keep their precision
    assert "Ekman groups" in md and "Sentiment groups" in md
    test_macro = metrics["splits"]["test"]["tuned"]["averages"]["macro"]["f1"]
    assert f"{test_macro:.3f}" in md


def _row(table: str, first_cell: str) -> list[str]:
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in table")


def test_classification_table_matches_sklearn_layout() -> None:
    metrics, _, _ = _make_inputs(("dev",))
    ev = metrics["splits"]["dev"]["tuned"]
    ev["averages"]["macro"]["f1"] = 0.123456
    table = classification_report_table(ev, LABELS)
    assert _row(table, "label") == ["label", "precision", "recall", "f1-score", "support"]
    assert _row(table, "macro avg")[3] == "0.123"
    first = ev["per_label"][LABELS[0]]
    assert _row(table, LABELS[0]) == [LABELS[0], f"{first['precision']:.3f}",
                                      f"{first['recall']:.3f}", f"{first['f1']:.3f}",
                                      str(first["support"])]  # fmt: skip
    body = [line.split("|")[1].strip() for line in table.splitlines()[2:]]
    assert body == LABELS + ["micro avg", "macro avg", "weighted avg", "samples avg"]


def test_render_markdown_handles_partial_metrics() -> None:
    metrics, _, _ = _make_inputs(("dev",))
    metrics.pop("training")
    metrics["splits"]["dev"]["tuned"]["roc_auc_macro"] = None
    md = render_markdown(metrics)
    assert "Training" not in md and "## Plots" not in md
    summary = _row(md, "dev")  # first summary row is dev @ 0.5
    assert summary[1] == "0.5"
    tuned_row = [line for line in md.splitlines() if line.startswith("| dev | tuned |")]
    assert tuned_row and tuned_row[0].rstrip(" |").endswith("n/a")


def test_render_html_embeds_given_images() -> None:
    metrics, _, _ = _make_inputs(("dev",))
    page = render_html(metrics, {"loss.png": PNG_MAGIC + b"fake"})
    assert page.count("data:image/png;base64,") == 1
    assert base64.b64encode(PNG_MAGIC + b"fake").decode() in page


def test_dev_only_without_history_skips_loss(tmp_path: Path) -> None:
    metrics, probabilities, targets = _make_inputs(("dev",))
    paths = write_report(tmp_path, metrics, probabilities, targets, log_history=[])
    assert {p.name for p in paths} == EXPECTED_PLOTS - {"loss.png"} | {"report.md", "report.html"}
    assert "Per-label plots use the dev split." in (tmp_path / "report.md").read_text()


def test_shape_mismatch_raises_and_writes_nothing(tmp_path: Path) -> None:
    metrics, probabilities, targets = _make_inputs(("dev",))
    probabilities["dev"] = probabilities["dev"][:, :5]
    with pytest.raises(DataError, match="shape"):  # an emotag.errors class, not a bare ValueError
        write_report(tmp_path, metrics, probabilities, targets)
    assert list(tmp_path.iterdir()) == []


def test_cooccurrence_and_confusion_matrices() -> None:
    y = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
    pred = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [1, 1, 0]])
    cooc = cooccurrence_matrix(y)
    np.testing.assert_allclose(cooc[:2, :2], [[1.0, 2 / 3], [2 / 3, 1.0]])
    assert np.isnan(cooc[2]).all()  # label 2 never occurs: unknown, not zero
    conf = label_confusion_matrix(y, pred)
    np.testing.assert_allclose(np.diag(conf)[:2], [2 / 3, 2 / 3])  # diagonal = recall
    np.testing.assert_allclose(conf[0, 1], 2 / 3)  # 2 of 3 true label-0 rows predicted 1
    np.testing.assert_allclose(conf[:2, 2], [0.0, 0.0])  # label 2 never predicted


def test_import_does_not_load_matplotlib_or_jinja() -> None:
    code = ("import sys, emotag.evaluation.report; "
            "print('matplotlib' in sys.modules, 'jinja2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_accepts_real_evaluation_output(tmp_path: Path) -> None:
    evaluation = pytest.importorskip("emotag.evaluation.metrics")
    probs, y = _make_data(7)
    tuned = np.linspace(0.3, 0.7, len(LABELS))
    metrics = {"label_names": LABELS, "thresholds": dict(zip(LABELS, tuned.tolist(), strict=True)),
               "threshold_strategy": "per_label", "model": {"type": "transformer"},
               "splits": {"test": evaluation.evaluate_split(y, probs, tuned, LABELS)}}  # fmt: skip
    write_report(tmp_path, metrics, {"test": probs}, {"test": y})
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    macro = metrics["splits"]["test"]["tuned"]["averages"]["macro"]["f1"]
    assert _row(md, "macro avg")[6] == f"{macro:.3f}"  # F1 tuned column of the split table


def test_templates_are_package_files() -> None:
    from importlib.resources import files

    folder = files("emotag.evaluation").joinpath("templates")
    names = {p.name for p in folder.iterdir()}
    assert {"report.md.j2", "report.html.j2", "tables.md.j2", "tables.html.j2"} <= names


def _headings(text: str, markdown: bool) -> list[str]:
    if markdown:
        return [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]
    return [re.sub(r"<[^>]+>", "", m) for m in re.findall(r"<h[1-3]>(.*?)</h[1-3]>", text)]


def test_markdown_and_html_have_the_same_sections() -> None:
    metrics, _, _ = _make_inputs()
    metrics["data"] = {"train": "train.csv", "label_names": ["a", "b"]}
    images = {"loss.png": PNG_MAGIC + b"x", "per_label_f1.png": PNG_MAGIC + b"y"}
    md = render_markdown(metrics, list(images))
    page = render_html(metrics, images)
    sections = _headings(md, markdown=True)
    assert sections == _headings(page, markdown=False)
    assert sections[:5] == ["emotag evaluation report", "Model", "Data", "Training", "Summary"]
    assert "| label_names | [\"a\", \"b\"] |" in md
    assert md.count("![") == page.count("<img") == 2


def test_custom_label_names_are_escaped_not_interpreted() -> None:
    """A user's own label names reach both reports as text: no markdown cell break, no HTML."""
    names = ["a|b", "<script>x</script>", "plain"]
    per = {n: {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": 4} for n in names}
    ev = {"per_label": per, "averages": {"macro": {"precision": 0.5, "recall": 0.25,
                                                   "f1": 1 / 3, "support": 12}},
          "n_examples": 10}
    metrics = {"label_names": names, "thresholds": dict.fromkeys(names, 0.4),
               "splits": {"test": {"at_0.5": ev, "tuned": ev}}}
    md = render_markdown(metrics)
    assert "| a\\|b | 0.500 | 0.250 | 0.333 |" in md
    assert "Ekman groups" not in md  # no groupings for a custom label set
    page = render_html(metrics)
    assert "<script" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert '<td class="num">0.333</td>' in page and '<tr class="avg">' in page


def test_missing_jinja_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.errors import MissingDependencyError
    from emotag.evaluation import report

    report._environment.cache_clear()
    monkeypatch.setitem(sys.modules, "jinja2", None)
    try:
        with pytest.raises(MissingDependencyError, match=r"emotag\[train\]"):
            render_markdown(_make_inputs(("dev",))[0])
    finally:
        report._environment.cache_clear()
