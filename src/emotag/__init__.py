"""emotag: multi-label emotion recognition for English text (GoEmotions taxonomy).

``import emotag`` imports nothing heavy: the names below load their modules on first use, so
``emotag.load()`` and the command line start without scikit-learn, transformers or torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: The package version (pyproject.toml reads it from here).
__version__ = "0.2.0"

# name -> module that defines it, imported when the name is first asked for
_LAZY = {"EmotagConfig": ".config", "load_config": ".config",
         "ThresholdTuner": ".evaluation.thresholds", "GOEMOTIONS_LABELS": ".labels"}

if TYPE_CHECKING:
    from .config import EmotagConfig, load_config
    from .evaluation.thresholds import ThresholdTuner
    from .inference.predictor import Predictor
    from .labels import GOEMOTIONS_LABELS

__all__ = ["GOEMOTIONS_LABELS", "EmotagConfig", "ThresholdTuner", "__version__", "load",
           "load_config"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'emotag' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def load(path: str | None = None, *, num_threads: int | None = None,
         window: bool = False, stride: int | None = None) -> Predictor:
    """Load a model folder (default: the shipped model) as a
    :class:`~emotag.inference.predictor.Predictor`. Options: see ``Predictor.load``."""
    from .inference.predictor import Predictor

    return Predictor.load(path, num_threads=num_threads, window=window, stride=stride)
