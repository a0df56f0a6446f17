"""Label sets, the GoEmotions groupings, and multi-hot encoding.

Column order is a contract: every probability matrix, threshold vector and report of a model
uses the order of its ``label_names`` (saved in its ``emotag.json``). For GoEmotions that is
the order of ``emotions.txt`` (admiration = 0 ... neutral = 27); for a user's own labels it
is ``data.label_names``, or the training file's labels sorted (see ``DataConfig``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ConfigError, DataError, TaxonomyError
from .resources import goemotions_dir

if TYPE_CHECKING:
    from sklearn.preprocessing import MultiLabelBinarizer

GOEMOTIONS_LABELS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)  # fmt: skip

NEUTRAL = "neutral"
TAXONOMIES = ("goemotions", "ekman", "sentiment")
GROUPINGS = ("ekman", "sentiment")  # the paper's coarser taxonomies over the 28 labels


def make_binarizer(label_names: Sequence[str]) -> MultiLabelBinarizer:
    """A fitted MultiLabelBinarizer whose columns follow ``label_names`` exactly."""
    from sklearn.preprocessing import MultiLabelBinarizer  # lazy: inference never needs it

    mlb = MultiLabelBinarizer(classes=list(label_names))
    mlb.fit([list(label_names)])
    return mlb


def encode(label_lists: Iterable[Iterable[str]], label_names: Sequence[str]) -> np.ndarray:
    """Label-name lists -> (n, len(label_names)) uint8 multi-hot matrix.

    Unknown names are rejected (MultiLabelBinarizer would only warn and drop them).
    """
    label_lists = [list(x) for x in label_lists]
    known = set(label_names)
    for i, labels in enumerate(label_lists):
        for name in labels:
            if name not in known:
                raise DataError(f"unknown label {name!r}; valid labels: {', '.join(label_names)}",
                                row=i + 1)
    return make_binarizer(label_names).transform(label_lists).astype(np.uint8)


def decode(matrix: np.ndarray, label_names: Sequence[str]) -> list[list[str]]:
    """Multi-hot matrix -> label-name lists (inverse of :func:`encode`)."""
    return [list(t) for t in make_binarizer(label_names).inverse_transform(np.asarray(matrix))]


@lru_cache(maxsize=4)
def _read_mapping(name: str, data_dir: str) -> dict[str, list[str]]:
    path = Path(data_dir) / name
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def taxonomy_groups(taxonomy: str, data_dir: Path | None = None) -> dict[str, list[str]]:
    """Group name -> member emotions for ``ekman`` or ``sentiment``; neutral is its own group.

    Read from the paper's mapping files (``ekman_mapping.json``, ``sentiment_dict.json``).
    """
    files = {"ekman": "ekman_mapping.json", "sentiment": "sentiment_dict.json"}
    if taxonomy not in files:
        raise TaxonomyError(f"unknown grouping {taxonomy!r}; expected one of {sorted(files)}")
    mapping = _read_mapping(files[taxonomy], str(data_dir or goemotions_dir()))
    groups = {name: list(members) for name, members in mapping.items()}  # callers may mutate
    groups[NEUTRAL] = [NEUTRAL]
    return groups


def has_taxonomies(label_names: Sequence[str]) -> bool:
    """Whether the Ekman and sentiment groupings apply: the labels are GoEmotions' (they
    include ``neutral``, ``joy`` and ``anger``); the paper's groupings mean nothing elsewhere."""
    return {NEUTRAL, "joy", "anger"} <= set(label_names)


def group_columns(label_names: Sequence[str], taxonomy: str) -> list[list[int]]:
    """Per group of ``taxonomy`` (in its file's order, neutral last), the columns of
    ``label_names`` that belong to it (empty for a group none of the labels belong to)."""
    index = {name: i for i, name in enumerate(label_names)}
    return [[index[m] for m in members if m in index]
            for members in taxonomy_groups(taxonomy).values()]


def named_taxonomy_columns(label_names: Sequence[str]) -> list[list[tuple[str, list[int]]]]:
    """Per grouping of :data:`GROUPINGS`, ``(group name, columns of label_names)`` for each
    group with at least one of the labels.

    Empty when :func:`has_taxonomies` says the groupings do not apply.
    """
    if not has_taxonomies(label_names):
        return []
    return [[(name, cols) for name, cols in zip(taxonomy_groups(t), group_columns(label_names, t),
                                                strict=True) if cols]
            for t in GROUPINGS]


def taxonomy_columns(label_names: Sequence[str]) -> list[list[list[int]]]:
    """The Ekman and sentiment groupings as column indices of ``label_names``.

    Empty when :func:`has_taxonomies` says the groupings do not apply.
    """
    return [[cols for _, cols in grouping] for grouping in named_taxonomy_columns(label_names)]


def group_matrix(
    matrix: np.ndarray, label_names: Sequence[str], taxonomy: str, *, reduce: str = "any"
) -> tuple[np.ndarray, list[str]]:
    """Map a (n, len(label_names)) matrix onto a taxonomy's groups.

    ``reduce="any"`` turns decisions/targets into group decisions (a group is on when any
    member is on, the paper's convention); ``reduce="max"`` maps probabilities (a group's
    score is its most likely member's score).
    """
    if reduce not in ("any", "max"):
        raise ConfigError(f"reduce={reduce!r}; expected 'any' or 'max'")
    names = list(taxonomy_groups(taxonomy))
    out = np.zeros((matrix.shape[0], len(names)), dtype=matrix.dtype)
    for j, cols in enumerate(group_columns(label_names, taxonomy)):
        if cols:
            out[:, j] = matrix[:, cols].max(axis=1)
    if reduce == "any":
        out = (out > 0).astype(matrix.dtype)
    return out, names
