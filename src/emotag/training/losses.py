"""Multi-label losses on logits: BCE (optionally class-weighted), focal, asymmetric.

The loss is a setting, not a subclass: :func:`build_loss` turns the training config into a
callable ``loss(logits, targets) -> scalar`` used by
:class:`~emotag.training.trainer.EmotagTrainer`.
All of them average over every (example, label) cell so learning rates transfer between them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..config import TrainConfig
from ..errors import ConfigError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def smooth(targets: torch.Tensor, eps: float) -> torch.Tensor:
    """Label smoothing for independent binary targets: y*(1-eps) + eps/2."""
    return targets * (1.0 - eps) + 0.5 * eps if eps > 0 else targets


def pos_weight_from_labels(labels: np.ndarray, power: float = 0.5,
                           max_weight: float = 30.0) -> torch.Tensor:
    """Per-label ``(negatives / positives) ** power``: rare labels weigh more, capped."""
    pos = np.clip(labels.sum(axis=0).astype(np.float64), 1, None)
    neg = len(labels) - pos
    return torch.tensor(np.clip((neg / pos) ** power, 1.0, max_weight), dtype=torch.float32)


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Lin et al. 2017: BCE scaled by (1 - p_t) ** gamma, so easy negatives fade out."""
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    return ((1 - p_t) ** gamma * bce).mean()


def asymmetric_loss(logits: torch.Tensor, targets: torch.Tensor, gamma_neg: float = 4.0,
                    gamma_pos: float = 0.0, clip: float = 0.05, eps: float = 1e-8) -> torch.Tensor:
    """Ridnik et al. 2021 (ASL): focusing and probability shifting on negatives only."""
    p = torch.sigmoid(logits)
    p_neg = (p - clip).clamp(min=0) if clip > 0 else p
    loss_pos = targets * (1 - p) ** gamma_pos * torch.log(p.clamp(min=eps))
    loss_neg = (1 - targets) * p_neg**gamma_neg * torch.log((1 - p_neg).clamp(min=eps))
    return -(loss_pos + loss_neg).mean()


def rdrop_divergence(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """R-Drop's consistency term (Liang et al. 2021) for independent binary labels.

    The symmetric Bernoulli divergence ``(KL(p||q) + KL(q||p)) / 2`` of two dropout passes,
    averaged over every (example, label) cell like the losses. For Bernoulli distributions the
    sum of both KLs is exactly ``(p - q) * (logit p - logit q)``, which needs no logarithm of
    a probability and so stays finite for saturated logits.
    """
    return 0.5 * ((torch.sigmoid(logits_a) - torch.sigmoid(logits_b))
                  * (logits_a - logits_b)).mean()


def build_loss(cfg: TrainConfig, train_labels: np.ndarray | None = None) -> LossFn:
    """The loss named by ``cfg.loss`` (``weighted_bce`` needs the training labels)."""
    eps = cfg.label_smoothing
    if cfg.loss == "bce":
        return lambda x, y: F.binary_cross_entropy_with_logits(x, smooth(y, eps))
    if cfg.loss == "weighted_bce":
        if train_labels is None:
            raise ConfigError("train.loss=weighted_bce needs the training labels to compute "
                              "pos_weight")
        pw = pos_weight_from_labels(train_labels, cfg.pos_weight_power)
        return lambda x, y: F.binary_cross_entropy_with_logits(
            x, smooth(y, eps), pos_weight=pw.to(x.device))
    if cfg.loss == "focal":
        return lambda x, y: focal_loss(x, smooth(y, eps), cfg.focal_gamma)
    return lambda x, y: asymmetric_loss(x, smooth(y, eps), cfg.asl_gamma_neg, 0.0, cfg.asl_clip)
