"""The classifier contract and the model-folder format (``emotag.json`` + backend files).

A model folder holds ``emotag.json`` (format version, emotag version, model type, labels in
order) beside the backend's own files (``transformer/`` in Hugging Face format, or
``tfidf/`` as JSON + safetensors). Nothing is pickled.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFormatError
from ..io_utils import atomic_write_json

FORMAT_VERSION = 1
MANIFEST = "emotag.json"


class EmotionClassifier(ABC):
    """What every emotag model does. Columns of ``predict_proba`` follow ``label_names``."""

    model_type: str = ""
    label_names: list[str]

    @abstractmethod
    def fit(self, train: Any, dev: Any | None = None, *, work_dir: Path | None = None,
            resume: bool = False) -> EmotionClassifier:
        """Learn from a training :class:`~emotag.data.Split`; ``dev`` only for monitoring."""

    @abstractmethod
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n_texts, n_labels) float32 independent per-label probabilities (sigmoid)."""

    @abstractmethod
    def save_backend(self, model_dir: Path) -> dict[str, Any]:
        """Write the backend files; return extra manifest fields."""

    @classmethod
    @abstractmethod
    def load_backend(cls, model_dir: Path, manifest: dict[str, Any]) -> EmotionClassifier:
        """Rebuild from the backend files."""


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Independent per-label probabilities (float32), computed in float64 to avoid overflow."""
    return (1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))).astype(np.float32)


def length_sorted_batches(encoded: Any, keys: Sequence[str], batch_size: int
                          ) -> Iterator[tuple[np.ndarray, dict[str, list]]]:
    """Row indices and unpadded features of batches of similar length.

    Sorting by token count keeps padding (wasted compute) small; callers write each batch's
    results back at its indices, so output rows stay in input order.
    """
    order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
    step = max(1, int(batch_size))
    for start in range(0, len(order), step):
        idx = order[start:start + step]
        yield idx, {k: [encoded[k][i] for i in idx] for k in keys}


def _registry() -> dict[str, type[EmotionClassifier]]:
    from .onnx import OnnxClassifier
    from .tfidf import TfidfLogRegClassifier
    from .transformer import TransformerClassifier

    return {"tfidf": TfidfLogRegClassifier, "transformer": TransformerClassifier,
            "onnx": OnnxClassifier}


def save_model(model: EmotionClassifier, model_dir: Path) -> None:
    """Backend files first, manifest last: a folder with ``emotag.json`` is complete."""
    from .. import __version__

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    extra = model.save_backend(model_dir)
    atomic_write_json(model_dir / MANIFEST, {
        "format_version": FORMAT_VERSION, "emotag_version": __version__,
        "model_type": model.model_type, "label_names": list(model.label_names), **extra})


def read_manifest(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / MANIFEST
    if not path.is_file():
        raise ModelFormatError(f"{model_dir} is not an emotag model folder ({MANIFEST} missing); "
                               "train one with `emotag train` or pass the run folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelFormatError(f"{path}: invalid JSON ({e})") from e
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(f"{path}: format_version {manifest.get('format_version')!r}, "
                               f"this emotag reads {FORMAT_VERSION}; use a matching emotag")
    return manifest


def load_model(model_dir: Path) -> EmotionClassifier:
    """Load any emotag model folder."""
    manifest = read_manifest(model_dir)
    registry = _registry()
    kind = manifest.get("model_type")
    if kind not in registry:
        raise ModelFormatError(f"{model_dir}: unknown model_type {kind!r}")
    return registry[kind].load_backend(Path(model_dir), manifest)
