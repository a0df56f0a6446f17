"""An exported transformer run, served by ONNX Runtime instead of PyTorch.

``emotag export`` turns a trained transformer run into ``model.onnx`` (and an int8 copy);
:class:`OnnxClassifier` reads such a file plus the tokenizer saved beside it, so inference
needs onnxruntime and a tokenizer, not torch. Label names, thresholds and ``max_length`` ride
inside the file's ``metadata_props``, so a bare ``.onnx`` file is self-describing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingDependencyError, ModelFormatError, NotTrainableError
from ..utils.files import replace_dir
from .base import EmotionClassifier, TokenWindows, length_sorted_batches, pool_windows, sigmoid

ONNX_SUBDIR = "onnx"
#: ``metadata_props`` keys written by :mod:`emotag.inference.export` (values are JSON strings).
META_LABELS = "emotag.label_names"
META_THRESHOLDS = "emotag.evaluation.thresholds"
META_MAX_LENGTH = "emotag.max_length"
_NP_INT = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


def import_onnxruntime() -> Any:
    """onnxruntime, or an error that names the pip command."""
    try:
        import onnxruntime
    except ImportError as e:
        raise MissingDependencyError("ONNX models need onnxruntime: pip install "
                                     "'onnxruntime>=1.18'") from e
    return onnxruntime


def default_threads() -> int:
    """Every core this process may run on (cgroup/taskset aware, unlike os.cpu_count)."""
    return max(1, len(os.sched_getaffinity(0)))


def read_metadata(onnx_file: Path) -> dict[str, Any]:
    """The emotag entries of an ONNX file's ``metadata_props``, JSON-decoded."""
    ort = import_onnxruntime()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
    return session_metadata(sess)


def session_metadata(session: Any) -> dict[str, Any]:
    """The ``emotag.*`` entries of an open session's model metadata, JSON-decoded."""
    raw = session.get_modelmeta().custom_metadata_map
    return {k: json.loads(v) for k, v in raw.items() if k.startswith("emotag.")}


DEFAULT_BATCH = 64


