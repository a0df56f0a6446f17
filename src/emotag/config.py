"""Run configuration: dataclass groups, a YAML file, and ``key=value`` overrides.

Follows transformers' ``run_classification.py``: one dataclass per concern, every field with
its default and help text in one place. Precedence: defaults < ``--config FILE`` < ``--set``.
Unknown keys raise :class:`~emotag.errors.ConfigError` instead of being silently ignored.
Reading YAML files, built-in recipes and ``--set`` overrides: :mod:`emotag.config_loading`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from .errors import ConfigError

MODEL_TYPES = ("transformer", "tfidf", "knn")
LOSSES = ("bce", "weighted_bce", "focal", "asymmetric")
THRESHOLD_STRATEGIES = ("fixed", "global", "per_label", "per_label_shrunk")
# How `emotag ensemble` scores a weighting: thresholds fitted and read on all of dev, or on
# held-out dev folds (emotag.training.weight_search.search_weights).
WEIGHT_SELECTIONS = ("in_sample", "held_out")


def _help(text: str, default: Any) -> Any:
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"help": text})
    return field(default=default, metadata={"help": text})


#: ``data.label_names`` value that asks for the 28 GoEmotions labels in their order
GOEMOTIONS_NAME = "goemotions"


def _label_names(value: Any) -> list[str] | str:
    """``goemotions``, or distinct non-empty names (a list, or comma-separated as
    ``--set data.label_names=a,b,c`` gives); a ConfigError otherwise."""
    if value == GOEMOTIONS_NAME:
        return value
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(
            isinstance(n, str) and n.strip() and "," not in n for n in names):
        raise ConfigError(f"data.label_names={value!r}: expected distinct label names (a list "
                          f"or comma-separated, none empty), or {GOEMOTIONS_NAME!r}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"data.label_names lists {', '.join(dupes)} more than once")
    return [n.strip() for n in names]


@dataclass
class DataConfig:
    """Where the examples come from and how they are read."""

    dataset: str = _help(
        "'goemotions' (the bundled copy), 'hub' (hub_id/hub_config via datasets) or 'files' "
        "(train_file/validation_file/test_file: csv, tsv, jsonl or parquet).", "goemotions")
    data_dir: str | None = _help(
        "Folder of the bundled GoEmotions copy (default: data/goemotions).", None)
    verify_checksums: bool = _help("Check the bundled files against SHA256SUMS.", True)
    hub_id: str = _help("Hub dataset id used when dataset='hub'.",
                        "google-research-datasets/go_emotions")
    hub_config: str | None = _help("Hub dataset config used when dataset='hub'.", "simplified")
    train_file: str | None = _help("Training file when dataset='files'.", None)
    validation_file: str | None = _help("Dev file (thresholds are tuned on it).", None)
    test_file: str | None = _help("Test file (only ever evaluated).", None)
    text_column: str = _help("Name of the text column in user files.", "text")
    label_column: str = _help("Name of the labels column: a list, or comma-separated names/ids.",
                              "labels")
    id_column: str | None = _help("Optional id column kept alongside predictions.", None)
    label_names: list[str] | str | None = _help(
        "dataset='files': the label set, in column order (a list, or comma-separated names). "
        "Default: the labels of the training file, sorted alphabetically (as scikit-learn's "
        "MultiLabelBinarizer does). 'goemotions': the 28 GoEmotions labels in their order, even "
        "when the files use fewer of them (asked for, never implied). A dev/test label outside "
        "the set is an error; a label of the set without a training example is a warning.",
        None)
    max_train_samples: int | None = _help("Keep only the first N training rows (for tests).", None)
    max_eval_samples: int | None = _help("Keep only the first N dev/test rows (for tests).", None)

    def __post_init__(self) -> None:
        if self.dataset not in ("goemotions", "hub", "files"):
            raise ConfigError(f"data.dataset={self.dataset!r}; expected goemotions, hub or files")
        if self.dataset == "files" and not (self.train_file and self.validation_file):
            raise ConfigError("data.dataset='files' needs data.train_file and "
                              "data.validation_file (thresholds are tuned on the dev split)")
        if self.label_names is not None:
            self.label_names = _label_names(self.label_names)
            if self.dataset != "files":
                raise ConfigError(f"data.label_names applies to dataset='files' only; "
                                  f"dataset={self.dataset!r} has its own label set")


@dataclass
class ModelConfig:
    """Which classifier, and its architecture-level settings."""

    model_type: str = _help("'transformer' (fine-tuned encoder), 'tfidf' (baseline) or 'knn' "
                            "(nearest training texts in a fine-tuned encoder's space).",
                            "transformer")
    backbone: str = _help("Encoder: 'minilm' or 'mpnet' (offline PyPI copies, sha256-pinned), "
                          "any hub id, or a local folder.", "minilm")
    max_length: int = _help("Tokens per text; longer texts are truncated.", 128)
    pooling: str = _help("mean (masked mean of token states, what sentence-transformers "
                         "encoders were trained for) or cls (the stock [CLS] pooler).", "mean")
    dropout: float | None = _help("Override the backbone's hidden dropout.", None)
    num_hidden_layers: int | None = _help(
        "Keep only the backbone's N lowest layers (a shallower, faster student; the rest of "
        "the pretrained weights are not loaded). Default: all.", None)
    preprocessing: str = _help(
        "Text rewrites applied in training and at inference, saved with the model: 'none', "
        "'emoji' (emoji and emoticons as words) or 'social' (also @user, URLs, hashtags, "
        "elongations); see emotag.data.preprocess.", "none")
    # TF-IDF baseline
    word_ngram_max: int = _help("tfidf: word n-grams 1..N.", 2)
    char_ngram_range: list[int] = _help("tfidf: char_wb n-gram range [min, max].", [2, 5])
    max_features_word: int = _help("tfidf: vocabulary cap for word n-grams.", 100_000)
    max_features_char: int = _help("tfidf: vocabulary cap for char n-grams.", 150_000)
    C: float = _help("tfidf: inverse regularisation strength of the logistic regressions.", 4.0)
    # nearest-neighbour member
    encoder: str | None = _help("knn: a transformer run folder whose fine-tuned encoder "
                                "embeds the texts.", None)
    knn_k: int = _help("knn: training texts that vote for each text.", 20)

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise ConfigError(f"model.model_type={self.model_type!r}; expected one of "
                              f"{', '.join(MODEL_TYPES)}")
        if self.preprocessing not in ("none", "emoji", "social"):
            raise ConfigError(f"model.preprocessing={self.preprocessing!r}; expected none, "
                              "emoji or social")
        if self.pooling not in ("mean", "cls"):
            raise ConfigError(f"model.pooling={self.pooling!r}; expected mean or cls")
        if self.max_length < 8:
            raise ConfigError(f"model.max_length={self.max_length}; expected at least 8")
        if self.model_type == "knn" and not self.encoder:
            raise ConfigError("model.model_type=knn needs model.encoder: a transformer run "
                              "folder whose fine-tuned encoder embeds the texts")
        if self.knn_k < 1:
            raise ConfigError(f"model.knn_k={self.knn_k}; expected at least 1")


    def summary(self) -> dict[str, Any]:
        """The settings that apply to this model type (for reports)."""
        keys = {"transformer": ("backbone", "max_length", "pooling", "dropout"),
                "knn": ("encoder", "knn_k")}.get(
            self.model_type, ("word_ngram_max", "char_ngram_range", "max_features_word",
                              "max_features_char", "C"))
        return {"model_type": self.model_type, **{k: getattr(self, k) for k in keys}}


@dataclass
class TrainConfig:
    """Optimisation settings for the transformer (ignored by tfidf)."""

    seed: int = _help("Seed for weights init, data order and dropout.", 42)
    epochs: float = _help("Training epochs.", 3.0)
    max_steps: int = _help("If > 0, stop after this many optimiser steps (overrides epochs).", -1)
    stop_after_steps: int = _help(
        "If > 0, stop (then save and evaluate) after this many steps while the learning-rate "
        "schedule still runs over `epochs`: a time budget. It does not change the trajectory, "
        "so --resume accepts a new value.", -1)
    learning_rate: float = _help("Peak learning rate (AdamW).", 5e-5)
    head_learning_rate: float | None = _help(
        "Learning rate of the pooler and classifier head (default: learning_rate); a fresh "
        "head learns slowly at a fine-tuning rate.", None)
    layerwise_lr_decay: float = _help("Each encoder layer below the top learns this factor "
                                      "slower (1.0 = off).", 1.0)
    freeze_layers: int = _help("Freeze the embeddings and this many lowest encoder layers "
                               "(partial fine-tuning: no backward pass through them).", 0)
    batch_size: int = _help("Texts per training batch.", 32)
    eval_batch_size: int = _help("Texts per inference batch.", 128)
    warmup_ratio: float = _help("Fraction of the training steps spent warming the learning "
                                "rate up, in [0, 1).", 0.1)
    weight_decay: float = _help("AdamW weight decay.", 0.01)
    lr_scheduler: str = _help("transformers scheduler name.", "linear")
    loss: str = _help("bce | weighted_bce (per-label pos_weight) | focal | asymmetric.", "bce")
    pos_weight_power: float = _help("weighted_bce: pos_weight = (neg/pos) ** power.", 0.5)
    focal_gamma: float = _help("focal: focusing parameter gamma.", 2.0)
    asl_gamma_neg: float = _help("asymmetric: gamma for negatives.", 4.0)
    asl_clip: float = _help("asymmetric: probability margin for negatives.", 0.05)
    label_smoothing: float = _help("Targets become y*(1-s) + s/2.", 0.0)
    group_loss_weight: float = _help(
        "GoEmotions labels: add this x the BCE of each Ekman and sentiment group's noisy-OR "
        "probability 1 - prod(1 - p) against whether any member is gold (one term per "
        "grouping). The model keeps its 28 outputs; the groups only shape the loss. 0: off.",
        0.0)
    aux_group_weight: float = _help(
        "GoEmotions labels: multi-task training with one extra output per Ekman and sentiment "
        "group (target: any member is gold), their BCE weighted by this (one term per "
        "grouping). The extra outputs are cut before saving: the saved model has the 28. "
        "0: off.", 0.0)
    rdrop_alpha: float = _help(
        "R-Drop: each batch runs twice with different dropout masks; the loss is the mean of "
        "both passes' losses + this x their symmetric KL divergence. 0: off (one pass); > 0 "
        "runs the batch twice (MiniLM: about 1.5x the training time).", 0.0)
    distill_teacher: str | None = _help(
        "Knowledge distillation: a teacher run folder (a model or an `emotag ensemble` folder) "
        "whose probabilities on the training texts become the targets.", None)
    distill_weight: float = _help("Weight of the teacher's probabilities in the targets "
                                  "(the rest is the gold labels).", 0.5)
    bf16: bool = _help("bf16 autocast (CPU AMX/AVX512-BF16).", False)
    group_by_length: bool = _help("Length-grouped batches (less padding, same epochs).", True)
    logging_steps: int = _help("Log the training loss every N steps.", 50)
    save_steps: int = _help("Checkpoint every N steps (for --resume).", 200)
    save_total_limit: int = _help("Checkpoints kept on disk.", 2)
    keep_checkpoints: bool = _help("Keep checkpoints after a successful run.", False)
    eval_each_epoch: bool = _help(
        "Dev loss and macro-F1 after each epoch (loss curve); off saves their time and "
        "trains the same model.", True)
    num_threads: int | None = _help("torch intra-op threads (default: all cores).", None)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"train.loss={self.loss!r}; expected one of {', '.join(LOSSES)}")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ConfigError(f"train.label_smoothing={self.label_smoothing}; expected [0, 0.5)")
        if self.group_loss_weight < 0:
            raise ConfigError(f"train.group_loss_weight={self.group_loss_weight}; expected 0 "
                              "(off) or more")
        if self.aux_group_weight < 0:
            raise ConfigError(f"train.aux_group_weight={self.aux_group_weight}; expected 0 "
                              "(off) or more")
        if self.rdrop_alpha < 0:
            raise ConfigError(f"train.rdrop_alpha={self.rdrop_alpha}; expected 0 (off) or more")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"train.warmup_ratio={self.warmup_ratio}; expected a fraction of "
                              "the training steps in [0, 1), e.g. 0.1")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ConfigError("train.batch_size and train.eval_batch_size must be positive")


@dataclass
class ThresholdConfig:
    """How decision thresholds are chosen on the dev split."""

    strategy: str = _help("fixed (0.5) | global | per_label | per_label_shrunk.",
                          "per_label_shrunk")
    prior_strength: float = _help("per_label_shrunk: pseudo-count pulling a label's threshold "
                                  "towards the global one (rare labels move most).", 20.0)
    group_weight: float = _help("GoEmotions labels: then re-tune each threshold for macro-F1 + "
                                "this x (Ekman + sentiment macro-F1), a group predicted when any "
                                "member is. 0: off.", 0.0)

    def __post_init__(self) -> None:
        if self.strategy not in THRESHOLD_STRATEGIES:
            raise ConfigError(f"thresholds.strategy={self.strategy!r}; expected one of "
                              f"{', '.join(THRESHOLD_STRATEGIES)}")
        if not self.group_weight >= 0:
            raise ConfigError(f"thresholds.group_weight={self.group_weight}; expected 0 or more")


@dataclass
class EmotagConfig:
    """A whole run: data, model, training and thresholds."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    thresholds: ThresholdConfig = field(default_factory=ThresholdConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "config") -> EmotagConfig:
        """Build from nested dicts; unknown groups or keys raise ConfigError."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a mapping of groups, got {type(raw).__name__}")
        groups = {f.name: f.type for f in dataclasses.fields(cls)}
        kwargs = {}
        hints = get_type_hints(cls)
        for name, values in raw.items():
            if name not in groups:
                raise ConfigError(f"{source}: unknown group {name!r}; expected one of "
                                  f"{', '.join(groups)}")
            group_cls = hints[name]
            values = values or {}
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: group {name!r} must be a mapping of keys, got "
                                  f"{values!r}")
            known = {f.name for f in dataclasses.fields(group_cls)}
            for key in values:
                if key not in known:
                    raise ConfigError(f"{source}: unknown key {name}.{key}; valid keys: "
                                      f"{', '.join(sorted(known))}")
            # Coerce "5e-5"-style strings before the group's __post_init__ validates them.
            values = {k: _float_value(group_cls, name, k, v) for k, v in values.items()}
            try:
                kwargs[name] = group_cls(**values)
            except TypeError as e:
                raise ConfigError(f"{source}: {e}") from e
        return cls(**kwargs)


def _float_value(group_cls: type, group: str, key: str, value: Any) -> Any:
    """Make float fields floats (YAML reads ``5e-5`` as str and ``3`` as int); reject a
    non-integer for an int field, so ``batch_size=3.5`` fails here, not deep in training."""
    f = next(f for f in dataclasses.fields(group_cls) if f.name == key)
    is_float = isinstance(f.default, float) or f.type in ("float", "float | None")
    is_int = f.type in ("int", "int | None")
    if is_float and isinstance(value, str):
        try:
            return float(value)
        except ValueError as e:
            raise ConfigError(f"{group}.{key}={value!r}: expected a number") from e
    if is_float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if is_int and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{group}.{key}={value!r}: expected an integer")
    return value


def __getattr__(name: str) -> Any:
    """``from emotag.config import load_config, resolve_config`` keeps working: the YAML
    loading lives in :mod:`emotag.config_loading`, imported on first use (no import cycle)."""
    if name in ("load_config", "resolve_config"):
        from . import config_loading

        return getattr(config_loading, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
