"""Prometheus metrics of one app: requests, latency, errors and micro-batch sizes.

Each app gets its own ``CollectorRegistry`` (not the process-global one), so several apps in
one process (tests, benchmarks comparing settings) never share or double-register counters.
With several worker processes (``emotag serve --workers N``) each worker's counters go to
files in ``$PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode) and /metrics,
whichever worker answers it, sums them all. Endpoints are labelled by a fixed set of route
names, never by the raw path, so a client that requests random URLs cannot blow up the
number of time series.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
ERROR_KINDS = {400: "bad_request", 401: "unauthorized", 404: "not_found",
               405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
               422: "validation", 500: "internal", 503: "unavailable"}
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class ServiceMetrics:
    """The counters and histograms of one app, and their text exposition."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, routes: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry()
        self.routes = set(routes)
        self.requests = Counter("emotag_http_requests", "HTTP requests answered.",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("emotag_http_request_duration_seconds",
                                 "Time from request to the end of the response.",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.errors = Counter("emotag_http_errors", "Responses with status >= 400, by kind.",
                              ["endpoint", "kind"], registry=self.registry)
        self.batch_size = Histogram("emotag_batch_size_texts",
                                    "Texts per model call (micro-batches merge requests).",
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.texts = Counter("emotag_texts_scored", "Texts scored by the model.",
                             registry=self.registry)

    def endpoint(self, path: str) -> str:
        """The route label for a request path: a known route, ``/static``, or ``other``."""
        if path in self.routes:
            return path
        if path.startswith("/static/"):
            return "/static"
        return "other"

    def observe_request(self, path: str, method: str, status: int, seconds: float) -> None:
        endpoint = self.endpoint(path)
        method = method if method in METHODS else "OTHER"
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)
        if status >= 400:
            self.errors.labels(endpoint, ERROR_KINDS.get(status, f"http_{status}")).inc()

    def observe_batch(self, n_texts: int) -> None:
        self.batch_size.observe(n_texts)
        self.texts.inc(n_texts)

    def render(self) -> bytes:
        if os.environ.get(MULTIPROC_ENV):  # every worker's files, not just this process's
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


@contextmanager
def multiprocess_metrics_dir() -> Iterator[str]:
    """A fresh ``$PROMETHEUS_MULTIPROC_DIR`` while the block runs (workers inherit it).

    Set before the worker processes start: prometheus_client picks its storage when it is
    first imported. An operator's own setting is kept (and its files are theirs to clean).
    """
    if os.environ.get(MULTIPROC_ENV):
        yield os.environ[MULTIPROC_ENV]
        return
    with tempfile.TemporaryDirectory(prefix="emotag-metrics-") as folder:
        os.environ[MULTIPROC_ENV] = folder
        try:
            yield folder
        finally:
            os.environ.pop(MULTIPROC_ENV, None)


class MetricsMiddleware:
    """ASGI middleware that times every HTTP request and counts it by route and status.

    An exception that escapes the app counts as a 500 (the server error handler outside
    this middleware turns it into one).
    """

    def __init__(self, app: Any, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except BaseException:
            status = 500
            raise
        finally:
            self.metrics.observe_request(scope.get("path", ""), scope.get("method", ""), status,
                                         time.perf_counter() - start)
