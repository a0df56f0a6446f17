"""Trace a Hugging Face classifier to an fp32 ONNX graph, and the file helpers of an export.

The graph takes ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the tokenizer
makes them) with dynamic batch and sequence axes and returns the logits. Each written ONNX
file carries emotag's ``metadata_props`` (label names, thresholds, ``max_length``), so a bare
file is self-describing.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ...errors import MissingDependencyError, ModelFormatError
from ...utils.files import atomic_write_bytes

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def require(module: str, pip: str) -> Any:
    """``module``, or an error that names the pip command."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(f"ONNX export needs {module}: pip install '{pip}'") from e


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


def temp_path(folder: Path, name: str) -> Path:
    """A new hidden temp file in ``folder`` (same file system: it can be renamed into place)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def write_with_metadata(src: Path, dest: Path, metadata: dict[str, Any]) -> None:
    """Load ``src``, set emotag's ``metadata_props`` (JSON strings), write ``dest`` atomically."""
    onnx = require("onnx", "onnx>=1.16")
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    props.update({k: json.dumps(v, ensure_ascii=False) for k, v in metadata.items()})
    onnx.helper.set_model_props(model, props)
    atomic_write_bytes(dest, model.SerializeToString())


def copy_tokenizer(tokenizer: Any, output_dir: Path) -> list[str]:
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
