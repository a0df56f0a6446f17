"""int8 whose scores do not depend on batch mates: static activation scales, int8 weights.

Why not ONNX Runtime's dynamic quantization: it computes each activation's int8 scale from the
minimum and maximum over its whole input tensor, that is over every text of the batch and its
padding, so a text's scores moved with what it was scored with (the model shipped with emotag
0.1: 19 of 300 GoEmotions test texts changed their labels between scored alone and in one
call, largest score difference 0.10). Static quantization fixes each activation's scale once,
from calibration texts (the run's dev split, each text alone and unpadded): a row's int8
values then depend on that row alone, and a text scores the same alone or in any batch.

What is quantized (QDQ format; ONNX Runtime fuses it into integer MatMuls at load):

- the inputs of the encoder's weight MatMuls: int8 weights (per output channel by default)
  and uint8 activations (the u8 x s8 kernels are the fast ones on x86); their outputs stay
  fp32 (``float_outputs``: ONNX Runtime runs them as ``MatMulIntegerToFloat``, as dynamic
  quantization did). Quantizing the outputs too (``QLinearMatMul``) tripled the mean score
  difference from PyTorch (0.0069 vs 0.0024 on 500 GoEmotions test texts; dynamic int8:
  0.0023) and was no faster;
- the embedding tables, int8 rows dequantized after the lookup (a row per token: nothing
  spans texts).

Kept in fp32: attention's activation x activation MatMuls, and the classifier head (a few
outputs per text, negligible time). Numbers: docs/results.md ("Export", "Speed").
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .job import ExportJob
from .optimize import FP32
from .trace import require

INT8 = "model.int8.onnx"
#: Dev texts whose activations set the static int8 scales (each scored alone, unpadded).
N_CALIBRATION = 400


def weight_matmuls(model: Any) -> list[tuple[str, int, int]]:
    """(node name, K, N) of every MatMul/Gemm with a constant weight, in graph order."""
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    out = []
    for node in model.graph.node:
        if node.op_type not in ("MatMul", "Gemm"):
            continue
        weights = [inits[name] for name in node.input[1:2] if name in inits]
        if not weights:
            continue
        k, n = numpy_helper.to_array(weights[0]).shape[-2:]
        trans_b = any(a.name == "transB" and a.i for a in node.attribute)
        out.append((node.name, int(n), int(k)) if trans_b else (node.name, int(k), int(n)))
    return out


def quantized_nodes(model: Any) -> tuple[list[str], list[str]]:
    """The weight MatMuls to quantize and those kept fp32 (the last one: the classifier)."""
    nodes = weight_matmuls(model)
    head = nodes[-1:] if nodes else []
    return [n for n, _, _ in nodes[:-1]], [n for n, _, _ in head]


def calibration_feeds(clf: Any, texts: Sequence[str]) -> list[dict[str, np.ndarray]]:
    """One unpadded input dict per text, as :class:`~emotag.models.onnx.OnnxClassifier`
    feeds its graph (the same preprocessing, tokenizer, truncation and input types)."""
    enc, _ = clf.encode_texts(clf.preprocessing(list(texts)))
    keys = [k for k in enc if k in clf.input_types_]
    return [clf.feeds({k: [enc[k][i]] for k in keys}) for i in range(len(texts))]


def quantize_int8(src: Path, dest: Path, calibration: list[dict[str, np.ndarray]], *,
                  per_channel: bool = True, float_outputs: bool = True) -> dict[str, Any]:
    """Static QDQ int8 of ``src`` into ``dest`` (see module docstring); ``calibration`` is a
    list of graph input dicts; ``float_outputs=False`` also quantizes the MatMul outputs.
    Returns what was quantized."""
    onnx = require("onnx", "onnx>=1.16")
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    dest = Path(dest)
    pre, qdq = (dest.with_name(f".{dest.name}.{s}.tmp") for s in ("pre", "qdq"))
    logging.disable(logging.WARNING)  # the quantizer's advice is for other model families
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # symbolic shape inference cannot follow the traced attention mask; ONNX's can
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            quantize, kept = quantized_nodes(onnx.load(str(pre), load_external_data=False))
            quantize_static(str(pre), str(qdq), Feeds(), quant_format=QuantFormat.QDQ,
                            per_channel=per_channel, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, nodes_to_quantize=quantize,
                            op_types_to_quantize=["MatMul", "Gemm"],
                            calibrate_method=CalibrationMethod.MinMax,
                            extra_options={"ActivationSymmetric": False,
                                           "WeightSymmetric": True,
                                           "CalibMovingAverage": True,
                                           **({"OpTypesToExcludeOutputQuantization":
                                               ["MatMul", "Gemm"]} if float_outputs else {})})
            # embedding rows: int8 table, each looked-up row dequantized on its own
            quantize_dynamic(str(qdq), str(dest), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["Gather"])
    finally:
        logging.disable(logging.NOTSET)
        for tmp in (pre, qdq):
            tmp.unlink(missing_ok=True)
    return {"method": "static", "format": "QDQ", "activations": "uint8, per tensor, MinMax "
            f"(moving average) over {len(calibration)} texts", "weights": "int8 symmetric, "
            + ("per channel" if per_channel else "per tensor"),
            "matmul_outputs": "fp32" if float_outputs else "uint8",
            "quantized_matmuls": len(quantize), "fp32_matmuls": kept,
            "embeddings": "int8 rows"}


def int8_stage(job: ExportJob, calibration_texts: Sequence[str], per_channel: bool | None
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Quantize ``model.onnx``, activation scales from the first :data:`N_CALIBRATION`
    ``calibration_texts``; with ``per_channel=None`` try per-tensor and per-channel weight
    scales and keep the one closer to PyTorch. Returns the quantization and model entries."""
    feeds = calibration_feeds(job.classifier(job.output_dir / FP32),
                              list(calibration_texts)[:N_CALIBRATION])
    tried: dict[str, dict[str, Any]] = {}
    best: str | None = None
    quant: dict[str, Any] = {}
    for pc in [per_channel] if per_channel is not None else [False, True]:
        key = "per_channel" if pc else "per_tensor"
        tmp = job.temp(INT8)
        info = quantize_int8(job.output_dir / FP32, tmp, feeds, per_channel=bool(pc))
        job.publish(tmp, tmp.name, "int8")  # metadata in place, still a temp file
        tried[key] = job.check(tmp)
        if best is None or tried[key]["max_abs_diff"] < tried[best]["max_abs_diff"]:
            best, quant = key, info
            os.replace(tmp, job.output_dir / INT8)
    assert best is not None
    quant |= {"source": FP32, "per_channel": best == "per_channel", "candidates": tried}
    return quant, {"file": INT8, **tried[best]}
