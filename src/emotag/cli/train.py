"""``emotag train``: config file + overrides -> a run folder with model and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(markup=False, emoji=False)  # messages carry user paths and labels


def train_command(
    config: Annotated[Path | None, typer.Option("--config", "-c",
                                                help="YAML config (configs/NAME.yaml).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override one setting: group.key=value (repeatable).")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder to write.")] = Path(
        "runs/default"),
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted run from its newest complete checkpoint.")
    ] = False,
) -> None:
    """Train a model, tune thresholds on dev, evaluate on test, write the report."""
    from ..config import load_config
    from ..training.pipeline import train_run

    cfg = load_config(config, set_ or [])
    metrics = train_run(cfg, output, resume=resume)
    if not metrics:  # a non-zero rank of `accelerate launch`/`torchrun`: rank 0 reports
        return
    print_headline(metrics)
    console.print(f"report: {output / 'report.md'}  ({output / 'report.html'})")


def print_headline(metrics: dict) -> None:
    from rich.table import Table

    from ..evaluation.metrics import HEADLINE_KEYS, headline

    table = Table(title="tuned thresholds (chosen on dev)")
    table.add_column("split")
    for c in HEADLINE_KEYS:
        table.add_column(c, justify="right")
    for split, m in metrics["splits"].items():
        h = headline(m)
        table.add_row(split, *(f"{h[c]:.4f}" if c in h else "-" for c in HEADLINE_KEYS))
    console.print(table)
