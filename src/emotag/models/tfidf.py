"""TF-IDF (word + character n-grams) with one-vs-rest logistic regression: the baseline.

Trains in about a minute on 2 cores and is the bar every neural model must clear. Saved as
``tfidf/vectorizers.json`` (settings + vocabularies) and ``tfidf/weights.safetensors`` (idf,
coefficients, intercepts); loading rebuilds the scikit-learn objects from arrays, no pickle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from ..errors import DataError, ModelFormatError
from ..errors import NotFittedError as EmotagNotFittedError
from ..utils.files import atomic_write_bytes, atomic_write_json
from .base import EmotionClassifier, sigmoid

_CONSTANT_LOGIT = 10.0  # score of a label seen on every (+) or no (-) training text
_VEC_KEYS = ("analyzer", "ngram_range", "lowercase", "sublinear_tf", "min_df", "max_features",
             "strip_accents", "dtype")


class TfidfLogRegClassifier(BaseEstimator, EmotionClassifier):
    """Word and char_wb TF-IDF features, one balanced logistic regression per label."""

    model_type = "tfidf"

    def __init__(self, label_names: Sequence[str] | None = None, word_ngram_max: int = 2,
                 char_ngram_range: tuple[int, int] = (2, 5), max_features_word: int = 100_000,
                 max_features_char: int = 150_000, C: float = 4.0,
                 random_state: int | None = 42, n_jobs: int | None = None) -> None:
        self.label_names = label_names
        self.word_ngram_max = word_ngram_max
        self.char_ngram_range = char_ngram_range
        self.max_features_word = max_features_word
        self.max_features_char = max_features_char
        self.C = C
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _features(self, texts: Sequence[str], fit: bool = False) -> sp.csr_matrix:
        parts = []
        for vec in self.vectorizers_:
            parts.append(vec.fit_transform(texts) if fit else vec.transform(texts))
        x = sp.hstack(parts, format="csr")
        x.sort_indices()  # liblinear workers need canonical, writable CSR
        return x

    def fit(self, train: Any, dev: Any | None = None, *, work_dir: Path | None = None,
            resume: bool = False) -> TfidfLogRegClassifier:
        """Fit on ``train`` (a Split, or any object with ``texts`` and ``labels``)."""
        self.label_names = list(self.label_names or train.label_names)
        self.vectorizers_ = [
            TfidfVectorizer(analyzer="word", ngram_range=(1, self.word_ngram_max),
                            lowercase=True, sublinear_tf=True, min_df=2,
                            max_features=self.max_features_word, dtype=np.float32),
            TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngram_range),
                            lowercase=True, sublinear_tf=True, min_df=2,
                            max_features=self.max_features_char, dtype=np.float32),
        ]
        y = np.asarray(train.labels)
        source = getattr(train, "source", None) or None
        if y.ndim != 2 or y.shape != (len(train.texts), len(self.label_names)):
            raise DataError(f"labels of shape {y.shape} for {len(train.texts)} texts and "
                            f"{len(self.label_names)} label names {self.label_names}",
                            path=source)
        try:
            x = self._features(train.texts, fit=True)
        except ValueError as e:  # scikit-learn: empty vocabulary after min_df=2
            raise DataError(f"cannot build TF-IDF features from {len(train.texts)} training "
                            f"texts ({e}); the baseline needs words that occur in at least "
                            "two texts", path=source) from None
        # A label without a positive (or without a negative) example cannot be learned: it
        # gets a constant score (DataConfig warns about such labels), the rest are fitted.
        positives = y.sum(axis=0)
        learnable = np.flatnonzero((positives > 0) & (positives < len(y)))
        self.coef_ = np.zeros((y.shape[1], x.shape[1]), dtype=np.float32)
        self.intercept_ = np.where(positives > 0, _CONSTANT_LOGIT, -_CONSTANT_LOGIT).astype(
            np.float32)
        if len(learnable):
            logreg = LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear",
                                        max_iter=1000, random_state=self.random_state)
            estimators = ([logreg.fit(x, y[:, learnable[0]])] if len(learnable) == 1 else
                          OneVsRestClassifier(logreg, n_jobs=self.n_jobs).fit(
                              x, y[:, learnable]).estimators_)
            self.coef_[learnable] = np.vstack([e.coef_ for e in estimators])
            self.intercept_[learnable] = np.concatenate([e.intercept_ for e in estimators])
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise EmotagNotFittedError("TfidfLogRegClassifier is not fitted; call fit first")
        texts = self.prepared(texts)
        logits = self._features(list(texts)) @ self.coef_.T + self.intercept_
        return sigmoid(logits)

    # ------------------------------------------------------------------ persistence
    def save_backend(self, model_dir: Path) -> dict[str, Any]:
        out = Path(model_dir) / "tfidf"
        vecs = []
        tensors = {"coef": self.coef_, "intercept": self.intercept_}
        for i, vec in enumerate(self.vectorizers_):
            params = {k: vec.get_params()[k] for k in _VEC_KEYS}
            params["dtype"] = np.dtype(params["dtype"]).name
            vocab = {term: int(idx) for term, idx in vec.vocabulary_.items()}
            vecs.append({"params": params, "vocabulary": vocab})
            tensors[f"idf_{i}"] = vec.idf_.astype(np.float32)
        atomic_write_json(out / "vectorizers.json", vecs)
        atomic_write_bytes(out / "weights.safetensors", save(tensors))
        return {"tfidf": self.get_params()}

    @classmethod
    def load_backend(cls, model_dir: Path, manifest: dict[str, Any],
                     **options: Any) -> TfidfLogRegClassifier:
        """Rebuild from ``tfidf/``. ``options`` (``num_threads``) have no effect: scoring is
        one sparse product per label block, cheap next to any transformer."""
        src = Path(model_dir) / "tfidf"
        try:
            vecs = json.loads((src / "vectorizers.json").read_text(encoding="utf-8"))
            tensors = load_file(str(src / "weights.safetensors"))
        except (OSError, json.JSONDecodeError) as e:
            raise ModelFormatError(f"{src}: cannot read the tfidf model ({e})") from e
        params = dict(manifest.get("tfidf", {}))
        params["label_names"] = manifest["label_names"]
        if "char_ngram_range" in params:
            params["char_ngram_range"] = tuple(params["char_ngram_range"])
        model = cls(**params)
        model.vectorizers_ = []
        for i, spec in enumerate(vecs):
            p = dict(spec["params"])
            p["ngram_range"] = tuple(p["ngram_range"])
            p["dtype"] = np.dtype(p["dtype"]).type
            vec = TfidfVectorizer(**p)
            vec.vocabulary_ = spec["vocabulary"]
            vec.idf_ = tensors[f"idf_{i}"].astype(np.float64)
            model.vectorizers_.append(vec)
        model.coef_ = tensors["coef"]
        model.intercept_ = tensors["intercept"]
        return model
