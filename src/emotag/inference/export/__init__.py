"""Export a trained transformer run to ONNX (fp32, graph-optimized, int8), check and package it.

A run folder holds a PyTorch model; serving it with ONNX Runtime needs no torch and, with
int8 weights, is about four times smaller. Every export is checked against the PyTorch model
it came from on the run's own data (``--data FILE``, else the run's dev split): the largest
probability difference on a few hundred texts, the dev macro-F1 at the run's thresholds, and
whether each file scores a text the same alone and in a batch; all in ``export_report.json``.

Layout of ``OUTPUT_DIR`` (default ``RUN_DIR/onnx``): ``model.onnx`` (fp32), ``model.opt.onnx``
(fused by the onnxruntime transformers optimizer, only when that is faster and agrees),
``model.int8.onnx`` (static int8: batch-independent), the tokenizer files,
``export_report.json``.

Modules, one stage each: :mod:`.trace` (fp32 graph, file helpers), :mod:`.optimize`
(fusions), :mod:`.quantize` (int8), :mod:`.parity` (check data, comparison with PyTorch),
:mod:`.package` (a model folder around an ONNX file), :mod:`.pipeline` (the sequence).
"""

from .optimize import optimize_graph
from .package import package_onnx_model
from .pipeline import REPORT, export_onnx
from .quantize import quantize_int8
from .trace import export_fp32, write_with_metadata

__all__ = ["REPORT", "export_fp32", "export_onnx", "optimize_graph", "package_onnx_model",
           "quantize_int8", "write_with_metadata"]
