"""The columns a batch-scoring run adds to each input row (one schema for every engine).

Why one module: the single-process ``emotag predict --input/--output`` path and the Ray path
must write the same rows, so both build their output columns here. Schema, after the input's
own columns (kept as they are):

- ``pred_labels``: the predicted labels of the row, highest score first, joined by ``,``
  (empty string when none reaches its threshold);
- ``score_<label>``: one float32 column per label (or per group with a taxonomy), in the
  predictor's label order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PRED_COLUMN = "pred_labels"
SCORE_PREFIX = "score_"


def output_column_names(label_names: Sequence[str]) -> list[str]:
    """The added column names, in order."""
    return [PRED_COLUMN] + [f"{SCORE_PREFIX}{n}" for n in label_names]


def score_columns(predictor: Any, texts: Sequence[str], *, threshold: float | None = None,
                  top_k: int | None = None, taxonomy: str = "goemotions"
                  ) -> dict[str, Any]:
    """Score ``texts`` and return ``{column: values}`` in :func:`output_column_names` order.

    ``pred_labels`` is a list of str; each score column a float32 numpy array.
    """
    probs = predictor.predict_proba(list(texts)) if len(texts) else np.zeros(
        (0, len(predictor.labels)))
    from .predictor import ranked_columns

    probs, names, cut = predictor.decision_view(probs, taxonomy, threshold)
    probs = np.asarray(probs, dtype=np.float32)
    preds = [",".join(names[j] for j in keep) for keep in ranked_columns(probs, cut, top_k)]
    cols: dict[str, Any] = {PRED_COLUMN: preds}
    for j, n in enumerate(names):
        cols[f"{SCORE_PREFIX}{n}"] = probs[:, j].copy()
    return cols


def check_no_clash(input_columns: Sequence[str], label_names: Sequence[str], *,
                   path: str = "") -> None:
    """Refuse inputs whose columns would be overwritten by the added ones."""
    from ..errors import DataError

    clash = sorted(set(input_columns) & set(output_column_names(label_names)))
    if clash:
        raise DataError(f"input already has column(s) {clash} that emotag's output adds; "
                        "rename them first", path=path or None)
