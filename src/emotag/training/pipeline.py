"""The train -> tune -> evaluate -> report sequence behind ``emotag train``, and the scoring
and report writing that ``emotag evaluate`` (:mod:`emotag.training.evaluation_run`) and
``emotag ensemble`` share.

A run folder is also a model folder: ``emotag.json`` and the backend files, plus
``thresholds.json`` (tuned on dev only), ``metrics.json``, ``report.md``, ``report.html``,
``plots/``, ``predictions/{dev,test}_probs.npy`` and ``run_log.json``.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config import EmotagConfig, ThresholdConfig
from ..data.datasets import Split, load_splits, warn_unseen_labels
from ..errors import ConfigError, DataError
from ..evaluation.metrics import bootstrap_intervals, evaluate_split, headline
from ..evaluation.thresholds import ThresholdTuner
from ..models import EmotionClassifier, build_model, load_model, save_model
from ..models.base import MANIFEST
from ..resources import display_path
from ..utils.files import atomic_save_npy, atomic_write_json
from . import ddp
from .runlog import environment

CONFIG_FILE = "train_config.json"


def _check_resume(output_dir: Path, config: EmotagConfig, resume: bool) -> None:
    saved = output_dir / CONFIG_FILE
    if resume:
        if saved.is_file():
            # through the dataclass, so settings added to emotag since (at their defaults)
            # do not count as a change
            old = json.loads(json.dumps(EmotagConfig.from_dict(
                json.loads(saved.read_text(encoding="utf-8"))).to_dict()))
            new = json.loads(json.dumps(config.to_dict()))
            for cfg in (old, new):  # a time budget, not part of the trajectory
                cfg.get("train", {}).pop("stop_after_steps", None)
            if old != new:
                raise ConfigError(f"--resume with a different config than {saved}; resume with "
                                  "the same --config/--set, or train into a new --output")
    elif (output_dir / MANIFEST).is_file() or (output_dir / "checkpoints").is_dir():
        raise ConfigError(f"{output_dir} already holds a run; pass --resume to continue it, or "
                          "choose another --output")


def train_run(config: EmotagConfig, output_dir: Path, resume: bool = False) -> dict[str, Any]:
    """Train, tune thresholds on dev, evaluate on dev and test, write every artifact.

    Under a distributed launch (``accelerate launch``/``torchrun``) every rank trains; only
    global rank 0 writes the run folder and returns the metrics, the others return ``{}``.
    """
    output_dir = Path(output_dir)
    t_start = time.time()
    env = environment()  # the commit and versions the run started from
    _check_resume(output_dir, config, resume)
    output_dir.mkdir(parents=True, exist_ok=True)
    if ddp.is_main_process():  # under accelerate/torchrun every rank runs this; one writes
        atomic_write_json(output_dir / CONFIG_FILE, config.to_dict())
    splits = load_splits(config.data)
    if "dev" not in splits:
        raise DataError("no dev split: thresholds are tuned on dev, so one is required")
    train, dev = splits["train"], splits["dev"]
    if config.data.dataset == "files":
        warn_unseen_labels(train)
    if config.train.distill_teacher:
        from .distillation import distilled_split

        if config.model.model_type != "transformer":
            raise ConfigError("train.distill_teacher needs model.model_type=transformer (the "
                              "TF-IDF model learns from 0/1 labels only)")

        train = distilled_split(train, Path(config.train.distill_teacher),
                                config.train.distill_weight, cache_dir=output_dir,
                                max_samples=config.data.max_train_samples)
    timings: dict[str, float] = {"load_data_s": time.time() - t_start}

    t0 = time.time()
    # a finished run is only re-evaluated; one stopped by train.stop_after_steps trains on
    reevaluating = (resume and (output_dir / MANIFEST).is_file()
                    and not _previous_log(output_dir).get("stopped_early"))
    stopped_early = False
    if reevaluating and not ddp.is_main_process():
        return {}  # nothing to train; rank 0 redoes the evaluation alone
    if reevaluating:
        # training had finished; only the evaluation is redone, the training record is kept
        previous = _previous_log(output_dir)
        log_history: list[dict] = previous.get("log_history", [])
        resumed_from = previous.get("resumed_from") or "finished model"
        before = previous.get("timings", {})
        if "train_s" in before:
            timings["train_s"] = before["train_s"]
        timings["earlier_total_s"] = before.get("total_s", 0.0)
    else:
        model = build_model(config, train.label_names)
        # the same rewrites as at inference (the model applies them when it scores)
        train, dev = (replace(s, texts=model.preprocessing(s.texts)) for s in (train, dev))
        model.fit(train, dev, work_dir=output_dir, resume=resume)
        if ddp.is_main_process():
            save_model(model, output_dir)
        log_history = getattr(model, "log_history_", [])
        resumed_from = getattr(model, "resumed_from_", None)
        stopped_early = bool(getattr(model, "stopped_early_", False))
        timings["train_s"] = time.time() - t0
        del model
        if ddp.world_size() > 1:
            # DDP: the other ranks leave once the model is on disk; evaluating needs no
            # collective, so rank 0 does it alone (no barrier timeout on a long evaluation)
            ddp.barrier()
            is_main = ddp.is_main_process()
            ddp.finish()
            if not is_main:
                return {}
    # Evaluate what was saved, exactly as users will load it: the in-memory model can still
    # carry training-time wrappers (accelerate's bf16 autocast around forward), and thresholds
    # tuned on those scores would not fit the saved model.
    t_eval = time.time()
    model = load_model(output_dir)
    metrics = evaluate_run(model, splits, output_dir, config=config, log_history=log_history,
                           timings=timings, extra_model_info={"resumed_from": resumed_from},
                           data_info=describe_data(splits, "the training config"))
    if reevaluating:
        timings["reevaluated_s"] = time.time() - t_eval
    if not config.train.keep_checkpoints and not stopped_early:  # kept to train on later
        shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
    # a re-evaluation adds to the cost of the run it completes
    timings["total_s"] = time.time() - t_start + timings.get("earlier_total_s", 0.0)
    _write_run_log(output_dir, metrics, env, config=config.to_dict(), timings=timings,
                   resumed_from=resumed_from, log_history=log_history,
                   stopped_early=stopped_early)
    return metrics


def _write_run_log(output_dir: Path, metrics: dict[str, Any], env: dict[str, Any],
                   **fields: Any) -> None:
    """``run_log.json``: how the run was made (environment, ``fields``) and its headline."""
    atomic_write_json(output_dir / "run_log.json", {
        **fields, **env, "headline": {s: headline(m) for s, m in metrics["splits"].items()}})


def _previous_log(output_dir: Path) -> dict[str, Any]:
    path = output_dir / "run_log.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def evaluate_run(model: EmotionClassifier, splits: dict[str, Split], output_dir: Path, *,
                 config: EmotagConfig | None = None, thresholds: ThresholdTuner | None = None,
                 log_history: list[dict] | None = None, timings: dict[str, float] | None = None,
                 extra_model_info: dict[str, Any] | None = None, bootstrap: int = 0,
                 data_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score dev/test with ``model``, then :func:`write_evaluation` (``data_info``: which
    data was scored, see :func:`describe_data`)."""
    names = list(model.label_names)
    timings = timings if timings is not None else {}
    t0 = time.time()
    probs: dict[str, np.ndarray] = {}
    targets: dict[str, np.ndarray] = {}
    for name in ("dev", "test"):
        if name in splits:
            _check_labels(splits[name], names)
            probs[name] = model.predict_proba(splits[name].texts)
            targets[name] = splits[name].labels
    timings["predict_s"] = time.time() - t0
    model_info: dict[str, Any] = {"type": model.model_type}
    if config is not None:
        model_info.update(config.model.summary())
    model_info.update(extra_model_info or {})
    if thresholds is None:
        thresholds = ThresholdTuner.from_config(config.thresholds if config else ThresholdConfig(),
                                                names)
    return write_evaluation(output_dir, names, probs, targets, thresholds, model_info=model_info,
                            log_history=log_history, timings=timings, bootstrap=bootstrap,
                            data_info=data_info)


