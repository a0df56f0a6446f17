"""Auxiliary group outputs: multi-task training on the Ekman and sentiment groups.

Why: the Ekman and sentiment metrics count a group as predicted when any member emotion is.
Supervising the groups on extra outputs of the same head shapes the shared encoder with the
coarse labels without pressing on the 28 label outputs. (The noisy-OR term of
``train.group_loss_weight`` pressed on them directly, and starved the rare members.) The extra
outputs are cut from the head once training ends, so what is saved and served is a plain
28-label classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import ConfigError
from .labels import group_columns, has_taxonomies, taxonomy_groups
from .losses import LossFn

GROUPINGS = ("ekman", "sentiment")


def auxiliary_groups(label_names: Sequence[str]) -> list[tuple[str, list[int]]]:
    """``("ekman:joy", member columns)`` for every non-empty Ekman and sentiment group.

    Raises :class:`ConfigError` for labels without the groupings (not GoEmotions').
    """
    if not has_taxonomies(label_names):
        raise ConfigError("train.aux_group_weight needs the GoEmotions labels (the Ekman and "
                          "sentiment groupings); these labels have none. Set it to 0.")
    out = []
    for taxonomy in GROUPINGS:
        names = taxonomy_groups(taxonomy)
        for name, cols in zip(names, group_columns(label_names, taxonomy), strict=True):
            if cols:
                out.append((f"{taxonomy}:{name}", cols))
    return out


def with_group_targets(labels: np.ndarray, groups: Sequence[tuple[str, list[int]]]) -> np.ndarray:
    """Labels followed by one column per group: 1 - prod(1 - y) over its members, which is
    "any member is gold" for 0/1 labels and stays a probability for soft (distilled) ones."""
    y = np.asarray(labels, dtype=np.float32)
    extra = [1.0 - np.prod(1.0 - y[:, cols], axis=1) for _, cols in groups]
    return np.concatenate([y, np.stack(extra, axis=1).astype(np.float32)], axis=1)


def with_auxiliary_loss(base: LossFn, n_labels: int, groups: Sequence[tuple[str, list[int]]],
                        weight: float) -> LossFn:
    """``base`` on the first ``n_labels`` columns, plus ``weight`` x the BCE of each
    grouping's columns (a mean within a grouping, summed over groupings: with weight 1 the
    loss is label BCE + Ekman BCE + sentiment BCE, the three parts the group-aware
    thresholds are tuned for)."""
    spans: list[tuple[int, int]] = []
    start = n_labels
    for taxonomy in GROUPINGS:
        size = sum(name.startswith(f"{taxonomy}:") for name, _ in groups)
        spans.append((start, start + size))
        start += size

    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        total = base(logits[:, :n_labels], targets[:, :n_labels])
        for a, b in spans:
            total = total + weight * F.binary_cross_entropy_with_logits(
                logits[:, a:b], targets[:, a:b])
        return total

    return loss


def drop_auxiliary_outputs(model: nn.Module, label_names: Sequence[str]) -> None:
    """Cut the head's output layer down to the first ``len(label_names)`` outputs, in place,
    and make the config say so, so the saved model is a plain label classifier."""
    n_total = model.config.num_labels
    n_keep = len(label_names)
    head = [m for m in model.modules() if isinstance(m, nn.Linear) and m.out_features == n_total]
    if not head:
        raise RuntimeError(f"no output layer with {n_total} outputs to cut to {n_keep}")
    layer = head[-1]
    cut = nn.Linear(layer.in_features, n_keep, bias=layer.bias is not None)
    with torch.no_grad():
        cut.weight.copy_(layer.weight[:n_keep])
        if layer.bias is not None:
            cut.bias.copy_(layer.bias[:n_keep])
    for parent in model.modules():
        for name, child in parent.named_children():
            if child is layer:
                setattr(parent, name, cut)
    model.config.num_labels = n_keep
    model.config.id2label = dict(enumerate(label_names))
    model.config.label2id = {n: i for i, n in enumerate(label_names)}
