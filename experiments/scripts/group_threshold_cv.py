#!/usr/bin/env python
"""Do thresholds tuned for the Ekman and sentiment groupings too pay off? Dev only, held out.

    python experiments/scripts/group_threshold_cv.py runs/best --weights 0 0.5 1 2

A group is predicted when any member emotion is, so the 28 per-label thresholds also decide
the group F1s. ``ThresholdTuner(group_weight=w)`` starts from the per-label (shrunk)
thresholds and re-tunes each label in turn for ``macro-F1 + w * (Ekman + sentiment
macro-F1)``; here it is fitted on 4/5 of dev and scored on the held-out fifth, 5 folds x 2
shuffles. Prints the three held-out scores without (w = 0) and with re-tuning, and the
re-tuned sum macro + Ekman + sentiment (the score for choosing ensemble members).
``--prior-strength`` changes the shrinkage of both tunings (5 to 80 were checked).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emotag.data.datasets import load_goemotions
from emotag.evaluation.thresholds import ThresholdTuner, grouped_macro_f1s
from emotag.labels import taxonomy_columns
from emotag.training.weight_search import dev_folds


def scores(y: np.ndarray, pred: np.ndarray, names: list[str]) -> np.ndarray:
    """(macro-F1, Ekman macro-F1, sentiment macro-F1) of 0/1 decisions."""
    return grouped_macro_f1s(y, pred, taxonomy_columns(names))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--weights", nargs="+", type=float, default=[0.5, 1.0, 2.0])
    ap.add_argument("--prior-strength", type=float, default=20.0,
                    help="per_label_shrunk pseudo-count of both tunings (emotag's default: 20)")
    a = ap.parse_args()
    dev = load_goemotions()["dev"]
    y = dev.labels.astype(np.uint8)
    probs = np.load(a.run / "predictions" / "dev_probs.npy", allow_pickle=False)
    names = list(dev.label_names)
    groups = taxonomy_columns(names)
    print("| group_weight | w = 0: macro / Ekman / sentiment | re-tuned | difference | "
          "re-tuned sum |")
    print("| ---: | --- | --- | --- | ---: |")
    for weight in a.weights:
        plain, tuned = [], []
        for fit, held in dev_folds(len(probs)):  # the folds `emotag ensemble` scores on
            base = ThresholdTuner(prior_strength=a.prior_strength).fit(probs[fit], y[fit])
            plain.append(scores(y[held], base.predict(probs[held]), names))
            grouped = ThresholdTuner(prior_strength=a.prior_strength, group_weight=weight,
                                      groups=groups)
            grouped.fit(probs[fit], y[fit])
            tuned.append(scores(y[held], grouped.predict(probs[held]), names))
        p, r = np.mean(plain, 0), np.mean(tuned, 0)
        print(f"| {weight:g} | {' / '.join(f'{v:.4f}' for v in p)} | "
              f"{' / '.join(f'{v:.4f}' for v in r)} | "
              f"{' / '.join(f'{v:+.4f}' for v in r - p)} | {r.sum():.4f} |")


if __name__ == "__main__":
    main()
