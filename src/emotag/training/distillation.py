"""Soft targets from a teacher run, for training a small student (knowledge distillation).

Why: the best GoEmotions scores here come from an ensemble (MiniLM, mpnet, TF-IDF), which is
three models to load and run. A single MiniLM trained on the ensemble's probabilities for the
training texts learns most of what the ensemble knows and runs at MiniLM's cost (the setfit
``DistillationTrainer`` idea, here with sigmoid targets and the usual BCE loss).

A teacher is any run folder: a trained model (``emotag.json``) or an ensemble
(``ensemble.json``: members and weights). Its probabilities on a split are cached in
``TEACHER/predictions/<split>_probs.npy`` (written atomically) so a resumed or repeated
student run does not score the training set again.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.datasets import Split
from ..errors import ConfigError, ModelFormatError
from ..utils.files import atomic_save_npy


def teacher_probs(run_dir: Path, split: Split) -> np.ndarray:
    """The teacher's (n, n_labels) probabilities on ``split`` (cached in the run folder)."""
    run_dir = Path(run_dir)
    cache = run_dir / "predictions" / f"{split.name}_probs.npy"
    if cache.is_file():
        probs = np.load(cache, allow_pickle=False)
        if probs.shape == split.labels.shape:
            return probs
    ensemble = run_dir / "ensemble.json"
    if ensemble.is_file():
        spec = json.loads(ensemble.read_text(encoding="utf-8"))
        _check_label_order(run_dir, spec["label_names"], split.label_names)
        members = [teacher_probs(Path(m), split) for m in spec["members"]]
        probs = np.tensordot(np.asarray(spec["weights"]), np.stack(members), axes=1)
    elif (run_dir / "emotag.json").is_file():
        from ..models import load_model

        model = load_model(run_dir)
        _check_label_order(run_dir, list(model.label_names), split.label_names)
        probs = model.predict_proba(split.texts)
    else:
        raise ModelFormatError(f"teacher {run_dir}: neither emotag.json nor ensemble.json")
    probs = np.asarray(probs, dtype=np.float32)
    atomic_save_npy(cache, probs)
    return probs


def _check_label_order(run_dir: Path, teacher: list[str], data: list[str]) -> None:
    if list(teacher) != list(data):
        raise ModelFormatError(f"teacher {run_dir} predicts labels {teacher[:3]}..., the "
                               f"training data has {data[:3]}...; the label sets must match")


def soft_targets(hard: np.ndarray, teacher: np.ndarray, teacher_weight: float) -> np.ndarray:
    """``teacher_weight * teacher + (1 - teacher_weight) * hard``, as float32 targets."""
    if not 0.0 <= teacher_weight <= 1.0:
        raise ConfigError(f"train.distill_weight={teacher_weight}; expected a value in [0, 1]")
    if hard.shape != teacher.shape:
        raise ModelFormatError(f"teacher probabilities {teacher.shape} do not match the "
                               f"training labels {hard.shape}")
    return (teacher_weight * teacher + (1.0 - teacher_weight) * hard).astype(np.float32)


def distilled_split(train: Split, teacher_dir: Path, teacher_weight: float) -> Split:
    """``train`` with its labels replaced by soft targets from ``teacher_dir``."""
    targets = soft_targets(train.labels.astype(np.float32), teacher_probs(teacher_dir, train),
                           teacher_weight)
    return Split(train.name, train.texts, targets, train.label_names, train.ids, train.source)
