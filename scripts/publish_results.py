#!/usr/bin/env python
"""Copy what anyone needs to recompute a run's numbers into a committed folder.

    python scripts/publish_results.py runs/best results/best

Copies ``predictions/{dev,test}_probs.npy``, ``thresholds.json``, ``metrics.json``,
``report.md``, ``run_log.json``, ``train_config.json`` and, where present, ``ensemble.json``
and ``calibration.json``. ``scripts/recompute_metrics.py DEST`` then re-derives the headline
numbers from the probabilities, the thresholds and the bundled labels alone.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

FILES = ["thresholds.json", "metrics.json", "report.md", "run_log.json", "train_config.json",
         "ensemble.json", "calibration.json", "predictions/dev_probs.npy",
         "predictions/test_probs.npy", "plots/reliability.png", "plots/per_label_f1.png"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("dest", type=Path)
    a = ap.parse_args()
    tmp = a.dest.with_name(a.dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for rel in FILES:
        src = a.run / rel
        if src.is_file():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tmp / rel)
    for required in ("thresholds.json", "predictions/dev_probs.npy",
                     "predictions/test_probs.npy"):
        if not (tmp / required).is_file():
            raise SystemExit(f"{a.run}: {required} missing")
    old = a.dest.with_name(a.dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if a.dest.exists():
        a.dest.rename(old)
    tmp.rename(a.dest)
    shutil.rmtree(old, ignore_errors=True)
    print(f"wrote {a.dest}")


if __name__ == "__main__":
    main()
