"""Mean-pooled sequence classifiers for Hugging Face encoders.

Sentence-transformers encoders (all-MiniLM-L6-v2, all-mpnet-base-v2) were trained to be read
through the mean of their token states; their [CLS] state is untrained and a classifier on
it learns far more slowly (measured in docs/results.md). These subclasses keep the stock
architecture, weights and head, and only replace [CLS] pooling with masked mean pooling.

This file is self-contained (torch + transformers only): ``save_pretrained`` copies it into
the model folder and records it in ``auto_map``, so plain transformers can load the model
with ``trust_remote_code=True``, e.g. ``pipeline("text-classification", model=path,
trust_remote_code=True, top_k=None)``. emotag itself imports the classes directly.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import BertForSequenceClassification, MPNetForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of the token states that are not padding."""
    if attention_mask is None:
        return hidden.mean(dim=1)
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def _loss(config, logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:  # noqa: ANN001
    if labels is None:
        return None
    if config.problem_type == "multi_label_classification":
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    return nn.functional.cross_entropy(logits.view(-1, config.num_labels), labels.view(-1))


class BertMeanPoolForSequenceClassification(BertForSequenceClassification):
    """BERT-family encoder (MiniLM included), masked mean pooling, dropout, linear head."""

    def forward(self, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                **kwargs: object) -> SequenceClassifierOutput:
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                        token_type_ids=token_type_ids)
        pooled = masked_mean(out.last_hidden_state, attention_mask)
        logits = self.classifier(self.dropout(pooled))
        return SequenceClassifierOutput(loss=_loss(self.config, logits, labels), logits=logits)


class MPNetMeanPoolForSequenceClassification(MPNetForSequenceClassification):
    """MPNet encoder, masked mean pooling, then the stock MPNet head (dense, tanh, linear)."""

    def forward(self, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                **kwargs: object) -> SequenceClassifierOutput:
        out = self.mpnet(input_ids=input_ids, attention_mask=attention_mask)
        pooled = masked_mean(out.last_hidden_state, attention_mask)
        logits = self.classifier(pooled.unsqueeze(1))  # the head reads position 0
        return SequenceClassifierOutput(loss=_loss(self.config, logits, labels), logits=logits)


MEAN_POOL_CLASSES = {"bert": BertMeanPoolForSequenceClassification,
                     "mpnet": MPNetMeanPoolForSequenceClassification}
for _cls in MEAN_POOL_CLASSES.values():
    _cls.register_for_auto_class("AutoModelForSequenceClassification")
