"""Member API tokens: create (shown once), list, revoke; stored hashed."""

from __future__ import annotations

from aiohttp import web

from flow_engine.admin.directory import (
    ApiToken,
    Directory,
)
from flow_engine.storage.audit import AuditEntry
from flow_engine.web.api.access.common import (
    directory_of,
    entry,
    token_out,
)
from flow_engine.web.api.access.models import (
    ACCESS,
    TokenCreated,
    TokenIn,
    TokenList,
    TokenOut,
)
from flow_engine.web.api.auth import principal
from flow_engine.web.api.registry import Api, Permission, body, json

api = Api()


SELF_OR_ACCESS = Permission(module=ACCESS, self_member="member_id")


@api.route(
    "GET",
    "/members/{member_id}/tokens",
    permission=SELF_OR_ACCESS,
    summary="A member's API tokens (never the token itself)",
    tag="access",
    response=TokenList,
    errors=(404,),
)
async def list_tokens(request: web.Request) -> web.Response:
    who = principal(request)
    d = await directory_of(request).current()
    found = d.member_tokens(who, request.match_info["member_id"])
    return json(TokenList(items=[token_out(t) for t in found]))


@api.route(
    "POST",
    "/members/{member_id}/tokens",
    permission=SELF_OR_ACCESS,
    summary="Create an API token: the answer is the only time it is shown",
    tag="access",
    body=TokenIn,
    response=TokenCreated,
    status=201,
    errors=(404, 409),
)
async def create_token(request: web.Request) -> web.Response:
    """Use it as `Authorization: Bearer <token>`. Only a hash of it is kept: store it now."""
    b = await body(request, TokenIn)
    member_id = request.match_info["member_id"]
    who = principal(request)
    svc = directory_of(request)
    now = svc.clock()

    def apply(d: Directory) -> tuple[ApiToken, str, str]:
        record, token = d.create_token(who, member_id, b.name, now)
        return record, token, d.members[member_id].email

    def audit(result: tuple[ApiToken, str, str], at: float) -> list[AuditEntry]:
        record, _token, email = result
        return [
            entry(
                who,
                at,
                "token.create",
                f"token {record.name!r} created for {email}",
                target=record.id,
                member_id=member_id,
                name=record.name,
            )
        ]

    record, token, _email = await svc.change(apply, audit)
    out = TokenCreated(**token_out(record).model_dump(), token=token)
    return json(out, status=201)


@api.route(
    "DELETE",
    "/members/{member_id}/tokens/{token_id}",
    permission=SELF_OR_ACCESS,
    summary="Revoke an API token (at once, for every process)",
    tag="access",
    response=TokenOut,
    errors=(404,),
)
async def revoke_token(request: web.Request) -> web.Response:
    member_id = request.match_info["member_id"]
    token_id = request.match_info["token_id"]
    who = principal(request)
    svc = directory_of(request)
    now = svc.clock()

    def apply(d: Directory) -> tuple[ApiToken, str]:
        return d.revoke_token(who, member_id, token_id, now), d.members[member_id].email

    def audit(result: tuple[ApiToken, str], at: float) -> list[AuditEntry]:
        record, email = result
        return [
            entry(
                who,
                at,
                "token.revoke",
                f"token {record.name!r} of {email} revoked",
                target=record.id,
                member_id=member_id,
            )
        ]

    record, _email = await svc.change(apply, audit)
    return json(token_out(record))
