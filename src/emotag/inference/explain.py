"""Which words made the model predict a label: occlusion, one word at a time.

For every explained word the text is scored again with that word cut out; the word's weight
for a label is ``score(full text) - score(text without the word)``, so a positive weight means
the word pushed the label up and a negative one that it held it down. Occlusion needs nothing
from the model but ``predict_proba``, so it explains every emotag model (TF-IDF, PyTorch, ONNX)
the same way, and the words it names are whole words of the user's text, not sub-word pieces.

Cost: one extra scored text per explained word. All variants of all texts go through a single
batched scoring call, and only the first ``max_words`` words of a text are explained (later
words usually fall past the model's token limit, where removing them changes nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, DataError
from .groups import output_names

if TYPE_CHECKING:
    from .predictor import Predictor

#: A word (letters/digits, with inner apostrophes: "don't") or a run of other non-space
#: characters ("!!", "??", an emoji), since punctuation carries emotion too.
WORD_RE = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]+")
DEFAULT_MAX_WORDS = 64

ScoreFn = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Word:
    """One occludable unit of a text: ``text[start:end] == token``."""

    token: str
    start: int
    end: int


def split_words(text: str) -> list[Word]:
    """The words of ``text`` with their character offsets (Python string indices)."""
    return [Word(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def without(text: str, word: Word) -> str:
    """``text`` with ``word`` cut out (the surrounding spaces stay; tokenizers ignore them)."""
    return text[:word.start] + text[word.end:]


def occlusion(score_fn: ScoreFn, texts: Sequence[str], *, full_scores: np.ndarray | None = None,
              max_words: int = DEFAULT_MAX_WORDS) -> list[tuple[list[Word], np.ndarray]]:
    """Per text, its explained words and a ``(n_words, n_columns)`` weight matrix.

    ``score_fn`` maps a list of texts to a ``(n, n_columns)`` score matrix. ``full_scores``
    (the scores of ``texts`` themselves) saves scoring them again when the caller has them.
    Every variant of every text is scored in one ``score_fn`` call; identical variants (a
    repeated word next to itself) are scored once.
    """
    if max_words < 1:
        raise ConfigError(f"max_words={max_words}; expected at least 1")
    texts = list(texts)
    words = [split_words(t)[:max_words] for t in texts]
    variant_index: dict[str, int] = {}
    if full_scores is None:
        for t in texts:
            variant_index.setdefault(t, len(variant_index))
    for text, ws in zip(texts, words, strict=True):
        for w in ws:
            variant_index.setdefault(without(text, w), len(variant_index))
    scored = score_fn(list(variant_index)) if variant_index else None
    if full_scores is None:
        full_scores = (scored[[variant_index[t] for t in texts]] if texts
                       else np.zeros((0, 0), dtype=np.float32))
    out = []
    for i, (text, ws) in enumerate(zip(texts, words, strict=True)):
        full = np.asarray(full_scores[i], dtype=np.float64)
        if ws:
            rows = [variant_index[without(text, w)] for w in ws]
            weights = full[None, :] - np.asarray(scored[rows], dtype=np.float64)
        else:
            weights = np.zeros((0, full.shape[0]))
        out.append((ws, weights))
    return out


def label_explanation(words: Sequence[Word], weights: np.ndarray, column: int,
                      top_n: int | None = None) -> list[dict[str, Any]]:
    """One label's words as ``{"token", "weight", "start", "end"}``, strongest first.

    Strength is the absolute weight; ties keep text order. ``top_n`` keeps the strongest n.
    """
    col = weights[:, column] if len(words) else np.zeros(0)
    order = np.argsort(-np.abs(col), kind="stable")
    if top_n is not None:
        order = order[:top_n]
    return [{"token": words[k].token, "weight": float(col[k]), "start": words[k].start,
             "end": words[k].end} for k in order]


def taxonomy_scorer(predictor: Predictor, taxonomy: str = "goemotions") -> ScoreFn:
    """``texts -> scores`` in a taxonomy's columns, the scores ``Predictor.predict`` ranks."""
    if taxonomy == "goemotions":
        return lambda texts: predictor.predict_proba(texts)
    return lambda texts: predictor.group_scores(predictor.predict_proba(texts), taxonomy)[0]


def taxonomy_names(predictor: Predictor, taxonomy: str = "goemotions") -> list[str]:
    """Column names of :func:`taxonomy_scorer`'s matrix."""
    return output_names(predictor.labels, taxonomy)


def explain(predictor: Predictor, texts: Sequence[str],
            labels: Sequence[Sequence[str]] | None = None, *, taxonomy: str = "goemotions",
            max_words: int = DEFAULT_MAX_WORDS, top_n: int | None = None
            ) -> list[dict[str, list[dict[str, Any]]]]:
    """Per text, ``{label: [{"token", "weight", "start", "end"}, ...]}``.

    ``labels`` names the labels to explain per text (default: the predicted ones, as
    ``predictor.predict(texts, taxonomy=taxonomy)`` returns them).
    """
    texts = list(texts)
    if labels is None:
        labels = [[x["label"] for x in row] for row in predictor.predict(texts, taxonomy=taxonomy)]
    if len(labels) != len(texts):
        raise DataError(f"{len(labels)} label lists for {len(texts)} texts; expected one "
                        "list of labels to explain per text")
    names = taxonomy_names(predictor, taxonomy)
    column = {name: j for j, name in enumerate(names)}
    for row in labels:
        for name in row:
            if name not in column:
                raise DataError(f"unknown label {name!r} for taxonomy {taxonomy!r}; "
                                 f"expected one of {', '.join(names)}")
    per_text = occlusion(taxonomy_scorer(predictor, taxonomy), texts, max_words=max_words)
    return [{name: label_explanation(ws, weights, column[name], top_n) for name in row}
            for (ws, weights), row in zip(per_text, labels, strict=True)]


def top_words(words: Sequence[dict[str, Any]], n: int = 5) -> str:
    """``"thank +0.982, why -0.081"``: a label's ``n`` strongest words, for terminals."""
    strongest = sorted(words, key=lambda w: -abs(w["weight"]))[:n]
    return ", ".join(f"{w['token']} {w['weight']:+.3f}" for w in strongest) or "(no words)"
