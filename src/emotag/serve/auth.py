"""Optional bearer-token authentication of the service.

The token comes from the environment variable ``EMOTAG_API_TOKEN`` or from a file
(``emotag serve --token-file PATH``), never from a command-line value: the arguments of a
process are visible to every user of the machine (``ps``), its environment and a 0600 file
are not. Worker processes (``--workers N``) get it through the same environment variable.

With a token set, every request must carry ``Authorization: Bearer <token>``; the value is
compared in constant time (:func:`hmac.compare_digest`) so response times say nothing about
how much of a guess was right. A request without it, or with another value, is answered 401
with a JSON ``detail`` and a ``WWW-Authenticate: Bearer`` header (RFC 6750), before its body
is read. Open without a token: ``/healthz`` (load balancers and orchestrators probe it), the
web page and its static files (they hold no data; the page asks for the token when the API
answers 401) and the API description (``/openapi.json``, ``/docs``). ``/metrics`` needs the
token (Prometheus sends it with ``authorization: {credentials_file: ...}``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import stat
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .limits import json_response

log = logging.getLogger(__name__)

TOKEN_ENV = "EMOTAG_API_TOKEN"
OPEN_PATHS = frozenset({"/healthz", "/", "/openapi.json", "/docs", "/docs/oauth2-redirect",
                        "/favicon.ico"})
OPEN_PREFIXES = ("/static/",)
REALM = "emotag"


def check_token(token: str, source: str) -> str:
    """``token`` without surrounding whitespace; a ConfigError naming ``source`` when it is
    empty or holds characters an ``Authorization`` header cannot carry."""
    token = token.strip()
    if not token:
        raise ConfigError(f"{source} is empty; put the API token in it (no token at all "
                          "serves without authentication)")
    if not all(33 <= ord(c) <= 126 for c in token):
        raise ConfigError(f"{source}: the API token may only hold visible ASCII characters "
                          "(no spaces); `python -c 'import secrets; print(secrets.token_urlsafe"
                          "(32))'` makes a good one")
    return token


def read_token_file(path: str | Path) -> str:
    """The token in the file ``path`` (one line; a trailing newline is ignored)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the token file {path}: {e}") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the token file %s can be read by other users; chmod 600 it", path)
    return check_token(text, f"token file {path}")


def resolve_token(token_file: str | Path | None = None) -> str | None:
    """The token of ``token_file`` if given, else ``$EMOTAG_API_TOKEN``, else None (no auth)."""
    if token_file is not None:
        return read_token_file(token_file)
    value = os.environ.get(TOKEN_ENV)
    return None if value is None else check_token(value, TOKEN_ENV)


def _digest(value: bytes) -> bytes:
    # Equal-length digests: compare_digest then leaks neither content nor the token's length.
    return hashlib.sha256(value).digest()


def _response(detail: str, error: str | None) -> list[dict[str, Any]]:
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return json_response(401, detail, ((b"www-authenticate", challenge.encode()),))


class BearerAuthMiddleware:
    """ASGI middleware: 401 for requests to protected paths without the right bearer token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._digest = _digest(check_token(token, "the API token").encode())

    @staticmethod
    def is_open(path: str) -> bool:
        return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)

    def authorised(self, headers: list[tuple[bytes, bytes]]) -> bool | None:
        """True for the right token, False for a wrong one, None when none was sent."""
        values = [v for k, v in headers if k.lower() == b"authorization"]
        if not values:
            return None
        scheme, _, credentials = values[0].strip().partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        return hmac.compare_digest(_digest(credentials.strip()), self._digest)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.is_open(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        ok = self.authorised(scope.get("headers", []))
        if ok:
            await self.app(scope, receive, send)
            return
        if ok is None:
            messages = _response("missing bearer token: send the header 'Authorization: Bearer "
                                 "<token>' with the token the server was started with", None)
        else:
            messages = _response("invalid bearer token", "invalid_token")
        for message in messages:
            await send(message)
