"""``emotag calibrate``: per-label Platt scaling of a run's scores, fitted on dev."""

from __future__ import annotations

import json
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
    from ..config import EmotagConfig
    from ..data.datasets import load_splits
    from ..evaluation.calibration import calibrate_run
    from ..training.pipeline import CONFIG_FILE

    cfg_file = run_dir / CONFIG_FILE
    cfg = (EmotagConfig.from_dict(json.loads(cfg_file.read_text(encoding="utf-8")))
           if cfg_file.is_file() else EmotagConfig())
    splits = load_splits(cfg.data)
    ece = calibrate_run(run_dir, {s: splits[s].labels for s in ("dev", "test") if s in splits},
                        splits["dev"].label_names)
    for split, v in ece.items():
        console.print(f"{split}: ECE {v['before']:.4f} -> {v['after']:.4f}")
    console.print(f"wrote {run_dir / 'calibration.json'} and {run_dir / 'plots/reliability.png'}")