class OnnxClassifier(TokenWindows, EmotionClassifier):
    """An ONNX graph (``input_ids``, ``attention_mask`` [, ``token_type_ids``] -> logits).

    Parameters
    ----------
    onnx_file : path of the ``.onnx`` file.
    tokenizer_dir : folder with the tokenizer files (default: the file's folder).
    label_names, max_length : default to the file's emotag metadata.
    num_threads : ONNX Runtime intra-op threads (default: every core this process may use).
    spin_wait : let idle intra-op threads spin for the next piece of work (ONNX Runtime's
        default; fastest for back-to-back batches). A service turns it off: spinning threads
        take the cores its event loop needs between requests (docs/results.md, load test).
    window_overlap : None cuts texts at ``max_length`` tokens; an int scores overlapping
        windows instead (see :class:`~emotag.models.base.TokenWindows`).
    """

    model_type = "onnx"

    def __init__(self, onnx_file: str | Path, tokenizer_dir: str | Path | None = None,
                 label_names: Sequence[str] | None = None, max_length: int | None = None,
                 num_threads: int | None = None, window_overlap: int | None = None,
                 spin_wait: bool = True) -> None:
        self.onnx_file = Path(onnx_file)
        self.tokenizer_dir = Path(tokenizer_dir) if tokenizer_dir else self.onnx_file.parent
        if not self.onnx_file.is_file():
            raise ModelFormatError(f"{self.onnx_file}: ONNX file not found; create it with "
                                   "`emotag export RUN_DIR --onnx`")
        self.num_threads = num_threads
        self.spin_wait = spin_wait
        self._open_session()
        meta = session_metadata(self.session_)
        self.label_names = list(label_names or meta.get(META_LABELS) or [])
        if not self.label_names:
            raise ModelFormatError(f"{self.onnx_file}: no label names given and none in its "
                                   f"metadata ({META_LABELS}); pass label_names=")
        n_out = self.session_.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(self.label_names):
            raise ModelFormatError(f"{self.onnx_file}: {n_out} outputs for "
                                   f"{len(self.label_names)} label names")
        self.max_length = int(max_length or meta.get(META_MAX_LENGTH) or 128)
        self._load_tokenizer()
        self.use_windows(window_overlap)

    def _open_session(self) -> None:
        ort = import_onnxruntime()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.num_threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not self.spin_wait:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session_ = ort.InferenceSession(str(self.onnx_file), opts,
                                                 providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own (non-emotag) exception types
            raise ModelFormatError(f"{self.onnx_file}: onnxruntime cannot load it ({e}); "
                                   "re-export with `emotag export RUN_DIR --onnx`") from e
        self.input_types_ = {i.name: _NP_INT.get(i.type, np.int64)
                             for i in self.session_.get_inputs()}

    def _load_tokenizer(self) -> None:
        # A tokenizer.json is read with the tokenizers library alone: transformers is not in
        # the base install, and its AutoTokenizer would import torch (~450 MB resident) that
        # ONNX inference never uses.
        if (Path(self.tokenizer_dir) / "tokenizer.json").is_file():
            from .tokenizer import FastTokenizer as TokenizerClass
        else:
            from transformers import AutoTokenizer as TokenizerClass

        try:
            self.tokenizer_ = TokenizerClass.from_pretrained(str(self.tokenizer_dir))
        except (OSError, ValueError) as e:
            raise ModelFormatError(f"{self.tokenizer_dir}: no tokenizer for {self.onnx_file} "
                                   f"({e}); export again so the tokenizer files are written "
                                   "next to the .onnx file") from e

    # ------------------------------------------------------------------ contract
    def fit(self, train: Any, dev: Any | None = None, *, work_dir: Path | None = None,
            resume: bool = False) -> OnnxClassifier:
        raise NotTrainableError("ONNX models are exported, not trained: train a transformer "
                                "run with `emotag train`, then `emotag export RUN_DIR --onnx`")

    def predict_logits(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Raw logits in input order, in length-sorted padded batches (default 64 texts).

        A text gets the same scores alone (``batch_size=1``, unpadded) as in any padded
        batch: fp32 graphs and emotag's static int8 graphs
        (:mod:`emotag.inference.export.quantize`) work row by row, and padding is masked
        (measured: at most 1e-7 apart). Graphs with dynamic int8 quantization (what
        ``emotag export`` wrote before 0.2) are not: their activation scales span the whole
        batch. Long texts are cut at ``max_length`` tokens, or scored by windows
        (max-pooled) when ``window_overlap`` is set.
        """
        texts = self.prepared(texts)
        if not texts:
            return np.zeros((0, len(self.label_names)), dtype=np.float32)
        batch_size = batch_size or DEFAULT_BATCH
        enc, owner = self.encode_texts(texts)
        out = np.zeros((len(owner), len(self.label_names)), dtype=np.float32)
        keys = [k for k in enc if k in self.input_types_]
        if batch_size == 1:
            for i in range(len(out)):
                out[i] = self.session_.run(None, self.feeds({k: [enc[k][i]] for k in keys}))[0][0]
        else:
            for idx, features in length_sorted_batches(enc, keys, batch_size):
                batch = self.tokenizer_.pad(features, return_tensors="np")
                out[idx] = self.session_.run(None, self.feeds(batch))[0]
        return pool_windows(out, owner, len(texts))

    def feeds(self, batch: Any) -> dict[str, np.ndarray]:
        """The graph's inputs from a tokenizer batch, in the graph's integer types."""
        feeds = {}
        for name, dtype in self.input_types_.items():
            if name in batch:
                feeds[name] = np.asarray(batch[name], dtype=dtype)
            elif name == "token_type_ids":  # graph wants it, tokenizer does not make it
                feeds[name] = np.zeros_like(np.asarray(batch["input_ids"]), dtype=dtype)
            else:
                raise ModelFormatError(f"{self.onnx_file}: input {name!r} is not produced "
                                       f"by the tokenizer in {self.tokenizer_dir}")
        return feeds

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        return sigmoid(self.predict_logits(texts, batch_size))

    # ------------------------------------------------------------------ persistence
    def save_backend(self, model_dir: Path) -> dict[str, Any]:
        """The .onnx file and the tokenizer in ``MODEL_DIR/onnx/``, written to a temp folder
        and renamed, so an interrupted save never leaves half a model."""
        tmp = Path(model_dir) / f".{ONNX_SUBDIR}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        shutil.copyfile(self.onnx_file, tmp / self.onnx_file.name)
        self.tokenizer_.save_pretrained(tmp)
        replace_dir(tmp, Path(model_dir) / ONNX_SUBDIR)
        return {"onnx": {"file": self.onnx_file.name, "max_length": self.max_length}}

    @classmethod
    def load_backend(cls, model_dir: Path, manifest: dict[str, Any],
                     **options: Any) -> OnnxClassifier:
        info = manifest.get("onnx") or {}
        folder = Path(model_dir) / ONNX_SUBDIR
        if "file" not in info:
            raise ModelFormatError(f"{Path(model_dir) / 'emotag.json'}: model_type 'onnx' "
                                   "without an 'onnx.file' entry; package the export again")
        return cls(folder / info["file"], tokenizer_dir=folder,
                   label_names=manifest["label_names"], max_length=info.get("max_length"),
                   num_threads=options.get("num_threads"),
                   spin_wait=options.get("spin_wait", True))
