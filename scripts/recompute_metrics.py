#!/usr/bin/env python
"""Recompute a published result's headline numbers from its committed files alone.

    python scripts/recompute_metrics.py results/best
    python scripts/recompute_metrics.py results/best --bootstrap 2000

Reads ``predictions/{dev,test}_probs.npy`` and ``thresholds.json`` from the folder and the
labels from the bundled GoEmotions copy, and prints macro/micro F1 and the Ekman and
sentiment macro-F1 (a group is predicted when any member emotion is) per split.

``--bootstrap N`` adds a 95% interval to each number (:func:`emotag.evaluation.metrics.
bootstrap_intervals`: the split's rows resampled N times, model and thresholds fixed). A goal
line inside the interval is one the split cannot tell the model apart from. It reports the
numbers already chosen; nothing is chosen by it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from emotag.data.datasets import load_goemotions
from emotag.evaluation.metrics import HEADLINE_KEYS, bootstrap_intervals, evaluate_decisions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--bootstrap", type=int, default=0, metavar="N",
                    help="add 95%% intervals from N row resamples of each split (0: none)")
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
        cells = [f"{v:.4f}" for v in (
            ev["averages"]["macro"]["f1"], ev["averages"]["micro"]["f1"],
            g["ekman"]["averages"]["macro"]["f1"], g["sentiment"]["averages"]["macro"]["f1"])]
        if a.bootstrap:
            iv = bootstrap_intervals(splits[split].labels, probs >= t[None, :], names,
                                     n_resamples=a.bootstrap)
            cells = [f"{c} [{iv[k][0]:.4f}, {iv[k][1]:.4f}]"
                     for c, k in zip(cells, HEADLINE_KEYS, strict=True)]
        print(f"| {split} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
