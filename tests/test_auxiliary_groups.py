"""Auxiliary group outputs: group names and targets, the multi-task loss, cutting the head."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig

from emotag.auxiliary_groups import (
    auxiliary_groups,
    drop_auxiliary_outputs,
    with_auxiliary_loss,
    with_group_targets,
)
from emotag.errors import ConfigError
from emotag.labels import GOEMOTIONS_LABELS
from emotag.models.modeling_emotag import BertMeanPoolForSequenceClassification

NAMES = list(GOEMOTIONS_LABELS)


def test_groups_are_the_seven_ekman_and_four_sentiment_groups() -> None:
    groups = auxiliary_groups(NAMES)
    names = [name for name, _ in groups]
    assert len(names) == 11
    assert sum(n.startswith("ekman:") for n in names) == 7
    assert "ekman:joy" in names and "sentiment:ambiguous" in names
    assert dict(groups)["ekman:neutral"] == [NAMES.index("neutral")]
    with pytest.raises(ConfigError, match="aux_group_weight"):
        auxiliary_groups(["spam", "ham"])


def test_group_targets_are_any_member_and_noisy_or_for_soft_targets() -> None:
    groups = [("g:a", [0, 1]), ("g:b", [2])]
    hard = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(with_group_targets(hard, groups)[:, 3:],
                                  [[1, 0], [0, 1], [0, 0]])
    soft = np.array([[0.5, 0.5, 0.2]], dtype=np.float32)
    np.testing.assert_allclose(with_group_targets(soft, groups), [[0.5, 0.5, 0.2, 0.75, 0.2]])


def test_loss_is_label_loss_plus_weighted_bce_per_grouping() -> None:
    groups = auxiliary_groups(NAMES)
    torch.manual_seed(0)
    logits = torch.randn(5, 28 + 11)
    targets = torch.from_numpy(with_group_targets(
        (np.random.default_rng(0).random((5, 28)) < 0.2).astype(np.float32), groups))
    base = F.binary_cross_entropy_with_logits
    got = with_auxiliary_loss(base, 28, groups, 0.5)(logits, targets)
    expected = (base(logits[:, :28], targets[:, :28])
                + 0.5 * base(logits[:, 28:35], targets[:, 28:35])
                + 0.5 * base(logits[:, 35:], targets[:, 35:]))
    assert torch.isclose(got, expected)


def test_cutting_the_head_keeps_the_label_outputs() -> None:
    names = ["a", "b", "c"]
    config = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, num_labels=5,
                        problem_type="multi_label_classification")
    model = BertMeanPoolForSequenceClassification(config).eval()
    ids = torch.tensor([[1, 5, 7, 2]])
    before = model(input_ids=ids).logits
    drop_auxiliary_outputs(model, names)
    after = model(input_ids=ids).logits
    assert after.shape == (1, 3)
    torch.testing.assert_close(after, before[:, :3])
    assert model.config.num_labels == 3 and model.config.id2label == {0: "a", 1: "b", 2: "c"}
