#!/usr/bin/env python
"""Per-label test F1 of published results next to the GoEmotions paper's BERT baseline.

    python experiments/scripts/compare_paper.py results/best results/student

The paper's numbers are the F1 column of Table 4 of Demszky et al. (2020), "GoEmotions: A
Dataset of Fine-Grained Emotions" (BERT-base, test set; macro-average 0.46), transcribed here.
Ours are recomputed from each folder's committed test probabilities and dev-tuned thresholds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from emotag.data.datasets import load_goemotions

PAPER_BERT_F1 = {
    "admiration": 0.65, "amusement": 0.80, "anger": 0.47, "annoyance": 0.34, "approval": 0.36,
    "caring": 0.39, "confusion": 0.37, "curiosity": 0.54, "desire": 0.49,
    "disappointment": 0.28, "disapproval": 0.39, "disgust": 0.45, "embarrassment": 0.43,
    "excitement": 0.34, "fear": 0.60, "gratitude": 0.86, "grief": 0.00, "joy": 0.51,
    "love": 0.78, "nervousness": 0.35, "optimism": 0.51, "pride": 0.36, "realization": 0.21,
    "relief": 0.15, "remorse": 0.66, "sadness": 0.49, "surprise": 0.50, "neutral": 0.68,
}


def per_label_f1(folder: Path, y: np.ndarray, names: list[str]) -> np.ndarray:
    saved = json.loads((folder / "thresholds.json").read_text(encoding="utf-8"))
    t = np.array([saved[n] for n in names])
    probs = np.load(folder / "predictions" / "test_probs.npy", allow_pickle=False)
    return f1_score(y, probs >= t, average=None, zero_division=0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", type=Path, nargs="+")
    a = ap.parse_args()
    test = load_goemotions()["test"]
    names = test.label_names
    ours = [per_label_f1(f, test.labels, names) for f in a.folders]
    support = test.labels.sum(axis=0)
    head = ["label", "test support", "paper BERT F1", *[f"{f.name} F1" for f in a.folders],
            *[f"{f.name} − paper" for f in a.folders]]
    print("| " + " | ".join(head) + " |")
    print("| --- | " + " | ".join(["---:"] * (len(head) - 1)) + " |")
    for j, n in enumerate(names):
        cells = [n, str(int(support[j])), f"{PAPER_BERT_F1[n]:.2f}",
                 *[f"{o[j]:.2f}" for o in ours],
                 *[f"{o[j] - PAPER_BERT_F1[n]:+.2f}" for o in ours]]
        print("| " + " | ".join(cells) + " |")
    paper_macro = float(np.mean(list(PAPER_BERT_F1.values())))
    cells = ["**macro**", str(int(len(test))), f"{paper_macro:.3f}",
             *[f"{o.mean():.3f}" for o in ours], *[f"{o.mean() - paper_macro:+.3f}" for o in ours]]
    print("| " + " | ".join(cells) + " |")
    better = [int((o > np.array([PAPER_BERT_F1[n] for n in names])).sum()) for o in ours]
    print("\nlabels above the paper: " + ", ".join(
        f"{f.name} {b}/{len(names)}" for f, b in zip(a.folders, better, strict=True)))


if __name__ == "__main__":
    main()
