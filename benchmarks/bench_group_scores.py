"""Which score should an Ekman / sentiment group get? The choice behind
:mod:`emotag.inference.groups`, measured.

Rules compared, all on the model's calibrated label probabilities:

- ``any member``: the group fires when any member label reaches its own threshold (emotag's
  old rule; its old score was that margin + 0.5, not a probability);
- ``max``: the best member's probability, one threshold per group tuned on dev;
- ``noisy-OR``: ``1 - prod(1 - p_member)``, one threshold per group tuned on dev (shipped).

Reported: group macro-F1 on GoEmotions dev (2-fold cross-validated: thresholds tuned on one
half, scored on the other; seed 0), on GoEmotions test (thresholds tuned on all of dev), and
the Ekman macro-F1 (emotions only) of the ood-dev suite's four files and their mean, with the
pooled disgust recall (suite files from ../shared/data/ood-dev; skipped when absent).

    python benchmarks/bench_group_scores.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import emotag
from emotag.data.datasets import load_goemotions
from emotag.evaluation.ood import read_taxonomy_file
from emotag.inference.groups import member_columns, noisy_or, tune_cuts
from emotag.labels import group_matrix

sys.path.insert(0, str(Path(__file__).parent))
from bench_ood import SUITE, suite_dir  # noqa: E402


def f1(y: np.ndarray, pred: np.ndarray, cols: list[int]) -> float:
    return float(np.mean([2 * (y[:, j] & pred[:, j]).sum()
                          / max(y[:, j].sum() + pred[:, j].sum(), 1) for j in cols]))


def group_score(rule: str, p: np.ndarray, cols: list[list[int]]) -> np.ndarray:
    return (noisy_or(p, cols) if rule == "noisy-OR"
            else np.stack([p[:, c].max(axis=1) for c in cols], axis=1))


def decisions(rule: str, p: np.ndarray, cols: list[list[int]], thresholds: np.ndarray,
              fit: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Group decisions of ``rule``; tuned rules take their cuts from ``fit`` (probs, targets)."""
    if rule == "any member":
        hit = p >= thresholds[None, :]
        return np.stack([hit[:, c].any(axis=1) for c in cols], axis=1)
    return group_score(rule, p, cols) >= tune_cuts(group_score(rule, fit[0], cols), fit[1])


def main() -> int:
    predictor = emotag.load(sys.argv[1] if len(sys.argv) > 1 else None)
    splits = load_goemotions()
    probs = {s: predictor.predict_proba(splits[s].texts) for s in ("dev", "test")}
    folder = suite_dir()
    suite = {}
    if folder is not None:
        for name in SUITE:
            rows = read_taxonomy_file(predictor, folder / f"{name}.tsv", "ekman")
            suite[name] = (predictor.predict_proba(rows.texts), rows.y.astype(bool), rows.names)
    half = np.random.default_rng(0).permutation(len(splits["dev"]))
    halves = (half[: len(half) // 2], half[len(half) // 2:])
    for taxonomy in ("ekman", "sentiment"):
        names, cols = member_columns(predictor.labels, taxonomy)
        y = {s: group_matrix(splits[s].labels, predictor.labels, taxonomy)[0].astype(bool)
             for s in probs}
        print(f"\n{taxonomy}: {'rule':10} {'dev (2-fold)':>13} {'test':>7}"
              + ("".join(f" {n[:11]:>11}" for n in suite) + "  suite mean  disgust recall"
                 if suite and taxonomy == "ekman" else ""))
        for rule in ("any member", "max", "noisy-OR"):
            def decide(p: np.ndarray, fit: tuple[np.ndarray, np.ndarray], rule: str = rule,
                       cols: list[list[int]] = cols) -> np.ndarray:
                return decisions(rule, p, cols, predictor.thresholds, fit)

            every = list(range(len(names)))
            dev = np.mean([f1(y["dev"][b], decide(probs["dev"][b], (probs["dev"][a],
                                                                     y["dev"][a])), every)
                           for a, b in (halves, halves[::-1])])
            test = f1(y["test"], decide(probs["test"], (probs["dev"], y["dev"])), every)
            line = f"{'':7}{rule:10} {dev:13.4f} {test:7.4f}"
            if suite and taxonomy == "ekman":
                scores, tp, n = [], 0, 0
                for p, sy, snames in suite.values():
                    pred = decide(p, (probs["dev"], y["dev"]))
                    keep = [j for j, g in enumerate(snames) if sy[:, j].any() and g != "neutral"]
                    scores.append(f1(sy, pred, keep))
                    d = snames.index("disgust")
                    tp, n = tp + (sy[:, d] & pred[:, d]).sum(), n + sy[:, d].sum()
                line += "".join(f" {s:11.3f}" for s in scores)
                line += f"  {np.mean(scores):10.3f}  {tp / n:14.3f}"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
