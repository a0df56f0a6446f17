#!/usr/bin/env python
"""Two decision variants of an ensemble, held out on dev (session 5; neither was adopted).

    python scripts/decision_variants_cv.py runs/best

Reads the members and weights from the ensemble's ``ensemble.json`` and scores, with the
group-weight-1 thresholds of ``scripts/group_threshold_cv.py`` on the same held-out folds
(fitted on 4/5 of dev, read on the other fifth, 5 folds x 2 shuffles):

- ``as built``: the members' probabilities averaged with the weights (what emotag does);
- ``top-1 fallback``: as built, and a row with no label above its threshold gets its most
  likely label (every GoEmotions example has one);
- ``logit average``: the members' logits averaged with the same weights instead of their
  probabilities (focal-trained scores are less extreme than BCE ones).

Prints macro / Ekman / sentiment macro-F1, their sum, and the share of empty dev rows.
Dev only; test is not read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from group_threshold_cv import scores

from emotag.data import load_goemotions
from emotag.ensemble import combine, dev_folds, load_run_predictions
from emotag.labels import taxonomy_columns
from emotag.thresholds import ThresholdTuner


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def top1_fallback(probs: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``pred`` with each all-zero row given its arg-max label."""
    out = pred.copy()
    empty = np.flatnonzero(out.sum(axis=1) == 0)
    out[empty, probs[empty].argmax(axis=1)] = 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ensemble", type=Path)
    a = ap.parse_args()
    spec = json.loads((a.ensemble / "ensemble.json").read_text(encoding="utf-8"))
    dev = load_goemotions()["dev"]
    y, names = dev.labels.astype(np.uint8), list(dev.label_names)
    members = [load_run_predictions(Path(m)).dev for m in spec["members"]]
    weights = np.asarray(spec["weights"])
    averaged = combine(members, weights).astype(np.float64)
    logit_averaged = 1 / (1 + np.exp(-sum(w * logit(p) for w, p in zip(weights, members,
                                                                          strict=True))))
    variants = {"as built": (averaged, False), "top-1 fallback": (averaged, True),
                "logit average": (logit_averaged, False)}
    groups = taxonomy_columns(names)
    print("| variant | macro / Ekman / sentiment | sum | empty dev rows (held out) |")
    print("| --- | --- | ---: | ---: |")
    for variant, (probs, fallback) in variants.items():
        rows, empty = [], []
        for fit, held in dev_folds(len(y)):
            tuner = ThresholdTuner(group_weight=1.0, groups=groups).fit(probs[fit], y[fit])
            pred = tuner.predict(probs[held])
            empty.append(float((pred.sum(axis=1) == 0).mean()))
            rows.append(scores(y[held], top1_fallback(probs[held], pred) if fallback
                               else pred, names))
        r = np.mean(rows, 0)
        print(f"| {variant} | {' / '.join(f'{v:.4f}' for v in r)} | {r.sum():.4f} | "
              f"{np.mean(empty):.2%} |")


if __name__ == "__main__":
    main()
