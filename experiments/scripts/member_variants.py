#!/usr/bin/env python
"""Members re-expressed before an ensemble averages them (dev checks; neither was
adopted). Each writes a run-like folder (``predictions/{dev,test}_probs.npy`` and an
``ensemble.json`` with the label order) that ``emotag ensemble`` accepts as a member:

    python experiments/scripts/member_variants.py calibrate runs/minilm runs/mpnet ...
        # -> runs/cal-NAME
    python experiments/scripts/member_variants.py average runs/avg-mpnet2 \\
        runs/mpnet runs/mpnet-seed2

- ``calibrate``: per-label Platt scaling of each member, so that members trained with
  different losses (focal scores are less extreme than BCE ones) are averaged on one scale.
  Dev scores are out-of-fold (each fifth of dev is mapped by a fit on the other four fifths,
  so the ensemble's dev search never sees a row's own label in its calibration); test scores
  are mapped by a fit on all of dev.
- ``average``: the equal-weight mean of runs that differ only by seed, as one member, so that
  the weight search has one dimension less (seeds are exchangeable, so equal weights are the
  natural prior).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold

from emotag.data.datasets import load_goemotions
from emotag.evaluation.calibration import PlattCalibrator
from emotag.training.ensembling import RunPredictions, load_run_predictions
from emotag.utils.files import atomic_save_npy, atomic_write_json


def write_member(out: Path, label_names: list[str], dev: np.ndarray, test: np.ndarray,
                 note: str) -> None:
    atomic_save_npy(out / "predictions" / "dev_probs.npy", dev.astype(np.float32))
    atomic_save_npy(out / "predictions" / "test_probs.npy", test.astype(np.float32))
    atomic_write_json(out / "ensemble.json", {"label_names": label_names, "note": note})


def calibrated(run: RunPredictions, y_dev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(out-of-fold calibrated dev scores, test scores calibrated by an all-dev fit)."""
    dev = np.zeros_like(run.dev, dtype=np.float32)
    for fit, held in KFold(5, shuffle=True, random_state=123).split(run.dev):
        dev[held] = PlattCalibrator().fit(run.dev[fit], y_dev[fit]).transform(run.dev[held])
    return dev, PlattCalibrator().fit(run.dev, y_dev).transform(run.test)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command", required=True)
    cal = sub.add_parser("calibrate", help="runs/cal-NAME for each run")
    cal.add_argument("runs", nargs="+", type=Path)
    avg = sub.add_parser("average", help="one member: the mean of the runs")
    avg.add_argument("output", type=Path)
    avg.add_argument("runs", nargs="+", type=Path)
    a = ap.parse_args()
    runs = [load_run_predictions(r) for r in a.runs]
    for run in runs:
        if run.test is None:
            raise SystemExit(f"{run.path}/predictions/test_probs.npy missing; run "
                             f"`emotag evaluate {run.path}` first")
    if a.command == "calibrate":
        y_dev = load_goemotions()["dev"].labels.astype(np.uint8)
        for run in runs:
            out = run.path.parent / f"cal-{run.path.name}"
            dev, test = calibrated(run, y_dev)
            write_member(out, run.label_names, dev, test,
                         f"{run.path}, per-label Platt (dev out-of-fold, test fitted on dev)")
            print(out)
    else:
        write_member(a.output, runs[0].label_names, np.mean([r.dev for r in runs], axis=0),
                     np.mean([r.test for r in runs], axis=0),
                     "equal-weight mean of " + ", ".join(map(str, a.runs)))
        print(a.output)


if __name__ == "__main__":
    main()
