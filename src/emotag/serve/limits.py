"""The request-body size limit, enforced before anything parses the body.

FastAPI reads a whole body into memory before validating it, so a limit checked in the
handler comes too late to protect memory. This ASGI middleware answers 413 as soon as the
declared ``Content-Length`` or the bytes actually received pass the limit, and otherwise
hands the (already read, at most ``max_bytes``) body on unchanged.
"""

from __future__ import annotations

import json
from typing import Any

BODY_METHODS = {"POST", "PUT", "PATCH"}


def json_response(status: int, detail: str, headers: tuple[tuple[bytes, bytes], ...] = ()
                  ) -> list[dict[str, Any]]:
    """The ASGI messages of a ``{"detail": ...}`` JSON error answered by a middleware, the
    shape FastAPI gives its own errors (also used by :mod:`emotag.serve.auth`)."""
    body = json.dumps({"detail": detail}).encode()
    return [{"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()), *headers]},
            {"type": "http.response.body", "body": body}]


class BodySizeLimitMiddleware:
    """Reject request bodies over ``max_bytes`` with 413 and a message naming the limit."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, size: str) -> str:
        return (f"request body is {size} bytes; the limit is {self.max_bytes:,} bytes "
                "(emotag serve --max-body-bytes)")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = [v for k, v in scope.get("headers", []) if k.lower() == b"content-length"]
        if declared:
            try:
                length = int(declared[0])
            except ValueError:
                length = -1
            if length < 0:
                await self._send(send, 400, "invalid Content-Length header")
                return
            if length > self.max_bytes:
                await self._send(send, 413, self._too_large(f"{length:,}"))
                return
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":  # the client went away
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._send(send, 413, self._too_large(f"more than {self.max_bytes:,}"))
                return
            if not message.get("more_body", False):
                break

        async def replay() -> dict[str, Any]:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _send(send: Any, status: int, detail: str) -> None:
        for message in json_response(status, detail):
            await send(message)
