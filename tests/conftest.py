"""Shared fixtures: a tiny GoEmotions-shaped sample and a tiny random BERT (no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emotag.labels import GOEMOTIONS_LABELS

WORDS = {
    "joy": "happy glad great wonderful", "anger": "angry furious mad hate",
    "gratitude": "thanks thank grateful appreciate", "sadness": "sad crying lost miss",
    "neutral": "the table is there ok", "curiosity": "why how what wonder",
    "fear": "scared afraid terrified worried", "love": "love adore heart darling",
}


def make_rows(n: int, seed: int = 0) -> list[tuple[str, list[int]]]:
    """Texts whose words reveal their labels, so a few training steps can learn something."""
    rng = np.random.default_rng(seed)
    names = list(WORDS)
    rows = []
    for _ in range(n):
        k = 1 + int(rng.random() < 0.2)
        labs = list(rng.choice(names, size=k, replace=False))
        words = [w for lab in labs for w in rng.choice(WORDS[lab].split(), size=2)]
        rng.shuffle(words)
        rows.append((" ".join(words), sorted(GOEMOTIONS_LABELS.index(x) for x in labs)))
    return rows


def write_goemotions_folder(folder: Path, sizes: dict[str, int]) -> Path:
    """A GoEmotions-format folder (TSVs, emotions.txt, mappings, SHA256SUMS) of small size."""
    import hashlib
    import shutil

    from emotag.resources import goemotions_dir

    folder.mkdir(parents=True, exist_ok=True)
    for i, (split, n) in enumerate(sizes.items()):
        rows = make_rows(n, seed=i)
        # every label needs a training example for the tfidf model: add one row per label
        if split == "train":
            rows += [(f"example of {name}", [j]) for j, name in enumerate(GOEMOTIONS_LABELS)]
        lines = [f"{t}\t{','.join(map(str, ids))}\t{split}{k}" for k, (t, ids) in enumerate(rows)]
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name in ("emotions.txt", "ekman_mapping.json", "sentiment_dict.json"):
        shutil.copy(goemotions_dir() / name, folder / name)
    sums = [f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}"
            for n in ("train.tsv", "dev.tsv", "test.tsv", "emotions.txt")]
    (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_goemotions_folder(tmp_path_factory.mktemp("goemo"),
                                   {"train": 160, "dev": 60, "test": 60})


def build_tiny_bert(folder: Path) -> Path:
    """A 2-layer, 32-wide random BERT with a word-level vocabulary, saved into ``folder``
    (also used by experiments/scripts/ddp_loss_curve.py --tiny)."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "example", "of"]
    vocab += sorted({w for ws in WORDS.values() for w in ws.split()} | set(GOEMOTIONS_LABELS))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def tiny_overrides(data_dir: Path, backbone: Path, **extra: object) -> list[str]:
    """--set overrides for a fast transformer run on the tiny data."""
    sets = {"data.data_dir": data_dir, "model.backbone": backbone, "model.max_length": 32,
            "train.batch_size": 16, "train.eval_batch_size": 32, "train.max_steps": 12,
            "train.learning_rate": 5e-3, "train.logging_steps": 2, "train.save_steps": 4,
            "train.warmup_ratio": 0.0, **extra}
    return [f"{k}={v}" for k, v in sets.items()]
