"""Loading a run configuration: a YAML file or a built-in recipe name (``extends: NAME``
merges a file over another recipe), then ``--set group.key=value`` overrides.

The settings themselves, with their defaults and help texts, are in :mod:`emotag.config`
(which re-exports :func:`load_config` and :func:`resolve_config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .config import EmotagConfig
from .errors import ConfigError


def resolve_config(name: str | Path) -> Path:
    """A config file's path: an existing file, or a built-in recipe by name (``tfidf``,
    ``minilm``, ...; ``configs/tfidf.yaml`` also finds the recipe when no such file exists)."""
    from .resources import configs_dir

    path = Path(name)
    if path.is_file():
        return path
    builtin = configs_dir() / f"{path.stem if path.suffix in ('.yaml', '.yml') else path.name}.yaml"
    if (path.parent == Path(".") or path.parent.name == "configs") and builtin.is_file():
        return builtin
    recipes = ", ".join(sorted(p.stem for p in configs_dir().glob("*.yaml")))
    raise ConfigError(f"config not found: {name} (give a YAML file or a built-in recipe: "
                      f"{recipes})")


def _read_yaml_config(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """One config file as a dict of groups; ``extends: NAME`` merges it over another recipe."""
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'extends' loops back to itself")
    with open(path, encoding="utf-8") as f:
        try:
            raw = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of groups (data, model, train, "
                          "thresholds)")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    base = _read_yaml_config(resolve_config(parent), (*seen, path.resolve()))
    for group, values in raw.items():
        if isinstance(values, dict) and isinstance(base.get(group), dict):
            base[group] = {**base[group], **values}
        else:
            base[group] = values
    return base


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> EmotagConfig:
    """Defaults, then the YAML file at ``path`` (or a built-in recipe name), then
    ``group.key=value`` overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = resolve_config(path)
        raw = _read_yaml_config(path)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected group.key=value, e.g. train.epochs=2")
        key, value = item.split("=", 1)
        if key.count(".") != 1:
            raise ConfigError(f"--set {item!r}: expected group.key=value, e.g. train.epochs=2")
        group, name = key.split(".")
        raw.setdefault(group, {})
        if raw[group] is None:
            raw[group] = {}
        try:
            raw[group][name] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {item!r}: value is not valid YAML: {e}") from e
    return EmotagConfig.from_dict(raw, source=str(path) if path else "--set")
