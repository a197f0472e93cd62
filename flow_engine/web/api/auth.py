"""Authentication and authorization of every ``/api/v1`` route, in one middleware.

``Authorization: Bearer <token>``: the super-admin token (``FLOW_ENGINE_ADMIN_TOKEN``,
compared in constant time) or a member API token (``fe_<id>_<secret>``, stored hashed).
Then the route's declared :class:`~flow_engine.web.api.registry.Permission` is enforced:
401 without a valid token, 403 outside the grant. In between, a bad path parameter
(``registry.check_path``: a malformed ``{number}``) is a 422 naming it, so that nobody is
told they have no access to a number that cannot exist. A route registered without a
declaration is refused to everyone but the super-admin (fail closed).
"""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Handler

from flow_engine.admin.permissions import Module, Principal, super_admin
from flow_engine.errors import Forbidden, Unauthorized
from flow_engine.web.api.registry import Permission, check_path, operation_of
from flow_engine.web.errors import error_response
from flow_engine.web.state import DIRECTORY, SETTINGS

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="flow-engine"'}
PRINCIPAL = web.RequestKey("principal", Principal)


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(request: web.Request) -> Principal:
    """The caller, or Unauthorized."""
    given = bearer_token(request.headers.get("Authorization"))
    if given is None:
        raise Unauthorized(
            "missing bearer token: send Authorization: Bearer <token>",
            details={"header": "Authorization"},
        )
    expected = request.config_dict[SETTINGS].admin_token.get_secret_value()
    if expected and hmac.compare_digest(given.encode(), expected.encode()):
        return super_admin()
    member = await request.config_dict[DIRECTORY].authenticate(given)
    if member is None:
        raise Unauthorized("invalid bearer token", details={"header": "Authorization"})
    return member


def authorize(who: Principal, permission: Permission, match: dict[str, str]) -> None:
    """Raise Forbidden unless ``who`` may use a route declared with ``permission``."""
    if who.is_super:
        return
    if permission.self_member and match.get(permission.self_member) == who.member_id:
        return
    module = permission.module
    if module is not None and not who.has_module(module):
        raise Forbidden(
            f"your access profile does not grant the {module.value} module",
            details={"module": module.value},
        )
    # a number without a module: linked to it, with any module (``Permission.number``)
    needs_a_module = permission.any_module or (permission.number is not None and module is None)
    if needs_a_module and not who.modules:
        raise Forbidden("your access profile grants no module", details={"module": None})
    if permission.number:
        number = match.get(permission.number, "")
        allowed = who.can(number, module) if module else number in who.numbers
        if not allowed:
            raise Forbidden(
                f"you have no access to number {number}"
                + (f" in the {module.value} module" if module else ""),
                details={"number": number, "module": module.value if module else None},
            )


def require(who: Principal, number: str, module: Module) -> None:
    """For handlers that learn the number from a resource (a ticket, a body)."""
    if not who.can(number, module):
        raise Forbidden(
            f"you have no access to number {number} in the {module.value} module",
            details={"number": number, "module": module.value},
        )


def require_all(who: Principal, numbers: list[str], module: Module) -> None:
    denied = who.denied(numbers, module)
    if denied:
        raise Forbidden(
            f"you have no access in the {module.value} module to: {', '.join(denied)}",
            details={"numbers": denied, "module": module.value},
        )


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None:
        return await handler(request)  # 404 / 405: nothing to protect
    op = operation_of(request)
    if op is not None and op.permission.public:
        return await handler(request)
    try:
        who = await authenticate(request)
    except Unauthorized as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details, headers=CHALLENGE)
    if op is None and not who.is_super:
        raise Forbidden("this route declares no permission", details={"path": request.path})
    if op is not None:
        # a malformed number is a 422 for everyone, before asking who may act on it
        check_path(op, request.match_info)
        authorize(who, op.permission, dict(request.match_info))
    request[PRINCIPAL] = who
    return await handler(request)
