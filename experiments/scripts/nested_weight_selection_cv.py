#!/usr/bin/env python
"""How should `emotag ensemble --select held_out` score a weighting? Nested, dev only.

    python experiments/scripts/nested_weight_selection_cv.py runs/minilm runs/mpnet \\
        runs/mpnet-top6 runs/tfidf runs/mpnet-seed2
    python experiments/scripts/nested_weight_selection_cv.py runs/mpnet runs/tfidf \\
        runs/mpnet-seed2 runs/knn-minilm --against runs/minilm runs/mpnet runs/tfidf \\
        runs/mpnet-seed2

The held-out weight search re-scores the 30 best in-sample weightings on held-out dev folds and
keeps the best. Scoring and choosing on the same folds flatters the winner, so the scores it
prints (and ``experiments/scripts/group_threshold_cv.py`` on the built ensemble) are
optimistic. Here the
whole procedure runs inside each outer fold: weights searched on 4/5 of dev (with its own
inner folds), group-weight-1 thresholds fitted on the same 4/5, decisions read on the outer
fifth that neither saw (5 folds x 2 shuffles). Two ways to score a weighting are compared:

- ``macro``: held-out macro-F1 (emotag until commit e3f38ec);
- ``objective``: held-out macro-F1 + Ekman + sentiment macro-F1, what the group-weight-1
  thresholds are tuned for (emotag since commit e3f38ec, when ``--group-weight`` is given).

Prints macro / Ekman / sentiment macro-F1 and their sum per outer fold and on average.

``--against RUNS...`` runs the same procedure ("objective") for a second member set on the
same outer folds and prints the paired difference of the sums with its standard error. The
ten outer folds overlap (each fit part shares most rows with the others), so the naive
standard error is too small; the Nadeau & Bengio (2003) correction scales the variance of the
mean difference by ``1/J + n_held/n_fit`` instead of ``1/J``. Test is not read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from group_threshold_cv import scores
from joblib import Parallel, delayed

from emotag.data.datasets import load_goemotions
from emotag.evaluation.thresholds import ThresholdTuner
from emotag.labels import taxonomy_columns
from emotag.models.ensemble import combine
from emotag.training.ensembling import load_run_predictions
from emotag.training.weight_search import SEARCH_GRID, dev_folds, search_weights


def outer_fold(members: list[np.ndarray], y: np.ndarray, names: list[str], fit: np.ndarray,
               held: np.ndarray, ways: tuple[str, ...] = ("macro", "objective")
               ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each way of scoring: (held-out macro / Ekman / sentiment, chosen weights)."""
    groups = taxonomy_columns(names)
    tuners = {"macro": ThresholdTuner(grid=SEARCH_GRID),
              "objective": ThresholdTuner(grid=SEARCH_GRID, group_weight=1.0, groups=groups)}
    fit_probs = [m[fit] for m in members]
    out = {}
    for name in ways:
        weights, _ = search_weights(fit_probs, y[fit], selection="held_out", tuner=tuners[name])
        final = ThresholdTuner(group_weight=1.0, groups=groups)
        final.fit(combine(fit_probs, weights), y[fit])
        pred = final.predict(combine([m[held] for m in members], weights))
        out[name] = (scores(y[held], pred, names), weights)
    return out


def corrected_paired_se(diffs: np.ndarray, held_fraction: float) -> float:
    """Standard error of the mean of ``diffs`` (one per resampled fold) with Nadeau & Bengio's
    correction for overlapping training sets: ``sqrt((1/J + n_held/n_fit) * var)``."""
    j = len(diffs)
    return float(np.sqrt((1 / j + held_fraction / (1 - held_fraction)) * np.var(diffs, ddof=1)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--against", nargs="+", type=Path, default=None,
                    help="a second member set, scored on the same folds for a paired difference")
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
    if a.against:
        base = [load_run_predictions(r).dev for r in a.against]
        others = Parallel(n_jobs=a.jobs)(
            delayed(outer_fold)(base, y, names, fit, held, ("objective",)) for fit, held in folds)
        mine = np.array([res["objective"][0].sum() for res in results])
        theirs = np.array([res["objective"][0].sum() for res in others])
        diffs = mine - theirs
        se = corrected_paired_se(diffs, len(folds[0][1]) / len(y))
        print(f"against {' '.join(map(str, a.against))}: objective sum {theirs.mean():.4f}")
        print(f"paired difference {diffs.mean():+.4f}, corrected standard error {se:.4f} "
              f"(per fold: {' '.join(f'{d:+.4f}' for d in diffs)})")


if __name__ == "__main__":
    main()
