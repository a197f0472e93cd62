"""Authentication of the ``/api/v1`` routes, in one middleware.

Today every route takes the admin token (``Authorization: Bearer
<FLOW_ENGINE_ADMIN_TOKEN>``); per-member authorization (R-ADMIN-4) will replace
:func:`authenticate` and keep the middleware.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Handler

from flow_engine.errors import Unauthorized
from flow_engine.web.errors import error_response
from flow_engine.web.state import SETTINGS

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="flow-engine"'}


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(request: web.Request) -> str:
    """The caller's identity (``"admin"``), or Unauthorized. The token is compared in
    constant time; an empty configured token lets nobody in."""
    expected = request.config_dict[SETTINGS].admin_token.get_secret_value()
    given = bearer_token(request.headers.get("Authorization"))
    if given is None:
        raise Unauthorized(
            "missing bearer token: send Authorization: Bearer <FLOW_ENGINE_ADMIN_TOKEN>",
            details={"header": "Authorization"},
        )
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("invalid bearer token", details={"header": "Authorization"})
    return "admin"


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse with 401 ``unauthorized`` (the standard error body) unless :func:`authenticate`
    accepts the request."""
    try:
        authenticate(request)
    except Unauthorized as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details, headers=CHALLENGE)
    return await handler(request)
