#!/usr/bin/env python
"""Copy what anyone needs to recompute a run's numbers into a committed folder.

    python scripts/publish_results.py runs/best results/best

Copies ``predictions/{dev,test}_probs.npy``, ``thresholds.json``, ``metrics.json``,
``report.md``, ``run_log.json``, ``train_config.json`` and, where present, ``ensemble.json``
and ``calibration.json``. ``scripts/recompute_metrics.py DEST`` then re-derives the headline
numbers from the probabilities, the thresholds and the bundled labels alone.

A teacher's scores on the training texts (``predictions/train_probs.{npy,json}``, what a
student distils from without the members) are not part of a run: they are kept from the old
DEST when its ``ensemble.json`` (members and weights) is the run's, and dropped otherwise.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

TEACHER_FILES = ["predictions/train_probs.npy", "predictions/train_probs.json"]
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
    spec = "ensemble.json"
    same_teacher = ((a.dest / spec).is_file() and (a.run / spec).is_file()
                    and (a.dest / spec).read_bytes() == (a.run / spec).read_bytes())
    for rel in TEACHER_FILES:
        if (a.dest / rel).is_file() and not (tmp / rel).is_file():
            if same_teacher:
                shutil.copy2(a.dest / rel, tmp / rel)
            else:
                print(f"dropped {a.dest / rel}: the ensemble changed, so these scores are not its")
    old = a.dest.with_name(a.dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if a.dest.exists():
        a.dest.rename(old)
    tmp.rename(a.dest)
    shutil.rmtree(old, ignore_errors=True)
    print(f"wrote {a.dest}")


if __name__ == "__main__":
    main()
