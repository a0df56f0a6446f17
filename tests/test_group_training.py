"""Group-aware training: the groups, the noisy-OR term, auxiliary outputs, cutting the head."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig

from emotag.config import TrainConfig
from emotag.errors import ConfigError
from emotag.labels import GOEMOTIONS_LABELS
from emotag.models.modeling_emotag import BertMeanPoolForSequenceClassification
from emotag.training.group_training import (
    auxiliary_output_names,
    drop_auxiliary_outputs,
    group_noisy_or_loss,
    membership_matrices,
    noisy_or_targets,
    training_groupings,
    with_group_losses,
    with_group_targets,
)

NAMES = list(GOEMOTIONS_LABELS)
GROUPINGS = training_groupings(NAMES, "test")
torch.manual_seed(0)
LOGITS = torch.randn(6, 28)
TARGETS = (torch.rand(6, 28) < 0.1).float()


def brute_force_group_bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BCE of each group's 1 - prod(1 - p) against "any member is gold", per grouping."""
    p = torch.sigmoid(logits.double())
    total = torch.zeros((), dtype=torch.float64)
    for groups in GROUPINGS:
        p_g = torch.stack([1 - torch.prod(1 - p[:, cols], dim=1) for _, cols in groups], dim=1)
        y_g = torch.stack([targets[:, cols].max(dim=1).values for _, cols in groups], dim=1)
        total = total + F.binary_cross_entropy(p_g, y_g.double())
    return total


def test_groups_are_the_seven_ekman_and_four_sentiment_groups() -> None:
    names = auxiliary_output_names(GROUPINGS)
    assert [len(groups) for groups in GROUPINGS] == [7, 4]
    assert len(names) == 11 and "ekman:joy" in names and "sentiment:ambiguous" in names
    assert auxiliary_output_names([]) == []  # the noisy-OR term alone adds no outputs
    assert dict(GROUPINGS[0])["neutral"] == [NAMES.index("neutral")]
    with pytest.raises(ConfigError, match="train.aux_group_weight"):
        training_groupings(["spam", "ham"], "train.aux_group_weight")


def test_group_targets_are_any_member_and_noisy_or_for_soft_targets() -> None:
    groupings = [[("a", [0, 1]), ("b", [2])]]
    hard = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(noisy_or_targets(hard, groupings), [[1, 0], [0, 1], [0, 0]])
    soft = np.array([[0.5, 0.5, 0.2]], dtype=np.float32)
    np.testing.assert_allclose(with_group_targets(soft, groupings),
                               [[0.5, 0.5, 0.2, 0.75, 0.2]])


def test_noisy_or_term_is_the_bce_of_each_groups_noisy_or() -> None:
    got = group_noisy_or_loss(LOGITS, TARGETS, membership_matrices(GROUPINGS, 28))
    assert torch.isclose(got.double(), brute_force_group_bce(LOGITS, TARGETS), atol=1e-5)


def test_noisy_or_term_stays_finite_for_saturated_logits() -> None:
    logits = torch.tensor([[-40.0, -40.0, 40.0], [40.0, -40.0, -40.0]], requires_grad=True)
    targets = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    groupings = [[("a", [0, 1]), ("b", [2])]]
    loss = group_noisy_or_loss(logits, targets, membership_matrices(groupings, 3))
    loss.backward()
    assert torch.isfinite(loss) and loss < 1e-3  # confident and right: almost no loss
    assert torch.isfinite(logits.grad).all()


def test_group_losses_add_the_terms_the_config_asks_for() -> None:
    base = F.binary_cross_entropy_with_logits
    same, aux = with_group_losses(base, TrainConfig(), NAMES)
    assert same is base and aux == []

    noisy_or, aux = with_group_losses(base, TrainConfig(group_loss_weight=0.5), NAMES)
    assert aux == []
    assert torch.isclose((noisy_or(LOGITS, TARGETS) - base(LOGITS, TARGETS)).double(),
                         0.5 * brute_force_group_bce(LOGITS, TARGETS), atol=1e-5)

    multi_task, aux = with_group_losses(base, TrainConfig(aux_group_weight=0.5), NAMES)
    assert aux == GROUPINGS
    logits = torch.randn(6, 28 + 11)
    targets = torch.from_numpy(with_group_targets(TARGETS.numpy(), aux))
    expected = (base(logits[:, :28], targets[:, :28])
                + 0.5 * base(logits[:, 28:35], targets[:, 28:35])
                + 0.5 * base(logits[:, 35:], targets[:, 35:]))
    assert torch.isclose(multi_task(logits, targets), expected)

    with pytest.raises(ConfigError, match="train.group_loss_weight"):
        with_group_losses(base, TrainConfig(group_loss_weight=1.0), ["spam", "ham"])
    with pytest.raises(ConfigError, match="group_loss_weight"):
        TrainConfig(group_loss_weight=-1.0)
    with pytest.raises(ConfigError, match="aux_group_weight"):
        TrainConfig(aux_group_weight=-1.0)


def test_cutting_the_head_keeps_the_label_outputs() -> None:
    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, num_labels=5,
                        problem_type="multi_label_classification")
    model = BertMeanPoolForSequenceClassification(config).eval()
    ids = torch.tensor([[1, 5, 7, 2]])
    before = model(input_ids=ids).logits
    drop_auxiliary_outputs(model, ["a", "b", "c"])
    after = model(input_ids=ids).logits
    assert after.shape == (1, 3)
    torch.testing.assert_close(after, before[:, :3])
    assert model.config.num_labels == 3 and model.config.id2label == {0: "a", 1: "b", 2: "c"}
