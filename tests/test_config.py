"""Tests for emotag.config: defaults, YAML files, --set overrides and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from emotag.config import (
    DataConfig,
    EmotagConfig,
    ModelConfig,
    TrainConfig,
    load_config,
)
from emotag.errors import ConfigError


def yaml_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- defaults
def test_load_config_defaults():
    cfg = load_config()
    assert isinstance(cfg, EmotagConfig)
    assert cfg.data.dataset == "goemotions"
    assert cfg.data.verify_checksums is True
    assert cfg.data.train_file is None
    assert cfg.model.model_type == "transformer"
    assert cfg.model.backbone == "minilm"
    assert cfg.model.max_length == 128
    assert cfg.model.char_ngram_range == [2, 5]
    assert cfg.train.loss == "bce"
    assert cfg.train.learning_rate == 5e-5
    assert cfg.train.epochs == 3.0 and isinstance(cfg.train.epochs, float)
    assert cfg.train.batch_size == 32
    assert cfg.thresholds.strategy == "per_label_shrunk"
    assert cfg.thresholds.prior_strength == 20.0
    assert cfg == EmotagConfig()


def test_list_defaults_are_not_shared_between_instances():
    a, b = ModelConfig(), ModelConfig()
    a.char_ngram_range.append(9)
    assert b.char_ngram_range == [2, 5]


def test_to_dict_round_trips_through_from_dict():
    cfg = load_config(overrides=["train.epochs=2", "model.model_type=tfidf"])
    d = cfg.to_dict()
    assert d["train"]["epochs"] == 2.0
    assert d["model"]["model_type"] == "tfidf"
    assert EmotagConfig.from_dict(d) == cfg


# --------------------------------------------------------------------------- file + overrides
def test_yaml_file_then_overrides_win(tmp_path):
    path = yaml_file(tmp_path, """
model:
  model_type: tfidf
  C: 2
train:
  epochs: 5
  batch_size: 16
  loss: focal
thresholds:
  strategy: global
