"""The classifier contract and the model-folder format (``emotag.json`` + backend files).

A model folder holds ``emotag.json`` (format version, emotag version, model type, labels in
order) beside the backend's own files (``transformer/`` in Hugging Face format,
``tfidf/`` as JSON + safetensors, ``onnx/``, or an ensemble's ``members/``, each a model
folder). Nothing is pickled.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.preprocess import Preprocessing
from ..errors import ConfigError, ModelFormatError
from ..utils.files import atomic_write_json, sha256_file

FORMAT_VERSION = 1
MANIFEST = "emotag.json"


class EmotionClassifier(ABC):
    """What every emotag model does. Columns of ``predict_proba`` follow ``label_names``."""

    model_type: str = ""
    label_names: list[str]
    #: Text rewrites every backend applies before scoring (saved in the manifest).
    preprocessing: Preprocessing = Preprocessing()

    def prepared(self, texts: str | Sequence[str]) -> list[str]:
        """``texts`` as a list (one string is one text), with :attr:`preprocessing` applied:
        what every backend scores."""
        return self.preprocessing([texts] if isinstance(texts, str) else texts)

    @abstractmethod
    def fit(self, train: Any, dev: Any | None = None, *, work_dir: Path | None = None,
            resume: bool = False) -> EmotionClassifier:
        """Learn from a training :class:`~emotag.data.datasets.Split`; ``dev`` only for
        monitoring."""

    @abstractmethod
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n_texts, n_labels) float32 independent per-label probabilities (sigmoid)."""

    @abstractmethod
    def save_backend(self, model_dir: Path) -> dict[str, Any]:
        """Write the backend files; return extra manifest fields."""

    @classmethod
    @abstractmethod
    def load_backend(cls, model_dir: Path, manifest: dict[str, Any],
                     **options: Any) -> EmotionClassifier:
        """Rebuild from the backend files.

        ``options`` are inference settings that must be known when the backend is opened
        (``num_threads``: an ONNX Runtime session fixes its thread pool at creation); a
        backend ignores the ones it has no use for.
        """


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


class TokenWindows:
    """Mixin for models that read a tokenizer's ids (``tokenizer_``, ``max_length``).

    Texts longer than ``max_length`` tokens are cut there (never an error). With
    ``window_overlap`` set, they are instead split into windows of at most ``max_length``
    tokens, consecutive windows sharing ``window_overlap`` tokens (the ``stride`` of Hugging
    Face tokenizers); each window is scored and a text gets, per label, the maximum over its
    windows. Max, not mean: an emotion voiced in one paragraph of a long text is present in
    the text, and averaging would dilute it with the neutral windows around it.
    """

    tokenizer_: Any
    max_length: int
    window_overlap: int | None = None

    def use_windows(self, overlap: int | None) -> None:
        """Turn sliding windows on (``overlap`` tokens shared) or off (None: truncate)."""
        if overlap is not None:
            n_special = self.tokenizer_.num_special_tokens_to_add()
            limit = self.max_length - n_special
            if not 0 <= int(overlap) < limit:
                raise ConfigError(f"window overlap (stride) {overlap} must be in 0..{limit - 1}: "
                                  f"max_length {self.max_length} minus {n_special} special "
                                  "tokens, so that every window moves forward")
            if not getattr(self.tokenizer_, "is_fast", False):
                raise ConfigError("sliding windows need a fast (Rust) tokenizer; this model's "
                                  f"is {type(self.tokenizer_).__name__}")
            overlap = int(overlap)
        self.window_overlap = overlap

    def encode_texts(self, texts: Sequence[str]) -> tuple[Any, np.ndarray]:
        """Token ids of ``texts`` and, for each encoded row, the index of the text it is from.

        Without windows, row i is text i cut at ``max_length`` tokens.
        """
        if self.window_overlap is None:
            enc = self.tokenizer_(list(texts), truncation=True, max_length=self.max_length)
            return enc, np.arange(len(texts))
        enc = self.tokenizer_(list(texts), truncation=True, max_length=self.max_length,
                              stride=self.window_overlap, return_overflowing_tokens=True)
        owner = np.asarray(enc.pop("overflow_to_sample_mapping"), dtype=np.int64)
        return enc, owner


