"""Members (R-ADMIN-2): add existing or new ones to a profile and to numbers; search,
edit, delete."""

from __future__ import annotations

from aiohttp import web

from flow_engine.admin.directory import (
    Directory,
    Link,
    Member,
)
from flow_engine.errors import Conflict
from flow_engine.storage.audit import AuditEntry
from flow_engine.web.api.access.common import (
    directory_of,
    entry,
    link_entries,
    member_out,
    member_update_entries,
)
from flow_engine.web.api.access.models import (
    ACCESS,
    AddedMember,
    AddedMembers,
    AddMembers,
    MemberDeleted,
    MemberOut,
    MemberPage,
    MemberPatch,
    MembersQuery,
)
from flow_engine.web.api.auth import principal, require
from flow_engine.web.api.registry import Api, Permission, body, json, query

api = Api()


@api.route(
    "GET",
    "/members",
    permission=Permission(module=ACCESS),
    summary="Members you may see: search, by profile, by number",
    tag="access",
    query=MembersQuery,
    response=MemberPage,
)
async def list_members(request: web.Request) -> web.Response:
    """Members sharing one of your numbers, members linked to no number, and yourself;
    each with only your numbers among theirs."""
    q = query(request, MembersQuery)
    who = principal(request)
    if q.number is not None:
        require(who, q.number, ACCESS)
    d = await directory_of(request).current()
    found = d.search_members(who, q.q)
    if q.profile_id is not None:
        found = [m for m in found if m.profile_id == q.profile_id]
    if q.number is not None:
        found = [m for m in found if q.number in m.numbers]
    page = found[q.offset : q.offset + q.limit]
    return json(MemberPage(items=[member_out(d, m, who) for m in page], total=len(found)))


@api.route(
    "POST",
    "/members",
    permission=Permission(module=ACCESS),
    summary="Add members (or update those with these e-mails): profile and numbers",
    tag="access",
    body=AddMembers,
    response=AddedMembers,
    errors=(404, 422),
)
async def add_members(request: web.Request) -> web.Response:
    """All or nothing. A new member needs a name; an existing one (same e-mail) gets the
    profile when given and the numbers added. You may link only your own numbers, each
    with a configuration (404 naming those without), and assign only a profile whose
    modules you have."""
    b = await body(request, AddMembers)
    who = principal(request)
    svc = directory_of(request)
    now = svc.clock()

    def apply(d: Directory) -> tuple[AddedMembers, list[tuple[Member, Member | None]]]:
        d.require_names([(m.name, m.email) for m in b.members])
        done: list[tuple[Member, Member | None]] = []
        for i, m in enumerate(b.members):
            before = d.member_by_email(m.email)
            if before is not None and not b.numbers and not d.is_visible(who, before):
                # nothing to give them, and nothing of theirs to show you
                raise Conflict(
                    f"{m.email} belongs to a member outside your numbers: "
                    "add them with one of your numbers",
                    details={"field": f"members.{i}.email"},
                )
            member, _created = d.add_member(
                who,
                name=m.name,
                email=m.email,
                profile_id=b.profile_id,
                numbers=b.numbers,
                now=now,
            )
            done.append((member, before))
        items = [
            AddedMember(member=member_out(d, member, who), created=before is None)
            for member, before in done
        ]
        return AddedMembers(items=items), done

    def audit(
        result: tuple[AddedMembers, list[tuple[Member, Member | None]]], at: float
    ) -> list[AuditEntry]:
        out = []
        links: list[Link] = []
        for member, before in result[1]:
            new = sorted(set(member.numbers) - set(before.numbers if before else []))
            links.extend(Link(member_id=member.id, email=member.email, number=n) for n in new)
            if before is None:
                out.append(
                    entry(
                        who,
                        at,
                        "member.create",
                        f"member {member.email} created",
                        target=member.id,
                        email=member.email,
                        profile_id=member.profile_id,
                    )
                )
            elif before.profile_id != member.profile_id:
                out.append(
                    entry(
                        who,
                        at,
                        "member.update",
                        f"member {member.email}: profile changed",
                        target=member.id,
                        changed=["profile_id"],
                        before={"profile_id": before.profile_id},
                        after={"profile_id": member.profile_id},
                    )
                )
        return out + link_entries(who, at, "member.link", links)

    added, _ = await svc.change(apply, audit)
    return json(added)


@api.route(
    "GET",
    "/members/{member_id}",
    permission=Permission(module=ACCESS, self_member="member_id"),
    summary="One member",
    tag="access",
    response=MemberOut,
    errors=(404,),
)
async def get_member(request: web.Request) -> web.Response:
    who = principal(request)
    d = await directory_of(request).current()
    m = d.visible_member(who, request.match_info["member_id"])
    return json(member_out(d, m, who))


@api.route(
    "PATCH",
    "/members/{member_id}",
    permission=Permission(module=ACCESS),
    summary="Rename a member, change their e-mail or profile (null removes it)",
    tag="access",
    body=MemberPatch,
    response=MemberOut,
    errors=(404, 409, 422),
)
async def patch_member(request: web.Request) -> web.Response:
    """Only for members whose modules and numbers are all within yours; a new profile
    must grant only modules you have. An empty body is a 422; values equal to the
    member's change nothing and are not audited."""
    b = await body(request, MemberPatch)
    member_id = request.match_info["member_id"]
    who = principal(request)
    svc = directory_of(request)
    clear = "profile_id" in b.model_fields_set and b.profile_id is None

    def apply(d: Directory) -> tuple[MemberOut, Member, Member]:
        before = d.visible_member(who, member_id)
        m = d.update_member(
            who,
            member_id,
            name=b.name,
            email=b.email,
            profile_id=b.profile_id,
            clear_profile=clear,
        )
        return member_out(d, m, who), before, m

    def audit(result: tuple[MemberOut, Member, Member], at: float) -> list[AuditEntry]:
        _, before, after = result
        return member_update_entries(who, at, before, after)

    out, _, _ = await svc.change(apply, audit)
    return json(out)


@api.route(
    "DELETE",
    "/members/{member_id}",
    permission=Permission(module=ACCESS),
    summary="Delete a member: their links, ownerships and tokens go with them",
    tag="access",
    response=MemberDeleted,
    errors=(404,),
)
async def delete_member(request: web.Request) -> web.Response:
    member_id = request.match_info["member_id"]
    who = principal(request)
    svc = directory_of(request)
    now = svc.clock()

    def apply(d: Directory) -> tuple[MemberDeleted, list[str]]:
        m = d.visible_member(who, member_id)
        out = member_out(d, m, who)
        revoked = len(d.live_tokens(member_id))
        d.delete_member(who, member_id, now)
        return MemberDeleted(member=out, tokens_revoked=revoked), list(m.numbers)

    def audit(result: tuple[MemberDeleted, list[str]], at: float) -> list[AuditEntry]:
        deleted, numbers = result
        m = deleted.member
        return [
            entry(
                who,
                at,
                "member.delete",
                f"member {m.email} deleted",
                target=m.id,
                email=m.email,
                numbers=numbers,
                tokens_revoked=deleted.tokens_revoked,
            )
        ]

    out, _ = await svc.change(apply, audit)
    return json(out)