""")
    cfg = load_config(path)
    assert cfg.model.model_type == "tfidf"
    assert cfg.model.C == 2.0 and isinstance(cfg.model.C, float)
    assert cfg.train.epochs == 5.0 and isinstance(cfg.train.epochs, float)
    assert cfg.train.batch_size == 16
    assert cfg.train.loss == "focal"
    assert cfg.thresholds.strategy == "global"
    assert cfg.train.seed == 42  # untouched default

    cfg = load_config(path, ["train.epochs=1.5", "train.loss=asymmetric",
                             "thresholds.strategy=per_label", "data.max_train_samples=100",
                             "model.char_ngram_range=[1, 3]"])
    assert cfg.train.epochs == 1.5           # override beats the file
    assert cfg.train.loss == "asymmetric"
    assert cfg.thresholds.strategy == "per_label"
    assert cfg.train.batch_size == 16        # file value kept where not overridden
    assert cfg.model.model_type == "tfidf"
    assert cfg.data.max_train_samples == 100
    assert cfg.model.char_ngram_range == [1, 3]


def test_overrides_alone_and_later_override_wins():
    cfg = load_config(None, ["train.seed=7", "train.seed=8", "data.verify_checksums=false"])
    assert cfg.train.seed == 8
    assert cfg.data.verify_checksums is False


def test_empty_yaml_and_empty_group_give_defaults(tmp_path):
    assert load_config(yaml_file(tmp_path, "")) == EmotagConfig()
    assert load_config(yaml_file(tmp_path, "train:\n")) == EmotagConfig()
    cfg = load_config(yaml_file(tmp_path, "train:\n"), ["train.batch_size=4"])
    assert cfg.train.batch_size == 4


def test_scientific_notation_becomes_float(tmp_path):
    # PyYAML (YAML 1.1) reads 5e-5 as the string "5e-5"; emotag must make it a float.
    path = yaml_file(tmp_path, "train:\n  learning_rate: 5e-5\n  weight_decay: 1e-2\n"
                               "  label_smoothing: 1e-1\nmodel:\n  C: 1e1\n")
    cfg = load_config(path)
    assert cfg.train.learning_rate == pytest.approx(5e-5)
    assert isinstance(cfg.train.learning_rate, float)
    assert cfg.train.weight_decay == pytest.approx(0.01)
    assert cfg.train.label_smoothing == pytest.approx(0.1)
    assert isinstance(cfg.train.label_smoothing, float)
    inverse_reg = cfg.model.C
    assert inverse_reg == pytest.approx(10.0)
    cfg = load_config(None, ["train.learning_rate=3e-4", "model.dropout=1e-1"])
    assert cfg.train.learning_rate == pytest.approx(3e-4)
    assert cfg.model.dropout == pytest.approx(0.1)


def test_non_number_for_a_float_field_is_rejected():
    with pytest.raises(ConfigError, match=r"train\.learning_rate='fast'.*expected a number"):
        load_config(None, ["train.learning_rate=fast"])


# --------------------------------------------------------------------------- unknown names
def test_unknown_group_in_yaml_names_it(tmp_path):
    path = yaml_file(tmp_path, "optimizer:\n  lr: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "unknown group 'optimizer'" in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_key_in_yaml_names_it(tmp_path):
    path = yaml_file(tmp_path, "train:\n  epocs: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "train.epocs" in str(info.value)
    assert "epochs" in str(info.value)  # the valid keys are listed


def test_unknown_key_or_group_in_override():
    with pytest.raises(ConfigError, match=r"train\.lr\b"):
        load_config(None, ["train.lr=0.1"])
    with pytest.raises(ConfigError, match="unknown group 'trian'"):
        load_config(None, ["trian.epochs=1"])


# --------------------------------------------------------------------------- bad values
@pytest.mark.parametrize(("override", "needle"), [
    ("train.loss=nope", "train.loss='nope'"),
    ("thresholds.strategy=nope", "thresholds.strategy='nope'"),
    ("data.dataset=files", "needs data.train_file"),
    ("data.dataset=kaggle", "data.dataset='kaggle'"),
    ("model.model_type=bert", "model.model_type='bert'"),
    ("model.max_length=4", "model.max_length=4"),
    ("train.label_smoothing=0.5", "train.label_smoothing=0.5"),
    ("train.batch_size=0", "batch_size"),
])
def test_bad_values_are_rejected(override, needle):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert needle in str(info.value)


def test_files_dataset_needs_both_files(tmp_path):
    with pytest.raises(ConfigError, match="validation_file"):
        load_config(None, ["data.dataset=files", "data.train_file=train.csv"])
    cfg = load_config(None, ["data.dataset=files", "data.train_file=train.csv",
                             "data.validation_file=dev.csv"])
    assert cfg.data.train_file == "train.csv"
    with pytest.raises(ConfigError):
        DataConfig(dataset="files", validation_file="dev.csv")


def test_bad_values_rejected_in_yaml_too(tmp_path):
    with pytest.raises(ConfigError, match="train.loss='nope'"):
        load_config(yaml_file(tmp_path, "train:\n  loss: nope\n"))
    with pytest.raises(ConfigError, match="expected one of bce"):
        TrainConfig(loss="mse")


# --------------------------------------------------------------------------- malformed input
@pytest.mark.parametrize("item", ["train.epochs", "epochs=3", "train.epochs.x=3", "=3"])
def test_malformed_override_key(item):
    with pytest.raises(ConfigError) as info:
        load_config(None, [item])
    assert item in str(info.value) or "unknown group" in str(info.value)


def test_malformed_override_value_is_a_config_error():
    with pytest.raises(ConfigError, match="train.epochs"):
        load_config(None, ["train.epochs=[1"])


def test_missing_or_invalid_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(yaml_file(tmp_path, "train: [1,\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(yaml_file(tmp_path, "- a\n- b\n"))


# --------------------------------------------------------------------------- warmup, label sets
@pytest.mark.parametrize("ratio", [1.5, 1.0, -0.1])
def test_warmup_ratio_must_be_a_fraction(ratio):
    """Regression: 1.5 was accepted and handed on as warmup_steps, i.e. 1 step."""
    with pytest.raises(ConfigError, match=r"train\.warmup_ratio"):
        load_config(overrides=[f"train.warmup_ratio={ratio}"])


def test_warmup_ratio_reaches_the_trainer_as_a_ratio():
    """TrainingArguments (transformers 5) reads a warmup_steps below 1 as a ratio of the
    steps; models/transformer.py passes train.warmup_ratio there."""
    from transformers import TrainingArguments

    ratio = load_config(overrides=["train.warmup_ratio=0.25"]).train.warmup_ratio
    args = TrainingArguments(output_dir="unused", warmup_steps=ratio, report_to="none")
    assert args.get_warmup_steps(200) == 50


def files_overrides(*extra: str) -> list[str]:
    return ["data.dataset=files", "data.train_file=t.csv", "data.validation_file=d.csv",
            *extra]


@pytest.mark.parametrize(("value", "expected"), [
    ("[b, a, c]", ["b", "a", "c"]),
    ("b,a, c", ["b", "a", "c"]),
    ("goemotions", "goemotions"),
    ("null", None),
])
def test_label_names_forms(value, expected):
    cfg = load_config(overrides=files_overrides(f"data.label_names={value}"))
    assert cfg.data.label_names == expected


@pytest.mark.parametrize(("value", "needle"), [
    ("[a, b, a]", "lists a more than once"),
    ("[a, '']", "expected distinct label names"),
    ("[1, 2]", "expected distinct label names"),
    ("[]", "expected distinct label names"),
])
def test_label_names_are_checked(value, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(overrides=files_overrides(f"data.label_names={value}"))


def test_label_names_only_for_user_files():
    with pytest.raises(ConfigError, match="dataset='files' only"):
        load_config(overrides=["data.label_names=[a, b]"])


# --------------------------------------------------------------------------- module split
def test_loading_is_reexported_from_config():
    """The YAML loading lives in emotag.config_loading; emotag.config still offers it."""
    import emotag.config
    import emotag.config_loading

    assert emotag.config.load_config is emotag.config_loading.load_config
    assert emotag.config.resolve_config is emotag.config_loading.resolve_config
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        emotag.config.nope  # noqa: B018


@pytest.mark.parametrize("first", ["emotag.config_loading", "emotag.config"])
def test_either_config_module_imports_first(first):
    """No import cycle: whichever of the two is imported first, both work."""
    import subprocess
    import sys

    code = (f"import {first}; from emotag.config import load_config, EmotagConfig; "
            "from emotag.config_loading import resolve_config; "
            "assert isinstance(load_config('tfidf'), EmotagConfig); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "ok"
