"""Export a trained transformer run to ONNX (fp32, graph-optimized, int8) and check it.

A run folder holds a PyTorch model; serving it with ONNX Runtime needs no torch and, with
int8 weights, is about four times smaller. Every export is checked against the PyTorch model
it came from: the largest probability difference on a few hundred texts, and the dev macro-F1
at the run's own thresholds, both written to ``export_report.json``. Each ONNX file carries
the label names and thresholds in its ``metadata_props``, so a bare file is self-describing.

Layout of ``OUTPUT_DIR`` (default ``RUN_DIR/onnx``): ``model.onnx`` (fp32), ``model.opt.onnx``
(fused by the onnxruntime transformers optimizer, only when that is faster and agrees),
``model.int8.onnx`` (dynamic int8 quantization), the tokenizer files, ``export_report.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.datasets import Split
from ..errors import DataError, MissingDependencyError, ModelFormatError
from ..models.onnx import META_LABELS, META_MAX_LENGTH, META_THRESHOLDS, OnnxClassifier
from ..utils.files import atomic_write_bytes, atomic_write_json

REPORT = "export_report.json"
FP32, OPT, INT8 = "model.onnx", "model.opt.onnx", "model.int8.onnx"
N_CHECK = 256
#: An optimized graph that moves a probability by more than this is wrong, not "fused".
OPT_TOLERANCE = 1e-3
#: The optimized graph is kept only when it is at least this much faster than the plain one.
MIN_SPEEDUP = 1.03
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def _require(module: str, pip: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(f"ONNX export needs {module}: pip install '{pip}'") from e


# --------------------------------------------------------------------------- fp32 export
def _logits_module(hf_model: Any) -> Any:
    """The HF model as a module that returns only the logits tensor (what ONNX outputs)."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
            kwargs = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              **kwargs).logits

    return LogitsOnly(hf_model).eval()


@contextmanager
def _eager_attention(hf_model: Any) -> Any:
    """Trace with the eager attention: the onnxruntime optimizer recognises its pattern
    (MatMul, Softmax, MatMul) and fuses it; the SDPA decomposition is traced differently."""
    before = getattr(hf_model.config, "_attn_implementation", None)
    switch = before not in (None, "eager") and hasattr(hf_model, "set_attn_implementation")
    if switch:
        hf_model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if switch:
            hf_model.set_attn_implementation(before)


def export_fp32(hf_model: Any, tokenizer: Any, path: Path, *, opset: int = 17) -> list[str]:
    """Trace ``hf_model`` to ``path`` (logits output, dynamic batch and sequence axes).

    The example batch has a padded row: transformers drops the attention mask when a batch
    has no padding, and a trace of that path would ignore padding forever.
    Returns the graph's input names.
    """
    import torch

    enc = tokenizer(["an example sentence with several words for tracing", "hi"],
                    padding=True, return_tensors="pt")
    names = [n for n in INPUT_NAMES if n in enc]
    if "attention_mask" not in names:
        raise ModelFormatError("the tokenizer does not return attention_mask; emotag's ONNX "
                               "export needs it for padded batches")
    wrapper = _logits_module(hf_model)
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    with _eager_attention(hf_model), warnings.catch_warnings(), torch.inference_mode(False):
        warnings.simplefilter("ignore")  # TorchScript-exporter deprecation and tracer notes
        torch.onnx.export(wrapper, tuple(enc[n] for n in names), str(path), dynamo=False,
                          input_names=names, output_names=["logits"], dynamic_axes=axes,
                          opset_version=opset, do_constant_folding=True)
    hf_model.eval()  # the exporter restores the wrapper's (training) mode on its children
    return names


# --------------------------------------------------------------------------- file helpers
def _temp_path(folder: Path, name: str) -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def write_with_metadata(src: Path, dest: Path, metadata: dict[str, Any]) -> None:
    """Load ``src``, set emotag's ``metadata_props`` (JSON strings), write ``dest`` atomically."""
    onnx = _require("onnx", "onnx>=1.16")
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    props.update({k: json.dumps(v, ensure_ascii=False) for k, v in metadata.items()})
    onnx.helper.set_model_props(model, props)
    atomic_write_bytes(dest, model.SerializeToString())


