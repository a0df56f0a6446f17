"""Where emotag finds the files it ships: the default model, GoEmotions and the recipe configs.

Everything bundled lives inside the package (``emotag/assets``, ``emotag/configs``) and is
found through :mod:`importlib.resources`, so an installed wheel works from any folder; nothing
here looks at the repository root.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path


def _package_path(*parts: str) -> Path:
    # A regular (unzipped) install gives real paths; emotag reads folders of files from them.
    return Path(str(files("emotag").joinpath(*parts)))


def default_model_dir() -> Path:
    """The shipped model folder (ONNX int8, thresholds, calibration)."""
    return _package_path("assets", "default_model")


def goemotions_dir() -> Path:
    """The bundled GoEmotions folder; ``EMOTAG_DATA_DIR`` overrides it."""
    env = os.environ.get("EMOTAG_DATA_DIR")
    return Path(env) if env else _package_path("assets", "goemotions")


def configs_dir() -> Path:
    """The bundled recipe configs (``emotag train --config NAME``)."""
    return _package_path("configs")


def display_path(path: str | Path) -> str:
    """``path`` as a record should show it: a bundled file as ``emotag/...`` (the same on
    every machine and install), anything else as given. Used where a path is saved into a
    model's or a report's files, so they carry no developer's folder."""
    try:
        inside = Path(path).resolve().relative_to(_package_path().resolve())
    except ValueError:
        return str(path)
    return f"emotag/{inside.as_posix()}"
