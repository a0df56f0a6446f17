"""Inference speed of the shipped model against PyTorch, ONNX variants and a bert-base model.

On the GoEmotions test texts, every variant is timed the same way, tokenization included:
batch throughput (one call on all texts, texts/s) and single-text latency (one call per
text; p50, p90, p99 in ms). Ratios are against the baseline measured in this same process:
the same MiniLM model in PyTorch fp32 through a transformers ``pipeline`` (what a user
without emotag would run). ``x tput`` = throughput / baseline throughput; ``x p50`` =
baseline p50 / p50 (both >1 = faster than the baseline).

Variants: ``emotag.load()`` (the shipped ONNX int8 model, through ``predict_proba``); the
PyTorch fp32 pipeline (``--torch-model``, the trained MiniLM's HF folder); ONNX fp32 and ONNX
int8 from ``--onnx-dir`` (``emotag export`` output); the ONNX Runtime transformers optimizer's
fused graph, fp32 and static int8 (made here from ``model.onnx`` into a temp folder); and an
all-mpnet-base-v2 (bert-base size) classifier with a fresh 28-label head through a pipeline,
on ``--n-slow`` texts since it is slow. ``max |d|`` is the largest score difference from the
baseline on the same texts (int8 variants: quantization; mpnet: an untrained head, not
comparable). Finally the shipped model's test macro-F1 with its saved thresholds.

    python benchmarks/bench_inference.py                      # the full measurement
    python benchmarks/bench_inference.py --n 100 --n-slow 20  # smoke run
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import emotag
from emotag.data.datasets import load_goemotions

ScoreFn = Callable[[list[str]], np.ndarray]
BATCH = 64
MAX_LENGTH = 128
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TORCH = REPO_ROOT / "runs" / "minilm" / "transformer"
DEFAULT_ONNX = REPO_ROOT / "runs" / "minilm" / "onnx-export"


@dataclass
class Row:
    name: str
    texts: int
    tput: float
    p50: float
    p90: float
    p99: float
    probs: np.ndarray
    note: str = ""


def measure(name: str, fn: ScoreFn, texts: list[str], latency_texts: list[str],
            note: str = "") -> Row:
    """Throughput of one call on ``texts`` (after a warm-up) and per-call latency."""
    fn(texts[:8])  # warm-up: lazy init, allocator, thread pool
    t0 = time.perf_counter()
    probs = np.asarray(fn(texts), dtype=np.float32)
    tput = len(texts) / (time.perf_counter() - t0)
    lat = []
    for text in latency_texts:
        t0 = time.perf_counter()
        fn([text])
        lat.append((time.perf_counter() - t0) * 1000)
    p50, p90, p99 = np.percentile(lat, [50, 90, 99])
    print(f"  {name}: {tput:,.1f} texts/s, p50 {p50:.2f} ms", flush=True)
    return Row(name, len(texts), tput, float(p50), float(p90), float(p99), probs, note)


def pipeline_fn(model: object, tokenizer: object, labels: list[str]) -> ScoreFn:
    """A transformers text-classification pipeline (sigmoid, every label) as a scorer."""
    from transformers import pipeline

    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None,
                    function_to_apply="sigmoid", device="cpu")
    index = {name: j for j, name in enumerate(labels)}

    def score(texts: list[str]) -> np.ndarray:
        out = pipe(texts, batch_size=BATCH, truncation=True, max_length=MAX_LENGTH)
        probs = np.zeros((len(texts), len(labels)), dtype=np.float32)
        for i, row in enumerate(out):
            for item in row:
                probs[i, index[item["label"]]] = item["score"]
        return probs

    return score


def torch_pipeline(folder: Path, labels: list[str]) -> ScoreFn:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(
        folder, trust_remote_code=True).eval()  # emotag's mean pooling ships in the folder
    return pipeline_fn(model, AutoTokenizer.from_pretrained(folder), labels)


def mpnet_pipeline(labels: list[str]) -> ScoreFn:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from emotag.models.backbones import resolve_backbone

    path = resolve_backbone("mpnet")
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(labels), problem_type="multi_label_classification",
        id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)}).eval()
    return pipeline_fn(model, AutoTokenizer.from_pretrained(path), labels)


def onnx_fn(file: Path, tokenizer_dir: Path, labels: list[str], threads: int,
            batch: int = BATCH) -> ScoreFn:
    """``batch`` > 1: length-sorted padded batches; 1: each text alone, one call per core
    in parallel (emotag's default for ONNX)."""
    from emotag.models.onnx import OnnxClassifier

    clf = OnnxClassifier(file, tokenizer_dir, label_names=labels, max_length=MAX_LENGTH,
                         num_threads=threads)
    return lambda texts: clf.predict_proba(texts, batch_size=batch)


def fused_graphs(onnx_dir: Path, torch_dir: Path | None, work: Path, labels: list[str]
                 ) -> dict[str, Path]:
    """The optimizer's fused fp32 graph and its static int8 copy (per-channel weights,
    activation scales from 200 dev texts), as ``emotag export`` quantizes."""
    import json

    from emotag.inference.export import optimize_graph, quantize_int8
    from emotag.inference.export.quantize import calibration_feeds
    from emotag.models.onnx import OnnxClassifier

    config_dir = torch_dir if torch_dir is not None else onnx_dir
    config = json.loads((config_dir / "config.json").read_text()) \
        if (config_dir / "config.json").is_file() else {"num_attention_heads": 12,
                                                         "hidden_size": 384}
    fused = work / "model.opt.onnx"
    optimize_graph(onnx_dir / "model.onnx", fused, num_heads=config["num_attention_heads"],
                   hidden_size=config["hidden_size"])
    fused_int8 = work / "model.opt.int8.onnx"
    clf = OnnxClassifier(fused, onnx_dir, label_names=labels, max_length=MAX_LENGTH)
    feeds = calibration_feeds(clf, load_goemotions()["dev"].texts[:200])
    quantize_int8(fused, fused_int8, feeds, per_channel=True)
    return {"ONNX fused fp32": fused, "ONNX fused + int8": fused_int8}


def macro_f1(split: object, probs: np.ndarray, thresholds: np.ndarray) -> float:
    from emotag.evaluation.metrics import evaluate_decisions

    m = evaluate_decisions(split.labels, probs, thresholds, split.label_names, groupings=False)
    return float(m["averages"]["macro"]["f1"])


def table(rows: list[Row], base: Row | None) -> str:
    head = ("| variant | texts | batch texts/s | x tput | p50 ms | p90 ms | p99 ms | x p50 "
            "| max abs d | note |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: | --- |")
    lines = [head]
    for r in rows:
        ratio = f"{r.tput / base.tput:.2f}" if base else "-"
        lat_ratio = f"{base.p50 / r.p50:.2f}" if base else "-"
        diff = "-"
        if base is not None and r is not base and "mpnet" not in r.name:
            n = min(len(r.probs), len(base.probs))
            diff = f"{np.abs(r.probs[:n] - base.probs[:n]).max():.4f}"
        lines.append(f"| {r.name} | {r.texts} | {r.tput:,.1f} | {ratio} | {r.p50:.2f} | "
                     f"{r.p90:.2f} | {r.p99:.2f} | {lat_ratio} | {diff} | {r.note} |")
    return "\n".join(lines)


def optional_dir(value: str | None, default: Path, must_have: str) -> Path | None:
    """The folder to use: the given one, else the default when it exists; '' skips."""
    if value == "":
        return None
    folder = Path(value) if value else default
    return folder if (folder / must_have).is_file() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=None, help="test texts (default: all 5,427)")
    ap.add_argument("--n-slow", type=int, default=500, help="texts for the mpnet pipeline")
    ap.add_argument("--latency-n", type=int, default=None,
                    help="single-text calls per variant (default: as many as its texts)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    ap.add_argument("--torch-model", default=None,
                    help=f"HF folder of the trained MiniLM (default {DEFAULT_TORCH}; '' skips)")
    ap.add_argument("--onnx-dir", default=None,
                    help=f"emotag export folder with model.onnx and model.int8.onnx (default "
                         f"{DEFAULT_ONNX}; '' skips)")
    ap.add_argument("--no-fused", action="store_true", help="skip the optimizer variants")
    ap.add_argument("--no-mpnet", action="store_true", help="skip the mpnet pipeline")
    ap.add_argument("--compare", action="append", default=[], metavar="MODEL_DIR",
                    help="also time emotag.load(MODEL_DIR) the same way, right after the "
                         "shipped model (e.g. a previous default model; repeatable)")
    a = ap.parse_args()

    import torch
    import transformers

    transformers.logging.set_verbosity_error()  # no load reports for the fresh mpnet head
    threads = a.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    test = load_goemotions()["test"].head(a.n)
    texts = test.texts
    lat_n = a.latency_n or len(texts)
    slow = texts[:a.n_slow]
    print(f"{len(texts)} test texts, {threads} threads, batch {BATCH}, max_length {MAX_LENGTH}")

    shipped = emotag.load(num_threads=threads)
    labels = shipped.labels
    rows: list[Row] = []
    notes: list[str] = []
    base = None
    torch_dir = optional_dir(a.torch_model, DEFAULT_TORCH, "config.json")
    if torch_dir is not None:
        base = measure("PyTorch fp32 pipeline (baseline)", torch_pipeline(torch_dir, labels),
                       texts, texts[:lat_n], note=str(torch_dir))
        rows.append(base)
    else:
        notes.append("no --torch-model folder: no baseline, ratios skipped")
    rows.append(measure("emotag.load() shipped int8", shipped.predict_proba, texts,
                        texts[:lat_n], note=str(shipped.path)))
    for folder in a.compare:
        other = emotag.load(folder, num_threads=threads)
        rows.append(measure(f"emotag.load({Path(folder).name})", other.predict_proba, texts,
                            texts[:lat_n], note=str(other.path)))
    onnx_dir = optional_dir(a.onnx_dir, DEFAULT_ONNX, "model.onnx")
    if onnx_dir is not None:
        for name, file in (("ONNX fp32", "model.onnx"), ("ONNX int8", "model.int8.onnx")):
            if not (onnx_dir / file).is_file():
                continue
            for batch, how in ((BATCH, f"batches of {BATCH}"), (1, "one text per call")):
                rows.append(measure(f"{name}, {how}",
                                    onnx_fn(onnx_dir / file, onnx_dir, labels, threads, batch),
                                    texts, texts[:lat_n], note=file))
        if not a.no_fused:
            with tempfile.TemporaryDirectory() as work:
                try:
                    graphs = fused_graphs(onnx_dir, torch_dir, Path(work), labels)
                except Exception as e:  # the optimizer is optional tooling; report and go on
                    notes.append(f"fused graph not built: {type(e).__name__}: {e}")
                    graphs = {}
                for name, file in graphs.items():
                    rows.append(measure(f"{name}, one text per call",
                                        onnx_fn(file, onnx_dir, labels, threads, 1), texts,
                                        texts[:lat_n], note="onnxruntime.transformers"))
    else:
        notes.append("no --onnx-dir with model.onnx: ONNX fp32/int8/fused rows skipped")
    if not a.no_mpnet:
        try:
            rows.append(measure("mpnet-base pipeline (fresh head)", mpnet_pipeline(labels),
                                slow, slow[:min(lat_n, len(slow))], note="all-mpnet-base-v2"))
        except Exception as e:  # the mpnet parts are an optional install (make setup-mpnet)
            notes.append(f"mpnet skipped: {type(e).__name__}: {e}")

    print()
    print(table(rows, base))
    shipped_row = next(r for r in rows if r.name.startswith("emotag.load"))
    f1 = macro_f1(test, shipped_row.probs, shipped.thresholds)
    scope = "test split" if len(texts) == 5427 else f"first {len(texts)} test texts"
    print(f"\nshipped model macro-F1 with its saved thresholds, {scope}: {f1:.4f}")
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
