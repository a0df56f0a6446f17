"""The FastAPI application: routes of the JSON API, metrics, and the web page.

Routes (the web page in ``emotag/serve/static`` is written against them):

- ``POST /v1/predict``: labels (and optionally all scores and explanations) of 1..N texts
- ``GET /v1/labels``: label names, the model's thresholds, the groups of the taxonomies the
  model's labels allow (none for a model with its own label names)
- ``GET /healthz``: liveness (503 once the scoring thread has stopped)
- ``GET /metrics``: Prometheus text format
- ``GET /`` and ``/static/*``: the web page

With a token (:mod:`emotag.serve.auth`) every route but ``/healthz``, the web page and the API
description needs ``Authorization: Bearer <token>``. CORS headers are sent only for the
origins in ``ServeSettings.cors_origins``.

Handlers never run the model themselves: they await the :class:`MicroBatcher`'s single
scoring thread, so the event loop stays free to accept and validate other requests.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the handler annotations at
# runtime, and the request model is a local class built from the settings.

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..inference.groups import check_taxonomy
from ..inference.predictor import Predictor
from ..resources import default_model_dir
from .auth import OPEN_PATHS, BearerAuthMiddleware
from .batching import MicroBatcher, ServiceClosedError
from .errors import install_error_handlers
from .limits import BodySizeLimitMiddleware
from .metrics import MetricsMiddleware, ServiceMetrics
from .schemas import (
    ErrorResponse,
    HealthResponse,
    LabelsResponse,
    PredictResponse,
    predict_request_model,
)
from .settings import ServeSettings
from .tagging import explain_groups, explanations, group_thresholds, tag, taxonomies

WEB_DIR = Path(__file__).resolve().parent / "static"
ROUTES = ("/", "/v1/predict", "/v1/labels", "/healthz", "/metrics", "/openapi.json", "/docs")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token (when the "
          "service was started with one)."},
    413: {"model": ErrorResponse, "description": "Request body over --max-body-bytes."},
    422: {"model": ErrorResponse, "description": "Invalid request (the detail says why)."},
    503: {"model": ErrorResponse, "description": "The service is shutting down."},
}


def model_name(predictor: Predictor, settings: ServeSettings) -> str:
    """The name responses report: the setting, else ``default`` for the shipped model, else
    the model folder's name."""
    if settings.model_name:
        return settings.model_name
    if predictor.path is None:
        return "emotag"
    path = predictor.path.resolve()
    return "default" if path == default_model_dir().resolve() else path.name


def create_app(predictor: Predictor, settings: ServeSettings | None = None,
               token: str | None = None) -> FastAPI:
    """A FastAPI app serving ``predictor`` under ``settings`` (defaults: :class:`ServeSettings`).

    ``token``: require ``Authorization: Bearer <token>`` (None: no authentication).
    ``app.state`` holds ``predictor``, ``settings``, ``batcher`` and ``metrics``.
    """
    settings = settings or ServeSettings()
    name = model_name(predictor, settings)
    metrics = ServiceMetrics(ROUTES)
    batcher = MicroBatcher(predictor.predict_proba, enabled=settings.micro_batch,
                           max_batch_texts=settings.max_batch_texts,
                           max_wait_ms=settings.max_wait_ms, on_batch=metrics.observe_batch)
    labels_body = {
        "labels": list(predictor.labels),
        "thresholds": {n: float(t) for n, t in zip(predictor.labels, predictor.thresholds,
                                                   strict=True)},
        "taxonomies": taxonomies(predictor),
        "group_thresholds": group_thresholds(predictor),
    }
    PredictRequest = predict_request_model(settings.max_texts, settings.max_chars)  # noqa: N806

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        batcher.close()

    app = FastAPI(title="emotag", version=__version__, lifespan=lifespan,
                  description="Multi-label emotion recognition (GoEmotions) for English text.")
    app.state.predictor, app.state.settings = predictor, settings
    app.state.batcher, app.state.metrics = batcher, metrics
    install_error_handlers(app)
    # the last added is the outermost: metrics see every answer, CORS headers go on 401s too
    # and preflight requests (which carry no token) are answered before authentication, and
    # an unauthenticated body is never read
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    if token is not None:
        app.add_middleware(BearerAuthMiddleware, token=token)
        _document_bearer_auth(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.post("/v1/predict", response_model=PredictResponse, responses=ERRORS,
              summary="Emotions of texts")
    async def predict(body: PredictRequest) -> dict[str, Any]:
        """Labels at or above the thresholds, highest first; optional scores and explanations."""
        check_taxonomy(body.taxonomy, predictor.labels)  # a 422 before any scoring
        try:
            probs = await batcher.score(body.texts)
            results, chosen, scores = tag(predictor, probs, taxonomy=body.taxonomy,
                                          threshold=body.threshold, top_k=body.top_k,
                                          all_scores=body.all_scores)
            if body.explain:
                for result in results:
                    result["explanations"] = {}
                max_words = settings.explain_max_words
                for group in explain_groups(body.texts, chosen, max_words):
                    job = functools.partial(explanations, predictor,
                                            [body.texts[i] for i in group], scores[group],
                                            [chosen[i] for i in group],
                                            taxonomy=body.taxonomy, max_words=max_words)
                    for i, words in zip(group, await batcher.run(job), strict=True):
                        results[i]["explanations"] = words
        except ServiceClosedError as e:
            raise HTTPException(503, "the service is shutting down") from e
        return {"model": name, "taxonomy": body.taxonomy, "results": results}

    @app.get("/v1/labels", response_model=LabelsResponse, summary="Labels and thresholds")
    async def labels() -> dict[str, Any]:
        return labels_body

    @app.get("/healthz", response_model=HealthResponse, responses=ERRORS, summary="Liveness")
    async def healthz() -> dict[str, Any]:
        if not batcher.alive:
            raise HTTPException(503, "the scoring thread has stopped")
        return {"status": "ok", "model": name}

    @app.get("/metrics", summary="Prometheus metrics",
             response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        page = WEB_DIR / "index.html"
        if not page.is_file():
            raise HTTPException(404, f"the web page is not installed ({page} is missing)")
        return FileResponse(page, media_type="text/html")

    if WEB_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app


def _document_bearer_auth(app: FastAPI) -> None:
    """Declare the bearer scheme in /openapi.json, so /docs offers an "Authorize" button."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]
            for path in OPEN_PATHS & set(schema.get("paths", {})):
                for operation in schema["paths"][path].values():
                    operation["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
