"""The HTTP service: API contract, limits, metrics, micro-batching, CLI, and fuzzing.

Contract tests run the shipped ONNX model (``models/default``, one thread) through FastAPI's
TestClient, so they check what a client really gets back; error paths and the batcher's
scheduling use a fake model whose scores are known.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from emotag.inference.predictor import DEFAULT_MODEL_DIR, Predictor
from emotag.labels import GOEMOTIONS_LABELS, taxonomy_groups
from emotag.serve import ServeSettings, create_app
from emotag.serve.app import WEB_DIR
from emotag.serve.batching import MicroBatcher, ServiceClosedError
from emotag.serve.tagging import explain_groups
from service_fuzz import arbitrary_requests, examples_from_env, fuzz, shaped_requests

TEXTS = ["thank you so much!", "why would they do that??", "I am so scared of the dark",
         "this is the best day ever, I love it", "ugh, I hate waiting", "the table is there"]
LIMITS = ServeSettings(max_texts=4, max_chars=50, max_body_bytes=2000, explain_max_words=16)


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.load(DEFAULT_MODEL_DIR, num_threads=1)


@pytest.fixture(scope="module")
def client(predictor: Predictor) -> Iterator[TestClient]:
    with TestClient(create_app(predictor, ServeSettings(max_wait_ms=0))) as c:
        yield c


@pytest.fixture(scope="module")
def small(predictor: Predictor) -> Iterator[TestClient]:
    """An app with tiny limits, so every limit is easy to cross."""
    with TestClient(create_app(predictor, LIMITS), raise_server_exceptions=False) as c:
        yield c


class FakeModel:
    """Scores = a fixed function of the text's length, and optionally an error or a delay."""

    label_names = list(GOEMOTIONS_LABELS)

    def __init__(self, fail: bool = False, delay: float = 0.0) -> None:
        self.fail, self.delay, self.calls = fail, delay, []

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("model exploded")
        lengths = np.array([len(t) for t in texts], dtype=np.float32)[:, None]
        return ((lengths + np.arange(28)[None, :]) % 10 / 10).astype(np.float32)


def fake_predictor(**kwargs: Any) -> Predictor:
    return Predictor(FakeModel(**kwargs), np.full(28, 0.5), Path("fake-model"))


# ------------------------------------------------------------------ contract
@pytest.mark.parametrize("taxonomy", ["goemotions", "ekman", "sentiment"])
def test_predict_matches_the_library(client: TestClient, predictor: Predictor,
                                     taxonomy: str) -> None:
    r = client.post("/v1/predict", json={"texts": TEXTS, "taxonomy": taxonomy})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "default" and body["taxonomy"] == taxonomy
    expected = predictor.predict(TEXTS, taxonomy=taxonomy)
    assert len(body["results"]) == len(TEXTS)
    for result, want in zip(body["results"], expected, strict=True):
        assert [x["label"] for x in result["labels"]] == [x["label"] for x in want]
        np.testing.assert_allclose([x["score"] for x in result["labels"]],
                                   [x["score"] for x in want], atol=1e-5)
        assert result["scores"] is None and result["explanations"] is None
        for x in result["labels"]:
            assert x["score"] >= x["threshold"]


def test_thresholds_reported_are_the_models(client: TestClient, predictor: Predictor) -> None:
    result = client.post("/v1/predict", json={"texts": ["thank you so much!"]}).json()
    top = result["results"][0]["labels"][0]
    assert top["label"] == "gratitude"
    assert top["threshold"] == pytest.approx(
        float(predictor.thresholds[predictor.labels.index("gratitude")]))


def test_results_come_back_in_input_order(client: TestClient, predictor: Predictor) -> None:
    texts = TEXTS[::-1] + TEXTS[:2]
    results = client.post("/v1/predict", json={"texts": texts, "all_scores": True}
                          ).json()["results"]
    got = np.array([[r["scores"][n] for n in predictor.labels] for r in results])
    np.testing.assert_allclose(got, predictor.predict_proba(texts), atol=1e-6)


def test_threshold_top_k_and_all_scores(client: TestClient) -> None:
    body = {"texts": ["this is the best day ever, I love it"], "threshold": 0.01, "top_k": 2,
            "all_scores": True}
    result = client.post("/v1/predict", json=body).json()["results"][0]
    assert len(result["labels"]) == 2
    assert all(x["threshold"] == 0.01 for x in result["labels"])
    assert set(result["scores"]) == set(GOEMOTIONS_LABELS)
    best = sorted(result["scores"].items(), key=lambda kv: -kv[1])[:2]
    assert [x["label"] for x in result["labels"]] == [name for name, _ in best]
    strict = client.post("/v1/predict", json={"texts": ["why would they do that??"],
                                              "threshold": 1.0}).json()
    assert strict["results"][0]["labels"] == []


def test_explanations_name_words_of_the_text(client: TestClient) -> None:
    texts = ["thank you so much!", "the table is there"]
    results = client.post("/v1/predict", json={"texts": texts, "explain": True}).json()["results"]
    for text, result in zip(texts, results, strict=True):
        assert set(result["explanations"]) == {x["label"] for x in result["labels"]}
        for words in result["explanations"].values():
            for w in words:
                assert text[w["start"]:w["end"]] == w["token"]
            assert [abs(w["weight"]) for w in words] == sorted(
                (abs(w["weight"]) for w in words), reverse=True)
    gratitude = results[0]["explanations"]["gratitude"]
    assert gratitude[0]["token"] == "thank" and gratitude[0]["weight"] > 0.3


