#!/usr/bin/env python
"""Decision variants of an ensemble, held out on dev (none was adopted).

    python experiments/scripts/decision_variants_cv.py runs/best

Reads the members and weights from the ensemble's ``ensemble.json`` and scores, with the
group-weight-1 thresholds of ``experiments/scripts/group_threshold_cv.py`` on the same
held-out folds
(fitted on 4/5 of dev, read on the other fifth, 5 folds x 2 shuffles):

- ``as built``: the members' probabilities averaged with the weights (what emotag does);
- ``top-1 fallback``: as built, and a row with no label above its threshold gets its most
  likely label (every GoEmotions example has one);
- ``logit average``: the members' logits averaged with the same weights instead of their
  probabilities (focal-trained scores are less extreme than BCE ones);
- ``group fallback``: as built, and a multi-member Ekman or sentiment group whose
  noisy-OR score ``1 - prod(1 - p)`` reaches its own threshold while none of its members is
  predicted gets its most likely member. A group's mass can be spread over members that each
  stay under their thresholds; the group thresholds (or "off") are fitted on the same 4/5 of
  dev by coordinate ascent on the sum macro + Ekman + sentiment.

- ``neutral conflicts``: as built, and where neutral and at least one emotion
  are predicted, ``r_n = p_neutral / t_neutral`` is compared with ``r_e``, the largest
  ``p / t`` of the predicted emotions: neutral is dropped when ``r_e >= a * r_n``, the
  emotions when ``r_n >= b * r_e``, both kept otherwise; ``a`` and ``b`` (or "never") are
  fitted on the same 4/5 of dev for the sum macro + Ekman + sentiment.

Prints macro / Ekman / sentiment macro-F1, their sum, and the share of empty dev rows.
Dev only; test is not read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from group_threshold_cv import scores

from emotag.data.datasets import load_goemotions
from emotag.evaluation.calibration import logit
from emotag.evaluation.thresholds import ThresholdTuner
from emotag.labels import taxonomy_columns
from emotag.models.ensemble import combine
from emotag.training.ensembling import load_run_predictions
from emotag.training.weight_search import dev_folds


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


CONFLICT_GRID = [1.0, 1.1, 1.25, 1.5, 2.0, 3.0, np.inf]  # inf: never


def resolve_neutral_conflicts(probs: np.ndarray, pred: np.ndarray, thresholds: np.ndarray,
                              neutral: int, a: float, b: float) -> np.ndarray:
    """``pred`` with rows predicting neutral and an emotion resolved by threshold ratios."""
    out = pred.copy()
    ratio = probs / thresholds
    emotions = np.delete(np.arange(pred.shape[1]), neutral)
    r_e = np.where(out[:, emotions] == 1, ratio[:, emotions], -np.inf).max(axis=1)
    r_n = ratio[:, neutral]
    conflict = (out[:, neutral] == 1) & np.isfinite(r_e)
    drop_neutral = conflict & (r_e >= a * r_n)
    drop_emotions = conflict & ~drop_neutral & (r_n >= b * r_e)
    out[drop_neutral, neutral] = 0
    out[np.ix_(drop_emotions, emotions)] = 0
    return out


def fit_conflict_ratios(probs: np.ndarray, y: np.ndarray, pred: np.ndarray,
                        thresholds: np.ndarray, neutral: int,
                        names: list[str]) -> tuple[float, float]:
    """The (a, b) of the grid with the best sum macro + Ekman + sentiment on these rows."""
    best, best_ab = scores(y, pred, names).sum(), (np.inf, np.inf)
    for a in CONFLICT_GRID:
        for b in CONFLICT_GRID:
            value = scores(y, resolve_neutral_conflicts(probs, pred, thresholds, neutral, a, b),
                           names).sum()
            if value > best + 1e-9:
                best, best_ab = value, (a, b)
    return best_ab


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
                "group fallback": (averaged, "group"),
                "neutral conflicts": (averaged, "neutral")}
    neutral = names.index("neutral")
    print("| variant | macro / Ekman / sentiment | sum | empty dev rows (held out) |")
    print("| --- | --- | ---: | ---: |")
    for variant, (probs, post) in variants.items():
        rows, empty, fitted = [], [], []
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
            elif post == "neutral":
                t = tuner.thresholds_
                a_b = fit_conflict_ratios(probs[fit], y[fit], tuner.predict(probs[fit]), t,
                                          neutral, names)
                fitted.append(a_b)
                pred = resolve_neutral_conflicts(probs[held], pred, t, neutral, *a_b)
            rows.append(scores(y[held], pred, names))
        r = np.mean(rows, 0)
        print(f"| {variant} | {' / '.join(f'{v:.4f}' for v in r)} | {r.sum():.4f} | "
              f"{np.mean(empty):.2%} |")
        if fitted:
            print(f"<!-- {variant}: (a, b) per fold {fitted} -->")


if __name__ == "__main__":
    main()
