"""Links of members to numbers (R-ADMIN-2, R-ADMIN-3): one by one and in bulk, with
the summary before a removal."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from flow_engine.admin.directory import (
    Directory,
    Link,
)
from flow_engine.storage.audit import AuditEntry
from flow_engine.web.api.access.common import (
    directory_of,
    dry_run_of,
    known_members,
    link_entries,
    member_out,
)
from flow_engine.web.api.access.models import (
    NUMBERS,
    LinksAdded,
    LinksIn,
    LinksRemoved,
    LinksRemoveIn,
    MemberList,
    NumberMembersIn,
)
from flow_engine.web.api.auth import principal, require_all
from flow_engine.web.api.configs import config_service
from flow_engine.web.api.registry import Api, Permission, body, json

api = Api()


async def _link(request: web.Request, member_ids: list[str], numbers: list[str]) -> LinksAdded:
    who = principal(request)

    def apply(d: Directory) -> list[Link]:
        known_members(d, who, member_ids)
        return d.link(who, member_ids, numbers)

    def audit(added: list[Link], at: float) -> list[AuditEntry]:
        return link_entries(who, at, "member.link", added)

    return LinksAdded(added=await directory_of(request).change(apply, audit))


async def _unlink(
    request: web.Request, member_ids: list[str], numbers: list[str], dry_run: bool
) -> LinksRemoved:
    who = principal(request)

    def apply(d: Directory) -> list[Link]:
        known_members(d, who, member_ids)
        return d.unlink(who, member_ids, numbers)

    def audit(removed: list[Link], at: float) -> list[AuditEntry]:
        return link_entries(who, at, "member.unlink", removed)

    if dry_run:
        return LinksRemoved(removed=await dry_run_of(request, apply), dry_run=True)
    return LinksRemoved(removed=await directory_of(request).change(apply, audit), dry_run=False)


@api.route(
    "POST",
    "/links",
    permission=Permission(module=NUMBERS),
    summary="Link several members to several numbers in one call",
    tag="access",
    body=LinksIn,
    response=LinksAdded,
    errors=(404, 422),
)
async def add_links(request: web.Request) -> web.Response:
    """Needs the numbers module on every number, each with a configuration (404 naming
    those without). Answers the links that are new."""
    b = await body(request, LinksIn)
    require_all(principal(request), b.numbers, NUMBERS)
    return json(await _link(request, b.member_ids, b.numbers))


@api.route(
    "POST",
    "/links/remove",
    permission=Permission(module=NUMBERS),
    summary="Unlink several members from several numbers (dry_run: only the summary)",
    tag="access",
    body=LinksRemoveIn,
    response=LinksRemoved,
    errors=(422,),
)
async def remove_links(request: web.Request) -> web.Response:
    """Needs the numbers module on every number. Answers the links removed (with
    `dry_run`, the links that would be removed, and nothing changes). An owner unlinked
    from a number stops owning it."""
    b = await body(request, LinksRemoveIn)
    require_all(principal(request), b.numbers, NUMBERS)
    return json(await _unlink(request, b.member_ids, b.numbers, b.dry_run))


NUMBER_MEMBERS = Permission(module=NUMBERS, number="number")


@api.route(
    "GET",
    "/numbers/{number}/members",
    permission=NUMBER_MEMBERS,
    summary="Members linked to a number",
    tag="access",
    response=MemberList,
    errors=(422,),
)
async def list_number_members(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    who = principal(request)
    d = await directory_of(request).current()
    items = [member_out(d, m, who) for m in d.members_of(number)]
    return json(MemberList(items=items))


@api.route(
    "POST",
    "/numbers/{number}/members",
    permission=NUMBER_MEMBERS,
    summary="Link members to a number",
    tag="access",
    body=NumberMembersIn,
    response=LinksAdded,
    errors=(404, 422),
)
async def add_number_members(request: web.Request) -> web.Response:
    """The number must have a configuration (404 otherwise, as on its other routes)."""
    number = request.match_info["number"]
    b = await body(request, NumberMembersIn)
    await config_service(request).head(number)
    return json(await _link(request, b.member_ids, [number]))


class LinksRemovedOne(BaseModel):
    removed: list[Link]


@api.route(
    "DELETE",
    "/numbers/{number}/members/{member_id}",
    permission=NUMBER_MEMBERS,
    summary="Unlink a member from a number",
    tag="access",
    response=LinksRemovedOne,
    errors=(404, 422),
    unchecked=("number",),
)
async def remove_number_member(request: web.Request) -> web.Response:
    """Takes the number as the link names it, unchecked: a link to a malformed number,
    which earlier versions let anyone make, can still be removed."""
    number = request.match_info["number"]
    member_id = request.match_info["member_id"]
    who = principal(request)

    def apply(d: Directory) -> list[Link]:
        d.visible_member(who, member_id)
        return d.unlink(who, [member_id], [number])

    def audit(removed: list[Link], at: float) -> list[AuditEntry]:
        return link_entries(who, at, "member.unlink", removed)

    return json(LinksRemovedOne(removed=await directory_of(request).change(apply, audit)))
