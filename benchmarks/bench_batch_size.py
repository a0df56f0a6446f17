"""Batch throughput of an ONNX model folder at several batch sizes, as ratios to the default.

``OnnxClassifier.predict_logits(texts, batch_size=B)`` on the GoEmotions test texts
(tokenization included), rounds interleaved over the sizes so background load hits them alike;
the median of the rounds, and its ratio to :data:`emotag.models.onnx.DEFAULT_BATCH`.

    python benchmarks/bench_batch_size.py [MODEL] [--rounds 5] [--sizes 16 32 64 128 256]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import emotag
from emotag.data.datasets import load_goemotions
from emotag.models.onnx import DEFAULT_BATCH


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    a = ap.parse_args()
    texts = load_goemotions()["test"].texts
    model = emotag.load(a.model).model
    model.predict_logits(texts[:300])  # warm-up
    sizes = sorted(set(a.sizes) | {DEFAULT_BATCH})
    speed: dict[int, list[float]] = {b: [] for b in sizes}
    for _ in range(a.rounds):
        for b in sizes:
            t0 = time.perf_counter()
            model.predict_logits(texts, batch_size=b)
            speed[b].append(len(texts) / (time.perf_counter() - t0))
    base = statistics.median(speed[DEFAULT_BATCH])
    print(f"{len(texts)} texts, {a.rounds} rounds; median texts/s and ratio to batch "
          f"{DEFAULT_BATCH}")
    for b in sizes:
        median = statistics.median(speed[b])
        print(f"batch {b:4}: {median:7.0f} texts/s  x{median / base:.3f}")


if __name__ == "__main__":
    main()
