"""The service app built from a spec in the environment: one model per worker process.

``emotag serve --workers N`` hands uvicorn an import string (uvicorn starts each worker in a
fresh process, and a loaded model cannot be passed to it), so what the app needs travels as
JSON in ``EMOTAG_SERVE_SPEC``: the model folder, the threads each worker's model may use, and
the :class:`ServeSettings`. Every worker loads its own copy of the model (19 MB for the shipped
one) and answers requests on its own event loop; the kernel spreads connections between them.
The API token is not part of the spec: workers read it from ``EMOTAG_API_TOKEN``, and a spec
that says ``auth`` refuses to start a worker without it (never an open service by accident).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError
from .auth import TOKEN_ENV, resolve_token
from .settings import ServeSettings

SPEC_ENV = "EMOTAG_SERVE_SPEC"


@dataclass(frozen=True)
class ServeSpec:
    """Everything a worker process needs to build the app."""

    model_dir: str | None = None
    """Model folder (None: the shipped model)."""
    threads: int | None = None
    """ONNX Runtime / torch threads of this worker's model (None: every core)."""
    settings: ServeSettings = field(default_factory=ServeSettings)
    auth: bool = False
    """Requests need the bearer token of ``$EMOTAG_API_TOKEN``."""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeSpec:
        try:
            raw: dict[str, Any] = json.loads(text)
            return cls(model_dir=raw.get("model_dir"), threads=raw.get("threads"),
                       settings=ServeSettings(**raw.get("settings", {})),
                       auth=bool(raw.get("auth", False)))
        except (ValueError, TypeError, AttributeError) as e:
            raise ConfigError(f"{SPEC_ENV} is not a valid serve spec ({e}); it is written by "
                              "`emotag serve`, not by hand") from e


def build_app(spec: ServeSpec, token: str | None = None) -> Any:
    """Load the model of ``spec`` and wrap it in the FastAPI app (``token``: see create_app).

    ONNX Runtime's idle threads are told not to spin: between requests the cores belong to
    the event loop (docs/results.md: p99 at 64 clients 263 -> 178 ms on 2 cores).
    """
    from ..inference.predictor import Predictor
    from .app import create_app

    predictor = Predictor.load(spec.model_dir, num_threads=spec.threads, spin_wait=False)
    return create_app(predictor, spec.settings, token)


def app_from_env() -> Any:
    """The uvicorn factory ``emotag.serve.factory:app_from_env``: the app of the spec, with
    the token of ``$EMOTAG_API_TOKEN``."""
    text = os.environ.get(SPEC_ENV)
    if not text:
        raise ConfigError(f"{SPEC_ENV} is not set; start workers with `emotag serve --workers N`")
    spec = ServeSpec.from_json(text)
    token = resolve_token()
    if spec.auth and token is None:
        raise ConfigError(f"the serve spec asks for authentication but {TOKEN_ENV} is not set "
                          "in this worker's environment")
    return build_app(spec, token)