def test_explain_without_predicted_labels_or_words(client: TestClient) -> None:
    body = {"texts": ["why would they do that??"], "threshold": 1.0, "explain": True}
    result = client.post("/v1/predict", json=body).json()["results"][0]
    assert result["labels"] == [] and result["explanations"] == {}
    r = client.post("/v1/predict", json={"texts": ["", " "], "explain": True})  # fuzz finding
    assert r.status_code == 200
    for result in r.json()["results"]:
        assert set(result["explanations"]) == {x["label"] for x in result["labels"]}
        assert all(words == [] for words in result["explanations"].values())


def test_explanations_are_split_into_bounded_model_calls() -> None:
    texts = ["a b c"] * 5 + ["x " * 100, "q"]
    chosen = [[1]] * 3 + [[]] + [[1]] * 3
    assert explain_groups(texts, chosen, max_words=64, budget=7) == [[0, 1], [2, 4], [5], [6]]
    assert explain_groups(["", " ", "a"], [[1]] * 3, max_words=64) == [[0, 1, 2]]  # no words
    app = create_app(fake_predictor(), ServeSettings(explain_max_words=4))
    model = app.state.predictor.model
    with TestClient(app) as c:
        r = c.post("/v1/predict", json={"texts": [f"w{i} " * 40 for i in range(3)],
                                        "explain": True, "threshold": 0.0, "top_k": 1})
    assert r.status_code == 200
    assert [len(call) for call in model.calls] == [3, 12]  # scores, then 3 x 4 variants
    for i, result in enumerate(r.json()["results"]):
        [words] = result["explanations"].values()
        assert [w["token"] for w in words] == [f"w{i}"] * 4


def test_labels_endpoint(client: TestClient, predictor: Predictor) -> None:
    body = client.get("/v1/labels").json()
    assert body["labels"] == list(GOEMOTIONS_LABELS)
    assert body["thresholds"]["grief"] == pytest.approx(
        float(predictor.thresholds[GOEMOTIONS_LABELS.index("grief")]))
    assert body["taxonomies"]["ekman"] == taxonomy_groups("ekman")
    assert set(body["taxonomies"]["sentiment"]) == {"positive", "negative", "ambiguous",
                                                    "neutral"}
    for taxonomy in ("ekman", "sentiment"):  # the cuts /v1/predict decides groups with
        _, names, cuts = predictor.decision_view(np.zeros((0, 28)), taxonomy)
        assert body["group_thresholds"][taxonomy] == dict(zip(names, cuts.tolist(), strict=True))


def test_health_page_static_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "model": "default"}
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<html" in page.text.lower()
    static = sorted(p.name for p in WEB_DIR.iterdir() if p.is_file())
    assert client.get(f"/static/{static[0]}").status_code == 200
    assert client.get("/static/no-such-file.js").status_code == 404
    schema = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/labels", "/healthz", "/metrics"} <= set(schema["paths"])
    request = schema["components"]["schemas"]["PredictRequest"]
    assert request["properties"]["texts"]["maxItems"] == 64
    assert set(request["properties"]) == {"texts", "threshold", "top_k", "taxonomy", "explain",
                                          "all_scores"}


