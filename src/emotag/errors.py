"""Exception classes shared by every emotag module.

Library code raises these; the CLI turns any :class:`EmotagError` into one line and exit
code 1, so messages must say what was wrong, where, and what to do next.
"""

from __future__ import annotations


class EmotagError(Exception):
    """Base class of every error emotag raises on purpose."""


class ConfigError(EmotagError, ValueError):
    """A configuration file, key or value is invalid."""


class DataError(EmotagError, ValueError):
    """Input data is malformed: names the file, the row and the problem."""

    def __init__(self, problem: str, *, path: str | None = None, row: int | None = None) -> None:
        self.problem = problem
        self.path = path
        self.row = row
        where = ""
        if path is not None:
            where = f"{path}"
            if row is not None:
                where += f", row {row}"
            where += ": "
        elif row is not None:
            where = f"row {row}: "
        super().__init__(f"{where}{problem}")


class NotFittedError(EmotagError, ValueError, AttributeError):
    """An estimator was used before ``fit``."""


class ModelFormatError(EmotagError):
    """A model folder is missing files, or was written by an incompatible emotag version."""


class MissingDependencyError(EmotagError, ImportError):
    """An optional package is needed; the message names the pip command."""


class ResumeError(EmotagError):
    """A batch-scoring run would overwrite an unfinished one, or cannot be resumed as asked
    (its input, options or model changed, or its progress file is missing)."""


class ChecksumError(EmotagError):
    """A bundled file or pretrained weight does not match its pinned sha256."""


class TaxonomyError(EmotagError, ValueError):
    """A grouping (``ekman``, ``sentiment``) was asked of a model whose labels it does not
    cover; the message names the taxonomy, the model's labels and what is available."""
