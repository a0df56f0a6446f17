"""Tests for emotag.evaluation.metrics against metrics worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from emotag.errors import ConfigError, DataError
from emotag.evaluation.metrics import (
    AVERAGES,
    bootstrap_intervals,
    evaluate_decisions,
    evaluate_split,
    headline,
    macro_roc_auc,
)
from emotag.labels import GOEMOTIONS_LABELS

LABELS = list(GOEMOTIONS_LABELS)
COL = {name: i for i, name in enumerate(LABELS)}
approx = pytest.approx

# 4 examples, 3 labels. Label c never occurs in y (support 0).
NAMES = ["a", "b", "c"]
Y = np.array([[1, 0, 0],
              [1, 1, 0],
              [0, 1, 0],
              [1, 0, 0]])
PROBS = np.array([[0.9, 0.2, 0.10],
                  [0.4, 0.8, 0.60],
                  [0.7, 0.3, 0.20],
                  [0.6, 0.1, 0.05]])
# at 0.5 the decisions are
#   ex0: a        (true a)    exact
#   ex1: b, c     (true a, b) a missed, c false alarm
#   ex2: a        (true b)    a false alarm, b missed
#   ex3: a        (true a)    exact


def check(block: dict, p: float, r: float, f1: float, support: int) -> None:
    assert block == {"precision": approx(p), "recall": approx(r), "f1": approx(f1),
                     "support": support}


def test_evaluate_decisions_by_hand():
    m = evaluate_decisions(Y, PROBS, np.full(3, 0.5), NAMES)
    assert m["n_examples"] == 4
    assert "groupings" not in m  # not the GoEmotions label set
    per = m["per_label"]
    assert list(per) == NAMES
    # a: TP = 2 (ex0, ex3), FP = 1 (ex2), FN = 1 (ex1)
    check(per["a"], 2 / (2 + 1), 2 / (2 + 1), 2 * 2 / (2 * 2 + 1 + 1), 3)
    # b: TP = 1 (ex1), FP = 0, FN = 1 (ex2)
    check(per["b"], 1 / 1, 1 / 2, 2 * 1 / (2 * 1 + 0 + 1), 2)
    # c: TP = 0, FP = 1 (ex1), FN = 0 -> precision 0/1, recall 0/0 -> 0 (zero_division=0)
    check(per["c"], 0.0, 0.0, 0.0, 0)

    avg = m["averages"]
    assert list(avg) == list(AVERAGES)
    # micro: pooled TP = 2 + 1 + 0 = 3, FP = 1 + 0 + 1 = 2, FN = 1 + 1 + 0 = 2
    check(avg["micro"], 3 / 5, 3 / 5, 2 * 3 / (2 * 3 + 2 + 2), 5)
    # macro: plain mean over the 3 labels
    check(avg["macro"], (2 / 3 + 1 + 0) / 3, (2 / 3 + 1 / 2 + 0) / 3,
          (2 / 3 + 2 / 3 + 0) / 3, 5)
    # weighted: mean weighted by support (3, 2, 0)
    check(avg["weighted"], (3 * 2 / 3 + 2 * 1 + 0) / 5, (3 * 2 / 3 + 2 * 1 / 2 + 0) / 5,
          (3 * 2 / 3 + 2 * 2 / 3 + 0) / 5, 5)
    # samples: per example (P, R, F1) = ex0 (1, 1, 1); ex1 (1/2, 1/2, 1/2): b is right,
    # c wrong, a missed; ex2 (0, 0, 0); ex3 (1, 1, 1)
    check(avg["samples"], (1 + 1 / 2 + 0 + 1) / 4, (1 + 1 / 2 + 0 + 1) / 4,
          (1 + 1 / 2 + 0 + 1) / 4, 5)

    # exact rows: ex0 and ex3 of 4
    assert m["subset_accuracy"] == approx(2 / 4)
    # wrong cells: ex1 a and c, ex2 a and b -> 4 of 4 * 3
    assert m["hamming_loss"] == approx(4 / 12)
    # ROC-AUC, c skipped (one class). a: positives 0.9, 0.4, 0.6 vs negative 0.7 -> 1 of 3
    # pairs ranked right; b: positives 0.8, 0.3 vs negatives 0.2, 0.1 -> 4 of 4.
    assert m["roc_auc_macro"] == approx((1 / 3 + 4 / 4) / 2)


def test_evaluate_decisions_uses_per_label_thresholds():
    m = evaluate_decisions(Y, PROBS, np.array([0.35, 0.5, 0.7]), NAMES)
    # decisions: a on everywhere, b only ex1, c never
    #   ex0 a (exact), ex1 a b (exact), ex2 a (true b: 2 wrong cells), ex3 a (exact)
    assert m["subset_accuracy"] == approx(3 / 4)
    assert m["hamming_loss"] == approx(2 / 12)
    check(m["per_label"]["a"], 3 / 4, 3 / 3, 2 * 3 / (2 * 3 + 1 + 0), 3)
    check(m["per_label"]["c"], 0.0, 0.0, 0.0, 0)
    # thresholds do not change the ranking metric
    assert m["roc_auc_macro"] == approx(2 / 3)


def test_macro_roc_auc_skips_single_class_labels():
    y = np.array([[1, 1, 0], [0, 1, 0], [1, 1, 0], [0, 1, 0]])
    p = np.array([[0.8, 0.1, 0.3], [0.2, 0.2, 0.9], [0.6, 0.3, 0.1], [0.7, 0.4, 0.5]])
    # only label 0 has both classes: positives 0.8, 0.6 vs negatives 0.2, 0.7 -> 3 of 4
    assert macro_roc_auc(y, p) == approx(3 / 4)
    assert macro_roc_auc(np.ones((3, 2), int), np.full((3, 2), 0.5)) is None
    assert macro_roc_auc(np.zeros((3, 2), int), np.full((3, 2), 0.5)) is None


# --------------------------------------------------------------------------- groupings
def goemotions_case() -> tuple[np.ndarray, np.ndarray]:
    true = [["annoyance"], ["joy"], ["neutral"], ["surprise", "fear"]]
    pred = [["disapproval"], [], ["neutral", "gratitude"], ["curiosity"]]
    y = np.zeros((4, 28), dtype=np.uint8)
    d = np.zeros((4, 28), dtype=np.uint8)
    for i, (t, p) in enumerate(zip(true, pred, strict=True)):
        y[i, [COL[n] for n in t]] = 1
        d[i, [COL[n] for n in p]] = 1
    probs = np.where(d == 1, 0.9, 0.05)
    return y, probs


def test_groupings_count_a_group_when_any_member_is_predicted():
    y, probs = goemotions_case()
    m = evaluate_decisions(y, probs, np.full(28, 0.5), LABELS)
    # fine-grained: annoyance missed, disapproval a false alarm
    check(m["per_label"]["annoyance"], 0.0, 0.0, 0.0, 1)
    check(m["per_label"]["disapproval"], 0.0, 0.0, 0.0, 0)
    check(m["per_label"]["neutral"], 1.0, 1.0, 1.0, 1)

    ekman = m["groupings"]["ekman"]["per_label"]
    assert set(ekman) == {"anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"}
    check(ekman["anger"], 1.0, 1.0, 1.0, 1)      # annoyance vs disapproval: both anger
    check(ekman["surprise"], 1.0, 1.0, 1.0, 1)   # surprise vs curiosity
    check(ekman["neutral"], 1.0, 1.0, 1.0, 1)
    check(ekman["joy"], 0.0, 0.0, 0.0, 1)        # ex1 missed, ex2 gratitude a false alarm
    check(ekman["fear"], 0.0, 0.0, 0.0, 1)       # ex3 fear missed
    check(ekman["disgust"], 0.0, 0.0, 0.0, 0)
    # ekman micro: TP = anger + surprise + neutral = 3, FP = joy 1, FN = joy 1 + fear 1
    check(m["groupings"]["ekman"]["averages"]["micro"], 3 / 4, 3 / 5, 2 * 3 / (6 + 1 + 2), 5)

    sent = m["groupings"]["sentiment"]["per_label"]
    assert set(sent) == {"positive", "negative", "ambiguous", "neutral"}
    # negative: y ex0 (annoyance), ex3 (fear); predicted ex0 (disapproval)
    check(sent["negative"], 1.0, 1 / 2, 2 * 1 / (2 + 0 + 1), 2)
    check(sent["positive"], 0.0, 0.0, 0.0, 1)
    check(sent["ambiguous"], 1.0, 1.0, 1.0, 1)
    check(sent["neutral"], 1.0, 1.0, 1.0, 1)


def test_groupings_can_be_switched_off():
    y, probs = goemotions_case()
    assert "groupings" not in evaluate_decisions(y, probs, np.full(28, 0.5), LABELS,
                                                 groupings=False)


# --------------------------------------------------------------------------- split + headline
def test_evaluate_split_has_both_threshold_sets():
    y, probs = goemotions_case()
    tuned = np.full(28, 0.02)  # everything predicted
    out = evaluate_split(y, probs, tuned, LABELS)
    assert set(out) == {"at_0.5", "tuned"}
    assert out["at_0.5"] == evaluate_decisions(y, probs, np.full(28, 0.5), LABELS)
    assert out["tuned"] == evaluate_decisions(y, probs, tuned, LABELS)
    assert out["tuned"]["averages"]["micro"]["recall"] == approx(1.0)
    assert out["at_0.5"]["averages"]["micro"]["recall"] == approx(1 / 5)  # only neutral


def test_headline_keys_and_values():
    y, probs = goemotions_case()
    split = evaluate_split(y, probs, np.full(28, 0.5), LABELS)
    h = headline(split)
    assert set(h) == {"macro_f1", "micro_f1", "ekman_macro_f1", "sentiment_macro_f1"}
    t = split["tuned"]
    assert h["macro_f1"] == t["averages"]["macro"]["f1"]
    assert h["micro_f1"] == t["averages"]["micro"]["f1"]
    assert h["ekman_macro_f1"] == t["groupings"]["ekman"]["averages"]["macro"]["f1"]
    # ekman macro over 7 groups: anger, surprise, neutral score 1, the other 4 score 0
    assert h["ekman_macro_f1"] == approx(3 / 7)
    # sentiment macro over 4 groups: negative 2/3, ambiguous 1, neutral 1, positive 0
    assert h["sentiment_macro_f1"] == approx((2 / 3 + 1 + 1 + 0) / 4)
    assert all(isinstance(v, float) for v in h.values())


def test_headline_without_groupings():
    split = evaluate_split(Y, PROBS, np.full(3, 0.5), NAMES)
    assert set(headline(split)) == {"macro_f1", "micro_f1"}
    assert headline(split)["micro_f1"] == approx(3 / 5)


# --------------------------------------------------------------------------- bootstrap
def random_case(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """GoEmotions-shaped targets and decisions that agree on about 70% of the cells."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 28)) < 0.08).astype(np.uint8)
    flip = rng.random((n, 28)) < 0.05
    return y, np.where(flip, 1 - y, y)