def write_evaluation(output_dir: Path, names: list[str], probs: dict[str, np.ndarray],
                     targets: dict[str, np.ndarray], thresholds: ThresholdTuner, *,
                     model_info: dict[str, Any], log_history: list[dict] | None = None,
                     timings: dict[str, float] | None = None, bootstrap: int = 0,
                     data_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Save probabilities, fit ``thresholds`` on dev if it is not fitted yet, and write
    ``thresholds.json``, ``metrics.json`` and the report. Test never influences a choice.
    ``data_info`` (which data was scored) becomes ``metrics["data"]``.

    ``bootstrap`` > 0 also writes ``intervals.json``: 95% intervals of each split's headline
    numbers from that many resamples of its rows (:func:`emotag.evaluation.metrics.
    bootstrap_intervals`), returned as ``metrics["intervals"]``."""
    from ..evaluation.report import write_report

    output_dir = Path(output_dir)
    timings = timings or {}
    for name, p in probs.items():
        atomic_save_npy(output_dir / "predictions" / f"{name}_probs.npy", p.astype(np.float32))
    if hasattr(thresholds, "thresholds_"):
        strategy = "saved"
    else:
        if "dev" not in probs:
            raise DataError("thresholds are tuned on the dev split, which is missing")
        thresholds.fit(probs["dev"], targets["dev"])
        strategy = thresholds.strategy
    thresholds.save(output_dir / "thresholds.json", names)
    t = thresholds.thresholds_
    metrics = {
        "label_names": names, "thresholds": thresholds.to_dict(names),
        "threshold_strategy": strategy, "model": model_info,
        **({"data": data_info} if data_info else {}),
        "training": ({"wall_time_s": timings["train_s"]} if "train_s" in timings else {})
        | timings,
        "splits": {name: evaluate_split(targets[name], probs[name], t, names) for name in probs},
    }
    atomic_write_json(output_dir / "metrics.json", metrics)
    write_report(output_dir, metrics, probs, targets, log_history or None)
    if bootstrap:
        intervals = {name: {k: list(v) for k, v in bootstrap_intervals(
            targets[name], probs[name] >= t[None, :], names, n_resamples=bootstrap).items()}
            for name in probs}
        atomic_write_json(output_dir / "intervals.json",
                          {"confidence": 0.95, "n_resamples": bootstrap, "splits": intervals})
        metrics["intervals"] = intervals
    return metrics


def _check_labels(split: Split, names: list[str]) -> None:
    if list(split.label_names) != names:
        raise DataError(f"{split.source}: its labels {split.label_names} differ from the "
                        f"model's {names}")


def describe_data(splits: dict[str, Split], origin: str) -> dict[str, str]:
    """``metrics["data"]``: where the data config came from, and each scored split's source
    and size."""
    return {"config": origin} | {
        name: f"{display_path(split.source) if split.source else name} ({len(split):,} rows)"
        for name, split in splits.items() if name != "train"}
