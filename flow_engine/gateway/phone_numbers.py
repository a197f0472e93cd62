"""The phone-number calls of the Gateway: read a number's fields, and activate it.

:class:`~flow_engine.gateway.base.Gateway` inherits these. A gateway that cannot make
them (the recording gateway of unit tests) keeps the defaults, which refuse with a
:class:`~flow_engine.errors.PermanentGatewayError` saying so. A refusal of the Cloud API
carries the error body as Meta sent it in ``details`` (:func:`meta_details`): the admin
is shown it as it is (the manual: "take a screenshot of the error").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flow_engine.errors import PermanentGatewayError


def meta_details(body: Any, http_status: int | None) -> dict[str, Any]:
    """``{code, title, message, fbtrace_id, http_status, error}`` of a Graph API error body:
    the four named fields picked out (``title``: Meta's ``error_user_title``, else its
    ``type``), ``error`` the whole error object untouched (None when there was no body)."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else None
    e = error or {}
    code = e.get("code")
    return {
        "code": code if isinstance(code, int) and not isinstance(code, bool) else None,
        "title": e.get("error_user_title") or e.get("type"),
        "message": e.get("error_user_msg") or e.get("message"),
        "fbtrace_id": e.get("fbtrace_id"),
        "http_status": http_status,
        "error": error,
    }


def _unsupported(what: str) -> PermanentGatewayError:
    return PermanentGatewayError(
        f"this gateway cannot {what}",
        details=meta_details(None, None) | {"message": f"this gateway cannot {what}"},
    )


class PhoneNumberApi:
    """Phone number fields and activation (``GET /{id}``, ``request_code``,
    ``verify_code``, ``register``). One attempt per call, like sends."""

    async def phone_number(self, phone_number_id: str, fields: Sequence[str]) -> dict[str, Any]:
        """``GET /{version}/{phone_number_id}?fields=…``: the node as the gateway answered."""
        raise _unsupported("read phone numbers")

    async def request_code(self, phone_number_id: str, method: str, language: str) -> None:
        """Ask the gateway to send a verification code (``VOICE`` call or ``SMS``)."""
        raise _unsupported("request verification codes")

    async def verify_code(self, phone_number_id: str, code: str) -> None:
        """Submit the verification code the number received."""
        raise _unsupported("verify codes")

    async def register(self, phone_number_id: str, pin: str) -> None:
        """Register the number for the Cloud API with its two-step ``pin``."""
        raise _unsupported("register numbers")
