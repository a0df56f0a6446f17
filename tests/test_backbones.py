"""Pinned offline encoders, and the real MiniLM fine-tuned a few steps on a slice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emotag.config import load_config
from emotag.errors import ChecksumError
from emotag.models.backbones import PINNED, PinnedBackbone, resolve_backbone, verify_folder
from emotag.training.pipeline import train_run


def test_minilm_alias_resolves_to_a_verified_offline_folder() -> None:
    folder = Path(resolve_backbone("minilm"))
    assert (folder / "model.safetensors").is_file()
    assert PINNED["minilm"].hub_id == "sentence-transformers/all-MiniLM-L6-v2"


def test_other_names_pass_through_unchanged() -> None:
    assert resolve_backbone("bert-base-uncased") == "bert-base-uncased"
    assert resolve_backbone("/some/local/folder") == "/some/local/folder"


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"not the real weights")
    pinned = PinnedBackbone("x/y", {"model.safetensors": "0" * 64})
    with pytest.raises(ChecksumError, match="model.safetensors"):
        verify_folder(tmp_path, pinned)
    with pytest.raises(ChecksumError, match="missing"):
        verify_folder(tmp_path, PinnedBackbone("x/y", {"tokenizer.json": "0" * 64}))


def test_real_minilm_on_a_small_slice(tmp_path: Path) -> None:
    """The real encoder, mean pooled, a few steps on the first GoEmotions rows."""
    cfg = load_config("configs/minilm.yaml", [
        "data.max_train_samples=64", "data.max_eval_samples=48", "model.max_length=48",
        "train.max_steps=4", "train.batch_size=16", "train.bf16=false", "train.save_steps=2",
        "train.logging_steps=1"])
    metrics = train_run(cfg, tmp_path / "run")
    assert metrics["splits"]["test"]["tuned"]["n_examples"] == 48
    probs = np.load(tmp_path / "run" / "predictions" / "test_probs.npy")
    assert probs.shape == (48, 28) and np.isfinite(probs).all()
    config = json.loads((tmp_path / "run" / "transformer" / "config.json").read_text())
    assert config["architectures"] == ["BertMeanPoolForSequenceClassification"]
    assert "AutoModelForSequenceClassification" in config["auto_map"]
    assert (tmp_path / "run" / "transformer" / "modeling_emotag.py").is_file()
