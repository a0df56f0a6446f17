"""``emotag evaluate``: recompute the report of a saved model with its saved thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config import load_config
from .train import console, print_headline


def print_intervals(metrics: dict, n_resamples: int) -> None:
    """Each headline number with its bootstrap interval: a row per number, a column per split
    (narrow enough for an 80-column terminal)."""
    from rich.table import Table

    from ..evaluation.metrics import HEADLINE_KEYS, headline

    intervals = metrics["intervals"]
    points = {split: headline(metrics["splits"][split]) for split in intervals}
    table = Table(title=f"95% intervals, {n_resamples} resamples of each split's rows")
    table.add_column("metric")
    for split in intervals:
        table.add_column(split, justify="right")
    for key in HEADLINE_KEYS:
        cells = [f"{points[split][key]:.4f} [{iv[key][0]:.4f}, {iv[key][1]:.4f}]"
                 if key in iv else "-" for split, iv in intervals.items()]
        if any(c != "-" for c in cells):
            table.add_row(key, *cells)
    console.print(table)


def evaluate_command(
    model_dir: Annotated[Path, typer.Argument(help="A run/model folder made by emotag train.")],
    split: Annotated[list[str] | None, typer.Option(
        "--split", help="dev and/or test (repeatable; default both).")] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="A labelled csv/tsv/jsonl/parquet file to evaluate instead.")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --data.")] = "text",
    label_column: Annotated[str, typer.Option(help="Labels column of --data.")] = "labels",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where to write (default: MODEL_DIR/evaluation).")] = None,
    retune: Annotated[bool, typer.Option(
        "--retune-thresholds", help="Tune thresholds again on this model's dev scores (e.g. "
        "after an int8 export) and write thresholds.json to the output folder.")] = False,
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", metavar="N", help="Also print and save (intervals.json) 95% intervals "
        "of the headline numbers from N resamples of each split's rows; 0: none.")] = 0,
) -> None:
    """Recompute metrics.json, report.md/html and plots for a saved model."""
    from ..models.base import read_manifest
    from ..training.pipeline import evaluate_saved

    overrides: list[str] = []
    splits = split or ["dev", "test"]
    if data is not None:
        labels = read_manifest(model_dir)["label_names"]
        overrides = ["data.dataset=files", f"data.train_file={data}",
                     f"data.validation_file={data}", f"data.test_file={data}",
                     f"data.text_column={text_column}", f"data.label_column={label_column}",
                     f"data.label_names={labels}"]
        splits = ["test"]
    cfg = load_config(None, overrides)
    if retune and data is not None:
        raise typer.BadParameter("--retune-thresholds tunes on the bundled dev split; it does "
                                 "not combine with --data")
    metrics = evaluate_saved(model_dir, cfg, splits, output or model_dir / "evaluation", retune,
                             bootstrap)
    print_headline(metrics)
    if "intervals" in metrics:
        print_intervals(metrics, bootstrap)
    console.print(f"report: {(output or model_dir / 'evaluation') / 'report.md'}")
