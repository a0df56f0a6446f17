"""``emotag evaluate``: recompute the report of a saved model with its saved thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
        "--split", help="dev and/or test (repeatable; default: both, those the data has).")
    ] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="A labelled csv/tsv/jsonl/parquet file to evaluate instead of the run's "
        "own data (its train_config.json; the bundled GoEmotions for a folder without one).")
    ] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --data.")] = "text",
    label_column: Annotated[str, typer.Option(help="Labels column of --data.")] = "labels",
    taxonomy: Annotated[str, typer.Option(
        "--taxonomy", help="What the labels of --data name: goemotions (the model's own "
        "labels), or ekman | sentiment groups, scored from the model's labels (a group is on "
        "when its score reaches its threshold).")] = "goemotions",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where to write (default: MODEL_DIR/evaluation).")] = None,
    retune: Annotated[bool, typer.Option(
        "--retune-thresholds", help="Tune thresholds again on this model's dev scores (e.g. "
        "after an int8 export) and write thresholds.json to the output folder.")] = False,
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", metavar="N", help="Also print and save (intervals.json) 95% intervals "
        "of the headline numbers from N resamples of each split's rows; 0: none.")] = 0,
) -> None:
    """Recompute metrics.json, report.md/html and plots for a saved model, on the data it was
    trained on (its train_config.json) or on --data FILE."""
    from ..models.base import EVALUATION_DIR, read_manifest
    from ..training.evaluation_run import evaluate_saved, evaluate_taxonomy, evaluation_config
    from .predict import check_taxonomy_name, check_taxonomy_option

    check_taxonomy_name(taxonomy)
    if taxonomy != "goemotions" and data is None:
        raise typer.BadParameter("scores a --data file whose labels are the taxonomy's group "
                                 "names; give --data FILE", param_hint="--taxonomy")
    if retune and data is not None:
        raise typer.BadParameter("--retune-thresholds tunes on the run's dev split; it does "
                                 "not combine with --data", param_hint="--retune-thresholds")
    if data is not None and set(split or ["test"]) != {"test"}:
        raise typer.BadParameter("--data is scored as one test split; drop --split",
                                 param_hint="--split")
    check_taxonomy_option(model_dir, taxonomy)
    out = output or model_dir / EVALUATION_DIR
    # --data is read with the model's labels (the taxonomy's groups: see evaluate_taxonomy)
    labels = (read_manifest(model_dir)["label_names"]
              if data is not None and taxonomy == "goemotions" else None)
    cfg, origin = evaluation_config(model_dir, data, text_column=text_column,
                                    label_column=label_column, label_names=labels)
    if taxonomy != "goemotions":
        metrics = evaluate_taxonomy(model_dir, cfg, taxonomy, out, bootstrap=bootstrap,
                                    data_origin=origin)
    else:
        metrics = evaluate_saved(model_dir, cfg, ["test"] if data is not None else split, out,
                                 retune, bootstrap, data_origin=origin)
    print_headline(metrics)
    if "intervals" in metrics:
        print_intervals(metrics, bootstrap)
    print_data(metrics.get("data", {}))
    console.print(f"report: {out / 'report.md'}", highlight=False, soft_wrap=True)


def print_data(data: dict[str, str]) -> None:
    """Which data was scored: the config it came from, then each split's source and size."""
    for key, value in data.items():
        console.print(f"{'data from' if key == 'config' else key}: {value}", highlight=False,
                      soft_wrap=True)
