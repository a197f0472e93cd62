"""The error tree of flow-engine.

Every error the engine raises on purpose derives from :class:`FlowEngineError`.
The web layer maps them to HTTP answers once, in one middleware, by walking the
MRO (``web/errors.py``); clients always get
``{"error": {"code", "message", "details"}}``.

::

    FlowEngineError
    ├── ConfigurationError            settings or a number configuration is invalid
    ├── RequestError                  4xx: the client sent something we refuse
    │   ├── BadRequest                400 malformed JSON or shape
    │   ├── Unauthorized              401 missing/invalid credentials or signature
    │   ├── Forbidden                 403 authenticated but not allowed
    │   ├── NotFound                  404
    │   ├── Conflict                  409
    │   ├── PreconditionFailed        412 stale If-Match
    │   ├── PayloadTooLarge           413
    │   ├── TooManyRequests           429 a limit is reached (e.g. the messaging limit)
    │   └── UnprocessableEntity       422 valid JSON, invalid content (field errors)
    ├── StorageError                  the store failed or refused
    │   ├── VersionConflict           a version-checked save lost the race
    │   ├── StoreUnavailable          503 the store cannot be reached now: retry later
    │   └── ConfigurationUnavailable  503 a number's configuration is missing from the store
    │                                 (it was lost) until it is seeded again: retry later
    └── GatewayError                  the WhatsApp gateway refused or failed a send
        ├── TransientGatewayError     retry with backoff (130429, 131056, 131057, 80007, 4, 5xx,
        │                             timeouts, connection errors)
        └── PermanentGatewayError     record and never retry (131026, 131047, 132xxx, 368, …)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class FlowEngineError(Exception):
    """Root of every error flow-engine raises on purpose."""

    code = "flow_engine_error"
    status = 500

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ConfigurationError(FlowEngineError):
    code = "configuration_error"


class RequestError(FlowEngineError):
    code = "bad_request"
    status = 400


class BadRequest(RequestError):
    code = "bad_request"
    status = 400


class Unauthorized(RequestError):
    code = "unauthorized"
    status = 401


class Forbidden(RequestError):
    code = "forbidden"
    status = 403


class NotFound(RequestError):
    code = "not_found"
    status = 404


class Conflict(RequestError):
    code = "conflict"
    status = 409


class PreconditionFailed(RequestError):
    code = "precondition_failed"
    status = 412


class PreconditionRequired(RequestError):
    code = "precondition_required"
    status = 428


class PayloadTooLarge(RequestError):
    code = "payload_too_large"
    status = 413


class TooManyRequests(RequestError):
    code = "too_many_requests"
    status = 429


class UnprocessableEntity(RequestError):
    code = "validation_error"
    status = 422


class Problems:
    """The field errors (422s) of checks that do not depend on one another, gathered so
    that one answer names every bad field — not the first, then the next on the retry::

        found = Problems()
        with found.check():
            phone = phone_of(body.to)
        with found.check():
            template = await sendable(body.template)
        found.raise_any()

    One error is raised as it was; several as one 422 with every ``details`` entry (each
    once) and their messages joined by "; "."""

    def __init__(self) -> None:
        self.found: list[UnprocessableEntity] = []

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except UnprocessableEntity as exc:
            self.found.append(exc)

    def add(self, exc: UnprocessableEntity) -> None:
        self.found.append(exc)

    def __bool__(self) -> bool:
        return bool(self.found)

    def raise_any(self) -> None:
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            details: list[Any] = []
            for exc in self.found:
                for d in exc.details if isinstance(exc.details, list) else []:
                    if d not in details:
                        details.append(d)
            messages = dict.fromkeys(exc.message for exc in self.found)
            raise UnprocessableEntity("; ".join(messages), details=details)


class StorageError(FlowEngineError):
    code = "storage_error"
    status = 503


class VersionConflict(StorageError):
    code = "version_conflict"
    status = 409


class StoreUnavailable(StorageError):
    code = "store_unavailable"
    status = 503


class ConfigurationUnavailable(StorageError):
    code = "configuration_unavailable"
    status = 503


class GatewayError(FlowEngineError):
    """A send through the gateway failed.

    ``api_code`` is the Cloud API error ``code`` (None for network errors),
    ``http_status`` the HTTP status when there was an answer, and ``retry_after``
    a hint in seconds when the gateway gave one.
    """

    code = "gateway_error"
    status = 502

    def __init__(
        self,
        message: str,
        *,
        api_code: int | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message, details=details)
        self.api_code = api_code
        self.http_status = http_status
        self.retry_after = retry_after


class TransientGatewayError(GatewayError):
    code = "gateway_transient"


class PermanentGatewayError(GatewayError):
    code = "gateway_permanent"


def validation_message(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error as a client reads it: a validator's own words,
    without pydantic's "Value error, " in front."""
    message = str(error["msg"])
    if error.get("type") == "value_error":
        return message.removeprefix("Value error, ")
    return message