def test_bootstrap_one_resample_is_the_metric_of_the_drawn_rows():
    # One resample: both percentiles are that resample's value, which must equal the report's
    # metrics on the same rows drawn the same way (repeated rows as separate examples).
    y, pred = random_case(300)
    got = bootstrap_intervals(y, pred, LABELS, n_resamples=1, seed=7)
    counts = np.random.default_rng(7).multinomial(300, np.full(300, 1 / 300), size=1)[0]
    rows = np.repeat(np.arange(300), counts)
    want = headline({"tuned": evaluate_decisions(y[rows], pred[rows].astype(float),
                                                 np.full(28, 0.5), LABELS)})
    assert set(got) == set(want)
    for key, (low, high) in got.items():
        assert low == approx(want[key]) and high == approx(want[key]), key


def test_bootstrap_intervals_hold_the_estimate_and_narrow_with_more_rows():
    small_y, small_pred = random_case(400, seed=1)
    big_y, big_pred = random_case(6400, seed=1)
    small = bootstrap_intervals(small_y, small_pred, LABELS, n_resamples=300)
    big = bootstrap_intervals(big_y, big_pred, LABELS, n_resamples=300)
    point = headline({"tuned": evaluate_decisions(big_y, big_pred.astype(float),
                                                  np.full(28, 0.5), LABELS)})
    for key, (low, high) in big.items():
        assert low <= point[key] <= high, key
        # 16x the rows: about a quarter of the width (1/sqrt(16)); allow generous slack
        assert high - low < 0.5 * (small[key][1] - small[key][0]), key
    assert bootstrap_intervals(small_y, small_pred, LABELS, n_resamples=300) == small  # seeded


def test_bootstrap_of_perfect_decisions_and_of_plain_labels():
    y, _ = random_case(200)
    assert set(bootstrap_intervals(y, y, LABELS, n_resamples=50).values()) == {(1.0, 1.0)}
    out = bootstrap_intervals(Y, (PROBS >= 0.5).astype(int), NAMES, n_resamples=50)
    assert set(out) == {"macro_f1", "micro_f1"}  # no taxonomy for labels a, b, c


def test_bootstrap_refuses_bad_input():
    y, pred = random_case(50)
    with pytest.raises(DataError, match=r"must both be \(n_rows, 28\)"):
        bootstrap_intervals(y, pred[:, :27], LABELS)
    with pytest.raises(ConfigError, match="n_resamples=0"):
        bootstrap_intervals(y, pred, LABELS, n_resamples=0)
    with pytest.raises(DataError, match="no rows"):
        bootstrap_intervals(y[:0], pred[:0], LABELS)
