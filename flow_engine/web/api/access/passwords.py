"""Console passwords (sign-in for people, docs/console.md): the super-admin sets a
member's password; members change their own in the console, with their current one."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from flow_engine.admin.passwords import PASSWORD_MAX
from flow_engine.errors import Forbidden
from flow_engine.web.api.access.models import ACCESS
from flow_engine.web.api.auth import principal
from flow_engine.web.api.registry import Api, Input, Permission, body, json
from flow_engine.web.state import SIGNIN

api = Api()


class PasswordIn(Input):
    password: str = Field(
        min_length=1,
        max_length=PASSWORD_MAX,
        description="The new password: 10 to 256 characters. Stored as an argon2id hash.",
    )


class PasswordSet(BaseModel):
    member_id: str
    email: str


@api.route(
    "PUT",
    "/members/{member_id}/password",
    permission=Permission(module=ACCESS),
    summary="Set a member's console password (super-admin only)",
    tag="access",
    body=PasswordIn,
    response=PasswordSet,
    errors=(404, 422),
)
async def set_password(request: web.Request) -> web.Response:
    """Only the super-admin sets another member's password (`flow-engine admin members
    set-password EMAIL`); the member's console sessions end. The password never appears
    in a log line or the audit log."""
    who = principal(request)
    if not who.is_super:
        raise Forbidden(
            "only the super-admin sets a member's password; members change their own in "
            "the console",
            details={"member_id": request.match_info["member_id"]},
        )
    b = await body(request, PasswordIn)
    member = await request.config_dict[SIGNIN].set_password(
        who, request.match_info["member_id"], b.password
    )
    return json(PasswordSet(member_id=member.id, email=member.email))
