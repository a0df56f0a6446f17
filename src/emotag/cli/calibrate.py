"""``emotag calibrate``: per-label Platt scaling of a run's scores, fitted on dev."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .train import console


def calibrate_command(
    run_dir: Annotated[Path, typer.Argument(
        help="A run or ensemble folder with predictions/dev_probs.npy.")],
) -> None:
    """Fit calibration.json on dev, plot reliability, print ECE before/after.

    Decisions do not change (the per-label map is increasing); scores served by
    `emotag predict` and `emotag.load()` become calibrated.
    """
    from ..evaluation.calibration import calibrate_run
    from ..training.evaluation_run import evaluation_config, evaluation_splits

    # the data the run was trained and tuned on, read as `emotag evaluate` reads it
    cfg, _ = evaluation_config(run_dir)
    splits = evaluation_splits(cfg)
    ece = calibrate_run(run_dir, {s: splits[s].labels for s in ("dev", "test") if s in splits},
                        splits["dev"].label_names)
    for split, v in ece.items():
        console.print(f"{split}: ECE {v['before']:.4f} -> {v['after']:.4f}")
    console.print(f"wrote {run_dir / 'calibration.json'} and {run_dir / 'plots/reliability.png'}")
