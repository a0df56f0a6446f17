"""The nearest-neighbour member: the vote, the model type, its folder, its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_overrides
from emotag.config import load_config
from emotag.data.datasets import load_goemotions
from emotag.errors import ConfigError, DataWarning, ModelFormatError
from emotag.models import load_model
from emotag.models.knn import KnnClassifier, neighbour_vote
from emotag.training.pipeline import train_run


def test_vote_weights_neighbours_by_similarity() -> None:
    neighbours = np.array([[1, 0], [0.8, 0.6], [0, 1], [-1, 0]], dtype=np.float32)
    labels = np.array([[1, 0], [1, 1], [0, 1], [0, 1]], dtype=np.uint8)
    queries = np.array([[1, 0], [0, 1]], dtype=np.float32)
    # k = 1: the closest neighbour's labels exactly
    np.testing.assert_allclose(neighbour_vote(queries, neighbours, labels, 1), [[1, 0], [0, 1]])
    # k = 2 for [1, 0]: similarities 1 and 0.8, so label 1 gets 0.8 / 1.8
    np.testing.assert_allclose(neighbour_vote(queries[:1], neighbours, labels, 2),
                               [[1.0, 0.8 / 1.8]], rtol=1e-6)
    # k above the number of neighbours uses them all; the opposite one (similarity -1)
    # and the orthogonal one (0) get no say
    np.testing.assert_allclose(neighbour_vote(queries[:1], neighbours, labels, 10),
                               [[1.0, 0.8 / 1.8]], rtol=1e-6)
    # nothing similar at all: zeros, not NaN
    far = np.array([[-1, 0]], dtype=np.float32)
    np.testing.assert_array_equal(neighbour_vote(far, neighbours[:3], labels[:3], 2), [[0, 0]])


@pytest.fixture(scope="module")
def encoder_run(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path,
                tiny_bert: Path) -> Path:
    run = tmp_path_factory.mktemp("knn") / "encoder"
    train_run(load_config(None, tiny_overrides(tiny_data, tiny_bert)), run)
    return run


def test_knn_run_is_a_model_folder_that_reloads_the_same(tmp_path: Path, tiny_data: Path,
                                                         encoder_run: Path) -> None:
    run = tmp_path / "knn"
    metrics = train_run(load_config(None, [f"data.data_dir={tiny_data}", "model.model_type=knn",
                                           f"model.encoder={encoder_run}", "model.knn_k=3"]), run)
    assert metrics["model"]["type"] == "knn" and metrics["model"]["knn_k"] == 3
    manifest = json.loads((run / "emotag.json").read_text())
    assert manifest["knn"]["k"] == 3 and (run / "knn" / "neighbours.safetensors").is_file()
    assert (run / "transformer" / "model.safetensors").is_file()  # self-contained
    splits = load_goemotions(tiny_data)
    saved = np.load(run / "predictions" / "dev_probs.npy")
    reloaded = load_model(run).predict_proba(splits["dev"].texts)
    np.testing.assert_array_equal(reloaded, saved)
    assert reloaded.shape == splits["dev"].labels.shape
    assert reloaded.min() >= 0 and reloaded.max() <= 1


class WordCounts:
    """A stand-in encoder: bag-of-words counts over the tiny data's vocabulary."""

    def __init__(self, texts: list[str]) -> None:
        self.vocab = {w: i for i, w in enumerate(sorted({w for t in texts for w in t.split()}))}

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), len(self.vocab)), dtype=np.float32)
        for row, text in enumerate(texts):
            for w in text.split():
                out[row, self.vocab[w]] += 1
        return out


def test_a_training_text_finds_itself(tiny_data: Path) -> None:
    train = load_goemotions(tiny_data)["train"]
    model = KnnClassifier(train.label_names, encoder=WordCounts(train.texts), k=1).fit(train)
    # texts whose word counts no other training text shares (those would tie)
    bags = [tuple(sorted(t.split())) for t in train.texts]
    alone = [i for i, b in enumerate(bags) if bags.count(b) == 1][:30]
    got = model.predict_proba([train.texts[i] for i in alone])
    np.testing.assert_array_equal(got, train.labels[alone].astype(np.float32))
    # k = 3: a training text's own labels get the largest share (its similarity is 1)
    model.k = 3
    votes = model.predict_proba([train.texts[i] for i in alone])
    own = train.labels[alone].astype(bool)
    assert (votes[own] >= 1 / 3).all()
    with pytest.raises(ModelFormatError, match="needs a transformer one"):
        model.save_backend(Path("unused"))
    with pytest.raises(ModelFormatError, match="one column per label"):
        KnnClassifier(train.label_names[:3], encoder=WordCounts(train.texts)).fit(train)


def test_embeddings_are_in_input_order_and_windows_are_averaged(encoder_run: Path) -> None:
    encoder = load_model(encoder_run)
    texts = ["happy glad", "angry mad hate furious", "sad"]
    together = encoder.embed(texts)
    one_by_one = np.vstack([encoder.embed([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert together.shape == (3, encoder.model_.config.hidden_size)
    long_text = " ".join(["happy glad great wonderful"] * 40)  # over max_length 32
    encoder.use_windows(8)
    windowed = encoder.embed([long_text, "sad"])
    assert windowed.shape == (2, together.shape[1]) and np.isfinite(windowed).all()
    np.testing.assert_allclose(windowed[1], together[2], atol=1e-5)  # one window: unchanged


def test_knn_errors_name_what_is_missing(tmp_path: Path, tiny_data: Path) -> None:
    with pytest.raises(ConfigError, match="model.encoder"):
        load_config(None, ["model.model_type=knn"])
    with pytest.raises(ConfigError, match="knn_k"):
        load_config(None, ["model.model_type=knn", "model.encoder=x", "model.knn_k=0"])
    tfidf = tmp_path / "tfidf"
    train_run(load_config(None, [f"data.data_dir={tiny_data}", "model.model_type=tfidf"]), tfidf)
    with pytest.raises(ModelFormatError, match="must be a transformer run"):
        train_run(load_config(None, [f"data.data_dir={tiny_data}", "model.model_type=knn",
                                     f"model.encoder={tfidf}"]), tmp_path / "knn")
    with pytest.raises(ModelFormatError, match="not an emotag model folder"):
        KnnClassifier(["a"], encoder=str(tmp_path / "nowhere")).fit(
            load_goemotions(tiny_data)["train"])


def test_knn_on_a_users_own_labels(tmp_path: Path, encoder_run: Path) -> None:
    """The encoder's labels (GoEmotions) need not be the run's: the neighbours vote with the
    user's 7 Ekman labels, in the order given, and the saved model carries exactly those."""
    from ekman_files import EKMAN_LABELS, write_ekman_files

    files = write_ekman_files(tmp_path / "data", rows=120)  # no 'disgust' in these rows
    run = tmp_path / "knn"
    with pytest.warns(DataWarning, match="no training example: disgust"):
        train_run(load_config(None, [
            "data.dataset=files", f"data.train_file={files['train']}",
            f"data.validation_file={files['dev']}", f"data.label_names={','.join(EKMAN_LABELS)}",
            "model.model_type=knn", f"model.encoder={encoder_run}", "model.knn_k=3"]), run)
    model = load_model(run)
    assert model.label_names == list(EKMAN_LABELS)
    assert model.predict_proba(["so happy"]).shape == (1, 7)
