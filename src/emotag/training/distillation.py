"""Soft targets from a teacher model, for training a small student (knowledge distillation).

Why: the best GoEmotions scores here come from an ensemble of several models, which is
several models to load and run. A single MiniLM trained on the ensemble's probabilities for
the training texts learns most of what the ensemble knows and runs at MiniLM's cost (the
setfit ``DistillationTrainer`` idea, here with sigmoid targets and the usual BCE loss).

A teacher is any model folder, loaded with :func:`~emotag.models.base.load_model` (a trained
run, an exported model, an ``emotag ensemble`` folder: :class:`~emotag.models.ensemble.
EnsembleClassifier`), or an ensemble folder written by emotag 0.1 (``ensemble.json`` naming
member run folders, which then build the same ``EnsembleClassifier``). Its raw
``predict_proba`` scores are the targets (no calibration: the student tunes its own
thresholds and calibration).

Scoring the training texts with the teacher is the expensive part, so the result is cached in
the student's own run folder, ``STUDENT/teacher_cache/train_probs.{npy,json}``, under a key:
the teacher's fingerprint (:func:`~emotag.models.base.model_digest` of the files it is
loaded from), the sha256 of the training texts, their number and ``data.max_train_samples``.
The cache is read only when the whole key matches. Nothing is ever written into the
teacher's folder, which may be a committed ``results/`` folder.

A teacher may also ship its probabilities: ``TEACHER/predictions/train_probs.npy`` with a
``train_probs.json`` key (texts sha256 and number), read-only, used when the student's
training texts are exactly those (``results/ens3``, whose members are not committed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.datasets import Split
from ..errors import ConfigError, ModelFormatError
from ..models.base import MANIFEST, EmotionClassifier, model_digest
from ..utils.files import atomic_save_npy, atomic_write_json

CACHE_DIR = "teacher_cache"
LEGACY_ENSEMBLE = "ensemble.json"


def texts_sha256(texts: Sequence[str]) -> str:
    """sha256 of the texts in order (each length-prefixed, so no two lists collide)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def teacher_fingerprint(teacher_dir: Path) -> str:
    """A digest of what decides the teacher's probabilities: its model files or, for a
    legacy ensemble folder, its ``ensemble.json`` and the model files of the members found."""
    teacher_dir = Path(teacher_dir)
    if (teacher_dir / MANIFEST).is_file():
        return model_digest(teacher_dir, decisions=False)
    spec_file = teacher_dir / LEGACY_ENSEMBLE
    if not spec_file.is_file():
        raise ModelFormatError(f"teacher {teacher_dir}: neither {MANIFEST} nor "
                               f"{LEGACY_ENSEMBLE}; pass a model or `emotag ensemble` folder")
    digest = hashlib.sha256(spec_file.read_bytes())
    for member in json.loads(spec_file.read_text(encoding="utf-8")).get("members", []):
        found = (Path(member) / MANIFEST).is_file()
        digest.update(f"{member}\0{model_digest(Path(member), decisions=False) if found else '-'}"
                      "\n".encode())
    return digest.hexdigest()


def teacher_probs(teacher_dir: Path, split: Split, *, cache_dir: Path | None = None,
                  max_samples: int | None = None) -> np.ndarray:
    """The teacher's (n, n_labels) probabilities on ``split``: from the student's cache in
    ``cache_dir`` or the teacher's shipped ones when their key matches, else scored (and
    cached in ``cache_dir``)."""
    teacher_dir = Path(teacher_dir)
    data = {"split": split.name, "texts_sha256": texts_sha256(split.texts),
            "n_rows": len(split)}
    shape = (len(split), len(split.label_names))
    key = {**data, "max_train_samples": max_samples,
           "teacher_fingerprint": teacher_fingerprint(teacher_dir)}
    if cache_dir is not None:
        cached = _read_keyed(Path(cache_dir) / CACHE_DIR, split.name, key, shape)
        if cached is not None:
            return cached
    shipped = _read_keyed(teacher_dir / "predictions", split.name, data, shape)
    if shipped is not None:
        return shipped
    model = _teacher_model(teacher_dir)
    if list(model.label_names) != list(split.label_names):
        raise ModelFormatError(f"teacher {teacher_dir} predicts labels {model.label_names[:3]}"
                               f"..., the training data has {split.label_names[:3]}...; the "
                               "label sets must match")
    probs = np.asarray(model.predict_proba(split.texts), dtype=np.float32)
    if cache_dir is not None:
        _write_keyed(Path(cache_dir) / CACHE_DIR, split.name,
                     {**key, "teacher": str(teacher_dir)}, probs)
    return probs


