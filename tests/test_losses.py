"""The loss settings of the Trainer: BCE, class-weighted BCE, focal, asymmetric."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from emotag.config import TrainConfig
from emotag.errors import ConfigError
from emotag.training.losses import (
    asymmetric_loss,
    build_loss,
    focal_loss,
    pos_weight_from_labels,
    rdrop_divergence,
)

torch.manual_seed(0)
LOGITS = torch.randn(8, 5)
TARGETS = (torch.rand(8, 5) < 0.3).float()


def test_focal_with_gamma_zero_is_bce() -> None:
    bce = F.binary_cross_entropy_with_logits(LOGITS, TARGETS)
    assert torch.isclose(focal_loss(LOGITS, TARGETS, gamma=0.0), bce)
    assert focal_loss(LOGITS, TARGETS, gamma=2.0) < bce  # easy examples are down-weighted


def test_asymmetric_without_focusing_or_clipping_is_bce() -> None:
    bce = F.binary_cross_entropy_with_logits(LOGITS, TARGETS)
    assert torch.isclose(asymmetric_loss(LOGITS, TARGETS, gamma_neg=0.0, clip=0.0), bce,
                         atol=1e-6)


def test_pos_weight_favours_rare_labels() -> None:
    labels = np.zeros((100, 3), dtype=np.uint8)
    labels[:50, 0] = 1   # frequent
    labels[:4, 1] = 1    # rare
    labels[:1, 2] = 1    # very rare: capped
    w = pos_weight_from_labels(labels, power=0.5, max_weight=5.0)
    assert w[0] == pytest.approx(1.0)
    assert w[1] == pytest.approx((96 / 4) ** 0.5)
    assert w[2] == pytest.approx(5.0)


@pytest.mark.parametrize("loss", ["bce", "weighted_bce", "focal", "asymmetric"])
def test_every_loss_setting_builds_and_backpropagates(loss: str) -> None:
    fn = build_loss(TrainConfig(loss=loss), train_labels=TARGETS.numpy().astype(np.uint8))
    logits = LOGITS.clone().requires_grad_(True)
    value = fn(logits, TARGETS)
    value.backward()
    assert value.ndim == 0 and torch.isfinite(value) and logits.grad is not None


def test_label_smoothing_moves_targets_towards_one_half() -> None:
    plain = build_loss(TrainConfig(loss="bce"))(LOGITS, TARGETS)
    smoothed = build_loss(TrainConfig(loss="bce", label_smoothing=0.2))(LOGITS, TARGETS)
    expected = F.binary_cross_entropy_with_logits(LOGITS, TARGETS * 0.8 + 0.1)
    assert torch.isclose(smoothed, expected) and not torch.isclose(smoothed, plain)


def test_weighted_bce_needs_the_training_labels() -> None:
    with pytest.raises(ConfigError, match="weighted_bce needs the training labels"):
        build_loss(TrainConfig(loss="weighted_bce"))


def test_rdrop_divergence_is_the_symmetric_bernoulli_kl() -> None:
    other = LOGITS + torch.randn(8, 5)
    p, q = torch.sigmoid(LOGITS), torch.sigmoid(other)

    def kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * torch.log(a / b) + (1 - a) * torch.log((1 - a) / (1 - b))

    expected = (0.5 * (kl(p, q) + kl(q, p))).mean()
    assert torch.isclose(rdrop_divergence(LOGITS, other), expected, atol=1e-6)
    assert torch.isclose(rdrop_divergence(other, LOGITS), expected, atol=1e-6)
    assert rdrop_divergence(LOGITS, LOGITS) == 0
    saturated = torch.tensor([[60.0, -60.0]])
    assert torch.isfinite(rdrop_divergence(saturated, -saturated))  # no log(0)


def test_rdrop_alpha_must_not_be_negative() -> None:
    from emotag.errors import ConfigError

    with pytest.raises(ConfigError, match="rdrop_alpha"):
        TrainConfig(rdrop_alpha=-1.0)
