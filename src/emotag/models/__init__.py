"""Classifiers behind one contract: fit, predict_proba, save, load."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .base import FORMAT_VERSION, EmotionClassifier, load_model, save_model

if TYPE_CHECKING:
    from ..config import EmotagConfig

__all__ = ["FORMAT_VERSION", "EmotionClassifier", "load_model", "save_model", "build_model"]


def build_model(config: EmotagConfig, label_names: Sequence[str]) -> EmotionClassifier:
    """A fresh, unfitted classifier for an :class:`~emotag.config.EmotagConfig`."""
    model = _build_backend(config, label_names)
    if config.model.preprocessing != "none":
        from ..data.preprocess import PRESETS

        model.preprocessing = PRESETS[config.model.preprocessing]
    return model


def _build_backend(config: EmotagConfig, label_names: Sequence[str]) -> EmotionClassifier:
    m = config.model
    if m.model_type == "tfidf":
        from .tfidf import TfidfLogRegClassifier

        return TfidfLogRegClassifier(
            label_names=list(label_names), word_ngram_max=m.word_ngram_max,
            char_ngram_range=tuple(m.char_ngram_range), max_features_word=m.max_features_word,
            max_features_char=m.max_features_char, C=m.C, random_state=config.train.seed)
    if m.model_type == "knn":
        from .knn import KnnClassifier

        return KnnClassifier(label_names=list(label_names), encoder=m.encoder, k=m.knn_k)
    from .transformer import TransformerClassifier

    return TransformerClassifier(label_names=list(label_names), backbone=m.backbone,
                                 max_length=m.max_length, dropout=m.dropout, pooling=m.pooling,
                                 num_hidden_layers=m.num_hidden_layers,
                                 train_config=config.train)
