"""``export_onnx``: a transformer run to checked ONNX files, stage by stage.

Stages: trace the fp32 graph (:mod:`.trace`), try the fused graph (:mod:`.optimize`),
quantize to int8 with batch-independent scales (:mod:`.quantize`), then compare every file
with PyTorch on the run's own data (:mod:`.parity`) and check that each scores a text the
same alone and in a batch. Everything lands in ``export_report.json``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ...data.datasets import Split
from ...errors import DataError, ModelFormatError
from ...models.onnx import META_LABELS, META_MAX_LENGTH, META_THRESHOLDS
from ...utils.files import atomic_write_json
from .job import ExportJob, batch_invariance
from .optimize import FP32, OPT, optimize_stage
from .parity import check_split, dev_comparison
from .quantize import INT8, int8_stage
from .trace import copy_tokenizer, export_fp32, require

REPORT = "export_report.json"
#: Texts the probability comparison (and the batch-invariance check) runs on.
N_CHECK = 256


def export_onnx(model_dir: Path, output_dir: Path | None = None, *, int8: bool = True,
                optimize: bool = True, opset: int = 17, check_texts: list[str] | None = None,
                dev: Split | None = None, data: Path | None = None,
                text_column: str = "text", label_column: str = "labels",
                dev_limit: int | None = None, per_channel: bool | None = True,
                num_threads: int | None = None, min_speedup: float | None = None
                ) -> dict[str, Any]:
    """Export the transformer run in ``model_dir`` to ONNX and report how faithful it is.

    Parameters
    ----------
    model_dir : a run folder whose ``emotag.json`` says ``model_type: transformer``.
    output_dir : where the files go (default ``model_dir/onnx``).
    int8, optimize : also write ``model.int8.onnx`` / try ``model.opt.onnx``.
    opset : ONNX opset of the traced graph.
    check_texts : texts for the probability comparison (default: the first 256 check texts).
    dev : the split to check on; default ``data``, a labelled file (``text_column``,
        ``label_column``, labels named as the model's), else the run's own dev split (see
        :mod:`.parity`). It also calibrates the int8 activation scales.
    dev_limit : only its first rows for the macro-F1 comparison (0 skips that comparison).
    per_channel : int8 weight scales per output channel; None tries per-tensor and
        per-channel and keeps the one closer to PyTorch on ``check_texts``.
    num_threads : threads for PyTorch and ONNX Runtime (default: every usable core).
    min_speedup : keep the fused graph only when this much faster (default
        :data:`~.optimize.MIN_SPEEDUP`).

    Returns the report also written to ``output_dir/export_report.json``.
    """
    from ... import __version__
    from ...inference.decision_files import THRESHOLDS_FILE, read_thresholds
    from ...models import load_model
    from ...models.base import read_manifest
    from ...models.onnx import import_onnxruntime
    from ...models.transformer import set_threads

    ort = import_onnxruntime()
    torch = require("torch", "torch")
    onnx = require("onnx", "onnx>=1.16")
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    if manifest.get("model_type") != "transformer":
        raise ModelFormatError(f"{model_dir}: model_type {manifest.get('model_type')!r}; ONNX "
                               "export needs a transformer run (emotag train with "
                               "model.model_type=transformer)")
    output_dir = Path(output_dir) if output_dir else model_dir / "onnx"
    output_dir.mkdir(parents=True, exist_ok=True)
    set_threads(num_threads)
    clf = load_model(model_dir)
    labels = list(clf.label_names)
    tfile = model_dir / THRESHOLDS_FILE
    thresholds = (read_thresholds(tfile, labels) if tfile.is_file()
                  else np.full(len(labels), 0.5))
    split, origin = None, None
    if check_texts is None or dev_limit != 0:  # the data is needed for one or the other
        split, origin = check_split(model_dir, labels, dev=dev, data=data,
                                    text_column=text_column, label_column=label_column)
        if check_texts is None:
            check_texts = list(split.texts[:N_CHECK])
    if not check_texts:
        raise DataError("no texts to check the export on: pass check_texts or a dev split")
    metadata = {META_LABELS: labels,
                META_THRESHOLDS: {n: float(t) for n, t in zip(labels, thresholds, strict=True)},
                META_MAX_LENGTH: int(clf.max_length), "emotag.version": __version__,
                "emotag.source_run": str(model_dir.resolve())}
    job = ExportJob(output_dir, labels, int(clf.max_length), num_threads, metadata,
                    list(check_texts), preprocessing=clf.preprocessing)
    report: dict[str, Any] = {
        "model_dir": str(model_dir), "output_dir": str(output_dir), "opset": opset,
        "max_length": int(clf.max_length), "check_data": origin,
        "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__,
                     "onnx": onnx.__version__, "emotag": __version__},
        "check": {"n_texts": len(check_texts)}, "models": {}}
    try:
        t0 = time.perf_counter()
        tmp = job.temp(FP32)
        report["inputs"] = export_fp32(clf.model_, clf.tokenizer_, tmp, opset=opset)
        job.publish(tmp, FP32, "fp32")
        report["export_s"] = round(time.perf_counter() - t0, 2)
        report["tokenizer_files"] = copy_tokenizer(clf.tokenizer_, output_dir)
        job.torch_check = clf.predict_proba(job.check_texts)
        report["models"]["fp32"] = {"file": FP32, **job.check(output_dir / FP32)}
        best_fp32 = FP32
        if optimize:
            report["optimizer"], kept = optimize_stage(job, clf.model_.config,
                                                       min_speedup=min_speedup)
            if kept is not None:
                report["models"]["fp32_opt"] = kept
                best_fp32 = OPT
        else:
            (output_dir / OPT).unlink(missing_ok=True)  # a stale one would not match
        if int8:
            calibration = list(split.texts) if split is not None else job.check_texts
            report["quantization"], report["models"]["int8"] = int8_stage(
                job, calibration, per_channel)
        else:
            (output_dir / INT8).unlink(missing_ok=True)
        for entry in report["models"].values():
            entry["batch_invariance"] = batch_invariance(
                job.classifier(output_dir / entry["file"]), job.check_texts, thresholds)
        files = {"onnx_fp32": best_fp32} | ({"onnx_int8": INT8} if int8 else {})
        on_dev = None if split is None or dev_limit == 0 else split.head(dev_limit)
        report["dev"] = dev_comparison(clf, on_dev, thresholds, job, files)
    finally:
        job.cleanup()
    report["files"] = {p.name: p.stat().st_size for p in sorted(output_dir.glob("*.onnx"))}
    for entry in report["models"].values():
        entry["bytes"] = report["files"].get(entry["file"])
    atomic_write_json(output_dir / REPORT, report)
    return report
