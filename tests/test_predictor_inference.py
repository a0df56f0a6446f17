"""Predictor inference options on both transformer backends (PyTorch and ONNX Runtime):
thread count, long texts (truncation and sliding windows), input order, empty strings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import emotag
from emotag.errors import ConfigError, DataError
from emotag.labels import GOEMOTIONS_LABELS
from emotag.models import save_model
from emotag.models.base import pool_windows
from emotag.models.onnx import OnnxClassifier
from emotag.models.transformer import TransformerClassifier

MAX_LENGTH = 32
WORDS = ["happy", "glad", "angry", "furious", "sad", "crying", "thanks", "grateful", "scared",
         "afraid", "love", "the", "table"]
LONG_20K = " ".join(WORDS[i % len(WORDS)] for i in range(4000))[:20_000]


@pytest.fixture(scope="module")
def torch_dir(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> Path:
    """A saved PyTorch model folder: the tiny random BERT with a fresh 28-label head."""
    import torch

    torch.manual_seed(0)
    clf = TransformerClassifier(label_names=list(GOEMOTIONS_LABELS), backbone=str(tiny_bert),
                                max_length=MAX_LENGTH, pooling="mean")
    clf._build()
    clf.model_.eval()
    folder = tmp_path_factory.mktemp("torch-model")
    save_model(clf, folder)
    return folder


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory, torch_dir: Path) -> Path:
    """The same model exported to ONNX fp32 and packaged as an ``onnx`` model folder."""
    from emotag.inference.export import export_fp32

    clf = emotag.load(torch_dir).model
    work = tmp_path_factory.mktemp("onnx-export")
    export_fp32(clf.model_, clf.tokenizer_, work / "model.onnx")
    clf.tokenizer_.save_pretrained(work)
    onnx_clf = OnnxClassifier(work / "model.onnx", label_names=list(GOEMOTIONS_LABELS),
                              max_length=MAX_LENGTH, num_threads=1)
    folder = tmp_path_factory.mktemp("onnx-model")
    save_model(onnx_clf, folder)
    return folder


@pytest.fixture(params=["torch", "onnx"])
def backend_dir(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(f"{request.param}_dir")


def shuffled_texts(seed: int = 0, n: int = 23) -> list[str]:
    """Texts of many different lengths (1..40 words, some past max_length), in random order."""
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=k)) for k in rng.integers(1, 40, size=n)]
    return [texts[i] for i in rng.permutation(n)]


# --------------------------------------------------------------------------- threads
def test_num_threads_reaches_each_backend(torch_dir: Path, onnx_dir: Path) -> None:
    import torch

    onnx_pred = emotag.load(onnx_dir, num_threads=1)
    assert onnx_pred.model.session_.get_session_options().intra_op_num_threads == 1
    before = torch.get_num_threads()
    try:
        emotag.load(torch_dir, num_threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match="num_threads"):
        emotag.load(onnx_dir, num_threads=0)


# --------------------------------------------------------------------------- order
def test_length_sorted_batches_come_back_in_input_order(backend_dir: Path) -> None:
    """Scores of a shuffled-length batch equal scoring each text alone (fp32 models)."""
    pred = emotag.load(backend_dir, num_threads=1)
    texts = shuffled_texts()
    together = pred.model.predict_proba(texts, batch_size=4)  # several padded batches
    alone = np.vstack([pred.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(pred.predict_proba(texts), alone, atol=1e-5)
    assert not np.allclose(alone[0], alone[1])  # the check would be empty on equal rows


def test_order_is_exact_for_the_shipped_int8_model() -> None:
    """int8 activations are quantized per batch, so scores depend a little on batch mates;
    with distinct lengths the length-sorted batches are the same for any input order, and
    a permuted input must give exactly the permuted output."""
    pred = emotag.load(num_threads=1)
    texts = [" ".join(["so happy today"] * k) + " but sad" for k in range(1, 12)]
    perm = np.random.default_rng(1).permutation(len(texts))
    base = pred.predict_proba(texts)
    np.testing.assert_array_equal(pred.predict_proba([texts[i] for i in perm]), base[perm])


# --------------------------------------------------------------------------- long texts
def test_20k_character_text_is_truncated_without_error(backend_dir: Path) -> None:
    assert len(LONG_20K) == 20_000
    pred = emotag.load(backend_dir, num_threads=1)
    probs = pred.predict_proba([LONG_20K, "happy", ""])
    assert probs.shape == (3, 28) and np.isfinite(probs).all()
    cut = " ".join(LONG_20K.split()[:MAX_LENGTH])  # more words than tokens fit
    np.testing.assert_allclose(probs[0], pred.predict_proba(cut), atol=1e-5)


def test_20k_characters_with_the_shipped_model() -> None:
    pred = emotag.load(num_threads=1)
    long = ("thank you so much, this is wonderful! " * 600)[:20_000]
    assert pred.predict(long)[0]["label"] == "gratitude"


def test_windows_cover_the_whole_text(backend_dir: Path) -> None:
    pred = emotag.load(backend_dir, num_threads=1, stride=5)
    assert pred.window_overlap == 5
    model = pred.model
    enc, owner = model.encode_texts([LONG_20K, "happy"])
    ids = enc["input_ids"]
    assert owner[-1] == 1 and (owner == 0).sum() > 100  # 4000 words -> many windows
    assert all(len(w) <= MAX_LENGTH for w in ids)
    body = [w[1:-1] for w in ids[:3]]  # without [CLS] and [SEP]
    assert body[1][:5] == body[0][-5:] and body[2][:5] == body[1][-5:]  # 5 tokens shared
    truncated = emotag.load(backend_dir, num_threads=1)
    texts = [LONG_20K, "happy glad", ""]
    windowed, cut = pred.predict_proba(texts), truncated.predict_proba(texts)
    # the first window is the truncated text, so the max over windows is never below it
    assert (windowed[0] >= cut[0] - 1e-5).all() and (windowed[0] > cut[0] + 1e-4).any()
    np.testing.assert_allclose(windowed[1:], cut[1:], atol=1e-5)  # short texts: one window


def test_windows_find_an_emotion_past_the_token_limit() -> None:
    long = "The weather report said nothing about the afternoon. " * 60
    long += "I am so angry and furious at you!"
    cut = emotag.load(num_threads=1).predict(long)
    windowed = emotag.load(num_threads=1, window=True).predict(long)
    assert "anger" not in {x["label"] for x in cut}
    assert "anger" in {x["label"] for x in windowed}


def test_window_settings_are_checked(onnx_dir: Path) -> None:
    assert emotag.load(onnx_dir, window=True).window_overlap == MAX_LENGTH // 4
    with pytest.raises(ConfigError, match="stride"):
        emotag.load(onnx_dir, stride=MAX_LENGTH)


def test_pool_windows_takes_the_max_per_text() -> None:
    rows = np.array([[0.0, 5.0], [3.0, 1.0], [2.0, 2.0]], dtype=np.float32)
    pooled = pool_windows(rows, np.array([0, 0, 1]), 2)
    np.testing.assert_array_equal(pooled, [[3.0, 5.0], [2.0, 2.0]])


# --------------------------------------------------------------------------- odd inputs
def test_empty_strings_and_bad_items(backend_dir: Path) -> None:
    pred = emotag.load(backend_dir, num_threads=1)
    probs = pred.predict_proba(["", "   ", "happy"])
    assert probs.shape == (3, 28) and np.isfinite(probs).all()
    assert isinstance(pred.predict(""), list)
    assert pred.predict_proba([]).shape == (0, 28)
    with pytest.raises(DataError, match=r"row 2: .*NoneType"):
        pred.predict_proba(["ok", None])


def test_onnx_one_by_one_scores_do_not_depend_on_batch_mates() -> None:
    """batch_size=1: each text alone and unpadded, so an int8 text's scores are the same
    whatever else is scored with it."""
    import emotag

    model = emotag.load().model
    texts = ["thank you so much!", "this is the worst day of my life, I am so angry",
             "ok", "wow, I did not expect that at all"]
    together = model.predict_proba(texts, batch_size=1)
    alone = np.stack([model.predict_proba([t], batch_size=1)[0] for t in texts])
    np.testing.assert_array_equal(together, alone)
