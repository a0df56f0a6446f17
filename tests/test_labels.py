"""Tests for emotag.labels: the label set, multi-hot encoding, and the taxonomy groupings."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from emotag.errors import ConfigError, DataError, TaxonomyError
from emotag.labels import (
    GOEMOTIONS_LABELS,
    NEUTRAL,
    decode,
    encode,
    group_matrix,
    taxonomy_groups,
)
from emotag.resources import goemotions_dir

LABELS = list(GOEMOTIONS_LABELS)
COL = {name: i for i, name in enumerate(LABELS)}


def row(*names: str, dtype=np.uint8) -> np.ndarray:
    """A 28-column multi-hot row with ``names`` on."""
    r = np.zeros(len(LABELS), dtype=dtype)
    for n in names:
        r[COL[n]] = 1
    return r


# --------------------------------------------------------------------------- label set
def test_labels_match_bundled_emotions_txt():
    text = (goemotions_dir() / "emotions.txt").read_text(encoding="utf-8")
    assert tuple(text.split("\n")) == GOEMOTIONS_LABELS
    assert len(GOEMOTIONS_LABELS) == 28
    assert GOEMOTIONS_LABELS[0] == "admiration"
    assert GOEMOTIONS_LABELS[27] == NEUTRAL == "neutral"
    assert len(set(GOEMOTIONS_LABELS)) == 28


# --------------------------------------------------------------------------- encode/decode
def test_encode_columns_follow_label_names_and_round_trip():
    lists = [["joy", "anger"], ["neutral"], ["admiration", "surprise", "grief"], []]
    m = encode(lists, LABELS)
    assert m.shape == (4, 28)
    assert m.dtype == np.uint8
    # column j is label_names[j]
    assert m[0].nonzero()[0].tolist() == [COL["anger"], COL["joy"]] == [2, 17]
    assert m[1].nonzero()[0].tolist() == [27]
    assert m[2].nonzero()[0].tolist() == [0, 16, 26]
    assert m[3].sum() == 0
    assert m.sum(axis=1).tolist() == [2, 1, 3, 0]
    # decode gives names in column order, whatever order they were given in
    assert decode(m, LABELS) == [["anger", "joy"], ["neutral"],
                                 ["admiration", "grief", "surprise"], []]
    np.testing.assert_array_equal(encode(decode(m, LABELS), LABELS), m)


def test_encode_respects_a_custom_unsorted_label_order():
    names = ["zeta", "alpha", "mid"]
    m = encode([["alpha"], ["zeta", "mid"]], names)
    np.testing.assert_array_equal(m, [[0, 1, 0], [1, 0, 1]])
    assert decode(m, names) == [["alpha"], ["zeta", "mid"]]


def test_encode_unknown_label_names_label_and_row():
    with pytest.raises(DataError) as info:
        encode([["joy"], ["joy", "happyness"], ["anger"]], LABELS)
    err = info.value
    assert err.row == 2
    assert "'happyness'" in str(err)
    assert "row 2" in str(err)
    assert "admiration" in str(err)  # lists the valid labels


# --------------------------------------------------------------------------- taxonomies
def test_ekman_groups_partition_the_27_emotions_and_keep_neutral():
    groups = taxonomy_groups("ekman")
    assert set(groups) == {"anger", "disgust", "fear", "joy", "sadness", "surprise", NEUTRAL}
    assert groups[NEUTRAL] == [NEUTRAL]
    members = Counter(m for g, ms in groups.items() if g != NEUTRAL for m in ms)
    assert set(members) == set(LABELS) - {NEUTRAL}
    assert all(c == 1 for c in members.values()), members
    assert sum(members.values()) == 27
    assert "annoyance" in groups["anger"] and "grief" in groups["sadness"]


def test_sentiment_groups_keep_neutral_and_cover_the_emotions():
    groups = taxonomy_groups("sentiment")
    assert set(groups) == {"positive", "negative", "ambiguous", NEUTRAL}
    assert groups[NEUTRAL] == [NEUTRAL]
    members = Counter(m for g, ms in groups.items() if g != NEUTRAL for m in ms)
    assert set(members) == set(LABELS) - {NEUTRAL}
    assert all(c == 1 for c in members.values())
    assert "joy" in groups["positive"] and "fear" in groups["negative"]
    assert "surprise" in groups["ambiguous"]


def test_taxonomy_groups_rejects_unknown_taxonomy():
    # a user's mistake is an emotag error (the CLI prints it as one line), not a bare ValueError
    with pytest.raises(TaxonomyError, match="plutchik"):
        taxonomy_groups("plutchik")


# --------------------------------------------------------------------------- group_matrix
def test_group_matrix_any_rule_on_decisions():
    m = np.stack([
        row("annoyance"),                      # anger group via a non-namesake member
        row("joy", "sadness"),                 # two groups
        row("neutral"),                        # neutral only
        row(),                                 # nothing
        row("amusement", "gratitude", "love"),  # three members of one group -> still 1
    ])
    out, names = group_matrix(m, LABELS, "ekman")
    assert names == list(taxonomy_groups("ekman"))
    assert out.shape == (5, len(names))
    assert out.dtype == m.dtype
    on = [sorted(names[j] for j in np.flatnonzero(r)) for r in out]
    assert on == [["anger"], ["joy", "sadness"], ["neutral"], [], ["joy"]]
    assert set(np.unique(out)) <= {0, 1}

    sent, snames = group_matrix(m, LABELS, "sentiment")
    on = [sorted(snames[j] for j in np.flatnonzero(r)) for r in sent]
    assert on == [["negative"], ["negative", "positive"], ["neutral"], [], ["positive"]]


def test_group_matrix_max_for_probabilities():
    p = np.full((2, 28), 0.01)
    p[0, COL["anger"]] = 0.2
    p[0, COL["annoyance"]] = 0.7
    p[0, COL["disapproval"]] = 0.4
    p[0, COL["joy"]] = 0.3
    p[1, COL["neutral"]] = 0.9
    p[1, COL["fear"]] = 0.05
    p[1, COL["nervousness"]] = 0.45
    out, names = group_matrix(p, LABELS, "ekman", reduce="max")
    g = {n: out[:, j] for j, n in enumerate(names)}
    assert out.dtype == np.float64
    np.testing.assert_allclose(g["anger"], [0.7, 0.01])
    np.testing.assert_allclose(g["joy"], [0.3, 0.01])
    np.testing.assert_allclose(g["fear"], [0.01, 0.45])
    np.testing.assert_allclose(g["neutral"], [0.01, 0.9])
    np.testing.assert_allclose(g["disgust"], [0.01, 0.01])
    with pytest.raises(ConfigError, match="reduce='mean'; expected 'any' or 'max'"):
        group_matrix(p, LABELS, "ekman", reduce="mean")
    # "any" on the same probabilities would turn every group on: max keeps the scores
    any_out, _ = group_matrix(p, LABELS, "ekman")
    assert set(np.unique(any_out)) == {1.0}