def _read_keyed(folder: Path, name: str, key: dict[str, Any], shape: tuple[int, int]
                ) -> np.ndarray | None:
    """``folder/<name>_probs.npy`` when ``<name>_probs.json`` holds every item of ``key``."""
    meta, array = folder / f"{name}_probs.json", folder / f"{name}_probs.npy"
    if not (meta.is_file() and array.is_file()):
        return None
    try:
        saved = json.loads(meta.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    if any(saved.get(k) != v for k, v in key.items()):
        return None
    probs = np.load(array, allow_pickle=False)
    return probs if probs.shape == shape else None


def _write_keyed(folder: Path, name: str, key: dict[str, Any], probs: np.ndarray) -> None:
    """The key goes last and only after the array: a key never vouches for other scores."""
    (folder / f"{name}_probs.json").unlink(missing_ok=True)
    atomic_save_npy(folder / f"{name}_probs.npy", probs)
    atomic_write_json(folder / f"{name}_probs.json", key)


def _teacher_model(teacher_dir: Path) -> EmotionClassifier:
    """The teacher as a model: its folder, or a legacy ensemble's members and weights."""
    from ..models import load_model
    from ..models.ensemble import EnsembleClassifier

    if (teacher_dir / MANIFEST).is_file():
        return load_model(teacher_dir)
    spec = json.loads((teacher_dir / LEGACY_ENSEMBLE).read_text(encoding="utf-8"))
    missing = [m for m in spec["members"] if not (Path(m) / MANIFEST).is_file()]
    if missing:
        raise ModelFormatError(
            f"teacher {teacher_dir}: no probabilities for these training texts (its "
            f"predictions/train_probs.npy, if any, is for other texts or has no "
            f"train_probs.json key), and its members {missing} are not here to score them; "
            "train them, or distil on the texts the teacher was scored on")
    return EnsembleClassifier(spec["members"], spec["weights"], spec["label_names"])


def soft_targets(hard: np.ndarray, teacher: np.ndarray, teacher_weight: float) -> np.ndarray:
    """``teacher_weight * teacher + (1 - teacher_weight) * hard``, as float32 targets."""
    if not 0.0 <= teacher_weight <= 1.0:
        raise ConfigError(f"train.distill_weight={teacher_weight}; expected a value in [0, 1]")
    if hard.shape != teacher.shape:
        raise ModelFormatError(f"teacher probabilities {teacher.shape} do not match the "
                               f"training labels {hard.shape}")
    return (teacher_weight * teacher + (1.0 - teacher_weight) * hard).astype(np.float32)


def distilled_split(train: Split, teacher_dir: Path, teacher_weight: float, *,
                    cache_dir: Path | None = None, max_samples: int | None = None) -> Split:
    """``train`` with its labels replaced by soft targets from ``teacher_dir``
    (``cache_dir``: the student's run folder; ``max_samples``: ``data.max_train_samples``)."""
    probs = teacher_probs(teacher_dir, train, cache_dir=cache_dir, max_samples=max_samples)
    targets = soft_targets(train.labels.astype(np.float32), probs, teacher_weight)
    return Split(train.name, train.texts, targets, train.label_names, train.ids, train.source)
