"""Two ways of letting the Ekman and sentiment groups shape training (docs/results.md, "Models").

Why: the Ekman and sentiment metrics count a group as predicted when any member emotion is.

- ``train.group_loss_weight``: a noisy-OR term on the 28 label outputs. Each group's score is
  ``1 - prod(1 - p_i)`` over its members, scored by BCE against whether any member is gold.
  It presses on the label outputs directly and starved the rare members (docs/results.md).
- ``train.aux_group_weight``: multi-task training with one extra output per group, trained
  with BCE alongside the labels. The groups shape the shared encoder without pressing on the
  label outputs, and the extra outputs are cut from the head once training ends, so what is
  saved and served is a plain 28-label classifier.

Both keep one term per grouping (a mean within it), so weight 1 gives label loss + Ekman BCE
+ sentiment BCE, the three parts the group-aware thresholds are tuned for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import TrainConfig
from ..errors import ConfigError
from ..labels import GROUPINGS, named_taxonomy_columns
from .losses import LossFn

Group = tuple[str, list[int]]  # (group name, member columns)
Groupings = list[list[Group]]  # Ekman's groups, then sentiment's


def training_groupings(label_names: Sequence[str], setting: str) -> Groupings:
    """The Ekman and sentiment groupings (:func:`emotag.labels.named_taxonomy_columns`).
    Raises :class:`ConfigError` naming ``setting`` for labels without them."""
    groupings = named_taxonomy_columns(label_names)
    if not groupings:
        raise ConfigError(f"{setting} needs the GoEmotions labels (the Ekman and sentiment "
                          "groupings); these labels have none. Set it to 0.")
    return groupings


def auxiliary_output_names(groupings: Groupings) -> list[str]:
    """One name per auxiliary output, ``"ekman:joy"``, in output order (none for no
    groupings)."""
    return [f"{taxonomy}:{name}" for taxonomy, groups in zip(GROUPINGS, groupings, strict=False)
            for name, _ in groups]


def noisy_or_targets(labels: np.ndarray | torch.Tensor, groupings: Groupings) -> np.ndarray:
    """One column per group, in output order: ``1 - prod(1 - y)`` over its members, which is
    "any member is gold" for 0/1 labels and stays a probability for soft (distilled) ones."""
    y = np.asarray(labels, dtype=np.float32)
    return np.stack([1.0 - np.prod(1.0 - y[:, cols], axis=1)
                     for groups in groupings for _, cols in groups], axis=1).astype(np.float32)


# ---------------------------------------------------------------- the noisy-OR term
def membership_matrices(groupings: Groupings, n_labels: int) -> list[torch.Tensor]:
    """One (n_labels, n_groups) 0/1 matrix per grouping: column g marks group g's members."""
    out = []
    for groups in groupings:
        m = torch.zeros(n_labels, len(groups))
        for g, (_, cols) in enumerate(groups):
            m[cols, g] = 1.0
        out.append(m)
    return out


def group_noisy_or_loss(logits: torch.Tensor, targets: torch.Tensor,
                        memberships: Sequence[torch.Tensor]) -> torch.Tensor:
    """BCE of each group's noisy-OR probability, summed over groupings (mean within one).

    In log space ``-log(1 - p_group) = sum softplus(z_i)`` and ``log(1 - y_group) =
    sum log(1 - y_i)``, so the term stays finite for saturated logits and costs one matrix
    product per grouping.
    """
    s_label = F.softplus(logits)
    log_off = torch.log1p(-targets.clamp(max=1.0 - 1e-6))
    total = logits.new_zeros(())
    for m in memberships:
        m = m.to(logits.device, logits.dtype)
        s = (s_label @ m).clamp(min=1e-6)  # -log(1 - p_group)
        y = -torch.expm1(log_off @ m)  # 1 - prod(1 - y_i)
        log_p = torch.log(-torch.expm1(-s))  # log p_group
        total = total + (-(y * log_p) + (1.0 - y) * s).mean()
    return total


# ---------------------------------------------------------------- auxiliary outputs
def with_group_targets(labels: np.ndarray, groupings: Groupings) -> np.ndarray:
    """Labels followed by :func:`noisy_or_targets`: the targets of the auxiliary outputs."""
    return np.concatenate([np.asarray(labels, dtype=np.float32),
                           noisy_or_targets(labels, groupings)], axis=1)


def auxiliary_bce(logits: torch.Tensor, targets: torch.Tensor, n_labels: int,
                  groupings: Groupings) -> torch.Tensor:
    """BCE of the auxiliary outputs (the columns after ``n_labels``), a mean per grouping,
    summed over groupings."""
    total, start = logits.new_zeros(()), n_labels
    for groups in groupings:
        end = start + len(groups)
        total = total + F.binary_cross_entropy_with_logits(logits[:, start:end],
                                                           targets[:, start:end])
        start = end
    return total


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


# ---------------------------------------------------------------- composition
def with_group_losses(base: LossFn, cfg: TrainConfig,
                      label_names: Sequence[str]) -> tuple[LossFn, Groupings]:
    """``base`` (on the labels) plus the group terms ``cfg`` asks for, and the auxiliary
    groupings (empty when ``aux_group_weight`` is 0): the model needs one extra output
    (:func:`auxiliary_output_names`) and the targets one extra column
    (:func:`with_group_targets`) per auxiliary group."""
    n = len(label_names)
    memberships = (membership_matrices(
        training_groupings(label_names, "train.group_loss_weight"), n)
        if cfg.group_loss_weight > 0 else [])
    aux = (training_groupings(label_names, "train.aux_group_weight")
           if cfg.aux_group_weight > 0 else [])
    if not memberships and not aux:
        return base, []

    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        labels_x, labels_y = logits[:, :n], targets[:, :n]
        total = base(labels_x, labels_y)
        if memberships:
            total = total + cfg.group_loss_weight * group_noisy_or_loss(labels_x, labels_y,
                                                                        memberships)
        if aux:
            total = total + cfg.aux_group_weight * auxiliary_bce(logits, targets, n, aux)
        return total

    return loss, aux
