#!/usr/bin/env python
"""How should `emotag ensemble --select held_out` score a weighting? Nested, dev only.

    python scripts/nested_weight_selection_cv.py runs/minilm runs/mpnet runs/mpnet-top6 \\
        runs/tfidf runs/mpnet-seed2

The held-out weight search re-scores the 30 best in-sample weightings on held-out dev folds and
keeps the best. Scoring and choosing on the same folds flatters the winner, so the scores it
prints (and ``scripts/group_threshold_cv.py`` on the built ensemble) are optimistic. Here the
whole procedure runs inside each outer fold: weights searched on 4/5 of dev (with its own
inner folds), group-weight-1 thresholds fitted on the same 4/5, decisions read on the outer
fifth that neither saw (5 folds x 2 shuffles). Two ways to score a weighting are compared:

- ``macro``: held-out macro-F1 (emotag until session 6);
- ``objective``: held-out macro-F1 + Ekman + sentiment macro-F1, what the group-weight-1
  thresholds are tuned for (emotag since session 6, when ``--group-weight`` is given).

Prints macro / Ekman / sentiment macro-F1 and their sum per outer fold and on average. Test is
not read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from group_threshold_cv import scores
from joblib import Parallel, delayed

from emotag.data import load_goemotions
from emotag.ensemble import SEARCH_GRID, combine, dev_folds, load_run_predictions, search_weights
from emotag.labels import taxonomy_columns
from emotag.thresholds import ThresholdTuner


def outer_fold(members: list[np.ndarray], y: np.ndarray, names: list[str], fit: np.ndarray,
               held: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each way of scoring: (held-out macro / Ekman / sentiment, chosen weights)."""
    groups = taxonomy_columns(names)
    tuners = {"macro": ThresholdTuner(grid=SEARCH_GRID),
              "objective": ThresholdTuner(grid=SEARCH_GRID, group_weight=1.0, groups=groups)}
    fit_probs = [m[fit] for m in members]
    out = {}
    for name, tuner in tuners.items():
        weights, _ = search_weights(fit_probs, y[fit], selection="held_out", tuner=tuner)
        final = ThresholdTuner(group_weight=1.0, groups=groups)
        final.fit(combine(fit_probs, weights), y[fit])
        pred = final.predict(combine([m[held] for m in members], weights))
        out[name] = (scores(y[held], pred, names), weights)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    dev = load_goemotions()["dev"]
    y, names = dev.labels.astype(np.uint8), list(dev.label_names)
    members = [load_run_predictions(r).dev for r in a.runs]
    folds = dev_folds(len(y))
    results = Parallel(n_jobs=a.jobs)(delayed(outer_fold)(members, y, names, fit, held)
                                      for fit, held in folds)
    print("| outer fold | macro: weights | macro / Ekman / sentiment (sum) | objective: weights "
          "| macro / Ekman / sentiment (sum) |")
    print("| ---: | --- | --- | --- | --- |")
    for k, res in enumerate(results):
        cells = [f"{' / '.join(f'{w:g}' for w in res[n][1])} | "
                 f"{' / '.join(f'{v:.4f}' for v in res[n][0])} ({res[n][0].sum():.4f})"
                 for n in ("macro", "objective")]
        print(f"| {k} | {' | '.join(cells)} |")
    for n in ("macro", "objective"):
        r = np.mean([res[n][0] for res in results], axis=0)
        print(f"{n}: {' / '.join(f'{v:.4f}' for v in r)}, sum {r.sum():.4f}")


if __name__ == "__main__":
    main()
