"""The sequence behind ``emotag evaluate``: a saved model scored again with its saved
thresholds, on the data its run was trained on (``train_config.json``) or on a labelled file,
in its own label space or (``--taxonomy``) in a grouping's.

The run's data config is also what ``emotag export`` checks an export on
(:mod:`emotag.inference.export.parity`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import EmotagConfig
from ..data.datasets import Split, load_splits
from ..errors import ConfigError, DataError
from ..evaluation.thresholds import ThresholdTuner
from ..models import load_model
from .pipeline import CONFIG_FILE, describe_data, evaluate_run, write_evaluation


def evaluation_config(model_dir: Path, data: Path | None = None, *, text_column: str = "text",
                      label_column: str = "labels", label_names: list[str] | None = None
                      ) -> tuple[EmotagConfig, str]:
    """The config ``emotag evaluate`` works with, and where its data comes from.

    A run folder's own ``train_config.json`` (the data it was trained and tuned on, and its
    threshold settings for ``--retune-thresholds``), else emotag's defaults (the bundled
    GoEmotions) for a folder without one (a packaged or shipped model). ``data``, a
    labelled file, replaces the data section: its rows are the test split, read with
    ``label_names`` (None: as training files are)."""
    model_dir = Path(model_dir)
    saved = model_dir / CONFIG_FILE
    raw: dict[str, Any] = {}
    origin = f"emotag defaults (the model folder has no {CONFIG_FILE})"
    if saved.is_file():
        try:
            raw = json.loads(saved.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ConfigError(f"{saved}: invalid JSON ({e}); pass --data FILE") from None
        origin = str(saved)
    # only what an evaluation uses: a setting of training that a later emotag dropped or
    # renamed must not stop one
    raw = {k: raw[k] for k in ("data", "thresholds") if isinstance(raw, dict) and k in raw}
    if data is not None:
        raw["data"] = {"dataset": "files", "train_file": str(data), "validation_file": str(data),
                       "test_file": str(data), "text_column": text_column,
                       "label_column": label_column, "label_names": label_names}
        return EmotagConfig.from_dict(raw, source=str(saved)), f"--data {data}"
    if not saved.is_file():
        from ..labels import GOEMOTIONS_LABELS
        from ..models.base import read_manifest

        labels = read_manifest(model_dir)["label_names"]
        if tuple(labels) != tuple(GOEMOTIONS_LABELS):
            raise ConfigError(f"{model_dir} has no {CONFIG_FILE} (a packaged model?), so the "
                              f"data it was trained on is unknown, and its labels "
                              f"({', '.join(labels[:8])}{', ...' if len(labels) > 8 else ''}) "
                              "are not the bundled GoEmotions'; pass --data FILE labelled "
                              "with them")
    config = EmotagConfig.from_dict(raw, source=str(saved))
    if config.data.dataset == "files":
        for key in ("train_file", "validation_file", "test_file"):
            path = getattr(config.data, key)
            if path and not Path(path).is_file():
                raise DataError(f"data.{key} of the run ({saved}) not found: {path} (a relative "
                                "path is from where `emotag train` ran); run from there, or "
                                "pass --data FILE")
    return config, origin


def evaluation_splits(config: EmotagConfig) -> dict[str, Split]:
    """The splits of ``config.data`` for scoring only: the warning about labels without a
    training example concerns training, not an evaluation."""
    import warnings

    from ..errors import DataWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*no training example", category=DataWarning)
        return load_splits(config.data)


def evaluate_saved(model_dir: Path, config: EmotagConfig, split_names: list[str] | None,
                   output_dir: Path, retune: bool = False, bootstrap: int = 0,
                   data_origin: str = "") -> dict[str, Any]:
    """``emotag evaluate``: a saved model on chosen splits (None: dev and test, those the data
    has), with its saved thresholds, or (``retune``) with thresholds tuned anew on this
    model's own dev scores — for a model whose scores moved, such as an int8 export.
    ``bootstrap`` > 0 adds ``metrics["intervals"]`` (see :func:`write_evaluation`);
    ``data_origin`` (see :func:`evaluation_config`) goes into ``metrics["data"]``."""
    if bootstrap < 0:
        raise ConfigError(f"--bootstrap {bootstrap}; expected 0 (none) or a number of "
                          "resamples such as 1000")
    model = load_model(model_dir)
    splits = evaluation_splits(config)
    if split_names is None:
        split_names = [s for s in ("dev", "test") if s in splits]
    if retune and "dev" not in split_names:
        split_names = ["dev", *split_names]
    missing = [s for s in split_names if s not in splits]
    if missing:
        raise DataError(f"split(s) {missing} not in the data; available: {sorted(splits)}")
    chosen = {s: splits[s] for s in split_names}
    if retune:
        tuner = ThresholdTuner.from_config(config.thresholds, model.label_names)
    else:
        tuner = ThresholdTuner.load(Path(model_dir) / "thresholds.json", model.label_names)
    return evaluate_run(model, chosen, output_dir, thresholds=tuner, bootstrap=bootstrap,
                        data_info=describe_data(chosen, data_origin or "the given config"))


def evaluate_taxonomy(model_dir: Path, config: EmotagConfig, taxonomy: str, output_dir: Path,
                      *, bootstrap: int = 0, data_origin: str = "") -> dict[str, Any]:
    """``emotag evaluate MODEL --data FILE --taxonomy ekman|sentiment``: a file labelled with
    the taxonomy's group names (the test split of ``config.data``, read with the model's
    groups as the label set, so another name is an error with its row) scored in group
    space: the model's (calibrated) scores mapped onto the groups and a group on when its
    score reaches its threshold (:meth:`emotag.inference.predictor.Predictor.group_scores`).
    Metrics cover the groups in the file or in the predictions (``model.groups_left_out``
    names the others)."""
    import dataclasses

    from ..inference.groups import output_names
    from ..inference.predictor import Predictor

    if bootstrap < 0:
        raise ConfigError(f"--bootstrap {bootstrap}; expected 0 (none) or a number of "
                          "resamples such as 1000")
    predictor = Predictor.load(model_dir)
    names = output_names(predictor.labels, taxonomy)
    config = dataclasses.replace(config, data=dataclasses.replace(config.data,
                                                                  label_names=list(names)))
    split = evaluation_splits(config)["test"]
    scores, names, cuts = predictor.group_scores(predictor.predict_proba(split.texts), taxonomy)
    # scikit-learn's label set: the groups in the file or in the predictions; a group neither
    # holds would only add an F1 of 0 to the macro average
    keep = [j for j in range(len(names))
            if split.labels[:, j].any() or (scores[:, j] >= cuts[j]).any()]
    names = [names[j] for j in keep]
    tuner = ThresholdTuner.from_dict({n: float(cuts[j]) for n, j in zip(names, keep,
                                                                         strict=True)}, names)
    info = {"type": predictor.model.model_type, "taxonomy": taxonomy,
            "model_labels": len(predictor.labels),
            "scores": "calibrated" if predictor.calibrator is not None else "raw",
            "group_thresholds": ("tuned" if taxonomy in (predictor.group_thresholds or {})
                                 else "lowest member's"),
            "groups_left_out": [n for n in split.label_names if n not in names]}
    return write_evaluation(output_dir, names, {"test": scores[:, keep]},
                            {"test": split.labels[:, keep]}, tuner, model_info=info,
                            bootstrap=bootstrap,
                            data_info=describe_data({"test": split}, data_origin or "--data"))
