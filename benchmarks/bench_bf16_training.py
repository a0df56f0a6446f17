"""Training-step throughput on this CPU: fp32 vs bf16 autocast, and partial fine-tuning.

Runs the same N optimiser steps on the same length-grouped GoEmotions slice in one process
and prints steps/s for each setting and the ratio to fp32 full fine-tuning. Quality at equal
settings is compared by full training runs (docs/results.md), not here.

    python benchmarks/bench_bf16_training.py --steps 30
    python benchmarks/bench_bf16_training.py --backbone mpnet --steps 8 --freeze 6 8
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from transformers import DataCollatorWithPadding, set_seed

from emotag.config import TrainConfig
from emotag.data.datasets import load_goemotions
from emotag.models.transformer import TransformerClassifier, set_threads, tokenize_split
from emotag.training.losses import build_loss
from emotag.training.trainer import freeze_lower_layers


def run(bf16: bool, steps: int, batch: int, train, backbone: str,  # noqa: ANN001
        freeze: int = 0) -> float:
    set_seed(0)
    clf = TransformerClassifier(label_names=train.label_names, backbone=backbone)
    clf._build()
    model = clf.model_.train()
    freeze_lower_layers(model, freeze)
    ds = tokenize_split(clf.tokenizer_, train.texts, train.labels, 128)
    order = np.argsort(ds["length"])  # length-grouped batches, like training
    collate = DataCollatorWithPadding(clf.tokenizer_)
    rng = np.random.default_rng(0)
    chunks = [order[i:i + batch] for i in range(0, len(order) - batch, batch)]
    picks = rng.choice(len(chunks), size=steps + 3, replace=False)
    loss_fn = build_loss(TrainConfig())
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5)
    t0 = 0.0
    for k, c in enumerate(picks):
        if k == 3:
            t0 = time.perf_counter()  # 3 warm-up steps
        b = collate([{key: ds[int(i)][key] for key in ds.column_names if key != "length"}
                     for i in chunks[c]])
        labels = b.pop("labels")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(**b).logits
        loss = loss_fn(logits.float(), labels.float())
        loss.backward()
        opt.step()
        opt.zero_grad()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--backbone", default="minilm", help="minilm | mpnet | a path")
    ap.add_argument("--freeze", type=int, nargs="*", default=[],
                    help="also time bf16 with this many lowest layers frozen")
    a = ap.parse_args()
    set_threads(None)
    train = load_goemotions()["train"].head(4000)
    fp32 = run(False, a.steps, a.batch, train, a.backbone)
    bf16 = run(True, a.steps, a.batch, train, a.backbone)
    print(f"{a.backbone}: fp32: {fp32:.2f} steps/s  bf16 autocast: {bf16:.2f} steps/s  "
          f"ratio bf16/fp32: {bf16 / fp32:.2f}x  (threads={torch.get_num_threads()})")
    for n in a.freeze:
        r = run(True, a.steps, a.batch, train, a.backbone, n)
        print(f"{a.backbone}: bf16 + {n} lowest layers frozen: {r:.2f} steps/s  "
              f"ratio to fp32 full: {r / fp32:.2f}x  to bf16 full: {r / bf16:.2f}x")


if __name__ == "__main__":
    main()
