#!/usr/bin/env python
"""Do thresholds tuned for the Ekman and sentiment groupings too pay off? Dev only, held out.

    python scripts/group_threshold_cv.py runs/best --weights 1,0,0 1,0.5,0.5 1,1,1 1,2,2

A group is predicted when any member emotion is, so the 28 per-label thresholds also decide
the group F1s. This starts from the per-label (shrunk) thresholds and re-tunes each label in
turn (two passes, grid 0.02..0.95) for ``w0 * macro-F1 + w1 * Ekman macro-F1 + w2 * sentiment
macro-F1``; fitted on 4/5 of dev and scored on the held-out fifth, 5 folds x 2 shuffles.
Prints the three held-out scores for the plain and the re-tuned thresholds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold

from emotag.data import load_goemotions
from emotag.labels import taxonomy_groups
from emotag.thresholds import ThresholdTuner

GRID = np.round(np.arange(0.02, 0.96, 0.01), 3)
TAXONOMIES = ("ekman", "sentiment")


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    d = 2 * tp + fp + fn
    return np.where(d > 0, 2 * tp / np.maximum(d, 1), 0.0)


def group_columns(names: list[str]) -> dict[str, list[list[int]]]:
    index = {n: i for i, n in enumerate(names)}
    return {t: [[index[m] for m in members if m in index]
                for members in taxonomy_groups(t).values()] for t in TAXONOMIES}


def scores(y: np.ndarray, probs: np.ndarray, t: np.ndarray,
           groups: dict[str, list[list[int]]]) -> np.ndarray:
    """(macro-F1, Ekman macro-F1, sentiment macro-F1) of the decisions ``probs >= t``."""
    pred = probs >= t
    out = [f1_score(y, pred, average="macro", zero_division=0)]
    for tax in TAXONOMIES:
        gy = np.stack([y[:, c].any(1) for c in groups[tax]], 1)
        gp = np.stack([pred[:, c].any(1) for c in groups[tax]], 1)
        out.append(f1_score(gy, gp, average="macro", zero_division=0))
    return np.array(out)


def retune(y: np.ndarray, probs: np.ndarray, t: np.ndarray, weights: tuple[float, ...],
           groups: dict[str, list[list[int]]], passes: int = 2) -> np.ndarray:
    """Coordinate ascent on the weighted objective, one label's threshold at a time."""
    t = t.copy()
    n_labels = len(t)
    for _ in range(passes):
        for j in np.random.RandomState(0).permutation(n_labels):
            pred_j = probs[:, j][:, None] >= GRID[None, :]  # every candidate at once
            y_j = y[:, j][:, None]
            objective = weights[0] / n_labels * _f1((pred_j & y_j).sum(0), (pred_j & ~y_j).sum(0),
                                                    (~pred_j & y_j).sum(0))
            for w, tax in zip(weights[1:], TAXONOMIES, strict=True):
                for cols in groups[tax]:
                    if j not in cols:
                        continue
                    others = [c for c in cols if c != j]
                    rest = ((probs[:, others] >= t[others]).any(1) if others
                            else np.zeros(len(probs), bool))
                    gp = rest[:, None] | pred_j
                    gy = y[:, cols].any(1)[:, None]
                    objective = objective + w / len(groups[tax]) * _f1(
                        (gp & gy).sum(0), (gp & ~gy).sum(0), (~gp & gy).sum(0))
            t[j] = GRID[int(np.argmax(objective))]
    return t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--weights", nargs="+", default=["1,0,0", "1,0.5,0.5", "1,1,1", "1,2,2"])
    a = ap.parse_args()
    dev = load_goemotions()["dev"]
    y = dev.labels.astype(bool)
    probs = np.load(a.run / "predictions" / "dev_probs.npy", allow_pickle=False)
    groups = group_columns(list(dev.label_names))
    print("| weights (macro, Ekman, sentiment) | plain: macro / Ekman / sentiment "
          "| re-tuned | difference |")
    print("| --- | --- | --- | --- |")
    for spec in a.weights:
        weights = tuple(float(x) for x in spec.split(","))
        plain, tuned = [], []
        for seed in (0, 1):
            for fit, held in KFold(5, shuffle=True, random_state=seed).split(probs):
                t = ThresholdTuner().fit(probs[fit], y[fit].astype(np.uint8)).thresholds_
                plain.append(scores(y[held], probs[held], t, groups))
                t2 = retune(y[fit], probs[fit], t, weights, groups)
                tuned.append(scores(y[held], probs[held], t2, groups))
        p, r = np.mean(plain, 0), np.mean(tuned, 0)
        print(f"| {spec} | {' / '.join(f'{v:.4f}' for v in p)} | "
              f"{' / '.join(f'{v:.4f}' for v in r)} | "
              f"{' / '.join(f'{v:+.4f}' for v in r - p)} |")


if __name__ == "__main__":
    main()
