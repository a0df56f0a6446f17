"""Where emotag finds its bundled files (the vendored GoEmotions copy)."""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root when emotag runs from a checkout (``pip install -e .``).
REPO_ROOT = Path(__file__).resolve().parents[2]


def goemotions_dir() -> Path:
    """The vendored GoEmotions folder; ``EMOTAG_DATA_DIR`` overrides it."""
    env = os.environ.get("EMOTAG_DATA_DIR")
    return Path(env) if env else REPO_ROOT / "data" / "goemotions"