def default_window_overlap(max_length: int) -> int:
    """A quarter of the window: each token is seen with at least some context on both sides
    in one window or the next, at about 1.33x the cost of one pass over the text."""
    return max(0, int(max_length) // 4)


def window_parts(model: Any) -> list[TokenWindows]:
    """What reads token windows in ``model``: the model itself, or an ensemble's members
    (recursively); TF-IDF reads whole texts and has none."""
    if isinstance(model, TokenWindows):
        return [model]
    return [part for member in getattr(model, "members_", []) for part in window_parts(member)]


def pool_windows(rows: np.ndarray, owner: np.ndarray, n_texts: int,
                 how: str = "max") -> np.ndarray:
    """Per text, the per-column maximum (``how="max"``) or mean (``"mean"``) over its rows
    (windows). Max for scores: max of logits equals max of sigmoid scores (monotone), so
    pooling logits is the same as pooling probabilities. Mean for embeddings
    (:meth:`~emotag.models.transformer.TransformerClassifier.embed`): a text's state is the
    centre of its windows' states."""
    if len(owner) == n_texts and np.array_equal(owner, np.arange(n_texts)):
        return rows
    if how == "mean":
        sums = np.zeros((n_texts, rows.shape[1]), dtype=np.float64)
        np.add.at(sums, owner, rows)
        return (sums / np.bincount(owner, minlength=n_texts)[:, None]).astype(rows.dtype)
    out = np.full((n_texts, rows.shape[1]), -np.inf, dtype=rows.dtype)
    np.maximum.at(out, owner, rows)
    return out


_BACKENDS = {"tfidf": ("tfidf", "TfidfLogRegClassifier"),
             "transformer": ("transformer", "TransformerClassifier"),
             "onnx": ("onnx", "OnnxClassifier"),
             "knn": ("knn", "KnnClassifier"),
             "ensemble": ("ensemble", "EnsembleClassifier")}

#: What a model folder may hold beside the model: reports, plots, saved predictions, training
#: state, a distillation cache, the ensemble search record. Never part of the model: not
#: copied with it, not in its fingerprint.
NOT_MODEL = frozenset({"plots", "predictions", "checkpoints", "onnx-export", "report.md",
                       "report.html", "metrics.json", "run_log.json", "train_config.json",
                       "MODEL_CARD.md", "export_report.json", "intervals.json",
                       "ensemble.json", "evaluation", "teacher_cache"})
#: Where ``emotag evaluate`` writes by default, inside the model folder (never part of it)
EVALUATION_DIR = "evaluation"
#: Files that change decisions and calibrated scores, but not ``predict_proba``
DECISION_FILES = frozenset({"thresholds.json", "calibration.json", "group_thresholds.json",
                            "adaptation.json"})


def backend_class(model_type: str) -> type[EmotionClassifier] | None:
    """The class of a ``model_type``, importing only its own module: serving an ONNX model
    must not import torch (about 450 MB of resident memory)."""
    import importlib

    if model_type not in _BACKENDS:
        return None
    from ..extras import requires

    module, name = _BACKENDS[model_type]
    with requires(f"loading a model of type {model_type!r}"):  # e.g. tfidf without sklearn
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)


def _registry() -> dict[str, type[EmotionClassifier]]:
    return {t: backend_class(t) for t in _BACKENDS}  # type: ignore[misc]


def save_model(model: EmotionClassifier, model_dir: Path) -> None:
    """Backend files first, manifest last: a folder with ``emotag.json`` is complete."""
    from .. import __version__

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    extra = model.save_backend(model_dir)
    atomic_write_json(model_dir / MANIFEST, {
        "format_version": FORMAT_VERSION, "emotag_version": __version__,
        "model_type": model.model_type, "label_names": list(model.label_names),
        **({"preprocessing": model.preprocessing.to_dict()} if model.preprocessing.active
           else {}), **extra})


def read_manifest(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / MANIFEST
    if not path.is_file() and (Path(model_dir) / "ensemble.json").is_file():
        raise ModelFormatError(f"{model_dir} holds an ensemble's scores but no model ({MANIFEST} "
                               "missing: made by emotag 0.1, or from members that are not all "
                               "model folders); rebuild it with `emotag ensemble MEMBER ... "
                               "--output DIR`")
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


def model_files(model_dir: Path, *, decisions: bool = True) -> list[Path]:
    """The files a model folder is loaded from, sorted: the manifest and the backend files
    (and, with ``decisions``, the thresholds and calibration), never reports, predictions,
    hidden temp files (:data:`NOT_MODEL`) or what commands write beside the model
    (:func:`added_outputs`)."""
    folder = Path(model_dir)
    skip = NOT_MODEL if decisions else NOT_MODEL | DECISION_FILES
    beside = added_outputs(folder)
    return [path for path in sorted(folder.rglob("*"))
            if path.is_file() and path.relative_to(folder).parts[0] not in beside
            and not any(p in skip or p.startswith(".") for p in path.relative_to(folder).parts)]


def added_outputs(model_dir: Path) -> set[str]:
    """Top-level folders that commands write into a model folder by default and that are not
    the model: ``emotag evaluate``'s :data:`EVALUATION_DIR` and ``emotag export``'s ``onnx/``
    beside a model that is not itself an ONNX one."""
    from .onnx import ONNX_SUBDIR

    try:
        kind = read_manifest(model_dir).get("model_type")
    except ModelFormatError:
        kind = None
    return {EVALUATION_DIR} | (set() if kind == "onnx" else {ONNX_SUBDIR})


def model_digest(model_dir: Path, *, decisions: bool = True) -> str:
    """sha256 over :func:`model_files` (relative names and contents): equal digests, equal
    ``predict_proba`` (and, with ``decisions``, equal decisions)."""
    import hashlib

    folder = Path(model_dir)
    digest = hashlib.sha256()
    for path in model_files(folder, decisions=decisions):
        content = sha256_file(path)
        digest.update(f"{path.relative_to(folder).as_posix()}\0{content}\n".encode())
    return digest.hexdigest()


def load_model(model_dir: Path, **options: Any) -> EmotionClassifier:
    """Load any emotag model folder; ``options`` go to the backend (see ``load_backend``)."""
    manifest = read_manifest(model_dir)
    kind = manifest.get("model_type")
    cls = backend_class(str(kind))
    if cls is None:
        raise ModelFormatError(f"{model_dir}: unknown model_type {kind!r}")
    options = {k: v for k, v in options.items() if v is not None}
    # backends written before options existed keep working
    model = (cls.load_backend(Path(model_dir), manifest, **options) if options
             else cls.load_backend(Path(model_dir), manifest))
    if manifest.get("preprocessing"):
        model.preprocessing = Preprocessing.from_dict(manifest["preprocessing"])
    return model
