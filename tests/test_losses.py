"""The loss settings of the Trainer: BCE, class-weighted BCE, focal, asymmetric."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from emotag.config import TrainConfig
from emotag.errors import ConfigError
from emotag.labels import GOEMOTIONS_LABELS, taxonomy_columns
from emotag.losses import (
    asymmetric_loss,
    build_loss,
    focal_loss,
    group_noisy_or_loss,
    membership_matrices,
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
    with pytest.raises(ValueError, match="pos_weight"):
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


def _brute_force_group_bce(logits: torch.Tensor, targets: torch.Tensor,
                           groupings: list[list[list[int]]]) -> torch.Tensor:
    p = torch.sigmoid(logits.double())
    total = torch.zeros((), dtype=torch.float64)
    for groups in groupings:
        p_g = torch.stack([1 - torch.prod(1 - p[:, cols], dim=1) for cols in groups], dim=1)
        y_g = torch.stack([targets[:, cols].max(dim=1).values for cols in groups], dim=1)
        total = total + F.binary_cross_entropy(p_g, y_g.double())
    return total


def test_group_term_is_the_bce_of_each_groups_noisy_or() -> None:
    groupings = [[[0, 1], [2], [3, 4]], [[0, 2, 4], [1, 3]]]
    got = group_noisy_or_loss(LOGITS, TARGETS, membership_matrices(groupings, 5))
    assert torch.isclose(got.double(), _brute_force_group_bce(LOGITS, TARGETS, groupings),
                         atol=1e-5)


def test_group_term_stays_finite_for_saturated_logits() -> None:
    logits = torch.tensor([[-40.0, -40.0, 40.0], [40.0, -40.0, -40.0]], requires_grad=True)
    targets = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    loss = group_noisy_or_loss(logits, targets, membership_matrices([[[0, 1], [2]]], 3))
    loss.backward()
    assert torch.isfinite(loss) and loss < 1e-3  # confident and right: almost no loss
    assert torch.isfinite(logits.grad).all()


def test_goemotions_loss_adds_the_ekman_and_sentiment_terms() -> None:
    names = list(GOEMOTIONS_LABELS)
    logits = torch.randn(6, len(names))
    targets = (torch.rand(6, len(names)) < 0.1).float()
    plain = build_loss(TrainConfig(loss="bce"), label_names=names)(logits, targets)
    grouped = build_loss(TrainConfig(loss="bce", group_loss_weight=0.5),
                         label_names=names)(logits, targets)
    expected = 0.5 * _brute_force_group_bce(logits, targets, taxonomy_columns(names))
    assert torch.isclose((grouped - plain).double(), expected, atol=1e-5)


def test_group_term_refuses_labels_without_groupings() -> None:
    with pytest.raises(ConfigError, match="group_loss_weight"):
        build_loss(TrainConfig(group_loss_weight=1.0), label_names=["spam", "ham"])
    with pytest.raises(ConfigError, match="group_loss_weight"):
        TrainConfig(group_loss_weight=-1.0)
