"""Inference-time text preprocessing on the shipped model: GoEmotions dev and the ood-dev suite.

For each preprocessing setting, scores GoEmotions dev (macro-F1 over 28 labels, the model's
saved thresholds) and each ood-dev file in Ekman space (a group is on when any member label
reaches its threshold; neutral when the model predicts neutral; macro-F1 over the labels the
file has). Nothing is tuned: thresholds are the model's own.

    python experiments/scripts/preprocess_transfer.py [MODEL_DIR] [--ood-dir ../shared/data/ood-dev]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

import emotag
from emotag.data.datasets import load_goemotions
from emotag.data.preprocess import Preprocessing
from emotag.labels import taxonomy_groups

SETTINGS = {
    "none": Preprocessing(),
    "emoji": Preprocessing(emoji=True),
    "social": Preprocessing.social(),
}


def ekman_decisions(pred, texts):
    groups = taxonomy_groups("ekman")
    names = [*groups, "neutral"]
    cols = {g: [pred.labels.index(m) for m in members] for g, members in groups.items()}
    cols["neutral"] = [pred.labels.index("neutral")]
    probs = pred.predict_proba(texts)
    on = probs >= pred.thresholds
    return names, np.stack([on[:, cols[g]].any(axis=1) for g in names], axis=1)


def read_ood(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r["text"] for r in rows], [r["labels"].split(",") for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir", nargs="?")
    ap.add_argument("--ood-dir", default=str(Path(__file__).resolve().parents[3] / "shared"
                                             / "data" / "ood-dev"))
    args = ap.parse_args()
    pred = emotag.load(args.model_dir)
    dev = load_goemotions()["dev"]
    files = sorted(Path(args.ood_dir).glob("*.tsv"))
    print(f"{'setting':8} {'GoEmo dev':>9} " + " ".join(f"{f.stem[:12]:>12}" for f in files)
          + f" {'ood mean':>9} {'disgust R':>9}")
    for name, pre in SETTINGS.items():
        t0 = time.perf_counter()
        probs = pred.predict_proba(pre(dev.texts))
        dev_f1 = f1_score(dev.labels, probs >= pred.thresholds, average="macro", zero_division=0)
        scores, tp, pos = [], 0, 0
        for f in files:
            texts, gold = read_ood(f)
            names, dec = ekman_decisions(pred, pre(texts))
            present = sorted({lab for g in gold for lab in g}, key=names.index)
            y = np.array([[lab in g for lab in names] for g in gold])
            idx = [names.index(lab) for lab in present]
            scores.append(f1_score(y[:, idx], dec[:, idx], average="macro", zero_division=0))
            d = names.index("disgust")
            tp += int((y[:, d] & dec[:, d]).sum())
            pos += int(y[:, d].sum())
        print(f"{name:8} {dev_f1:9.4f} " + " ".join(f"{s:12.4f}" for s in scores)
              + f" {np.mean(scores):9.4f} {tp / max(pos, 1):9.4f}"
              + f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
