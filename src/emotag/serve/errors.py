"""Error responses: every error is JSON with a readable ``detail`` sentence.

Validation problems (422) become one sentence naming each field and its problem (the
pydantic messages already state the limit: "List should have at most 64 items"), plus an
``errors`` list for programs. The values that failed are not echoed back: they may be huge,
or not even representable in JSON (NaN, unpaired surrogates), and echoing them could turn a
client error into a server error. A grouping the model's labels do not allow
(:class:`~emotag.errors.TaxonomyError`) is a 422 with the reason. An unexpected exception is
logged and answered with a JSON 500 that names only its type; the fuzz tests treat any 500 as
a bug.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import TaxonomyError

log = logging.getLogger(__name__)
MAX_LISTED = 5


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def _item(error: dict[str, Any]) -> dict[str, Any]:
    """``loc``, ``msg``, ``type`` of a pydantic/FastAPI error, JSON-safe and readable."""
    loc = [p if isinstance(p, int) else str(p) for p in error.get("loc", ())]
    msg = str(error.get("msg", "invalid value"))
    if error.get("type") == "json_invalid":  # FastAPI puts the character position in loc
        position = loc[1] if len(loc) > 1 else None
        reason = (error.get("ctx") or {}).get("error")
        msg = "invalid JSON" + (f" ({reason} at character {position})"
                                if isinstance(reason, str) else "")
        loc = ["body"]
    return {"loc": loc, "msg": msg, "type": str(error.get("type", "value_error"))}


def validation_detail(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """One sentence for people and a JSON-safe list (``loc``, ``msg``, ``type``) for programs."""
    items = [_item(e) for e in errors]
    parts = [f"{_where(tuple(e['loc']))}: {e['msg']}" for e in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        parts.append(f"and {len(items) - MAX_LISTED} more problems")
    return "; ".join(parts) or "invalid request", items


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    detail, items = validation_detail(list(exc.errors()))
    return JSONResponse({"detail": detail, "errors": items}, status_code=422)


#: FastAPI's words when the body cannot even be decoded (invalid UTF-8, or an integer too long
#: for Python's int parser), and what they mean for a client.
FASTAPI_PARSE_ERROR = "There was an error parsing the body"
PARSE_ERROR = ("could not parse the body: send JSON encoded as UTF-8, with numbers of at most "
               "4,300 digits")


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 400 and detail == FASTAPI_PARSE_ERROR:
        detail = PARSE_ERROR
    return JSONResponse({"detail": detail}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def on_taxonomy_error(request: Request, exc: TaxonomyError) -> JSONResponse:
    item = {"loc": ["body", "taxonomy"], "msg": str(exc), "type": "taxonomy_unavailable"}
    return JSONResponse({"detail": str(exc), "errors": [item]}, status_code=422)


async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"},
                        status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(TaxonomyError, on_taxonomy_error)
    app.add_exception_handler(Exception, on_unexpected_error)