# ------------------------------------------------------------------ limits and bad input
def test_body_over_the_limit_is_413(small: TestClient) -> None:
    r = small.post("/v1/predict", content=b'{"texts": ["' + b"a" * 3000 + b'"]}',
                   headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "limit is 2,000 bytes" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes received are counted
        yield b'{"texts": ["'
        for _ in range(30):
            yield b"a" * 100
        yield b'"]}'

    r = small.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "--max-body-bytes" in r.json()["detail"]


@pytest.mark.parametrize(("body", "expected"), [
    ({"texts": ["a"] * 5}, "texts: List should have at most 4 items"),
    ({"texts": ["a" * 51]}, "texts.0: String should have at most 50 characters"),
    ({"texts": []}, "texts: List should have at least 1 item"),
    ({}, "texts: Field required"),
    ({"texts": "hello"}, "texts: Input should be a valid list"),
    ({"texts": [1]}, "texts.0: Input should be a valid string"),
    ({"texts": ["a"], "threshold": 1.5}, "threshold: Input should be less than or equal to 1"),
    ({"texts": ["a"], "threshold": "0.5"}, "threshold: Input should be a valid number"),
    ({"texts": ["a"], "top_k": 0}, "top_k: Input should be greater than or equal to 1"),
    ({"texts": ["a"], "top_k": 2.5}, "top_k: Input should be a valid integer"),
    ({"texts": ["a"], "taxonomy": "plutchik"}, "taxonomy: Input should be 'goemotions'"),
    ({"texts": ["a"], "explain": "yes"}, "explain: Input should be a valid boolean"),
    ({"texts": ["a"], "text": ["b"]}, "text: Extra inputs are not permitted"),
    ([1, 2], "body: Input should be a valid dictionary"),
])
def test_invalid_requests_are_422_with_the_reason(small: TestClient, body: Any,
                                                  expected: str) -> None:
    r = small.post("/v1/predict", json=body)
    assert r.status_code == 422, r.text
    payload = r.json()
    assert expected in payload["detail"]
    assert payload["errors"] and all({"loc", "msg", "type"} <= set(e) for e in payload["errors"])


@pytest.mark.parametrize("raw", [
    b'{"texts": ["a"], "threshold": NaN}', b'{"texts": ["a"], "threshold": Infinity}',
    b'{"texts": ["a"], "threshold": 1e999}', b'{"texts": ["\\ud800"]}',
    b'{"texts": ["a"]', b"", b"\xff\xfe\x00", b"null", b'"texts"',
    b'{"texts": ["a"], "top_k": ' + b"9" * 5000 + b"}",
])
def test_malformed_bodies_are_4xx_never_5xx(small: TestClient, raw: bytes) -> None:
    r = small.post("/v1/predict", content=raw, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]


def test_invalid_json_message_says_where(small: TestClient) -> None:
    r = small.post("/v1/predict", content=b'{"texts": [}',
                   headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("body: invalid JSON (Expecting value at character")
    r = small.post("/v1/predict", content=b'{"texts": ["\xff"]}',
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and "encoded as UTF-8" in r.json()["detail"]


def test_unexpected_errors_are_json_500_and_counted() -> None:
    with TestClient(create_app(fake_predictor(fail=True)), raise_server_exceptions=False) as c:
        r = c.post("/v1/predict", json={"texts": ["a"]})
        assert r.status_code == 500
        assert r.json() == {"detail": "internal error (RuntimeError); see the server log"}
        assert c.get("/healthz").status_code == 200  # the scoring thread survived
        text = c.get("/metrics").text
    assert 'emotag_http_errors_total{endpoint="/v1/predict",kind="internal"} 1.0' in text


# ------------------------------------------------------------------ metrics
def test_metrics_count_requests_errors_latency_and_batches(small: TestClient) -> None:
    small.post("/v1/predict", json={"texts": ["so happy", "so sad"]})
    small.post("/v1/predict", json={"texts": []})
    small.get("/no/such/page")
    r = small.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'emotag_http_requests_total{endpoint="/v1/predict",method="POST",status="200"}' in text
    assert 'emotag_http_requests_total{endpoint="/v1/predict",method="POST",status="422"}' in text
    assert 'emotag_http_requests_total{endpoint="other",method="GET",status="404"}' in text
    assert 'emotag_http_errors_total{endpoint="/v1/predict",kind="validation"}' in text
    assert 'emotag_http_request_duration_seconds_bucket{endpoint="/v1/predict",le="0.5"}' in text
    assert 'emotag_batch_size_texts_bucket{le="2.0"}' in text
    assert "emotag_texts_scored_total" in text


def test_each_app_has_its_own_registry() -> None:
    a, b = create_app(fake_predictor()), create_app(fake_predictor())
    assert a.state.metrics.registry is not b.state.metrics.registry
    with TestClient(a) as c:
        c.get("/healthz")
    assert b"/healthz" not in b.state.metrics.render()


# ------------------------------------------------------------------ micro-batching
async def _concurrent(app: Any, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        answers = await asyncio.gather(*(c.post("/v1/predict", json=b) for b in bodies))
    assert all(a.status_code == 200 for a in answers)
    return [a.json() for a in answers]


class RecordingModel:
    """Wraps a model and keeps every call's texts and scores."""

    def __init__(self, model: Any) -> None:
        self.model, self.label_names, self.calls = model, model.label_names, []

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        scores = self.model.predict_proba(texts)
        self.calls.append((list(texts), scores.copy()))
        return scores


def _bodies(n: int) -> list[dict[str, Any]]:
    """Requests of 1 to 3 distinct texts, alternating taxonomies, all scores shown."""
    return [{"texts": [f"{TEXTS[(i + k) % len(TEXTS)]} #{i}" for k in range(1 + i % 3)],
             "all_scores": True, "taxonomy": ["goemotions", "ekman"][i % 2]} for i in range(n)]


def test_micro_batched_results_equal_unbatched() -> None:
    """Exactly equal for a model whose scores do not depend on the batch (see below)."""
    bodies = _bodies(12)
    batched = create_app(fake_predictor(delay=0.01), ServeSettings(micro_batch=True,
                                                                   max_wait_ms=50))
    alone = create_app(fake_predictor(delay=0.01), ServeSettings(micro_batch=False))
    try:
        got = asyncio.run(_concurrent(batched, bodies))
        want = asyncio.run(_concurrent(alone, bodies))
        assert batched.state.batcher.batches < len(bodies)  # requests really were merged
        assert alone.state.batcher.batches == len(bodies)
    finally:
        batched.state.batcher.close()
        alone.state.batcher.close()
    assert got == want
    assert [len(g["results"]) for g in got] == [len(b["texts"]) for b in bodies]


def test_micro_batches_give_each_request_its_own_rows(predictor: Predictor) -> None:
    """The int8 model's scores move a little with the batch they are computed in (dynamic
    quantization scales activations per batch), so batched and unbatched scores differ;
    what must hold is that each request gets exactly its own rows of the merged call."""
    recorder = RecordingModel(predictor.model)
    app = create_app(Predictor(recorder, predictor.thresholds, predictor.path),
                     ServeSettings(micro_batch=True, max_wait_ms=50))
    bodies = _bodies(8)
    try:
        answers = asyncio.run(_concurrent(app, bodies))
    finally:
        app.state.batcher.close()
    assert len(recorder.calls) < len(bodies)
    rows = {text: scores[i] for texts, scores in recorder.calls for i, text in enumerate(texts)}
    for body, answer in zip(bodies, answers, strict=True):
        probs = np.stack([rows[t] for t in body["texts"]])
        scores, names = probs, predictor.labels
        if body["taxonomy"] == "ekman":
            scores, names, _ = predictor.group_scores(probs, "ekman")
        for result, row in zip(answer["results"], scores, strict=True):
            np.testing.assert_allclose([result["scores"][n] for n in names], row, atol=1e-6)


def test_batcher_merges_queued_requests_in_order() -> None:
    model = FakeModel(delay=0.05)
    batcher = MicroBatcher(model.predict_proba, max_batch_texts=5, max_wait_ms=0)
    try:
        first = batcher.submit(["x"])  # occupies the worker while the others queue up
        time.sleep(0.01)
        futures = [batcher.submit(["a" * i] * 2) for i in range(1, 5)]
        results = [f.result(timeout=5) for f in [first, *futures]]
    finally:
        batcher.close()
    assert [len(c) for c in model.calls] == [1, 4, 4]  # 2+2 fit in 5 texts; a third would not
    for i, scores in enumerate(results[1:], start=1):
        np.testing.assert_array_equal(scores, model.predict_proba(["a" * i] * 2))
    assert batcher.batches == 3


def test_batcher_rejects_an_empty_batch_size_with_a_config_error() -> None:
    from emotag.errors import ConfigError

    with pytest.raises(ConfigError, match="max_batch_texts=0; expected at least 1"):
        MicroBatcher(FakeModel().predict_proba, max_batch_texts=0)


def test_batcher_without_batching_scores_one_request_per_call() -> None:
    model = FakeModel(delay=0.02)
    batcher = MicroBatcher(model.predict_proba, enabled=False)
    try:
        futures = [batcher.submit([str(i)]) for i in range(4)]
        [f.result(timeout=5) for f in futures]
    finally:
        batcher.close()
    assert model.calls == [["0"], ["1"], ["2"], ["3"]]


def test_batcher_errors_reach_every_caller_and_calls_run_on_its_thread() -> None:
    batcher = MicroBatcher(FakeModel(fail=True).predict_proba, max_wait_ms=20)
    try:
        futures = [batcher.submit(["a"]), batcher.submit(["b"])]
        for f in futures:
            with pytest.raises(RuntimeError, match="model exploded"):
                f.result(timeout=5)
        name = batcher.call(lambda: threading.current_thread().name).result(timeout=5)
        assert name == "emotag-scorer"
    finally:
        batcher.close()
    assert not batcher.alive
    with pytest.raises(ServiceClosedError):
        batcher.submit(["c"])


def test_closed_service_answers_503() -> None:
    app = create_app(fake_predictor())
    with TestClient(app, raise_server_exceptions=False) as c:
        app.state.batcher.close()
        assert c.get("/healthz").status_code == 503
        r = c.post("/v1/predict", json={"texts": ["a"]})
        assert r.status_code == 503 and "shutting down" in r.json()["detail"]


# ------------------------------------------------------------------ command line
def test_serve_command_builds_the_app_from_its_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from emotag.cli.app import app as cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    result = CliRunner().invoke(cli, ["serve", str(DEFAULT_MODEL_DIR), "--port", "8123",
                                      "--no-micro-batch", "--max-texts", "3", "--threads", "1"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
    settings = seen["app"].state.settings
    assert settings.micro_batch is False and settings.max_texts == 3
    with TestClient(seen["app"]) as c:
        r = c.post("/v1/predict", json={"texts": ["a"] * 4})
        assert r.status_code == 422 and "at most 3 items" in r.json()["detail"]


# ------------------------------------------------------------------ fuzzing
@pytest.fixture(scope="module")
def fuzz_client(predictor: Predictor) -> Iterator[TestClient]:
    settings = ServeSettings(max_texts=8, max_chars=200, max_body_bytes=4000, max_wait_ms=0,
                             explain_max_words=8)
    with TestClient(create_app(predictor, settings), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("requests", [arbitrary_requests, shaped_requests],
                         ids=["arbitrary-json", "schema-shaped"])
def test_fuzzed_requests_never_get_5xx(fuzz_client: TestClient, requests: Any) -> None:
    """EMOTAG_FUZZ_EXAMPLES sets the number of requests per generator (default 200)."""
    report = fuzz(fuzz_client, requests, examples_from_env())
    assert report.server_errors == 0, report.failures[:3]
    assert report.requests >= min(examples_from_env(), 50)
    if requests is shaped_requests:
        assert report.statuses[200] > 0  # the shaped bodies really reach the model
    print(report.summary())



def test_serve_command_with_workers_hands_uvicorn_a_factory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers are separate processes: they get the model folder and settings as a spec."""
    import uvicorn

    from emotag.cli.app import app as cli
    from emotag.serve.factory import SPEC_ENV, ServeSpec
    from emotag.serve.metrics import MULTIPROC_ENV

    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    seen: dict[str, Any] = {}

    def fake_run(target: Any, **kw: Any) -> None:
        seen.update(target=target, spec=os.environ[SPEC_ENV],
                    metrics_dir=os.environ.get(MULTIPROC_ENV), **kw)
        assert Path(seen["metrics_dir"]).is_dir()

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr("emotag.models.onnx.default_threads", lambda: 4)
    result = CliRunner().invoke(cli, ["serve", str(DEFAULT_MODEL_DIR), "--workers", "2",
                                      "--max-texts", "3"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert seen["target"] == "emotag.serve.factory:app_from_env"
    assert seen["factory"] is True and seen["workers"] == 2
    spec = ServeSpec.from_json(seen["spec"])
    assert spec.threads == 2 and spec.settings.max_texts == 3
    assert Path(spec.model_dir or "") == DEFAULT_MODEL_DIR
    assert not Path(seen["metrics_dir"]).exists()  # removed when the server stops
    assert MULTIPROC_ENV not in os.environ


def test_app_from_env_builds_the_app_of_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.errors import ConfigError
    from emotag.serve.factory import SPEC_ENV, ServeSpec, app_from_env

    spec = ServeSpec(str(DEFAULT_MODEL_DIR), threads=1, settings=ServeSettings(max_texts=2))
    assert ServeSpec.from_json(spec.to_json()) == spec
    monkeypatch.setenv(SPEC_ENV, spec.to_json())
    with TestClient(app_from_env()) as c:
        assert c.post("/v1/predict", json={"texts": ["a", "b", "c"]}).status_code == 422
        assert c.post("/v1/predict", json={"texts": ["thanks!"]}).status_code == 200
    monkeypatch.setenv(SPEC_ENV, '{"settings": {"max_texts": 0}}')
    with pytest.raises(ConfigError, match="max_texts=0"):
        app_from_env()
    monkeypatch.setenv(SPEC_ENV, "not json")
    with pytest.raises(ConfigError, match="EMOTAG_SERVE_SPEC is not a valid serve spec"):
        app_from_env()
    monkeypatch.delenv(SPEC_ENV)
    with pytest.raises(ConfigError, match="--workers"):
        app_from_env()


def test_service_models_do_not_spin_between_requests() -> None:
    """ONNX Runtime's spinning threads would take the cores the event loop needs."""
    from emotag.serve.factory import ServeSpec, build_app

    app = build_app(ServeSpec(str(DEFAULT_MODEL_DIR), threads=2))
    session = app.state.predictor.model.session_
    entry = session.get_session_options().get_session_config_entry
    assert entry("session.intra_op.allow_spinning") == "0"
    library = Predictor.load(DEFAULT_MODEL_DIR, num_threads=2)
    options = library.model.session_.get_session_options()
    with pytest.raises(RuntimeError, match="does not have configuration"):  # ORT's default
        options.get_session_config_entry("session.intra_op.allow_spinning")
    np.testing.assert_allclose(app.state.predictor.predict_proba(TEXTS),
                               library.predict_proba(TEXTS), atol=1e-6)
    app.state.batcher.close()


@pytest.mark.slow
def test_two_workers_answer_and_metrics_sum_over_both() -> None:
    """A real `emotag serve --workers 2`: every request answered, /metrics counts them all."""
    import json
    import urllib.request

    from local_server import local_server

    n = 24
    with local_server(DEFAULT_MODEL_DIR, ["--workers", "2", "--log-level", "warning"],
                      timeout=240) as url:  # two model loads on 2 busy CI cores
        for i in range(n):
            req = urllib.request.Request(
                f"{url}/v1/predict", data=json.dumps({"texts": [TEXTS[i % 6]]}).encode(),
                headers={"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                assert r.status == 200 and len(json.loads(r.read())["results"]) == 1
        with urllib.request.urlopen(f"{url}/metrics", timeout=30) as r:
            text = r.read().decode()
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("emotag_http_requests_total{")
                  and 'endpoint="/v1/predict"' in line)
    assert counted == n, text[:2000]


# ------------------------------------------------------------------ authentication
TOKEN = "s3cret-Token_0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def locked() -> Iterator[TestClient]:
    """An app started with an API token."""
    with TestClient(create_app(fake_predictor(), token=TOKEN)) as c:
        yield c


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/predict"), ("GET", "/v1/labels"),
                                              ("GET", "/metrics"), ("GET", "/no/such/page")])
def test_without_a_token_requests_get_401_json(locked: TestClient, method: str,
                                               path: str) -> None:
    r = locked.request(method, path, json={"texts": ["a"]} if method == "POST" else None)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    assert r.headers["www-authenticate"] == 'Bearer realm="emotag"'
    assert r.json() == {"detail": "missing bearer token: send the header 'Authorization: Bearer "
                                  "<token>' with the token the server was started with"}


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ",
                                    f"bearer {TOKEN.upper()}"])
def test_a_wrong_token_gets_401(locked: TestClient, header: str) -> None:
    r = locked.post("/v1/predict", json={"texts": ["a"]}, headers={"Authorization": header})
    assert r.status_code == 401
    assert r.json() == {"detail": "invalid bearer token"}
    assert r.headers["www-authenticate"] == 'Bearer realm="emotag", error="invalid_token"'


def test_other_schemes_count_as_no_token(locked: TestClient) -> None:
    r = locked.get("/v1/labels", headers={"Authorization": f"Basic {TOKEN}"})
    assert r.status_code == 401 and r.json()["detail"].startswith("missing bearer token")


def test_the_right_token_gets_200(locked: TestClient) -> None:
    r = locked.post("/v1/predict", json={"texts": ["a", "bb"]}, headers=BEARER)
    assert r.status_code == 200 and len(r.json()["results"]) == 2
    assert locked.get("/v1/labels", headers=BEARER).status_code == 200
    # the scheme name is case-insensitive (RFC 7235), the token is not
    lower = {"Authorization": f"bearer {TOKEN}"}
    assert locked.get("/v1/labels", headers=lower).status_code == 200
    metrics = locked.get("/metrics", headers=BEARER)
    assert metrics.status_code == 200
    assert 'emotag_http_errors_total{endpoint="/v1/predict",kind="unauthorized"}' in metrics.text


def test_health_page_and_api_description_stay_open(locked: TestClient) -> None:
    assert locked.get("/healthz").json() == {"status": "ok", "model": "fake-model"}
    assert locked.get("/").status_code == 200
    assert locked.get("/static/app.js").status_code == 200
    schema = locked.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"] == {"bearer": {"type": "http",
                                                                  "scheme": "bearer"}}
    assert schema["security"] == [{"bearer": []}]
    assert schema["paths"]["/healthz"]["get"]["security"] == []
    assert locked.get("/docs").status_code == 200


def test_unauthenticated_bodies_are_not_read(locked: TestClient) -> None:
    """A request without the token is refused before its body is parsed (or counted)."""
    r = locked.post("/v1/predict", content=b"{not json" + b"x" * 2_000_000,
                    headers={"content-type": "application/json"})
    assert r.status_code == 401


def test_no_token_means_no_authentication(client: TestClient) -> None:
    assert client.get("/v1/labels").status_code == 200
    assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


def test_token_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.errors import ConfigError
    from emotag.serve.auth import TOKEN_ENV, resolve_token

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert resolve_token() is None
    monkeypatch.setenv(TOKEN_ENV, f" {TOKEN}\n")
    assert resolve_token() == TOKEN
    path = tmp_path / "token"
    path.write_text("from-the-file\n", encoding="utf-8")
    path.chmod(0o600)
    assert resolve_token(path) == "from-the-file"  # an explicit file wins over the variable
    for bad, problem in [("\n", "is empty"), ("two words", "visible ASCII")]:
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(ConfigError, match=problem):
            resolve_token(path)
    with pytest.raises(ConfigError, match="cannot read the token file"):
        resolve_token(tmp_path / "missing")
    monkeypatch.setenv(TOKEN_ENV, "")
    with pytest.raises(ConfigError, match=f"{TOKEN_ENV} is empty"):
        resolve_token()


def _serve(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> tuple[Any, dict[str, Any]]:
    """Run `emotag serve ARGS` with uvicorn.run replaced by a recorder."""
    import uvicorn

    from emotag.cli.app import app as cli
    from emotag.serve.auth import TOKEN_ENV

    seen: dict[str, Any] = {}

    def fake_run(target: Any, **kw: Any) -> None:
        seen.update(target=target, token_env=os.environ.get(TOKEN_ENV), **kw)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return CliRunner().invoke(cli, ["serve", *args]), seen


def test_serve_reads_the_token_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.serve.auth import TOKEN_ENV

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    result, seen = _serve(monkeypatch, [str(DEFAULT_MODEL_DIR), "--threads", "1",
                                        "--token-file", str(token_file)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "bearer token required" in result.output and TOKEN not in result.output
    with TestClient(seen["target"]) as c:
        assert c.get("/v1/labels").status_code == 401
        assert c.get("/v1/labels", headers=BEARER).status_code == 200
    token_file.write_text("", encoding="utf-8")
    result, _ = _serve(monkeypatch, [str(DEFAULT_MODEL_DIR), "--token-file", str(token_file)])
    assert result.exit_code == 1 and "is empty" in str(result.exception)


def test_serve_takes_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.serve.auth import TOKEN_ENV

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    result, seen = _serve(monkeypatch, [str(DEFAULT_MODEL_DIR), "--threads", "1",
                                        "--forwarded-allow-ips", "10.0.0.5"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert seen["forwarded_allow_ips"] == "10.0.0.5"  # handed to uvicorn as is
    with TestClient(seen["target"]) as c:
        assert c.get("/v1/labels").status_code == 401
        assert c.get("/v1/labels", headers=BEARER).status_code == 200


def test_workers_get_the_token_in_their_environment_not_argv(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.serve.auth import TOKEN_ENV
    from emotag.serve.factory import SPEC_ENV, ServeSpec

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN, encoding="utf-8")
    token_file.chmod(0o600)
    args = [str(DEFAULT_MODEL_DIR), "--workers", "2", "--token-file", str(token_file)]
    result, seen = _serve(monkeypatch, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert seen["target"] == "emotag.serve.factory:app_from_env" and seen["workers"] == 2
    assert seen["token_env"] == TOKEN  # what the worker processes inherit
    assert TOKEN not in " ".join(args)
    assert TOKEN_ENV not in os.environ and SPEC_ENV not in os.environ  # restored afterwards
    # the spec (also in the environment) says a token is needed but does not hold it
    spec = ServeSpec(str(DEFAULT_MODEL_DIR), threads=1, auth=True)
    assert TOKEN not in spec.to_json() and ServeSpec.from_json(spec.to_json()) == spec


def test_serve_environment_is_restored_after_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.cli.serve import _environ

    monkeypatch.setenv("EMOTAG_TEST_VAR", "old")
    with _environ("EMOTAG_TEST_VAR", "new"):
        assert os.environ["EMOTAG_TEST_VAR"] == "new"
    assert os.environ["EMOTAG_TEST_VAR"] == "old"
    with _environ("EMOTAG_TEST_VAR", None):
        assert "EMOTAG_TEST_VAR" not in os.environ
    assert os.environ["EMOTAG_TEST_VAR"] == "old"
    monkeypatch.delenv("EMOTAG_TEST_VAR")
    with _environ("EMOTAG_TEST_VAR", "set"):
        assert os.environ["EMOTAG_TEST_VAR"] == "set"
    assert "EMOTAG_TEST_VAR" not in os.environ


def test_a_worker_without_the_token_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.errors import ConfigError
    from emotag.serve.auth import TOKEN_ENV
    from emotag.serve.factory import SPEC_ENV, ServeSpec, app_from_env

    spec = ServeSpec(str(DEFAULT_MODEL_DIR), threads=1, auth=True)
    monkeypatch.setenv(SPEC_ENV, spec.to_json())
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"{TOKEN_ENV} is not set"):
        app_from_env()
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with TestClient(app_from_env()) as c:
        assert c.post("/v1/predict", json={"texts": ["hi"]}).status_code == 401
        assert c.post("/v1/predict", json={"texts": ["hi"]}, headers=BEARER).status_code == 200


# ------------------------------------------------------------------ CORS
ORIGIN = "https://app.example.com"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type"}


def test_no_cors_headers_by_default(client: TestClient) -> None:
    r = client.get("/v1/labels", headers={"Origin": ORIGIN})
    assert r.status_code == 200
    assert not any(k.lower().startswith("access-control-") for k in r.headers)
    preflight = client.options("/v1/predict", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_for_the_configured_origins() -> None:
    settings = ServeSettings(cors_origins=(ORIGIN, "http://localhost:3000"))
    with TestClient(create_app(fake_predictor(), settings, token=TOKEN)) as c:
        r = c.get("/v1/labels", headers={"Origin": ORIGIN, **BEARER})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
        other = c.get("/v1/labels", headers={"Origin": "https://evil.example", **BEARER})
        assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
        # a preflight carries no token; it is answered before authentication
        preflight = c.options("/v1/predict", headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        # a 401 is readable by the calling page, so it can ask for the token
        denied = c.get("/v1/labels", headers={"Origin": ORIGIN})
        assert denied.status_code == 401
        assert denied.headers["access-control-allow-origin"] == ORIGIN


def test_cors_origins_from_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.errors import ConfigError
    from emotag.serve.auth import TOKEN_ENV
    from emotag.serve.factory import ServeSpec

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    result, seen = _serve(monkeypatch, [str(DEFAULT_MODEL_DIR), "--threads", "1",
                                        "--cors-origin", ORIGIN, "--cors-origin", "*"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert seen["target"].state.settings.cors_origins == (ORIGIN, "*")
    spec = ServeSpec(settings=ServeSettings(cors_origins=[ORIGIN]))  # type: ignore[arg-type]
    assert ServeSpec.from_json(spec.to_json()) == spec  # JSON lists come back as tuples
    with pytest.raises(ConfigError, match="without a path"):
        ServeSettings(cors_origins=(ORIGIN + "/",))
    result, _ = _serve(monkeypatch, [str(DEFAULT_MODEL_DIR), "--cors-origin", "example.com"])
    assert result.exit_code == 1 and "CORS origin 'example.com'" in str(result.exception)


# ------------------------------------------------------------------ a model with its own labels
CUSTOM_LABELS = ["frustrated", "urgent", "grateful"]
CUSTOM_WORDS = {"frustrated": "annoying broken again useless", "urgent": "asap now immediately",
                "grateful": "thanks great appreciate"}


@pytest.fixture(scope="module")
def custom_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TF-IDF model trained in a second on three support-desk labels."""
    from types import SimpleNamespace

    from emotag.models import save_model
    from emotag.models.tfidf import TfidfLogRegClassifier

    texts, rows = [], []
    for j, name in enumerate(CUSTOM_LABELS):
        words = CUSTOM_WORDS[name].split()
        for k in range(6):
            texts.append(f"{words[k % len(words)]} {words[(k + 1) % len(words)]} ticket")
            rows.append([int(i == j) for i in range(len(CUSTOM_LABELS))])
    train = SimpleNamespace(texts=texts, labels=np.array(rows, dtype=np.uint8),
                            label_names=CUSTOM_LABELS)
    model = TfidfLogRegClassifier(label_names=CUSTOM_LABELS).fit(train)
    out = tmp_path_factory.mktemp("custom") / "support-model"
    save_model(model, out)
    return out


@pytest.fixture(scope="module")
def custom(custom_model: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Predictor.load(custom_model))) as c:
        yield c


def test_custom_labels_advertise_no_groupings(custom: TestClient) -> None:
    body = custom.get("/v1/labels").json()
    assert body["labels"] == CUSTOM_LABELS
    assert set(body["thresholds"]) == set(CUSTOM_LABELS)
    assert body["taxonomies"] == {} and body["group_thresholds"] == {}


def test_custom_labels_predict_with_their_own_names(custom: TestClient) -> None:
    r = custom.post("/v1/predict", json={"texts": ["thanks, great work", "broken again"],
                                         "all_scores": True, "explain": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "support-model" and body["taxonomy"] == "goemotions"
    first, second = body["results"]
    assert set(first["scores"]) == set(CUSTOM_LABELS)
    assert first["labels"][0]["label"] == "grateful"
    assert second["labels"][0]["label"] == "frustrated"
    assert set(first["explanations"]) == {x["label"] for x in first["labels"]}


@pytest.mark.parametrize("taxonomy", ["ekman", "sentiment"])
def test_groupings_of_custom_labels_are_422_with_the_reason(custom: TestClient,
                                                            taxonomy: str) -> None:
    batches = custom.app.state.batcher.batches
    r = custom.post("/v1/predict", json={"texts": ["thanks"], "taxonomy": taxonomy})
    assert r.status_code == 422
    body = r.json()
    assert body["detail"] == (f"taxonomy {taxonomy!r} groups GoEmotions labels, but this "
                              "model's labels are frustrated, urgent, grateful; available "
                              "taxonomies: goemotions")
    assert body["errors"][0]["loc"] == ["body", "taxonomy"]
    assert custom.app.state.batcher.batches == batches  # refused before scoring


def test_a_goemotions_subset_lists_the_groups_predict_reports() -> None:
    """Ekman's names (a subset of GoEmotions'): the service lists each grouping's groups with
    the model's own member labels, exactly the groups /v1/predict answers with."""
    ekman_labels = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
    model = FakeModel()
    model.label_names = ekman_labels
    model.predict_proba = lambda texts: np.full((len(texts), 7), 0.6)  # type: ignore[method-assign]
    predictor = Predictor(model, np.full(7, 0.5), Path("ekman-model"))
    with TestClient(create_app(predictor)) as c:
        meta = c.get("/v1/labels").json()
        assert meta["labels"] == ekman_labels
        assert set(meta["taxonomies"]) == {t for t in predictor.taxonomies if t != "goemotions"}
        for taxonomy, groups in meta["taxonomies"].items():
            assert all(set(members) <= set(ekman_labels) for members in groups.values())
            r = c.post("/v1/predict", json={"texts": ["x"], "taxonomy": taxonomy,
                                            "all_scores": True})
            assert r.status_code == 200, r.text
            assert set(r.json()["results"][0]["scores"]) == set(groups)
            assert set(meta["group_thresholds"][taxonomy]) == set(groups)


def test_taxonomy_errors_from_the_library_are_422() -> None:
    """Wherever the library raises TaxonomyError (here: while tagging), the answer is 422."""
    from emotag.errors import TaxonomyError

    predictor = fake_predictor()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise TaxonomyError("taxonomy 'ekman' is not available for this model")

    app = create_app(predictor)
    predictor.decision_view = refuse  # type: ignore[method-assign]
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/v1/predict", json={"texts": ["a"]})
    assert r.status_code == 422
    assert r.json()["detail"] == "taxonomy 'ekman' is not available for this model"


@pytest.mark.slow
def test_real_workers_with_a_token_file(custom_model: Path, tmp_path: Path) -> None:
    """`emotag serve --workers 2 --token-file F`: 401 without the token, 200 with it, and the
    token is in no process's command line (only in the workers' environment)."""
    import json
    import urllib.error
    import urllib.request

    from local_server import local_server

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    procs_before = set(os.listdir("/proc"))
    with local_server(custom_model, ["--workers", "2", "--token-file", str(token_file),
                                     "--log-level", "warning"], timeout=240) as url:
        def post(headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
            req = urllib.request.Request(
                f"{url}/v1/predict", data=json.dumps({"texts": ["thanks"]}).encode(),
                headers={"content-type": "application/json", **headers})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        for _ in range(4):  # connections land on both workers
            status, body = post({})
            assert status == 401 and body["detail"].startswith("missing bearer token")
            assert post({"Authorization": "Bearer wrong"})[0] == 401
            status, body = post(BEARER)
            assert status == 200 and body["results"][0]["labels"][0]["label"] == "grateful"
        ours = []
        for pid in set(os.listdir("/proc")) - procs_before:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if b"emotag" in cmdline or b"multiprocessing" in cmdline:
                ours.append((cmdline, environ))
    assert len(ours) >= 3, ours  # the server and its two workers
    assert all(TOKEN.encode() not in cmdline for cmdline, _ in ours)
    assert sum(f"EMOTAG_API_TOKEN={TOKEN}".encode() in environ for _, environ in ours) >= 2
