"""Ekman and sentiment groupings: real scores in [0, 1], their own thresholds, and a clear
error for models whose labels they do not cover."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import emotag
from emotag.errors import ConfigError, TaxonomyError
from emotag.inference.groups import (
    GROUP_THRESHOLDS_FILE,
    fit_group_thresholds,
    load_group_thresholds,
    member_columns,
    noisy_or,
    save_group_thresholds,
)
from emotag.inference.predictor import Predictor
from emotag.labels import GOEMOTIONS_LABELS, taxonomy_groups

L = list(GOEMOTIONS_LABELS)


class TableModel:
    """Returns fixed rows of scores for known texts."""

    def __init__(self, rows: dict[str, np.ndarray], labels: Sequence[str] = L) -> None:
        self.rows, self.label_names = rows, list(labels)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.rows[t] for t in texts]).astype(np.float32)


def one_hot_scores(**scores: float) -> np.ndarray:
    row = np.full(len(L), 0.01, dtype=np.float32)
    for name, value in scores.items():
        row[L.index(name)] = value
    return row


def test_noisy_or_is_a_probability_of_any_member() -> None:
    probs = np.array([[0.5, 0.5, 0.0], [0.9, 0.0, 0.2], [1.0, 0.3, 0.0]])
    got = noisy_or(probs, [[0, 1], [2], [0, 1, 2]])
    np.testing.assert_allclose(got[:, 0], [0.75, 0.9, 1.0])
    np.testing.assert_allclose(got[:, 1], probs[:, 2])          # one member: its own score
    assert ((got >= 0) & (got <= 1)).all()
    assert (got[:, 2] >= probs.max(axis=1) - 1e-12).all()        # never below the best member


def test_group_score_is_not_a_shifted_margin() -> None:
    """Regression: the score used to be "margin over the member's threshold + 0.5", so a
    sad text got {"label": "sadness", "score": 1.0} from the service."""
    model = TableModel({"I am sad": one_hot_scores(sadness=0.9)})
    pred = Predictor(model, np.full(len(L), 0.3))
    out = pred.predict("I am sad", taxonomy="ekman")
    assert out[0]["label"] == "sadness"
    others = len(taxonomy_groups("ekman")["sadness"]) - 1
    expected = 1 - 0.1 * 0.99 ** others          # sadness at 0.9, the other members at 0.01
    assert out[0]["score"] == pytest.approx(expected, abs=1e-6)
    assert out[0]["score"] < 1.0


def test_fallback_rule_fires_a_group_whenever_a_member_fires() -> None:
    thresholds = np.full(len(L), 0.6)
    thresholds[L.index("joy")] = 0.2
    model = TableModel({"a": one_hot_scores(joy=0.25), "b": one_hot_scores(fear=0.5)})
    pred = Predictor(model, thresholds)
    names, cols = member_columns(L, "ekman")
    scores, got_names, cuts = pred.group_scores(model.predict_proba(["a", "b"]), "ekman")
    assert got_names == names
    assert cuts[names.index("joy")] == pytest.approx(0.2)        # lowest member threshold
    assert cuts[names.index("fear")] == pytest.approx(0.6)
    labels = [[x["label"] for x in r] for r in pred.predict(["a", "b"], taxonomy="ekman")]
    assert "joy" in labels[0] and "fear" not in labels[1]


def test_saved_group_thresholds_decide(tmp_path: Path) -> None:
    model = TableModel({"a": one_hot_scores(fear=0.5)})
    save_group_thresholds(tmp_path, {"ekman": {"fear": 0.4}, "sentiment": {}},
                          calibrated=False)
    saved = load_group_thresholds(tmp_path, calibrated=False)
    assert saved == {"ekman": {"fear": 0.4}, "sentiment": {}}
    pred = Predictor(model, np.full(len(L), 0.6), group_thresholds=saved)
    assert [x["label"] for x in pred.predict("a", taxonomy="ekman")] == ["fear"]
    assert pred.predict("a", taxonomy="sentiment") == []         # negative: fallback cut 0.6
    # fitted on the other scale (calibrated vs raw): not used, the fallback applies
    assert load_group_thresholds(tmp_path, calibrated=True) is None
    assert load_group_thresholds(tmp_path / "nothing", calibrated=False) is None


def test_fit_group_thresholds_picks_the_best_f1_cut() -> None:
    rng = np.random.default_rng(0)
    n = 400
    y = np.zeros((n, len(L)), dtype=np.uint8)
    y[: n // 2, L.index("fear")] = 1
    probs = np.full((n, len(L)), 0.01)
    probs[:, L.index("fear")] = np.where(y[:, L.index("fear")] == 1,
                                         rng.uniform(0.3, 0.5, n), rng.uniform(0.0, 0.2, n))
    fitted = fit_group_thresholds(probs, y, L)
    assert set(fitted) == {"ekman", "sentiment"}
    assert list(fitted["ekman"]) == list(taxonomy_groups("ekman"))
    assert 0.2 <= fitted["ekman"]["fear"] <= 0.31


def test_taxonomies_only_for_labels_they_cover() -> None:
    custom = TableModel({"x": np.array([0.9, 0.1, 0.2])}, labels=["frustrated", "urgent",
                                                                   "grateful"])
    pred = Predictor(custom, np.full(3, 0.5))
    assert pred.taxonomies == ("goemotions",)
    with pytest.raises(TaxonomyError, match="'ekman'.*frustrated, urgent, grateful.*goemotions"):
        pred.predict("x", taxonomy="ekman")
    with pytest.raises(TaxonomyError, match="'sentiment'"):
        pred.decision_view(np.zeros((1, 3)), "sentiment")
    assert pred.predict("x") == [{"label": "frustrated", "score": pytest.approx(0.9)}]
    full = Predictor(TableModel({}), np.full(len(L), 0.5))
    assert full.taxonomies == ("goemotions", "ekman", "sentiment")
    with pytest.raises(TaxonomyError, match="unknown taxonomy 'plutchik'"):
        full.predict([], taxonomy="plutchik")


def test_user_mistakes_are_emotag_errors() -> None:
    pred = Predictor(TableModel({"a": one_hot_scores(joy=0.9)}), np.full(len(L), 0.5))
    with pytest.raises(ConfigError, match="top_k=0"):
        pred.predict("a", top_k=0)
    with pytest.raises(ConfigError, match="threshold=1.5"):
        pred.predict("a", threshold=1.5)


def test_shipped_model_groups_are_probabilities_with_tuned_cuts() -> None:
    pred = emotag.load()
    spec = json.loads((pred.path / GROUP_THRESHOLDS_FILE).read_text(encoding="utf-8"))
    assert spec["score"] == "noisy_or" and spec["calibrated"] == (pred.calibrator is not None)
    assert set(spec["thresholds"]) == {"ekman", "sentiment"}
    texts = ["I am so sad and lonely today", "this is wonderful, thank you!"]
    probs = pred.predict_proba(texts)
    scores, names, cuts = pred.group_scores(probs, "ekman")
    np.testing.assert_allclose(cuts, [spec["thresholds"]["ekman"][n] for n in names])
    _, cols = member_columns(pred.labels, "ekman")
    np.testing.assert_allclose(scores, noisy_or(probs, cols), atol=1e-6)
    out = pred.predict(texts, taxonomy="ekman", all_scores=True)
    assert all(0.0 <= x["score"] <= 1.0 for row in out for x in row)
    assert out[0][0]["label"] == "sadness" and out[1][0]["label"] == "joy"
