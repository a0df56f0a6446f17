"""``emotag ensemble``: members' dev scores -> weights -> an ensemble model folder.

Every run folder keeps ``predictions/{dev,test}_probs.npy`` (its raw ``predict_proba``
scores); the weights are searched on those alone (:mod:`emotag.training.weight_search`).
A member without saved predictions (an exported ONNX folder, the shipped default model) is
scored on dev and test once, in memory: nothing is written into a member's folder.

The output folder is a model like any other (:class:`~emotag.models.ensemble.
EnsembleClassifier`: ``emotag.json`` + ``members/``, members with weight 0 left out) and a run
folder (``thresholds.json`` tuned on the ensemble's dev scores, ``metrics.json``, report,
``predictions/``), plus ``ensemble.json``, the record of the search (every member's source,
every weight, how they were scored). When some member is only saved predictions (no model
in its folder, e.g. a research variant), only the scores, thresholds and report are written,
and the folder is not a model.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import EmotagConfig, ThresholdConfig
from ..data.datasets import Split, load_splits
from ..errors import DataError, ModelFormatError
from ..evaluation.thresholds import ThresholdTuner
from ..models.base import MANIFEST, backend_class, load_model, read_manifest, save_model
from ..models.ensemble import EnsembleClassifier, combine
from ..utils.files import atomic_write_json
from .pipeline import CONFIG_FILE, _write_run_log, describe_data, write_evaluation
from .runlog import environment
from .weight_search import SEARCH_GRID, check_selection, search_weights


@dataclass
class RunPredictions:
    """A run's dev/test probabilities and its label order; ``is_model``: its folder holds a
    loadable model (so an ensemble of it can be one too)."""

    path: Path
    label_names: list[str]
    dev: np.ndarray
    test: np.ndarray | None
    is_model: bool = False
    scored_now: bool = False  #: no saved predictions: scored by this call


def _is_model(run_dir: Path) -> bool:
    try:
        return backend_class(str(read_manifest(run_dir).get("model_type"))) is not None
    except ModelFormatError:
        return False


def load_run_predictions(run_dir: Path, splits: dict[str, Split] | None = None
                         ) -> RunPredictions:
    """A run's saved predictions; a model folder without them is scored on ``splits``' dev
    and test when given (in memory, never written into the member's folder)."""
    run_dir = Path(run_dir)
    manifest, meta = run_dir / MANIFEST, run_dir / "ensemble.json"
    source = manifest if manifest.is_file() else meta
    if not source.is_file():
        raise ModelFormatError(f"{run_dir}: neither emotag.json nor ensemble.json; not a run")
    names = json.loads(source.read_text(encoding="utf-8"))["label_names"]
    is_model = _is_model(run_dir)
    dev_path = run_dir / "predictions" / "dev_probs.npy"
    if not dev_path.is_file():
        if splits is None or not is_model or "dev" not in splits:
            raise ModelFormatError(f"{dev_path} missing; re-run `emotag evaluate {run_dir}`")
        model = load_model(run_dir)
        dev = model.predict_proba(splits["dev"].texts)
        test = model.predict_proba(splits["test"].texts) if "test" in splits else None
        return RunPredictions(run_dir, names, dev, test, is_model=True, scored_now=True)
    test_path = run_dir / "predictions" / "test_probs.npy"
    test = np.load(test_path, allow_pickle=False) if test_path.is_file() else None
    return RunPredictions(run_dir, names, np.load(dev_path, allow_pickle=False), test,
                          is_model=is_model)


def build_ensemble(runs: list[RunPredictions], y_dev: np.ndarray, *, step: float = 0.1,
                   selection: str = "in_sample", top: int = 30,
                   tuner: ThresholdTuner | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Weights chosen on dev (:func:`~emotag.training.weight_search.search_weights`);
    returns (weights, dev_probs, test_probs) of the ensemble, the scores combined over the
    members with a weight above 0 (the ones the saved model keeps)."""
    names = runs[0].label_names
    for r in runs[1:]:
        if r.label_names != names:
            raise ModelFormatError(f"{r.path}: label order differs from {runs[0].path}")
        if r.dev.shape != runs[0].dev.shape:
            raise ModelFormatError(f"{r.path}: dev predictions have shape {r.dev.shape}, "
                                   f"{runs[0].path} has {runs[0].dev.shape}")
    weights, _ = search_weights([r.dev for r in runs], y_dev, step, selection=selection,
                                top=top, tuner=tuner)
    kept = [i for i, w in enumerate(weights) if w > 0]
    dev = combine([runs[i].dev for i in kept], weights[kept])
    test = None
    if all(runs[i].test is not None for i in kept):
        test = combine([runs[i].test for i in kept], weights[kept])  # type: ignore[misc]
    return weights, dev, test


def _held_out_objective(tuner: ThresholdTuner) -> str:
    """How ``ensemble.json`` names what the held-out weight search maximised."""
    if tuner.group_weight and tuner.groups:
        return f"macro_f1 + {tuner.group_weight:g} x (ekman + sentiment macro_f1)"
    return "macro_f1"


def _data_config(run_dirs: list[Path]) -> tuple[EmotagConfig, str]:
    """The config of the first member that saved one (a packaged model has none), and where
    it came from."""
    for run in run_dirs:
        saved = Path(run) / CONFIG_FILE
        if saved.is_file():
            return (EmotagConfig.from_dict(json.loads(saved.read_text(encoding="utf-8"))),
                    str(saved))
    return EmotagConfig(), f"emotag defaults (no member has a {CONFIG_FILE})"


def ensemble_run(run_dirs: list[Path], output_dir: Path, *, step: float = 0.1,
                 strategy: str = "per_label_shrunk", prior_strength: float = 20.0,
                 group_weight: float = 0.0, selection: str = "in_sample",
                 top: int = 30) -> dict[str, Any]:
    """``emotag ensemble``: weights and thresholds on dev, written as a model folder
    (``selection``/``top``: see :func:`~emotag.training.weight_search.search_weights`)."""
    from sklearn.base import clone

    check_selection(selection)  # before any file is read
    t_start = time.time()
    run_dirs = [Path(d) for d in run_dirs]
    config, origin = _data_config(run_dirs)
    splits = load_splits(config.data)
    runs = [load_run_predictions(d, splits) for d in run_dirs]
    targets = {name: splits[name].labels for name in ("dev", "test") if name in splits}
    for r in runs:
        for name, y in targets.items():
            got = r.dev if name == "dev" else r.test
            if got is not None and got.shape != y.shape:
                raise DataError(f"{r.path}: {name} predictions {got.shape} do not match the "
                                f"{name} split {y.shape}")
    names = runs[0].label_names
    tuner = ThresholdTuner.from_config(
        ThresholdConfig(strategy=strategy, prior_strength=prior_strength,
                        group_weight=group_weight), names)
    # Weights are scored held out by the objective the final thresholds are tuned for
    # (ThresholdTuner.score), on the coarser search grid.
    held_out_tuner = clone(tuner).set_params(grid=SEARCH_GRID)
    weights, dev, test = build_ensemble(runs, targets["dev"], step=step, selection=selection,
                                        top=top, tuner=held_out_tuner)
    probs = {"dev": dev} | ({"test": test} if test is not None else {})
    members = [str(r.path) for r in runs]
    rounded = [round(float(w), 4) for w in weights]
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / MANIFEST).unlink(missing_ok=True)  # a model again only once complete
    atomic_write_json(output_dir / "ensemble.json", {
        "label_names": names, "members": members, "weights": rounded,
        "weight_step": step, "weight_selection": selection}
        | ({"weight_top": top, "weight_score": _held_out_objective(held_out_tuner)}
           if selection == "held_out" else {}))
    atomic_write_json(output_dir / CONFIG_FILE, config.to_dict())
    not_models = [str(r.path) for r in runs if not r.is_model]
    info: dict[str, Any] = {"type": "ensemble", "members": members, "weights": rounded,
                            "weight_selection": selection}
    if group_weight:
        info["threshold_group_weight"] = group_weight
    if not_models:
        info["not_a_model"] = f"members without a model: {', '.join(not_models)}"
    metrics = write_evaluation(output_dir, names, probs,
                               {k: v for k, v in targets.items() if k in probs}, tuner,
                               model_info=info, data_info=describe_data(splits, origin))
    if not not_models:
        kept = [i for i, w in enumerate(weights) if w > 0]
        save_model(EnsembleClassifier([run_dirs[i] for i in kept],
                                      [float(weights[i]) for i in kept], names), output_dir)
    _write_run_log(output_dir, metrics, environment(), members=members, weights=rounded,
                   scored_members=[str(r.path) for r in runs if r.scored_now],
                   timings={"total_s": time.time() - t_start})
    return metrics

