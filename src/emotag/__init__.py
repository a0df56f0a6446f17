"""emotag: multi-label emotion recognition for English text (GoEmotions taxonomy)."""

from __future__ import annotations

__version__ = "0.1.0"

from .config import EmotagConfig, load_config  # noqa: E402
from .evaluation.thresholds import ThresholdTuner  # noqa: E402
from .labels import GOEMOTIONS_LABELS  # noqa: E402

__all__ = ["GOEMOTIONS_LABELS", "EmotagConfig", "ThresholdTuner", "__version__", "load",
           "load_config"]


def load(path: str | None = None, *, num_threads: int | None = None,  # noqa: ANN201
         window: bool = False, stride: int | None = None):
    """Load a model folder as a :class:`~emotag.inference.predictor.Predictor` (no return
    annotation:
    it would import torch at ``import emotag``). Options: see ``Predictor.load``."""
    from .inference.predictor import Predictor

    return Predictor.load(path, num_threads=num_threads, window=window, stride=stride)
