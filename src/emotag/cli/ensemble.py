"""``emotag ensemble``: combine trained runs with weights and thresholds chosen on dev."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config import THRESHOLD_STRATEGIES
from .train import console, print_headline


def ensemble_command(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (each with predictions/).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Ensemble folder to write.")],
    step: Annotated[float, typer.Option(help="Weight grid step on the simplex.")] = 0.1,
    strategy: Annotated[str, typer.Option(
        help=f"Threshold strategy: {' | '.join(THRESHOLD_STRATEGIES)}")] = "per_label_shrunk",
    prior_strength: Annotated[float, typer.Option(help="per_label_shrunk pseudo-count.")] = 20.0,
    group_weight: Annotated[float, typer.Option(
        min=0.0, help="Then re-tune thresholds for macro-F1 + this x (Ekman + sentiment "
        "macro-F1); 0: off.")] = 0.0,
) -> None:
    """Average the runs' probabilities with dev-chosen weights; tune thresholds on dev."""
    from ..pipeline import ensemble_run

    metrics = ensemble_run(runs, output, step=step, strategy=strategy,
                           prior_strength=prior_strength, group_weight=group_weight)
    console.print(f"weights: {dict(zip(map(str, runs), metrics['model']['weights'], strict=True))}")
    print_headline(metrics)
    console.print(f"report: {output / 'report.md'}")
