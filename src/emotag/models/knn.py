"""A nearest-neighbour vote in a fine-tuned encoder's embedding space: an ensemble member.

Every other member is a parametric head (a linear layer on an encoder, or TF-IDF logistic
regressions). This one reads the training labels another way: a text's score for a label is
the similarity-weighted share of its ``k`` nearest training texts that carry the label, the
neighbours found by cosine similarity of the encoder's pooled states. Its errors differ from
the heads', which is what an ensemble member needs (docs/results.md, "Ensembles").

Fitting trains nothing: it embeds the training texts once with an already fine-tuned
encoder (an emotag transformer run). Saved as the encoder in ``transformer/`` (Hugging Face
format) plus ``knn/neighbours.safetensors`` (the normalised training embeddings and their
labels); no pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save

from ..errors import ConfigError, ModelFormatError
from ..errors import NotFittedError as EmotagNotFittedError
from ..utils.files import atomic_write_bytes
from .base import EmotionClassifier, read_manifest

KNN_SUBDIR = "knn"
QUERY_CHUNK = 1024  # queries per similarity block: 1024 x 43,410 float32 is 178 MB


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero), so a dot product is a cosine."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def neighbour_vote(queries: np.ndarray, neighbours: np.ndarray, labels: np.ndarray,
                   k: int) -> np.ndarray:
    """Per query row, the ``max(similarity, 0)``-weighted mean of its ``k`` most similar
    neighbours' 0/1 label rows: scores in [0, 1], 0 where no neighbour is similar at all.

    ``queries`` and ``neighbours`` are unit rows; ``k`` is capped at the number of
    neighbours.
    """
    k = min(int(k), len(neighbours))
    y = labels.astype(np.float32)
    out = np.zeros((len(queries), y.shape[1]), dtype=np.float32)
    for start in range(0, len(queries), QUERY_CHUNK):
        sim = queries[start:start + QUERY_CHUNK] @ neighbours.T
        if k < len(neighbours):
            idx = np.argpartition(-sim, k, axis=1)[:, :k]
        else:
            idx = np.broadcast_to(np.arange(k), sim.shape)
        w = np.clip(np.take_along_axis(sim, idx, axis=1), 0, None)
        votes = (w[:, :, None] * y[idx]).sum(axis=1)
        out[start:start + len(sim)] = votes / np.clip(w.sum(axis=1, keepdims=True), 1e-9, None)
    return out


class KnnClassifier(EmotionClassifier):
    """``k`` nearest training texts by cosine similarity of a fine-tuned encoder's states.

    Parameters
    ----------
    label_names : the label columns, in order (those of the training split).
    encoder : an emotag transformer run or model folder whose encoder embeds the texts, or
        an already loaded :class:`~emotag.models.transformer.TransformerClassifier` (any
        object with ``embed(texts, progress=False) -> (n, d) array``). Its own labels may
        differ from ``label_names``: only its pooled states are used.
    k : neighbours per text.
    """

    model_type = "knn"

    def __init__(self, label_names: Sequence[str] | None = None, encoder: Any = None,
                 k: int = 20) -> None:
        self.label_names = list(label_names) if label_names else []
        self.encoder = encoder
        self.k = k

    def _load_encoder(self) -> None:
        from .base import load_model

        if hasattr(self.encoder, "embed"):
            self.encoder_ = self.encoder
            return
        if not self.encoder:
            raise ConfigError("model.model_type=knn needs model.encoder: a transformer run "
                              "folder whose fine-tuned encoder embeds the texts")
        kind = read_manifest(Path(self.encoder)).get("model_type")
        if kind != "transformer":
            raise ModelFormatError(f"{self.encoder}: model_type {kind!r}; model.encoder must be "
                                   "a transformer run (train one with "
                                   "model.model_type=transformer)")
        self.encoder_ = load_model(Path(self.encoder))

    def fit(self, train: Any, dev: Any | None = None, *, work_dir: Path | None = None,
            resume: bool = False) -> KnnClassifier:
        """Embed the training texts (``train.texts``, labels ``train.labels``); ``dev``,
        ``work_dir`` and ``resume`` are unused (nothing is trained, nothing to resume)."""
        if int(self.k) < 1:
            raise ConfigError(f"model.knn_k={self.k}; expected at least 1")
        self._load_encoder()
        labels = np.asarray(train.labels)
        if len(labels) != len(train.texts) or len(labels) == 0:
            raise ModelFormatError(f"training split: {len(train.texts)} texts and "
                                   f"{len(labels)} label rows; expected the same, at least 1")
        if labels.ndim != 2 or labels.shape[1] != len(self.label_names):
            raise ModelFormatError(f"training labels have shape {labels.shape}; expected one "
                                   f"column per label ({len(self.label_names)})")
        self.neighbours_ = _unit_rows(self.encoder_.embed(train.texts, progress=True))
        self.neighbour_labels_ = labels.astype(np.uint8)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n_texts, n_labels) float32 neighbour votes in [0, 1]."""
        if not hasattr(self, "neighbours_"):
            raise EmotagNotFittedError("KnnClassifier is not fitted; call fit or load")
        texts = self.prepared(texts)
        if not texts:
            return np.zeros((0, len(self.label_names)), dtype=np.float32)
        queries = _unit_rows(self.encoder_.embed(texts))
        return neighbour_vote(queries, self.neighbours_, self.neighbour_labels_, self.k)

    # ------------------------------------------------------------------ persistence
    def save_backend(self, model_dir: Path) -> dict[str, Any]:
        """The encoder in ``transformer/`` and the neighbours in ``knn/``, each written to a
        temp name first and renamed."""
        if not hasattr(self.encoder_, "save_backend"):
            raise ModelFormatError(f"{type(self.encoder_).__name__} cannot be saved: a saved kNN "
                                   "model carries its encoder, so it needs a transformer one")
        extra = self.encoder_.save_backend(model_dir)
        atomic_write_bytes(Path(model_dir) / KNN_SUBDIR / "neighbours.safetensors",
                           save({"embeddings": self.neighbours_,
                                 "labels": self.neighbour_labels_}))
        source = (str(self.encoder) if isinstance(self.encoder, str | Path)
                  else type(self.encoder).__name__)  # where the encoder came from, for people
        return {**extra, "knn": {"k": int(self.k), "encoder": source,
                                 "encoder_label_names": list(self.encoder_.label_names)}}

    @classmethod
    def load_backend(cls, model_dir: Path, manifest: dict[str, Any],
                     **options: Any) -> KnnClassifier:
        """Rebuild from ``transformer/`` and ``knn/``; ``options`` go to the encoder."""
        from .transformer import TransformerClassifier

        info = manifest.get("knn")
        if not isinstance(info, dict):
            raise ModelFormatError(f"{model_dir}: emotag.json has no 'knn' section")
        src = Path(model_dir) / KNN_SUBDIR / "neighbours.safetensors"
        try:
            tensors = load_file(str(src))
        except OSError as e:
            raise ModelFormatError(f"{src}: cannot read the neighbours ({e})") from e
        model = cls(label_names=manifest["label_names"], encoder=info.get("encoder"),
                    k=int(info["k"]))
        encoder_manifest = {**manifest, "label_names": info["encoder_label_names"]}
        model.encoder_ = TransformerClassifier.load_backend(model_dir, encoder_manifest,
                                                            **options)
        model.neighbours_ = tensors["embeddings"]
        model.neighbour_labels_ = tensors["labels"]
        if model.neighbour_labels_.shape != (len(model.neighbours_), len(model.label_names)):
            raise ModelFormatError(f"{src}: labels {model.neighbour_labels_.shape} do not fit "
                                   f"{len(model.neighbours_)} neighbours x "
                                   f"{len(model.label_names)} labels")
        return model
