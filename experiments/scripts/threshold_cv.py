#!/usr/bin/env python
"""Which threshold strategy holds on rare labels? Cross-validated on dev only.

    python experiments/scripts/threshold_cv.py runs/minilm runs/best

Each strategy is fitted on 4/5 of dev and scored (macro-F1) on the held-out fifth, over
5 folds x 4 shuffles (``cross_val_score`` with :class:`ThresholdTuner`). Scoring thresholds on
the same dev rows they were fitted on flatters per-label tuning on rare labels (grief has 13
dev examples); held-out folds do not.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold, cross_val_score

from emotag.data.datasets import load_goemotions
from emotag.evaluation.thresholds import ThresholdTuner

STRATEGIES = [("fixed 0.5", ThresholdTuner(strategy="fixed")),
              ("global", ThresholdTuner(strategy="global")),
              ("per_label", ThresholdTuner(strategy="per_label")),
              *[(f"per_label_shrunk (prior {k})",
                 ThresholdTuner(strategy="per_label_shrunk", prior_strength=k))
                for k in (5, 20, 50)]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--repeats", type=int, default=4)
    a = ap.parse_args()
    y = load_goemotions()["dev"].labels
    print("| strategy | " + " | ".join(f"{r.name} dev CV macro-F1" for r in a.runs) + " |")
    print("| --- | " + " | ".join("---:" for _ in a.runs) + " |")
    probs = [np.load(r / "predictions" / "dev_probs.npy", allow_pickle=False) for r in a.runs]
    for name, tuner in STRATEGIES:
        cells = []
        for p in probs:
            scores = [cross_val_score(tuner, p, y, cv=KFold(5, shuffle=True, random_state=s))
                      for s in range(a.repeats)]
            s = np.concatenate(scores)
            cells.append(f"{s.mean():.4f} ± {s.std() / np.sqrt(len(s)):.4f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
