#!/usr/bin/env python
"""Recompute a published result's headline numbers from its committed files alone.

    python scripts/recompute_metrics.py results/best

Reads ``predictions/{dev,test}_probs.npy`` and ``thresholds.json`` from the folder and the
labels from the bundled GoEmotions copy, and prints macro/micro F1 and the Ekman and
sentiment macro-F1 (a group is predicted when any member emotion is) per split.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from emotag.data import load_goemotions
from emotag.evaluation import evaluate_decisions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    a = ap.parse_args()
    splits = load_goemotions()
    names = splits["dev"].label_names
    saved = json.loads((a.folder / "thresholds.json").read_text(encoding="utf-8"))
    t = np.array([saved[n] for n in names])
    print("| split | macro-F1 | micro-F1 | Ekman macro-F1 | sentiment macro-F1 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for split in ("dev", "test"):
        probs = np.load(a.folder / "predictions" / f"{split}_probs.npy", allow_pickle=False)
        ev = evaluate_decisions(splits[split].labels, probs, t, names)
        g = ev["groupings"]
        print(f"| {split} | {ev['averages']['macro']['f1']:.4f} | "
              f"{ev['averages']['micro']['f1']:.4f} | "
              f"{g['ekman']['averages']['macro']['f1']:.4f} | "
              f"{g['sentiment']['averages']['macro']['f1']:.4f} |")


if __name__ == "__main__":
    main()
