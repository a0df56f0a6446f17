"""From a score matrix to the API's per-text answers (labels, all scores, explanations).

The service scores texts in micro-batches, away from the request that sent them, so it
cannot call :meth:`Predictor.predict` (which scores and decides in one go); it applies the
same decision rule to the rows it gets back: taxonomy mapping, threshold, sort, top-k.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..inference.explain import label_explanation, occlusion, split_words, taxonomy_scorer
from ..inference.groups import member_columns, output_names
from ..inference.predictor import Predictor, ranked_columns


def taxonomies(predictor: Predictor) -> dict[str, dict[str, list[str]]]:
    """Per grouping the model's labels allow (:attr:`Predictor.taxonomies`; none for a model
    with its own label names), group name -> its member labels, for the groups it reports."""
    out = {}
    for taxonomy in predictor.taxonomies:
        if taxonomy != "goemotions":
            names, columns = member_columns(predictor.labels, taxonomy)
            out[taxonomy] = {name: [predictor.labels[j] for j in cols]
                             for name, cols in zip(names, columns, strict=True)}
    return out


def group_thresholds(predictor: Predictor) -> dict[str, dict[str, float]]:
    """Per grouping the model's labels allow, group name -> the threshold its score is cut at."""
    empty = np.zeros((0, len(predictor.labels)), dtype=np.float32)
    out = {}
    for taxonomy in predictor.taxonomies:
        if taxonomy != "goemotions":
            _, names, cuts = predictor.decision_view(empty, taxonomy)
            out[taxonomy] = {n: float(c) for n, c in zip(names, cuts, strict=True)}
    return out


def tag(predictor: Predictor, probs: np.ndarray, *, taxonomy: str = "goemotions",
        threshold: float | None = None, top_k: int | None = None, all_scores: bool = False
        ) -> tuple[list[dict[str, Any]], list[list[int]], np.ndarray]:
    """API results without explanations, the predicted columns, and the taxonomy scores."""
    scores, names, cuts = predictor.decision_view(probs, taxonomy, threshold)
    chosen = ranked_columns(scores, cuts, top_k)
    results = []
    for row, keep in zip(scores, chosen, strict=True):
        results.append({
            "labels": [{"label": names[j], "score": float(row[j]), "threshold": float(cuts[j])}
                       for j in keep],
            "scores": ({name: float(s) for name, s in zip(names, row, strict=True)}
                       if all_scores else None),
            "explanations": None,
        })
    return results, chosen, scores


def explanations(predictor: Predictor, texts: Sequence[str], scores: np.ndarray,
                 chosen: Sequence[Sequence[int]], *, taxonomy: str, max_words: int
                 ) -> list[dict[str, list[dict[str, Any]]]]:
    """Per text, the words behind each predicted label (runs the model: call it off-loop)."""
    names = output_names(predictor.labels, taxonomy)
    wanted = [i for i, keep in enumerate(chosen) if keep]  # texts with no label cost nothing
    per_text = occlusion(taxonomy_scorer(predictor, taxonomy), [texts[i] for i in wanted],
                         full_scores=scores[wanted], max_words=max_words)
    out: list[dict[str, list[dict[str, Any]]]] = [{} for _ in texts]
    for i, (words, weights) in zip(wanted, per_text, strict=True):
        out[i] = {names[j]: label_explanation(words, weights, j) for j in chosen[i]}
    return out


def explain_groups(texts: Sequence[str], chosen: Sequence[Sequence[int]], max_words: int,
                   budget: int = 64) -> list[list[int]]:
    """Indices of the texts to explain, grouped into model calls of about ``budget`` variants.

    One call per group, not one per request: the scoring thread is shared, so a request
    explaining 64 long texts must not hold it for seconds while other requests wait; between
    groups their scoring gets its turn. Texts with no predicted label need no call.
    """
    groups: list[list[int]] = []
    size = 0
    for i, (text, keep) in enumerate(zip(texts, chosen, strict=True)):
        if not keep:
            continue
        n = min(len(split_words(text)), max_words)
        if not groups or size + n > budget:
            groups.append([])
            size = 0
        groups[-1].append(i)
        size += n
    return groups
