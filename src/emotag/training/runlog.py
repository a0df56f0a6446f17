"""What a run folder records about how it was made: config, versions, commit, wall time."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = ("emotag", "torch", "transformers", "datasets", "accelerate", "scikit-learn", "numpy",
            "tokenizers", "safetensors")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(root: Path | None = None) -> str | None:
    """The checkout's commit (with '+dirty' when files changed), or None outside git.

    ``root`` defaults to the package's own folder: a checkout answers, an install does not."""
    root = root or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=5).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    return {"versions": package_versions(), "commit": git_commit(),
            "platform": platform.platform(), "cpus": len(os.sched_getaffinity(0))}
