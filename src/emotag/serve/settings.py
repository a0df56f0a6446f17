"""The service's limits and batching knobs, one frozen object shared by every module."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class ServeSettings:
    """What ``emotag serve`` accepts and how it batches.

    The limits bound the work one request can ask for (a 64 x 5,000-character request already
    costs about a second of CPU on the shipped model); requests over them are answered 413
    (body) or 422 (texts) with the limit in the message instead of being scored.
    """

    max_texts: int = 64
    """Texts per request."""
    max_chars: int = 5000
    """Characters per text."""
    max_body_bytes: int = 1_000_000
    """Bytes per request body."""
    micro_batch: bool = False
    """Score concurrent requests together in one model call. Off by default: with 64
    clients on 2 cores it gave 0.85x the texts/s of single-text requests and 1.08x for
    16-text requests (benchmarks/bench_service_load.py --compare-micro-batch)."""
    max_batch_texts: int = 64
    """Texts per micro-batch (a larger single request is still scored whole)."""
    max_wait_ms: float = 2.0
    """How long the first request of a batch waits for company, in milliseconds."""
    explain_max_words: int = 64
    """Words explained per text when a request asks for explanations."""
    model_name: str | None = None
    """Name reported in responses (default: the model folder's name)."""
    cors_origins: tuple[str, ...] = ()
    """Origins whose web pages may call the API from a browser (``https://app.example.com``,
    or ``*`` for any). Empty (the default): no CORS headers, so browsers only let pages served
    by the service itself call it."""

    def __post_init__(self) -> None:
        for name in ("max_texts", "max_chars", "max_body_bytes", "max_batch_texts",
                     "explain_max_words"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}={value!r}; expected a positive integer")
        if not 0 <= self.max_wait_ms <= 1000:
            raise ConfigError(f"max_wait_ms={self.max_wait_ms!r}; expected 0 to 1000")
        if isinstance(self.cors_origins, str):
            raise ConfigError(f"cors_origins={self.cors_origins!r}; expected a list of origins")
        origins = tuple(self.cors_origins)  # JSON (the workers' spec) gives a list
        for origin in origins:
            if origin != "*" and (not isinstance(origin, str) or "://" not in origin
                                  or origin.endswith("/")):
                raise ConfigError(f"CORS origin {origin!r}; expected scheme://host[:port] "
                                  "without a path (https://app.example.com) or *")
        object.__setattr__(self, "cors_origins", origins)
