"""``emotag serve``: the JSON API, Prometheus metrics and the web page over HTTP (uvicorn).

The API token is read from ``$EMOTAG_API_TOKEN`` or ``--token-file``, never from a flag value
(other users of the machine can read a process's arguments); worker processes get it in
their environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from ..errors import MissingDependencyError
from .train import console


def serve_command(
    model_dir: Annotated[Path | None, typer.Argument(
        help="Model folder (default: the shipped model).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    max_texts: Annotated[int, typer.Option(min=1, help="Texts per request.")] = 64,
    max_chars: Annotated[int, typer.Option(min=1, help="Characters per text.")] = 5000,
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Bytes per request body.")
                              ] = 1_000_000,
    micro_batch: Annotated[bool, typer.Option(
        "--micro-batch/--no-micro-batch",
        help="Score concurrent requests together in one model call (off: it did not help "
        "single-text requests on 2 cores; see docs/results.md).")] = False,
    max_batch_texts: Annotated[int, typer.Option(min=1, help="Texts per micro-batch.")] = 64,
    max_wait_ms: Annotated[float, typer.Option(
        min=0.0, max=1000.0, help="How long a lone request waits for others to batch with.")
    ] = 2.0,
    explain_max_words: Annotated[int, typer.Option(
        min=1, help="Words explained per text when a request sets explain.")] = 64,
    threads: Annotated[int | None, typer.Option(
        min=1, help="CPU threads for each worker's model (default: the cores divided among "
        "the workers).")] = None,
    workers: Annotated[int, typer.Option(
        min=1, help="Server processes, each with its own copy of the model.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    token_file: Annotated[Path | None, typer.Option(
        help="File holding the API token that requests must send as 'Authorization: Bearer "
        "<token>' (default: $EMOTAG_API_TOKEN; neither: no authentication).",
        show_default=False, metavar="PATH")] = None,
    cors_origin: Annotated[list[str] | None, typer.Option(
        help="An origin whose web pages may call the API (https://app.example.com, or *); "
        "repeat for several. Default: none (no CORS headers).", show_default=False,
        metavar="ORIGIN")] = None,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        help="Addresses of reverse proxies whose X-Forwarded-For/-Proto headers are trusted "
        "(uvicorn's setting; default: $FORWARDED_ALLOW_IPS or 127.0.0.1).", show_default=False,
        metavar="IPS")] = None,
) -> None:
    """Serve POST /v1/predict, GET /v1/labels, /healthz, /metrics and the web page at /."""
    try:
        import uvicorn

        from ..serve import ServeSettings
        from ..serve.factory import SPEC_ENV, ServeSpec, build_app
        from ..serve.metrics import multiprocess_metrics_dir
    except ImportError as e:
        raise MissingDependencyError(f"emotag serve needs the 'serve' extra ({e}): "
                                     "pip install 'emotag[serve]'") from e
    from ..models.onnx import default_threads
    from ..serve.auth import TOKEN_ENV, resolve_token

    settings = ServeSettings(max_texts=max_texts, max_chars=max_chars,
                             max_body_bytes=max_body_bytes, micro_batch=micro_batch,
                             max_batch_texts=max_batch_texts, max_wait_ms=max_wait_ms,
                             explain_max_words=explain_max_words,
                             cors_origins=tuple(cors_origin or ()))
    token = resolve_token(token_file)
    if threads is None and workers > 1:
        threads = max(1, default_threads() // workers)
    spec = ServeSpec(model_dir=str(model_dir) if model_dir else None, threads=threads,
                     settings=settings, auth=token is not None)
    where = (f"open http://{host}:{port}/; "
             f"{'bearer token required' if token else 'no authentication'}")
    if token is None and host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: listening on {host} without authentication; anyone who can reach "
                   f"it can use it (set {TOKEN_ENV} or --token-file)", err=True)
    options = {"host": host, "port": port, "log_level": log_level}
    if forwarded_allow_ips is not None:
        options["forwarded_allow_ips"] = forwarded_allow_ips
    if workers == 1:
        app = build_app(spec, token)
        predictor = app.state.predictor
        console.print(f"emotag serve: {len(predictor.labels)} labels from {predictor.path}, "
                      f"micro-batching {'on' if micro_batch else 'off'}; {where}",
                      highlight=False, soft_wrap=True)
        uvicorn.run(app, **options)
        return
    with multiprocess_metrics_dir(), _environ(SPEC_ENV, spec.to_json()), \
            _environ(TOKEN_ENV, token):
        console.print(f"emotag serve: {workers} workers, {threads} thread(s) each, "
                      f"micro-batching {'on' if micro_batch else 'off'}; {where}",
                      highlight=False, soft_wrap=True)
        uvicorn.run("emotag.serve.factory:app_from_env", factory=True, workers=workers,
                    **options)


@contextmanager
def _environ(name: str, value: str | None) -> Iterator[None]:
    """``os.environ[name] = value`` (unset for None) while the block runs; the worker
    processes uvicorn starts inherit it. The previous value comes back afterwards."""
    def put(v: str | None) -> None:
        if v is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = v

    old = os.environ.get(name)
    put(value)
    try:
        yield
    finally:
        put(old)

