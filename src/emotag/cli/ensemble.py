"""``emotag ensemble``: combine trained runs with weights and thresholds chosen on dev."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config import THRESHOLD_STRATEGIES, WEIGHT_SELECTIONS
from .train import console, print_headline


def ensemble_command(
    runs: Annotated[list[Path], typer.Argument(help="Member run or model folders.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Ensemble folder to write.")],
    step: Annotated[float, typer.Option(help="Weight grid step on the simplex.")] = 0.1,
    strategy: Annotated[str, typer.Option(
        help=f"Threshold strategy: {' | '.join(THRESHOLD_STRATEGIES)}")] = "per_label_shrunk",
    prior_strength: Annotated[float, typer.Option(help="per_label_shrunk pseudo-count.")] = 20.0,
    group_weight: Annotated[float, typer.Option(
        min=0.0, help="Then re-tune thresholds for macro-F1 + this x (Ekman + sentiment "
        "macro-F1); 0: off.")] = 0.0,
    select: Annotated[str, typer.Option(
        help=f"How weights are scored: {' | '.join(WEIGHT_SELECTIONS)} (held_out: thresholds "
        "fitted on 4/5 of dev, scored on the rest, 5 folds x 2).")] = "in_sample",
    top: Annotated[int, typer.Option(
        min=1, help="held_out: re-score this many of the best in-sample weightings.")] = 30,
) -> None:
    """Average the runs' probabilities with dev-chosen weights; tune thresholds on dev.

    The output folder is a model (members copied into it) that predict, serve, evaluate,
    calibrate and emotag.load() take like any other. A member without saved predictions
    (an exported ONNX folder, the default model) is scored on dev and test first."""
    from ..training.ensembling import ensemble_run

    metrics = ensemble_run(runs, output, step=step, strategy=strategy,
                           prior_strength=prior_strength, group_weight=group_weight,
                           selection=select, top=top)
    console.print(f"weights: {dict(zip(map(str, runs), metrics['model']['weights'], strict=True))}")
    print_headline(metrics)
    console.print(f"report: {output / 'report.md'}")
    if "not_a_model" in metrics["model"]:
        console.print(f"not a model ({metrics['model']['not_a_model']}): scores, thresholds and "
                      "report only", highlight=False)
    else:
        console.print(f"model: {output} (use it like any model: emotag predict / serve / "
                      "evaluate, emotag.load)", highlight=False)
