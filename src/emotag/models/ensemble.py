"""An ensemble as a model: a weighted average of several models' probabilities.

``predict_proba(texts) = sum_i weights[i] * members[i].predict_proba(texts)`` (:func:`combine`):
the members' raw probabilities, before any member's own calibration, which is exactly what
``emotag ensemble`` averaged when it chose the weights (the members' saved
``predictions/{dev,test}_probs.npy`` are raw ``predict_proba`` outputs). The ensemble has
its own thresholds (tuned on the averaged dev scores) and, after ``emotag calibrate``, its own
calibration, which :class:`~emotag.inference.predictor.Predictor` applies like any model's.

Saved as ``emotag.json`` (``model_type: "ensemble"``, an ``ensemble`` section listing each
member's sub-folder, weight and source) plus ``members/<i>-<name>/``, each a complete model
folder (any model type: TF-IDF, transformer, ONNX, kNN, even another ensemble) copied from
the member's run folder, without its reports, predictions, thresholds or calibration.

Why copies rather than paths to the members' run folders: the ensemble's thresholds were
tuned on those exact members' scores, so a member retrained or deleted in place must not
silently change (or break) the ensemble; and a self-contained folder can be moved, packaged,
mounted into a service container or read by Ray workers on other machines like any other
model. The cost is disk: the members' weights are stored twice.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelFormatError, NotTrainableError
from ..utils.files import replace_dir
from .base import EmotionClassifier, load_model, model_files, save_model

MEMBERS_DIR = "members"


def combine(probs: Sequence[np.ndarray], weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """The weighted average of the members' (n, n_labels) probabilities, as float32: the one
    formula of the weight search, the saved ensemble scores and :class:`EnsembleClassifier`."""
    return np.tensordot(np.asarray(weights, dtype=np.float64), np.stack(probs),
                        axes=1).astype(np.float32)


def _checked_weights(weights: Sequence[float] | None, n_members: int) -> list[float]:
    if n_members == 0:
        raise ConfigError("an ensemble needs at least one member")
    w = [float(x) for x in (weights if weights is not None else [1.0 / n_members] * n_members)]
    if len(w) != n_members:
        raise ConfigError(f"{len(w)} weights for {n_members} members; give one per member")
    if any(not np.isfinite(x) or x < 0 for x in w) or abs(sum(w) - 1.0) > 1e-6:
        raise ConfigError(f"ensemble weights {w}: expected non-negative numbers that sum to 1")
    return w


class EnsembleClassifier(EmotionClassifier):
    """A weighted average of member models' probabilities (scikit-learn conventions).

    Parameters
    ----------
    members : model folders (loaded on first use, copied when saved) or loaded
        :class:`~emotag.models.base.EmotionClassifier` objects (saved with ``save_model``).
        Every member must predict the same labels in the same order.
    weights : one non-negative weight per member, summing to 1 (default: equal weights).
    label_names : the labels, in order; default: the members'.
    """

    model_type = "ensemble"

    def __init__(self, members: Sequence[EmotionClassifier | str | Path] = (),
                 weights: Sequence[float] | None = None,
                 label_names: Sequence[str] | None = None) -> None:
        self.members = list(members)
        self.weights = weights
        self.label_names = list(label_names) if label_names else []

    def load_members(self, **options: Any) -> EnsembleClassifier:
        """Load the members given as folders (``options``: see ``load_backend``) and check
        that weights and labels fit together."""
        self.weights_ = _checked_weights(self.weights, len(self.members))
        loaded = []
        for member in self.members:
            if isinstance(member, EmotionClassifier):
                loaded.append(member)
            elif not Path(member).is_dir():
                raise ModelFormatError(f"ensemble member {member}: folder not found")
            else:
                loaded.append(load_model(Path(member), **options))
        names = self.label_names or list(loaded[0].label_names)
        for source, model in zip(self.members, loaded, strict=True):
            if list(model.label_names) != names:
                raise ModelFormatError(f"ensemble member {source}: labels {model.label_names[:4]}"
                                       f"... differ from the ensemble's {names[:4]}...; every "
                                       "member must predict the same labels in the same order")
        self.label_names = names
        self.members_ = loaded
        return self

    @property
    def window_overlap(self) -> int | None:
        """The members' window overlap (None: long texts are cut): windows are turned on for
        every member that reads tokens (``emotag.load(..., window=True)``)."""
        overlaps = [getattr(m, "window_overlap", None) for m in getattr(self, "members_", [])]
        return next((o for o in overlaps if o is not None), None)

    def fit(self, train: Any, dev: Any | None = None, *, work_dir: Path | None = None,
            resume: bool = False) -> EnsembleClassifier:
        raise NotTrainableError("an ensemble is built from trained runs, not trained: "
                                "`emotag ensemble RUN RUN ... --output DIR` chooses the weights "
                                "on dev")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n_texts, n_labels) float32: the weighted average of the members' probabilities."""
        if not hasattr(self, "members_"):
            self.load_members()
        texts = [texts] if isinstance(texts, str) else list(texts)
        return combine([m.predict_proba(texts) for m in self.members_], self.weights_)

    # ------------------------------------------------------------------ persistence
    def save_backend(self, model_dir: Path) -> dict[str, Any]:
        """Each member as a model folder in ``members/<i>-<name>/`` (written to a temp folder
        first and swapped in); returns the manifest's ``ensemble`` section."""
        weights = _checked_weights(self.weights, len(self.members))
        model_dir = Path(model_dir)
        tmp = model_dir / f".{MEMBERS_DIR}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        entries = []
        for i, (member, weight) in enumerate(zip(self.members, weights, strict=True)):
            source = str(member) if isinstance(member, str | Path) else type(member).__name__
            name = f"{i}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', Path(source).name) or 'member'}"
            if isinstance(member, str | Path):
                _copy_model(Path(member), tmp / name)
            else:
                save_model(member, tmp / name)
            entries.append({"path": f"{MEMBERS_DIR}/{name}", "weight": weight,
                            "source": source})
        replace_dir(tmp, model_dir / MEMBERS_DIR)
        return {"ensemble": {"members": entries}}

    @classmethod
    def load_backend(cls, model_dir: Path, manifest: dict[str, Any],
                     **options: Any) -> EnsembleClassifier:
        """Load every member from ``members/``; ``options`` (threads etc.) go to each."""
        info = manifest.get("ensemble")
        if not isinstance(info, dict) or not info.get("members"):
            raise ModelFormatError(f"{Path(model_dir) / 'emotag.json'}: model_type 'ensemble' "
                                   "without an 'ensemble.members' list; rebuild it with "
                                   "`emotag ensemble`")
        entries = info["members"]
        folders = [Path(model_dir) / e["path"] for e in entries]
        for folder in folders:
            if not (folder / "emotag.json").is_file():
                raise ModelFormatError(f"{folder}: ensemble member missing; copy the whole "
                                       "ensemble folder, or rebuild it with `emotag ensemble`")
        model = cls(folders, [float(e["weight"]) for e in entries], manifest["label_names"])
        return model.load_members(**options)


def _copy_model(src: Path, dest: Path) -> None:
    """Copy the files ``src`` is loaded from (not its reports, predictions, thresholds or
    calibration: the ensemble averages raw member scores and has its own decisions)."""
    files = model_files(src, decisions=False)
    if not any(f.name == "emotag.json" and f.parent == src for f in files):
        raise ModelFormatError(f"ensemble member {src}: not a model folder (emotag.json "
                               "missing)")
    for file in files:
        target = dest / file.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, target)
