"""Speed of model folders side by side: ``emotag.load()``, batch throughput, one-text latency.

For each model folder (an ``emotag ensemble`` folder is one like any other), in this one
process and with the same thread count: the wall time of ``emotag.load(path)`` (median of
``--loads``, after a first untimed load that warms the file cache), batch throughput (one
``predict_proba`` call on every GoEmotions test text, texts/s, tokenization included),
single-text latency (one call per text on ``--n-single`` texts; p50 and p90 in ms), and the
test macro-F1 of those batch scores with the folder's saved thresholds. Models are measured
in turns (round-robin over ``--rounds``), so background load hits them alike; each number is
the median over rounds. The load average at the start and the end is printed, since
measurements on a busy machine are slower than on an idle one.

    python benchmarks/bench_models.py src/emotag/assets/default_model runs/ens
    python benchmarks/bench_models.py MODEL --rounds 1 --n-single 20   # smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

import emotag
from emotag.data.datasets import load_goemotions
from emotag.evaluation.metrics import evaluate_split
from emotag.models.base import read_manifest


def describe(path: Path) -> str:
    manifest = read_manifest(path)
    kind = manifest["model_type"]
    if kind != "ensemble":
        return kind
    members = [f"{read_manifest(path / m['path'])['model_type']} x{m['weight']:g}"
               for m in manifest["ensemble"]["members"]]
    return f"ensemble ({', '.join(members)})"


def measure(path: Path, texts: list[str], y: np.ndarray, threads: int, loads: int,
            n_single: int) -> dict[str, float]:
    emotag.load(str(path), num_threads=threads)  # untimed: warms the file cache
    load_s = []
    for _ in range(loads):
        t0 = time.perf_counter()
        predictor = emotag.load(str(path), num_threads=threads)
        load_s.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    probs = predictor.predict_proba(texts)
    batch_s = time.perf_counter() - t0
    single = []
    for text in texts[:n_single]:
        t0 = time.perf_counter()
        predictor.predict_proba(text)
        single.append((time.perf_counter() - t0) * 1000)
    # scores and thresholds on the same (calibrated, when the folder has a calibration) scale
    split = evaluate_split(y, probs, np.asarray(predictor.thresholds), predictor.labels)
    return {"load_s": statistics.median(load_s), "texts_per_s": len(texts) / batch_s,
            "p50_ms": float(np.percentile(single, 50)), "p90_ms": float(np.percentile(single, 90)),
            "macro_f1": split["tuned"]["averages"]["macro"]["f1"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loads", type=int, default=3)
    ap.add_argument("--n-single", type=int, default=300)
    a = ap.parse_args()
    test = load_goemotions()["test"]
    print(f"load average at start: {os.getloadavg()}; {len(test.texts)} test texts; "
          f"{a.threads} threads")
    runs: dict[Path, list[dict[str, float]]] = {m: [] for m in a.models}
    for _ in range(a.rounds):
        for model in a.models:
            runs[model].append(measure(model, test.texts, test.labels, a.threads, a.loads,
                                       a.n_single))
    print(f"load average at end: {os.getloadavg()}")
    print("| model | type | emotag.load() s | batch texts/s | p50 ms | p90 ms | test macro-F1 |")
    print("|---|---|---|---|---|---|---|")
    for model, rows in runs.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(f"| {model} | {describe(model)} | {med['load_s']:.2f} | {med['texts_per_s']:,.0f} "
              f"| {med['p50_ms']:.2f} | {med['p90_ms']:.2f} | {med['macro_f1']:.4f} |")


if __name__ == "__main__":
    main()
