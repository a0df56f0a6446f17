"""Knowledge distillation: teacher probabilities on train become the student's targets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_overrides
from emotag.config import load_config
from emotag.data.datasets import load_goemotions
from emotag.errors import ConfigError, ModelFormatError
from emotag.training.distillation import soft_targets, teacher_probs
from emotag.training.pipeline import ensemble_run, train_run


def test_soft_targets_mix_teacher_and_gold() -> None:
    hard = np.array([[1, 0], [0, 1]], dtype=np.float32)
    teacher = np.array([[0.8, 0.4], [0.2, 0.6]], dtype=np.float32)
    np.testing.assert_allclose(soft_targets(hard, teacher, 0.5), [[0.9, 0.2], [0.1, 0.8]])
    np.testing.assert_allclose(soft_targets(hard, teacher, 0.0), hard)
    with pytest.raises(ConfigError, match="distill_weight"):
        soft_targets(hard, teacher, 1.5)
    with pytest.raises(ModelFormatError, match="do not match"):
        soft_targets(hard, teacher[:1], 0.5)


def test_student_trains_on_an_ensemble_teacher(tmp_path: Path, tiny_data: Path,
                                               tiny_bert: Path) -> None:
    teacher = tmp_path / "teacher"
    train_run(load_config(None, tiny_overrides(tiny_data, tiny_bert)), teacher)
    tfidf = tmp_path / "tfidf"
    train_run(load_config(None, [f"data.data_dir={tiny_data}", "model.model_type=tfidf"]), tfidf)
    ens = tmp_path / "ens"
    ensemble_run([teacher, tfidf], ens, step=0.5)
    weights = json.loads((ens / "ensemble.json").read_text())["weights"]

    train = load_goemotions(tiny_data)["train"]
    probs = teacher_probs(ens, train)
    members = [np.load(d / "predictions" / "train_probs.npy") for d in (teacher, tfidf)]
    np.testing.assert_allclose(probs, weights[0] * members[0] + weights[1] * members[1],
                               atol=1e-6)
    assert (ens / "predictions" / "train_probs.npy").is_file()  # cached for a resume

    student = tmp_path / "student"
    cfg = load_config(None, tiny_overrides(tiny_data, tiny_bert, **{
        "train.distill_teacher": ens, "train.distill_weight": 0.7}))
    metrics = train_run(cfg, student)
    assert (student / "emotag.json").is_file()
    assert "dev" in metrics["splits"]
    saved = json.loads((student / "train_config.json").read_text())
    assert saved["train"]["distill_teacher"] == str(ens)


def test_tfidf_cannot_be_distilled(tmp_path: Path, tiny_data: Path) -> None:
    cfg = load_config(None, [f"data.data_dir={tiny_data}", "model.model_type=tfidf",
                             f"train.distill_teacher={tmp_path}"])
    with pytest.raises(ConfigError, match="distill_teacher"):
        train_run(cfg, tmp_path / "out")
