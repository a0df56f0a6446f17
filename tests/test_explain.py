"""Occlusion explanations: word splitting, weights, batching, and `emotag predict --explain`.

Weights are checked exactly against a fake scorer whose scores are a known function of the
words; the shipped model checks that the explanation of a clear case names the right word.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest
from typer.testing import CliRunner

from emotag.cli.app import app
from emotag.errors import ConfigError, DataError
from emotag.inference.explain import (
    explain,
    label_explanation,
    occlusion,
    split_words,
    taxonomy_names,
    top_words,
    without,
)
from emotag.inference.predictor import DEFAULT_MODEL_DIR, Predictor


class WordCounter:
    """Column 0 = 0.1 x number of "good" words, column 1 = 0.5 if "!" appears; counts calls."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[0.1 * t.split().count("good"), 0.5 * ("!" in t)] for t in texts])


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.load(DEFAULT_MODEL_DIR, num_threads=1)


@pytest.mark.parametrize("text", ["I don't know!!", "so happy \u2764\ufe0f today...",
                                  "  padded\ttext\n", "caf\u00e9 na\u00efve \U0001f600x", "",
                                  "   "])
def test_words_map_back_to_the_text(text: str) -> None:
    words = split_words(text)
    assert all(text[w.start:w.end] == w.token for w in words)
    assert all(a.end <= b.start for a, b in zip(words, words[1:], strict=False))
    assert "".join(w.token for w in words) == "".join(text.split())


def test_word_splitting_keeps_contractions_and_punctuation_runs() -> None:
    assert [w.token for w in split_words("I don't know!! why?")] == [
        "I", "don't", "know", "!!", "why", "?"]
    text = "so good"
    assert without(text, split_words(text)[1]) == "so "


def test_occlusion_weights_are_score_drops_from_one_batched_call() -> None:
    scorer = WordCounter()
    texts = ["good good day!", "nothing here", ""]
    (words, weights), (words2, weights2), (words3, weights3) = occlusion(scorer, texts)
    assert len(scorer.calls) == 1  # every variant of every text in a single call
    assert [w.token for w in words] == ["good", "good", "day", "!"]
    np.testing.assert_allclose(weights, [[0.1, 0], [0.1, 0], [0, 0], [0, 0.5]])
    np.testing.assert_allclose(weights2, np.zeros((2, 2)))
    assert words3 == [] and weights3.shape == (0, 2)


def test_occlusion_reuses_given_scores_and_caps_words() -> None:
    scorer = WordCounter()
    full = scorer(["good a b c good"])
    scorer.calls.clear()
    [(words, weights)] = occlusion(scorer, ["good a b c good"], full_scores=full, max_words=2)
    assert [w.token for w in words] == ["good", "a"]
    assert len(scorer.calls[0]) == 2  # only the two variants, not the full text again
    np.testing.assert_allclose(weights[:, 0], [0.1, 0.0])
    with pytest.raises(ConfigError, match="max_words"):
        occlusion(scorer, ["x"], max_words=0)


def test_label_explanation_orders_by_strength() -> None:
    words = split_words("a b c")
    weights = np.array([[0.1], [-0.3], [0.2]])
    ranked = label_explanation(words, weights, 0)
    assert [w["token"] for w in ranked] == ["b", "c", "a"]
    assert ranked[0] == {"token": "b", "weight": -0.3, "start": 2, "end": 3}
    assert len(label_explanation(words, weights, 0, top_n=1)) == 1
    assert top_words(ranked, 2) == "b -0.300, c +0.200"
    assert top_words([]) == "(no words)"


def test_explain_names_the_word_behind_a_clear_label(predictor: Predictor) -> None:
    texts = ["thank you so much!", "I am so scared of spiders"]
    [thanks, scared] = explain(predictor, texts, [["gratitude"], ["fear"]])
    assert thanks["gratitude"][0]["token"] == "thank"
    assert thanks["gratitude"][0]["weight"] > 0.3
    assert scared["fear"][0]["token"] == "scared"


def test_explain_defaults_to_predicted_labels_in_any_taxonomy(predictor: Predictor) -> None:
    texts = ["this is the best day ever", "ugh I hate this"]
    predicted = predictor.predict(texts, taxonomy="ekman")
    explained = explain(predictor, texts, taxonomy="ekman", max_words=4)
    for row, result in zip(predicted, explained, strict=True):
        assert list(result) == [x["label"] for x in row]
        assert all(len(words) <= 4 for words in result.values())
    assert "joy" in taxonomy_names(predictor, "ekman")
    with pytest.raises(DataError, match="unknown label 'gratitude'"):
        explain(predictor, ["hi"], [["gratitude"]], taxonomy="ekman")
    with pytest.raises(DataError, match="1 label lists for 2 texts"):
        explain(predictor, ["a", "b"], [["joy"]])


def test_predict_command_explain() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["predict", str(DEFAULT_MODEL_DIR), "thank you so much!",
                                 "--explain", "--json"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    row = json.loads(result.output.strip().splitlines()[-1])
    assert set(row["explanations"]) == {x["label"] for x in row["labels"]}
    assert row["explanations"]["gratitude"][0]["token"] == "thank"
    text = runner.invoke(app, ["predict", str(DEFAULT_MODEL_DIR), "thank you so much!",
                               "--explain"])
    assert text.exit_code == 0
    assert "gratitude: thank +0." in text.output
