"""Knowledge distillation: teacher probabilities on train become the student's targets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_overrides
from emotag.config import load_config
from emotag.data.datasets import Split, load_goemotions
from emotag.errors import ConfigError, ModelFormatError
from emotag.models.base import load_model, model_files
from emotag.training.distillation import (
    CACHE_DIR,
    soft_targets,
    teacher_fingerprint,
    teacher_probs,
    texts_sha256,
)
from emotag.training.ensembling import ensemble_run
from emotag.training.pipeline import train_run
from emotag.utils.files import atomic_save_npy, atomic_write_json


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
    members = [load_model(d).predict_proba(train.texts) for d in (teacher, tfidf)]
    np.testing.assert_allclose(probs, weights[0] * members[0] + weights[1] * members[1],
                               atol=1e-6)

    student = tmp_path / "student"
    cfg = load_config(None, tiny_overrides(tiny_data, tiny_bert, **{
        "train.distill_teacher": ens, "train.distill_weight": 0.7}))
    metrics = train_run(cfg, student)
    assert (student / "emotag.json").is_file()
    assert "dev" in metrics["splits"]
    saved = json.loads((student / "train_config.json").read_text())
    assert saved["train"]["distill_teacher"] == str(ens)
    # the teacher's scores are cached in the student's folder, never in the teacher's
    key = json.loads((student / CACHE_DIR / "train_probs.json").read_text())
    assert key["teacher_fingerprint"] == teacher_fingerprint(ens)
    assert key["texts_sha256"] == texts_sha256(train.texts)
    for folder in (ens, teacher, tfidf):
        assert not (folder / "predictions" / "train_probs.npy").exists()
    # and the student's cache is not part of the student as a model
    assert all(CACHE_DIR not in p.parts for p in model_files(student))


@pytest.fixture()
def tfidf_teacher(tmp_path: Path, tiny_data: Path) -> Path:
    teacher = tmp_path / "teacher"
    train_run(load_config(None, [f"data.data_dir={tiny_data}", "model.model_type=tfidf"]),
              teacher)
    return teacher


def _no_teacher_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make scoring with a teacher model fail, to prove a cache was read."""
    import emotag.models as models

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the teacher was run instead of its cached scores being read")

    monkeypatch.setattr(models, "load_model", refuse)


def test_teacher_cache_is_keyed_and_lives_in_the_student_folder(
        tmp_path: Path, tiny_data: Path, tfidf_teacher: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the cache was written into the teacher's folder, reused whenever its shape
    matched, and overwritten by a run with max_train_samples."""
    train = load_goemotions(tiny_data)["train"]
    student = tmp_path / "student"
    os.chmod(tfidf_teacher, 0o555)  # a committed, read-only teacher
    try:
        full = teacher_probs(tfidf_teacher, train, cache_dir=student)
        head = teacher_probs(tfidf_teacher, train.head(50), cache_dir=tmp_path / "small",
                             max_samples=50)
    finally:
        os.chmod(tfidf_teacher, 0o755)
    assert not (tfidf_teacher / "predictions" / "train_probs.npy").exists()
    np.testing.assert_array_equal(head, full[:50])
    with monkeypatch.context() as m:  # same teacher, same texts: read from the cache
        _no_teacher_runs(m)
        np.testing.assert_array_equal(teacher_probs(tfidf_teacher, train, cache_dir=student),
                                      full)
    # other texts of the same shape are scored, not served from the cache
    shuffled = Split(train.name, train.texts[::-1], train.labels, train.label_names)
    np.testing.assert_array_equal(teacher_probs(tfidf_teacher, shuffled, cache_dir=student),
                                  full[::-1])
    # max_train_samples is part of the key, and a changed teacher invalidates the cache
    teacher_probs(tfidf_teacher, train, cache_dir=student)
    key_file = student / CACHE_DIR / "train_probs.json"
    assert json.loads(key_file.read_text())["max_train_samples"] is None
    teacher_probs(tfidf_teacher, train, cache_dir=student, max_samples=10_000)
    assert json.loads(key_file.read_text())["max_train_samples"] == 10_000
    before = json.loads(key_file.read_text())["teacher_fingerprint"]
    (tfidf_teacher / "tfidf" / "extra.json").write_text("{}")
    assert teacher_fingerprint(tfidf_teacher) != before


def test_a_shipped_teacher_is_read_only_and_keyed_by_its_texts(
        tmp_path: Path, tiny_data: Path, tfidf_teacher: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A teacher may ship its training-text scores (results/ens3); they are used only for
    exactly those texts, and never rewritten."""
    train = load_goemotions(tiny_data)["train"]
    legacy = tmp_path / "legacy"  # an emotag 0.1 ensemble whose members are not here
    atomic_write_json(legacy / "ensemble.json", {
        "label_names": train.label_names, "members": [str(tmp_path / "gone")], "weights": [1.0]})
    shipped = np.full((len(train), len(train.label_names)), 0.25, dtype=np.float32)
    atomic_save_npy(legacy / "predictions" / "train_probs.npy", shipped)
    atomic_write_json(legacy / "predictions" / "train_probs.json", {
        "split": "train", "texts_sha256": texts_sha256(train.texts), "n_rows": len(train)})
    before = (legacy / "predictions" / "train_probs.npy").read_bytes()
    os.chmod(legacy / "predictions", 0o555)
    try:
        with monkeypatch.context() as m:
            _no_teacher_runs(m)
            got = teacher_probs(legacy, train, cache_dir=tmp_path / "student")
        np.testing.assert_array_equal(got, shipped)
        # a subset (max_train_samples) or other texts: the shipped scores do not apply, and
        # the members that could score them are missing -> a clear error
        for other in (train.head(20), Split("train", [t + "!" for t in train.texts],
                                             train.labels, train.label_names)):
            with pytest.raises(ModelFormatError, match="not here to score them"):
                teacher_probs(legacy, other, cache_dir=tmp_path / "student2", max_samples=20)
    finally:
        os.chmod(legacy / "predictions", 0o755)
    assert (legacy / "predictions" / "train_probs.npy").read_bytes() == before
    # a shipped file without a key is never trusted on its shape alone
    (legacy / "predictions" / "train_probs.json").unlink()
    with pytest.raises(ModelFormatError, match="not here to score them"):
        teacher_probs(legacy, train, cache_dir=tmp_path / "student3")


def test_committed_teacher_results_ens3_works_read_only(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """configs/student*.yaml distil from results/ens3, whose members are not committed."""
    teacher = Path(__file__).resolve().parents[1] / "results" / "ens3"
    if not (teacher / "predictions" / "train_probs.npy").is_file():
        pytest.skip("results/ens3 is not in this checkout")
    train = load_goemotions()["train"]
    before = (teacher / "predictions" / "train_probs.npy").stat().st_mtime_ns
    with monkeypatch.context() as m:
        _no_teacher_runs(m)
        probs = teacher_probs(teacher, train, cache_dir=tmp_path)
    assert probs.shape == (len(train), len(train.label_names))
    assert (teacher / "predictions" / "train_probs.npy").stat().st_mtime_ns == before


def test_tfidf_cannot_be_distilled(tmp_path: Path, tiny_data: Path) -> None:
    cfg = load_config(None, [f"data.data_dir={tiny_data}", "model.model_type=tfidf",
                             f"train.distill_teacher={tmp_path}"])
    with pytest.raises(ConfigError, match="distill_teacher"):
        train_run(cfg, tmp_path / "out")
