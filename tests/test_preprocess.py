"""Tests for emotag.data.preprocess: each rewrite, idempotence, and the setting saved with a
model and applied the same way in training and at inference."""

from __future__ import annotations

import pytest

import emotag
from emotag.config import load_config
from emotag.data.preprocess import PRESETS, Preprocessing
from emotag.errors import ConfigError


def test_off_by_default_changes_nothing():
    texts = ["so happy 😍 :) @bob https://x.co #SoHappy soooo"]
    assert Preprocessing()(texts) == texts
    assert not Preprocessing().active


@pytest.mark.parametrize(("text", "expected"), [
    ("😍😍", "smiling face with heart-eyes smiling face with heart-eyes"),
    ("so sad :'( today", "so sad crying face today"),
    ("love it <3", "love it red heart"),
    ("ratio 3:2 and 10:30", "ratio 3:2 and 10:30"),  # not emoticons
    ("@bob check https://x.co/a now", "@user check http now"),
    ("#SoHappy day", "So Happy day"),
    ("soooo goooood", "soo good"),
    ("Thanks [NAME] :D", "Thanks [NAME] grinning face"),
])
def test_social_rewrites(text, expected):
    assert Preprocessing.social().apply(text) == expected


def test_rewrites_are_idempotent():
    p = Preprocessing.social()
    for text in ["so happy 😍 :) @bob https://x.co #SoHappy soooo", "plain text"]:
        once = p.apply(text)
        assert p.apply(once) == once


def test_from_dict_rejects_unknown_keys_and_non_booleans():
    assert Preprocessing.from_dict(PRESETS["social"].to_dict()) == Preprocessing.social()
    with pytest.raises(ConfigError, match="unknown key"):
        Preprocessing.from_dict({"emojis": True})
    with pytest.raises(ConfigError, match="true or false"):
        Preprocessing.from_dict({"emoji": "yes"})


def test_config_names_a_preset():
    assert load_config(None, ["model.preprocessing=social"]).model.preprocessing == "social"
    with pytest.raises(ConfigError, match="model.preprocessing"):
        load_config(None, ["model.preprocessing=fancy"])


def test_saved_with_the_model_and_applied_at_inference(tmp_path, tiny_data):
    """A TF-IDF run trained with 'emoji' records it in emotag.json; the loaded model scores
    an emoji exactly as it scores the words it stands for."""
    from emotag.training.pipeline import train_run

    cfg = load_config(None, [f"data.data_dir={tiny_data}", "model.model_type=tfidf",
                             "model.preprocessing=emoji"])
    train_run(cfg, tmp_path / "run")
    manifest = (tmp_path / "run" / "emotag.json").read_text(encoding="utf-8")
    assert '"preprocessing"' in manifest
    pred = emotag.load(tmp_path / "run")
    assert pred.model.preprocessing == PRESETS["emoji"]
    a, b = pred.predict_proba(["😭 today", "loudly crying face today"])
    assert (a == b).all()