def _copy_tokenizer(tokenizer: Any, output_dir: Path) -> list[str]:
    """Tokenizer files next to the .onnx files, each one renamed into place."""
    tmp = Path(tempfile.mkdtemp(dir=output_dir, prefix=".tokenizer."))
    try:
        tokenizer.save_pretrained(str(tmp))
        names = sorted(p.name for p in tmp.iterdir() if p.is_file())
        for name in names:
            os.replace(tmp / name, output_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return names


# --------------------------------------------------------------------------- optimize, quantize
def optimize_graph(src: Path, dest: Path, *, num_heads: int, hidden_size: int) -> dict[str, Any]:
    """Fuse attention, LayerNorm and GELU with onnxruntime's transformers optimizer.

    ``opt_level=1`` only applies hardware-independent rewrites before the Python fusions; the
    saved graph runs on any CPU, and ONNX Runtime adds its hardware-specific passes at load.
    """
    from onnxruntime.transformers.optimizer import optimize_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = optimize_model(str(src), model_type="bert", num_heads=num_heads,
                             hidden_size=hidden_size, opt_level=1, use_gpu=False)
    fused = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
    opt.save_model_to_file(str(dest))
    return {"opt_level": 1, "fused_ops": fused}


def quantize_int8(src: Path, dest: Path, *, per_channel: bool) -> None:
    """Dynamic quantization: int8 weights (QInt8), activations quantized at run time."""
    import logging

    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Shape inference cannot type the outputs of fused com.microsoft ops (Attention,
    # SkipLayerNormalization); every float tensor of these graphs is fp32.
    extra = {"DefaultTensorType": TensorProto.FLOAT}
    logging.disable(logging.WARNING)  # "consider pre-processing": that is for static quant
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(src), str(dest), weight_type=QuantType.QInt8,
                             per_channel=per_channel, extra_options=extra)
    finally:
        logging.disable(logging.NOTSET)


# --------------------------------------------------------------------------- checks
def _timed(fn: Any, *args: Any, repeats: int = 1) -> tuple[Any, float]:
    """Result and best-of-``repeats`` wall time (the machine may be busy; the minimum is the
    least disturbed run)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return out, best


def _diff(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return {"max_abs_diff": float(d.max()) if d.size else 0.0,
            "mean_abs_diff": float(d.mean()) if d.size else 0.0}


def _macro_f1(dev: Split, probs: np.ndarray, thresholds: np.ndarray) -> float:
    from ..evaluation.metrics import evaluate_decisions

    m = evaluate_decisions(dev.labels, probs, thresholds, dev.label_names, groupings=False)
    return float(m["averages"]["macro"]["f1"])


def _resolve_dev(dev: Split | None, dev_limit: int | None, labels: list[str]) -> Split | None:
    if dev_limit == 0:
        return None
    if dev is None:
        from ..data.datasets import load_goemotions

        dev = load_goemotions()["dev"]
    if list(dev.label_names) != labels:
        raise DataError(f"dev split labels {dev.label_names} differ from the model's {labels}; "
                        "pass the model's own dev split (dev=...)", path=dev.source or None)
    return dev.head(dev_limit)


# --------------------------------------------------------------------------- stages
@dataclass
class _Job:
    """What every stage of one export shares: where files go, what they carry, and the
    PyTorch probabilities on the check texts that every ONNX model is compared with."""

    output_dir: Path
    labels: list[str]
    max_length: int
    num_threads: int | None
    metadata: dict[str, Any]
    check_texts: list[str]
    torch_check: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    temps: list[Path] = field(default_factory=list)

    def temp(self, name: str) -> Path:
        path = _temp_path(self.output_dir, name)
        self.temps.append(path)
        return path

    def publish(self, src: Path, name: str, precision: str) -> Path:
        """``src`` with emotag's metadata, renamed to ``output_dir/name``."""
        write_with_metadata(src, self.output_dir / name,
                            self.metadata | {"emotag.precision": precision})
        return self.output_dir / name

    def classifier(self, path: Path) -> OnnxClassifier:
        return OnnxClassifier(path, self.output_dir, self.labels, self.max_length,
                              self.num_threads)

    def check(self, path: Path, repeats: int = 1) -> dict[str, Any]:
        """Probability differences from PyTorch on the check texts, and the time taken."""
        probs, secs = _timed(self.classifier(path).predict_proba, self.check_texts,
                             repeats=repeats)
        return {**_diff(probs, self.torch_check), "check_s": round(secs, 3)}


def _optimize_stage(job: _Job, hf_config: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Try the fused graph; keep it only when it agrees with PyTorch and is faster.

    Returns the optimizer's report entry and the kept model's entry (None when not kept).
    """
    info: dict[str, Any] = {"used": False}
    try:
        tmp = job.temp(OPT)
        info.update(optimize_graph(job.output_dir / FP32, tmp,
                                   num_heads=int(hf_config.num_attention_heads),
                                   hidden_size=int(hf_config.hidden_size)))
        opt_path = job.publish(tmp, OPT, "fp32")
        fused = job.check(opt_path, repeats=3)
        # the plain graph is timed again right after, under the same machine load
        plain_s = job.check(job.output_dir / FP32, repeats=3)["check_s"]
        speedup = plain_s / fused["check_s"] if fused["check_s"] > 0 else float("inf")
        info.update(plain_s=plain_s, optimized_s=fused["check_s"], speedup=round(speedup, 3))
        if fused["max_abs_diff"] > OPT_TOLERANCE:
            info["reason"] = (f"fused graph differs from PyTorch by "
                              f"{fused['max_abs_diff']:.2e} > {OPT_TOLERANCE}")
        elif speedup < MIN_SPEEDUP:
            info["reason"] = (f"not faster ({speedup:.2f}x on {len(job.check_texts)} texts); "
                              "the plain graph is kept")
        else:
            info.update(used=True, reason=f"{speedup:.2f}x faster on "
                        f"{len(job.check_texts)} texts")
            return info, {"file": OPT, **fused}
    except Exception as e:  # the optimizer is best effort; the plain graph stays
        info["reason"] = f"optimizer failed: {type(e).__name__}: {e}"
    (job.output_dir / OPT).unlink(missing_ok=True)
    return info, None


def _int8_stage(job: _Job, source: str, per_channel: bool | None
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Quantize ``source``; with ``per_channel=None`` try per-tensor and per-channel scales
    and keep the one closer to PyTorch. Returns the quantization and model report entries."""
    tried: dict[str, dict[str, Any]] = {}
    best: str | None = None
    for pc in [per_channel] if per_channel is not None else [False, True]:
        key = "per_channel" if pc else "per_tensor"
        tmp = job.temp(INT8)
        quantize_int8(job.output_dir / source, tmp, per_channel=bool(pc))
        write_with_metadata(tmp, tmp, job.metadata | {"emotag.precision": "int8"})
        tried[key] = job.check(tmp)
        if best is None or tried[key]["max_abs_diff"] < tried[best]["max_abs_diff"]:
            best = key
            os.replace(tmp, job.output_dir / INT8)
    assert best is not None
    quant = {"weight_type": "QInt8", "source": source, "per_channel": best == "per_channel",
             "candidates": tried}
    return quant, {"file": INT8, **tried[best]}


# --------------------------------------------------------------------------- main entry
def export_onnx(model_dir: Path, output_dir: Path | None = None, *, int8: bool = True,
                optimize: bool = True, opset: int = 17, check_texts: list[str] | None = None,
                dev: Split | None = None, dev_limit: int | None = None,
                per_channel: bool | None = None, num_threads: int | None = None
                ) -> dict[str, Any]:
    """Export the transformer run in ``model_dir`` to ONNX and report how faithful it is.

    Parameters
    ----------
    model_dir : a run folder whose ``emotag.json`` says ``model_type: transformer``.
    output_dir : where the files go (default ``model_dir/onnx``).
    int8, optimize : also write ``model.int8.onnx`` / try ``model.opt.onnx``.
    opset : ONNX opset of the traced graph.
    check_texts : texts for the probability comparison (default: the first 256 dev texts).
    dev : the split for the macro-F1 comparison (default: bundled GoEmotions dev).
    dev_limit : only its first rows (0 skips the dev comparison).
    per_channel : int8 weight scales per output channel; None tries both and keeps the one
        closer to PyTorch on ``check_texts``.
    num_threads : threads for PyTorch and ONNX Runtime (default: every usable core).

    Returns the report also written to ``output_dir/export_report.json``.
    """
    from .. import __version__
    from ..evaluation.thresholds import ThresholdTuner
    from ..models import load_model
    from ..models.base import read_manifest
    from ..models.onnx import import_onnxruntime
    from ..models.transformer import set_threads

    ort = import_onnxruntime()
    torch = _require("torch", "torch")
    onnx = _require("onnx", "onnx>=1.16")
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
    tfile = model_dir / "thresholds.json"
    thresholds = (ThresholdTuner.load(tfile, labels).thresholds_ if tfile.is_file()
                  else np.full(len(labels), 0.5))
    dev_split = _resolve_dev(dev, dev_limit, labels)
    if check_texts is None:
        if dev_split is None:
            raise DataError("no texts to check the export on: pass check_texts or a dev split")
        check_texts = list(dev_split.texts[:N_CHECK])
    metadata = {META_LABELS: labels,
                META_THRESHOLDS: {n: float(t) for n, t in zip(labels, thresholds, strict=True)},
                META_MAX_LENGTH: int(clf.max_length), "emotag.version": __version__,
                "emotag.source_run": str(model_dir.resolve())}
    job = _Job(output_dir, labels, int(clf.max_length), num_threads, metadata,
               list(check_texts))
    report: dict[str, Any] = {
        "model_dir": str(model_dir), "output_dir": str(output_dir), "opset": opset,
        "max_length": int(clf.max_length),
        "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__,
                     "onnx": onnx.__version__, "emotag": __version__},
        "check": {"n_texts": len(check_texts)}, "models": {}}
    try:
        t0 = time.perf_counter()
        tmp = job.temp(FP32)
        report["inputs"] = export_fp32(clf.model_, clf.tokenizer_, tmp, opset=opset)
        job.publish(tmp, FP32, "fp32")
        report["export_s"] = round(time.perf_counter() - t0, 2)
        report["tokenizer_files"] = _copy_tokenizer(clf.tokenizer_, output_dir)
        job.torch_check = clf.predict_proba(job.check_texts)
        report["models"]["fp32"] = {"file": FP32, **job.check(output_dir / FP32)}
        best_fp32 = FP32
        if optimize:
            report["optimizer"], kept = _optimize_stage(job, clf.model_.config)
            if kept is not None:
                report["models"]["fp32_opt"] = kept
                best_fp32 = OPT
        else:
            (output_dir / OPT).unlink(missing_ok=True)  # a stale one would not match
        if int8:
            report["quantization"], report["models"]["int8"] = _int8_stage(
                job, best_fp32, per_channel)
        else:
            (output_dir / INT8).unlink(missing_ok=True)
        report["dev"] = _dev_comparison(clf, dev_split, thresholds, job, best_fp32, int8)
    finally:
        for t in job.temps:
            t.unlink(missing_ok=True)
    report["files"] = {p.name: p.stat().st_size for p in sorted(output_dir.glob("*.onnx"))}
    for entry in report["models"].values():
        entry["bytes"] = report["files"].get(entry["file"])
    atomic_write_json(output_dir / REPORT, report)
    return report


def _dev_comparison(clf: Any, dev: Split | None, thresholds: np.ndarray, job: _Job,
                    fp32_file: str, int8: bool) -> dict[str, Any] | None:
    """Macro-F1 at the run's thresholds on dev for PyTorch and each ONNX model, with the
    number of (text, label) decisions that differ from PyTorch's and the wall time."""
    if dev is None:
        return None
    torch_probs, torch_s = _timed(clf.predict_proba, dev.texts)
    torch_pred = torch_probs >= thresholds[None, :]
    out: dict[str, Any] = {"n_examples": len(dev), "macro_f1": {}, "decision_flips": {},
                           "seconds": {"torch": round(torch_s, 2)}, "fp32_file": fp32_file}
    out["macro_f1"]["torch"] = _macro_f1(dev, torch_probs, thresholds)
    for key, fname in (("onnx_fp32", fp32_file), ("onnx_int8", INT8 if int8 else None)):
        if fname is None:
            continue
        probs, secs = _timed(job.classifier(job.output_dir / fname).predict_proba, dev.texts)
        out["macro_f1"][key] = _macro_f1(dev, probs, thresholds)
        out["decision_flips"][key] = int(((probs >= thresholds[None, :]) != torch_pred).sum())
        out["seconds"][key] = round(secs, 2)
    return out


# --------------------------------------------------------------------------- packaging
def package_onnx_model(run_dir: Path, onnx_file: Path, output_dir: Path) -> Path:
    """A standalone model folder that ``emotag.load`` serves with ONNX Runtime.

    Writes ``emotag.json`` (model_type ``onnx``), ``onnx/`` (the file + tokenizer, found next
    to ``onnx_file``) and copies ``thresholds.json`` and ``metrics.json`` from the run.
    """
    from ..models import save_model
    from ..models.base import read_manifest

    run_dir, onnx_file, output_dir = Path(run_dir), Path(onnx_file), Path(output_dir)
    manifest = read_manifest(run_dir)
    if output_dir.resolve() == run_dir.resolve():
        raise ModelFormatError(f"{output_dir}: package into a new folder, not the run itself "
                               "(its emotag.json describes the PyTorch model)")
    info = manifest.get("transformer", {})
    clf = OnnxClassifier(onnx_file, onnx_file.parent, label_names=manifest["label_names"],
                         max_length=info.get("max_length"))
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in ("thresholds.json", "metrics.json"):
        if (run_dir / name).is_file():
            atomic_write_bytes(output_dir / name, (run_dir / name).read_bytes())
    save_model(clf, output_dir)  # manifest last: the folder is complete once it exists
    return output_dir
