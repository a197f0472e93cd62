"""One middleware maps every error to ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from flow_engine.errors import (
    FlowEngineError,
    StorageError,
    StoreUnavailable,
    validation_message,
)
from flow_engine.logging import LogThrottle
from flow_engine.web.state import LOG_THROTTLE, STORAGE

log = structlog.get_logger()

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: Any = None
) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": details}}
    return web.json_response(body, status=status, headers=headers)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Field-level details: the path of each bad field and what is wrong with it."""
    return [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "(body)",
            "message": validation_message(e),
            "type": e["type"],
        }
        for e in exc.errors(include_url=False, include_input=False)
    ]


def _log_store_failure(request: web.Request, exc: BaseException, code: str) -> None:
    """One line per kind of store failure per interval (an outage fails every request)."""
    throttle = request.config_dict.get(LOG_THROTTLE) or LogThrottle()
    cause = exc.__cause__ or exc
    kind = type(cause).__name__
    left_out = throttle.allow(("request_failed", code, kind))
    if left_out is not None:
        log.warning(
            "request_failed",
            path=request.path,
            code=code,
            kind=kind,
            error=str(cause)[:200],
            left_out=left_out,
        )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except FlowEngineError as exc:
        if isinstance(exc, StorageError) and exc.status == 503:
            _log_store_failure(request, exc, exc.code)
        elif exc.status >= 500:
            log.error("request_failed", path=request.path, code=exc.code, error=exc.message)
        return error_response(exc.status, exc.code, exc.message, exc.details)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        message = exc.reason if exc.status != 413 else "request body too large"
        return error_response(
            exc.status,
            code,
            message,
            None,
            headers={k: v for k, v in exc.headers.items() if k.lower() == "allow"},
        )
    except Exception as exc:
        storage = request.config_dict.get(STORAGE)
        if storage is not None and storage.is_unavailable(exc):
            _log_store_failure(request, exc, StoreUnavailable.code)
            return error_response(
                StoreUnavailable.status,
                StoreUnavailable.code,
                "the store cannot be reached now: retry later",
            )
        log.exception("unhandled_error", path=request.path)
        return error_response(500, "internal_error", "internal error")
