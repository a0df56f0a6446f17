"""Does a model score a text the same alone and in a batch? Measured on GoEmotions test.

Each text is scored alone (one ``predict_proba`` call per text, unpadded), then all texts in
batches of ``--batch`` (one call per batch, padded), through ``emotag.load`` (calibrated
scores, the model's thresholds). Printed per model: the largest absolute score difference
and the number of texts whose decided labels differ.

    python benchmarks/bench_batch_invariance.py                    # the shipped model
    python benchmarks/bench_batch_invariance.py /tmp/old_model -   # '-' is the shipped model
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import emotag
from emotag.data.datasets import load_goemotions


def invariance(model: str | None, texts: list[str], batch: int, threads: int | None
               ) -> dict[str, float]:
    pred = emotag.load(model, num_threads=threads)
    t0 = time.perf_counter()
    alone = np.vstack([pred.predict_proba([t]) for t in texts])
    t1 = time.perf_counter()
    batched = np.vstack([pred.predict_proba(texts[i:i + batch])
                         for i in range(0, len(texts), batch)])
    t2 = time.perf_counter()
    cut = pred.thresholds[None, :]
    return {"model": str(pred.path), "max_abs_diff": float(np.abs(alone - batched).max()),
            "texts_changed": int(((alone >= cut) != (batched >= cut)).any(axis=1).sum()),
            "alone_s": t1 - t0, "batched_s": t2 - t1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", default=["-"],
                    help="model folders ('-': the shipped model)")
    ap.add_argument("--batch", type=int, default=64, help="texts per batched call")
    ap.add_argument("--n", type=int, default=None, help="test texts (default: all 5,427)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    a = ap.parse_args()
    texts = load_goemotions()["test"].texts[:a.n]
    print(f"{len(texts)} GoEmotions test texts, alone vs batches of {a.batch}")
    print("| model | max abs difference | texts whose labels change | alone s | batched s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for model in a.models:
        r = invariance(None if model == "-" else model, texts, a.batch, a.threads)
        print(f"| {r['model']} | {r['max_abs_diff']:.2e} | {r['texts_changed']} | "
              f"{r['alone_s']:.1f} | {r['batched_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
