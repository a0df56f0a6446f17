"""A model folder's decision files, read with numpy alone: ``thresholds.json`` and
``calibration.json``.

Loading a model for inference reads both; fitting them (:class:`~emotag.evaluation.thresholds.
ThresholdTuner`, :class:`~emotag.evaluation.calibration.PlattCalibrator`) needs scikit-learn,
which the base install does not have and which takes about a second to import. The fitting
classes read and apply their files through this module, so the format is written down once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFormatError

THRESHOLDS_FILE = "thresholds.json"
CALIBRATION_FILE = "calibration.json"
_EPS = 1e-6


def thresholds_from_mapping(mapping: dict[str, float], label_names: Sequence[str]
                            ) -> np.ndarray:
    """``{label: threshold}`` as an array in ``label_names`` order."""
    missing = [n for n in label_names if n not in mapping]
    if missing:
        raise ModelFormatError(f"thresholds lack labels {missing}")
    return np.array([float(mapping[n]) for n in label_names])


def read_thresholds(path: Path, label_names: Sequence[str]) -> np.ndarray:
    """The thresholds saved in ``path`` (label name -> threshold), in ``label_names`` order."""
    path = Path(path)
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ModelFormatError(f"{path}: cannot read thresholds ({e})") from e
    return thresholds_from_mapping(mapping, label_names)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def platt_transform(a: np.ndarray, b: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per-label ``sigmoid(a * logit(p) + b)`` of an (n, L) score matrix, as float32."""
    z = np.asarray(a)[None, :] * logit(probs) + np.asarray(b)[None, :]
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def read_platt(path: Path, label_names: Sequence[str]) -> dict[str, Any]:
    """The JSON of a Platt calibration for ``label_names``, with ``a`` and ``b`` as arrays."""
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ModelFormatError(f"{path}: cannot read the calibration ({e})") from e
    if spec.get("method") != "platt" or list(spec.get("label_names", [])) != list(label_names):
        raise ModelFormatError(f"{path}: not a Platt calibration for this model's labels")
    spec["a"] = np.asarray(spec["a"], dtype=np.float64)
    spec["b"] = np.asarray(spec["b"], dtype=np.float64)
    return spec


class PlattMap:
    """A fitted per-label Platt map, as inference applies it (scores and thresholds alike)."""

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a_ = np.asarray(a, dtype=np.float64)
        self.b_ = np.asarray(b, dtype=np.float64)

    @classmethod
    def load(cls, path: Path, label_names: Sequence[str]) -> PlattMap:
        spec = read_platt(path, label_names)
        return cls(spec["a"], spec["b"])

    def transform(self, probs: np.ndarray) -> np.ndarray:
        return platt_transform(self.a_, self.b_, probs)

    def transform_thresholds(self, thresholds: np.ndarray) -> np.ndarray:
        """Thresholds on the calibrated scale that give the same decisions."""
        return self.transform(np.asarray(thresholds, dtype=np.float64)[None, :])[0].astype(
            np.float64)
