"""Tests for emotag.evaluation.thresholds: the scikit-learn contract, strategies, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import f1_score

from emotag.errors import ConfigError, DataError, ModelFormatError, NotFittedError
from emotag.evaluation.thresholds import (
    DEFAULT_GRID,
    ThresholdTuner,
    f1_at_thresholds,
    group_objective,
    micro_f1_at_thresholds,
    retune_for_groups,
)

CUTS = np.array([0.235, 0.505, 0.715])
NAMES = ["low", "mid", "high"]


def separable(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores in [0, 1); label j is positive iff its score exceeds CUTS[j]."""
    rng = np.random.default_rng(seed)
    probs = rng.uniform(0.0, 1.0, size=(n, len(CUTS)))
    y = (probs > CUTS[None, :]).astype(np.uint8)
    return probs, y


def rare_and_frequent(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Label 0: 600 positives, perfect grid cuts {0.70, 0.71}; label 1: 5 positives, perfect
    grid cuts 0.35..0.61 (27 points, middle 0.48).

    One shared threshold must stay <= 0.615 or label 1 scores F1 = 0, and label 0 is best as
    high as possible, so the global optimum is 0.61: between the two labels' own optima
    (0.71 and 0.48).
    """
    rng = np.random.default_rng(seed)
    n = 1200
    probs = np.empty((n, 2))
    y = np.zeros((n, 2), dtype=np.uint8)
    y[:600, 0] = 1
    probs[:600, 0] = rng.uniform(0.71, 1.0, 600)
    probs[600:, 0] = rng.uniform(0.50, 0.70, 600)
    y[:5, 1] = 1
    probs[:5, 1] = [0.615, 0.62, 0.63, 0.64, 0.65]
    probs[5:, 1] = rng.uniform(0.0, 0.35, n - 5)
    return probs, y


# --------------------------------------------------------------------------- sklearn contract
def test_init_stores_params_unchanged():
    grid = [0.1, 0.2, 0.3]
    t = ThresholdTuner(strategy="global", prior_strength=3, fixed_threshold=0.4, grid=grid)
    params = t.get_params()
    assert params == {"strategy": "global", "prior_strength": 3, "fixed_threshold": 0.4,
                      "grid": grid, "group_weight": 0.0, "groups": None}
    assert params["grid"] is grid
    # no validation or derived state in __init__
    ThresholdTuner(strategy="bogus")
    assert not hasattr(ThresholdTuner(), "thresholds_")
    assert ThresholdTuner().get_params() == {"strategy": "per_label_shrunk",
                                             "prior_strength": 20.0, "fixed_threshold": 0.5,
                                             "grid": None, "group_weight": 0.0,
                                             "groups": None}


def test_fit_returns_self_and_clone_gives_an_unfitted_copy():
    probs, y = separable(500)
    t = ThresholdTuner(strategy="per_label", prior_strength=5.0)
    assert t.fit(probs, y) is t
    assert t.thresholds_.shape == (3,)
    assert t.n_features_in_ == 3
    c = clone(t)
    assert c is not t
    assert c.get_params() == t.get_params()
    assert not hasattr(c, "thresholds_")
    t.set_params(strategy="global")
    assert t.strategy == "global"
    assert c.strategy == "per_label"


def test_predict_before_fit_raises_not_fitted():
    probs = np.full((2, 3), 0.6)
    with pytest.raises(NotFittedError, match="not fitted"):
        ThresholdTuner().predict(probs)
    with pytest.raises(ValueError):
        ThresholdTuner().predict(probs)
    with pytest.raises(AttributeError):
        ThresholdTuner().predict(probs)
    with pytest.raises(NotFittedError):
        ThresholdTuner().to_dict(NAMES)


def test_fit_rejects_bad_input():
    probs, y = separable(50)
    # emotag.errors classes (still ValueErrors, as scikit-learn's parameter checks raise)
    with pytest.raises(ConfigError, match="strategy"):
        ThresholdTuner(strategy="bogus").fit(probs, y)
    with pytest.raises(DataError, match="shape"):
        ThresholdTuner().fit(probs, y[:, :2])
    with pytest.raises(DataError, match="shape"):
        ThresholdTuner().fit(probs[:, 0], y[:, 0])


# --------------------------------------------------------------------------- strategies
def test_per_label_recovers_each_cut():
    probs, y = separable()
    t = ThresholdTuner(strategy="per_label").fit(probs, y)
    np.testing.assert_allclose(t.thresholds_, CUTS, atol=0.011)
    assert len(set(np.round(t.thresholds_, 4))) == 3
    # every threshold comes from the grid
    assert all(np.isclose(DEFAULT_GRID, v).any() for v in t.thresholds_)
    pred = t.predict(probs)
    assert pred.dtype == np.uint8
    assert (pred == y).mean() > 0.99


def test_global_uses_one_threshold_with_the_best_macro_f1():
    probs, y = separable()
    t = ThresholdTuner(strategy="global").fit(probs, y)
    assert np.all(t.thresholds_ == t.thresholds_[0])
    assert t.thresholds_[0] == t.global_threshold_
    f1 = f1_at_thresholds(probs, y, DEFAULT_GRID).mean(axis=1)
    assert f1[np.isclose(DEFAULT_GRID, t.global_threshold_)][0] == pytest.approx(f1.max())
    assert CUTS.min() < t.global_threshold_ < CUTS.max()


def test_fixed_is_half_or_the_given_value():
    probs, y = separable(100)
    t = ThresholdTuner(strategy="fixed").fit(probs, y)
    np.testing.assert_array_equal(t.thresholds_, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(t.predict(probs), (probs >= 0.5).astype(np.uint8))
    t = ThresholdTuner(strategy="fixed", fixed_threshold=0.3).fit(probs, y)
    np.testing.assert_array_equal(t.thresholds_, [0.3, 0.3, 0.3])


def test_custom_grid_is_used():
    probs, y = separable()
    t = ThresholdTuner(strategy="per_label", grid=[0.2, 0.5, 0.7]).fit(probs, y)
    np.testing.assert_array_equal(t.thresholds_, [0.2, 0.5, 0.7])


def test_per_label_shrunk_lies_between_and_rare_labels_move_most():
    probs, y = rare_and_frequent()
    per = ThresholdTuner(strategy="per_label").fit(probs, y).thresholds_
    g = ThresholdTuner(strategy="global").fit(probs, y).global_threshold_
    shrunk_t = ThresholdTuner(strategy="per_label_shrunk", prior_strength=20.0).fit(probs, y)
    shrunk = shrunk_t.thresholds_
    assert shrunk_t.global_threshold_ == g
    assert per[0] == pytest.approx(0.71)
    assert per[1] == pytest.approx(0.48)
    assert g == pytest.approx(0.61)
    for j in range(2):
        lo, hi = sorted((per[j], g))
        assert lo < hi  # the labels' optima really differ from the global one
        assert lo <= shrunk[j] <= hi
    # weights n_pos / (n_pos + prior): 600/620 for the frequent label, 5/25 for the rare one
    w = np.array([600 / 620, 5 / 25])
    np.testing.assert_allclose(shrunk, w * per + (1 - w) * g)
    moved = np.abs(shrunk - per) / np.abs(g - per)  # fraction of the way to global
    assert moved[1] > moved[0]
    assert moved[1] == pytest.approx(0.8)
    # prior_strength=0 is plain per-label
    zero = ThresholdTuner(strategy="per_label_shrunk", prior_strength=0.0).fit(probs, y)
    np.testing.assert_allclose(zero.thresholds_, per)


def test_per_label_ties_resolve_to_the_middle_of_the_plateau():
    # positives at 0.9, negatives at 0.1: every threshold in (0.1, 0.9] is perfect
    probs = np.array([[0.9], [0.9], [0.1], [0.1]])
    y = np.array([[1], [1], [0], [0]])
    grid = np.round(np.arange(0.1, 0.951, 0.05), 4)
    t = ThresholdTuner(strategy="per_label", grid=grid).fit(probs, y)
    best = grid[(grid > 0.1) & (grid <= 0.9)]
    assert t.thresholds_[0] == best[len(best) // 2]
    assert 0.4 <= t.thresholds_[0] <= 0.6


# --------------------------------------------------------------------------- persistence
def test_save_load_round_trip(tmp_path):
    probs, y = separable(800)
    t = ThresholdTuner(strategy="per_label").fit(probs, y)
    path = tmp_path / "model" / "thresholds.json"
    t.save(path, NAMES)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data) == NAMES
    assert all(isinstance(v, float) for v in data.values())
    np.testing.assert_allclose([data[n] for n in NAMES], t.thresholds_, atol=1e-6)
    loaded = ThresholdTuner.load(path, NAMES)
    np.testing.assert_allclose(loaded.thresholds_, t.thresholds_, atol=1e-6)
    np.testing.assert_array_equal(loaded.predict(probs), t.predict(probs))
    # the file's key order does not matter; label_names decides the column order
    reordered = ThresholdTuner.load(path, NAMES[::-1])
    np.testing.assert_allclose(reordered.thresholds_, t.thresholds_[::-1], atol=1e-6)
    assert not list(tmp_path.glob("model/.thresholds.json.*"))  # no temp files left


def test_load_rejects_missing_labels_and_bad_files(tmp_path):
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps({"low": 0.2, "mid": 0.5}), encoding="utf-8")
    with pytest.raises(ModelFormatError, match="high"):
        ThresholdTuner.load(path, NAMES)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFormatError, match="cannot read thresholds"):
        ThresholdTuner.load(path, NAMES)
    with pytest.raises(ModelFormatError):
        ThresholdTuner.load(tmp_path / "absent.json", NAMES)


def test_to_dict_needs_matching_label_count():
    probs, y = separable(100)
    t = ThresholdTuner(strategy="fixed").fit(probs, y)
    assert t.to_dict(NAMES) == {"low": 0.5, "mid": 0.5, "high": 0.5}
    with pytest.raises(DataError, match="2 label names for 3 thresholds"):
        t.to_dict(NAMES[:2])


# --------------------------------------------------------------------------- vectorised F1
def test_f1_at_thresholds_matches_sklearn():
    rng = np.random.default_rng(3)
    probs = rng.uniform(size=(200, 4))
    y = (rng.uniform(size=(200, 4)) < [0.5, 0.2, 0.05, 0.0]).astype(np.uint8)
    y[:, 0] = (probs[:, 0] + rng.normal(0, 0.2, 200) > 0.5)  # some signal in label 0
    grid = np.array([0.05, 0.3, 0.5, 0.77, 0.99])
    f1 = f1_at_thresholds(probs, y, grid)
    assert f1.shape == (5, 4)
    for i, t in enumerate(grid):
        pred = (probs >= t).astype(np.uint8)
        expected = f1_score(y, pred, average=None, zero_division=0)
        np.testing.assert_allclose(f1[i], expected, atol=1e-12)
        micro = f1_score(y, pred, average="micro", zero_division=0)
        assert micro_f1_at_thresholds(probs, y, grid)[i] == pytest.approx(micro)
    assert np.all(f1[:, 3] == 0)  # a label with no positives scores 0, as sklearn does


# --------------------------------------------------------------------------- group re-tuning
def grouped_scores(probs: np.ndarray, y: np.ndarray, t: np.ndarray,
                   groups: list[list[list[int]]]) -> tuple[float, float]:
    """(macro-F1 of the labels, summed macro-F1 of the groupings), a group on when any member."""
    pred = probs >= t
    total = 0.0
    for grouping in groups:
        gy = np.stack([y[:, c].any(1) for c in grouping], 1)
        gp = np.stack([pred[:, c].any(1) for c in grouping], 1)
        total += f1_score(gy, gp, average="macro", zero_division=0)
    return f1_score(y, pred, average="macro", zero_division=0), total


def frequent_and_rare_member(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Labels 0 and 1 form one group (1 rare and noisy), label 2 a group of its own."""
    rng = np.random.default_rng(seed)
    n = 4000
    y = np.zeros((n, 3), dtype=np.uint8)
    y[:, 0] = (rng.uniform(size=n) < 0.3) & (rng.uniform(size=n) < 0.8)
    y[:, 1] = rng.uniform(size=n) < 0.03
    y[:, 2] = rng.uniform(size=n) < 0.2
    probs = np.clip(0.35 * y + rng.normal(0.2, 0.2, (n, 3)), 0, 1)
    return probs, y


@pytest.mark.parametrize("weight", [1.0, 10.0])
def test_group_weight_climbs_its_objective_on_what_it_was_fitted_on(weight: float):
    probs, y = frequent_and_rare_member()
    groups = [[[0, 1], [2]]]
    plain = ThresholdTuner(strategy="per_label").fit(probs, y)
    grouped = ThresholdTuner(strategy="per_label", group_weight=weight, groups=groups)
    grouped.fit(probs, y)
    p_macro, p_groups = grouped_scores(probs, y, plain.thresholds_, groups)
    g_macro, g_groups = grouped_scores(probs, y, grouped.thresholds_, groups)
    # coordinate ascent from grid-aligned thresholds never loses objective
    assert g_macro + weight * g_groups >= p_macro + weight * p_groups - 1e-12
    assert set(np.round(grouped.thresholds_, 4)) <= set(np.round(DEFAULT_GRID, 4))
    # a label alone in its group already has its own optimum: it keeps it
    assert grouped.thresholds_[2] == pytest.approx(plain.thresholds_[2])
    if weight == 10.0:  # the group matters most: the rare, noisy member is raised
        assert g_groups > p_groups + 1e-3
        assert grouped.thresholds_[1] > plain.thresholds_[1]


def test_score_is_the_objective_the_tuner_fits_for():
    probs, y = frequent_and_rare_member()
    groups = [[[0, 1], [2]]]
    plain = ThresholdTuner(strategy="per_label").fit(probs, y)
    macro, _ = grouped_scores(probs, y, plain.thresholds_, groups)
    assert plain.score(probs, y) == pytest.approx(macro)  # no groups: macro-F1 alone
    grouped = ThresholdTuner(strategy="per_label", group_weight=2.0, groups=groups)
    grouped.fit(probs, y)
    g_macro, g_groups = grouped_scores(probs, y, grouped.thresholds_, groups)
    assert grouped.score(probs, y) == pytest.approx(g_macro + 2.0 * g_groups)
    assert group_objective(y, grouped.predict(probs), groups, 2.0) == pytest.approx(
        g_macro + 2.0 * g_groups)
    assert group_objective(y, grouped.predict(probs), groups, 0.0) == pytest.approx(g_macro)


def test_group_retuning_keeps_the_shrinkage_of_per_label_shrunk():
    probs, y = frequent_and_rare_member()
    groups = [[[0, 1], [2]]]
    start = ThresholdTuner(strategy="per_label").fit(probs, y).thresholds_
    free = retune_for_groups(probs, y, start, groups, 10.0)
    # w = 1: nothing pulled, the free re-tuning; w = 0: every label at the global threshold
    kept = retune_for_groups(probs, y, start, groups, 10.0, shrink=(0.3, np.ones(3)))
    np.testing.assert_array_equal(kept, free)
    pinned = retune_for_groups(probs, y, start, groups, 10.0, shrink=(0.3, np.zeros(3)))
    np.testing.assert_allclose(pinned, 0.3)
    # the tuner passes its own pull: the rare label (3% positives) stays nearest the global
    tuner = ThresholdTuner(strategy="per_label_shrunk", prior_strength=200.0, group_weight=10.0,
                           groups=groups).fit(probs, y)
    moved = np.abs(tuner.thresholds_ - free)
    assert moved[1] > 0 and moved[1] >= moved[0]
    assert abs(tuner.thresholds_[1] - tuner.global_threshold_) < abs(free[1] -
                                                                     tuner.global_threshold_)


def test_group_weight_zero_or_no_groups_changes_nothing():
    probs, y = frequent_and_rare_member()
    plain = ThresholdTuner().fit(probs, y).thresholds_
    np.testing.assert_array_equal(
        ThresholdTuner(group_weight=0.0, groups=[[[0, 1], [2]]]).fit(probs, y).thresholds_, plain)
    np.testing.assert_array_equal(ThresholdTuner(group_weight=1.0).fit(probs, y).thresholds_,
                                  plain)
    with pytest.raises(ConfigError, match="group_weight=-1"):
        ThresholdTuner(group_weight=-1.0, groups=[[[0]]]).fit(probs, y)


def test_from_config_finds_the_goemotions_groupings():
    from emotag.config import ThresholdConfig
    from emotag.errors import ConfigError
    from emotag.labels import GOEMOTIONS_LABELS, taxonomy_columns

    names = list(GOEMOTIONS_LABELS)
    ekman, sentiment = taxonomy_columns(names)
    assert len(ekman) == 7 and len(sentiment) == 4
    assert sorted(c for group in ekman for c in group) == list(range(28))
    assert [names.index("neutral")] in ekman and [names.index("neutral")] in sentiment
    assert taxonomy_columns(["spam", "ham"]) == []
    tuner = ThresholdTuner.from_config(ThresholdConfig(group_weight=1.0), names)
    assert tuner.group_weight == 1.0 and tuner.groups == [ekman, sentiment]
    assert ThresholdTuner.from_config(ThresholdConfig(group_weight=1.0), ["a", "b"]).groups is None
    assert ThresholdTuner.from_config(ThresholdConfig(), names).groups is None
    with pytest.raises(ConfigError, match="group_weight"):
        ThresholdConfig(group_weight=-0.5)
