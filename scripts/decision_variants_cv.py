#!/usr/bin/env python
"""Decision variants of an ensemble, held out on dev (sessions 5 and 6; none was adopted).

    python scripts/decision_variants_cv.py runs/best

Reads the members and weights from the ensemble's ``ensemble.json`` and scores, with the
group-weight-1 thresholds of ``scripts/group_threshold_cv.py`` on the same held-out folds
(fitted on 4/5 of dev, read on the other fifth, 5 folds x 2 shuffles):

- ``as built``: the members' probabilities averaged with the weights (what emotag does);
- ``top-1 fallback``: as built, and a row with no label above its threshold gets its most
  likely label (every GoEmotions example has one);
- ``logit average``: the members' logits averaged with the same weights instead of their
  probabilities (focal-trained scores are less extreme than BCE ones);
- ``group fallback`` (session 6): as built, and a multi-member Ekman or sentiment group whose
  noisy-OR score ``1 - prod(1 - p)`` reaches its own threshold while none of its members is
  predicted gets its most likely member. A group's mass can be spread over members that each
  stay under their thresholds; the group thresholds (or "off") are fitted on the same 4/5 of
  dev by coordinate ascent on the sum macro + Ekman + sentiment.

Prints macro / Ekman / sentiment macro-F1, their sum, and the share of empty dev rows.
Dev only; test is not read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from group_threshold_cv import scores

from emotag.calibration import logit
from emotag.data import load_goemotions
from emotag.ensemble import combine, dev_folds, load_run_predictions
from emotag.labels import taxonomy_columns
from emotag.thresholds import ThresholdTuner


def top1_fallback(probs: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``pred`` with each all-zero row given its arg-max label."""
    out = pred.copy()
    empty = np.flatnonzero(out.sum(axis=1) == 0)
    out[empty, probs[empty].argmax(axis=1)] = 1
    return out


GROUP_GRID = [np.inf, *np.round(np.arange(0.30, 0.951, 0.05), 2)]  # inf: the group is off


def group_fallback(probs: np.ndarray, pred: np.ndarray, groups: list[list[int]],
                   taus: list[float]) -> np.ndarray:
    """``pred`` with each group whose noisy-OR score reaches its tau and that has no predicted
    member given its most likely member."""
    out = pred.copy()
    for group, tau in zip(groups, taus, strict=True):
        cols = np.asarray(group)
        noisy_or = 1 - np.prod(1 - probs[:, cols], axis=1)
        rows = np.flatnonzero((noisy_or >= tau) & (out[:, cols].sum(axis=1) == 0))
        out[rows, cols[probs[rows][:, cols].argmax(axis=1)]] = 1
    return out


def fit_group_taus(probs: np.ndarray, y: np.ndarray, pred: np.ndarray, groups: list[list[int]],
                   names: list[str], rounds: int = 2) -> list[float]:
    """Coordinate ascent over the groups' taus for macro + Ekman + sentiment on these rows."""
    taus = [np.inf] * len(groups)
    best = scores(y, pred, names).sum()
    for _ in range(rounds):
        for k in range(len(groups)):
            for tau in GROUP_GRID:
                trial = [*taus[:k], tau, *taus[k + 1:]]
                value = scores(y, group_fallback(probs, pred, groups, trial), names).sum()
                if value > best + 1e-9:
                    best, taus = value, trial
    return taus


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
    groups = taxonomy_columns(names)
    multi = [g for taxonomy in groups for g in taxonomy if len(g) > 1]
    variants = {"as built": (averaged, "none"), "top-1 fallback": (averaged, "top1"),
                "logit average": (logit_averaged, "none"),
                "group fallback": (averaged, "group")}
    print("| variant | macro / Ekman / sentiment | sum | empty dev rows (held out) |")
    print("| --- | --- | ---: | ---: |")
    for variant, (probs, post) in variants.items():
        rows, empty = [], []
        for fit, held in dev_folds(len(y)):
            tuner = ThresholdTuner(group_weight=1.0, groups=groups).fit(probs[fit], y[fit])
            pred = tuner.predict(probs[held])
            empty.append(float((pred.sum(axis=1) == 0).mean()))
            if post == "top1":
                pred = top1_fallback(probs[held], pred)
            elif post == "group":
                taus = fit_group_taus(probs[fit], y[fit], tuner.predict(probs[fit]), multi,
                                      names)
                pred = group_fallback(probs[held], pred, multi, taus)
            rows.append(scores(y[held], pred, names))
        r = np.mean(rows, 0)
        print(f"| {variant} | {' / '.join(f'{v:.4f}' for v in r)} | {r.sum():.4f} | "
              f"{np.mean(empty):.2%} |")


if __name__ == "__main__":
    main()
