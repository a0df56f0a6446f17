"""The shipped model scores a text the same alone or in any batch.

Regression: the model shipped with emotag 0.1 was dynamic int8, whose activation scales span
the whole batch; 19 of 300 GoEmotions test texts changed labels between scored alone and in
one call. The exported-model side (a tiny transformer) is in tests/test_export.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import emotag
from emotag.data.datasets import load_goemotions

TOLERANCE = 1e-4
N_TEXTS = 100


@pytest.fixture(scope="module")
def shipped() -> emotag.inference.predictor.Predictor:
    return emotag.load(num_threads=1)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    test = load_goemotions()["test"].texts
    # the first texts, plus the longest ones (cut at max_length), which pad the others most
    longest = sorted(range(len(test)), key=lambda i: -len(test[i]))[:8]
    return test[:N_TEXTS - 8] + [test[i] for i in longest]


def test_shipped_graph_has_no_dynamic_quantization(shipped: object) -> None:
    import onnx

    ops = {n.op_type for n in onnx.load(str(shipped.model.onnx_file)).graph.node}
    assert "DynamicQuantizeLinear" not in ops and "QuantizeLinear" in ops


@pytest.mark.parametrize("batch_size", [2, 7, 64])
def test_shipped_model_alone_equals_batched(shipped: object, texts: list[str],
                                            batch_size: int) -> None:
    alone = np.vstack([shipped.predict_proba([t]) for t in texts])  # each alone, unpadded
    batched = np.vstack([shipped.predict_proba(texts[i:i + batch_size])
                         for i in range(0, len(texts), batch_size)])
    assert np.abs(alone - batched).max() <= TOLERANCE
    cut = shipped.thresholds[None, :]
    assert ((alone >= cut) == (batched >= cut)).all()


def test_shipped_predict_same_labels_in_any_company(shipped: object) -> None:
    """The example from the report: an emoji-only text next to another text."""
    alone = shipped.predict("😭😭😭")
    together = shipped.predict(["😭😭😭", "I am sad", "thanks a lot, this is great!"])[0]
    assert [x["label"] for x in alone] == [x["label"] for x in together]
    np.testing.assert_allclose([x["score"] for x in alone], [x["score"] for x in together],
                               atol=TOLERANCE)
