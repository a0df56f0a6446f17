"""The HTTP service behind ``emotag serve``: a JSON API, metrics and the web page.

:func:`create_app` wires a loaded :class:`~emotag.inference.predictor.Predictor` into a FastAPI
application; the pieces live in their own modules (request limits, micro-batching,
Prometheus metrics, error responses) so each can be read and tested alone. FastAPI is
imported only when an app is built, so ``ServeSettings`` costs nothing to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .settings import ServeSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..inference.predictor import Predictor

__all__ = ["ServeSettings", "create_app"]


def create_app(predictor: Predictor, settings: ServeSettings | None = None,
               token: str | None = None) -> FastAPI:
    """See :func:`emotag.serve.app.create_app`."""
    from .app import create_app as _create_app

    return _create_app(predictor, settings, token)
