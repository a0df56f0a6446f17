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
    """Input data is malformed: names the file, where in it, and the problem.

    ``row`` is the 1-based data row (the header is not a row); ``line`` is the line a person
    sees in an editor, the header being line 1. The message shows the line when it is known
    (text formats) and the row otherwise (Parquet, in-memory lists).
    """

    def __init__(self, problem: str, *, path: str | None = None, row: int | None = None,
                 line: int | None = None) -> None:
        self.problem = problem
        self.path = path
        self.row = row
        self.line = line
        place = f"line {line}" if line is not None else f"row {row}" if row is not None else ""
        where = ", ".join(p for p in (path, place) if p)
        super().__init__(f"{where}: {problem}" if where else problem)


class DataWarning(UserWarning):
    """Input data is usable but probably not what was meant (e.g. a label of the label set
    has no training example)."""


class NotFittedError(EmotagError, ValueError, AttributeError):
    """An estimator was used before ``fit``."""


class NotTrainableError(EmotagError, NotImplementedError):
    """The model type cannot be trained; it is produced some other way (ONNX: exported)."""


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
