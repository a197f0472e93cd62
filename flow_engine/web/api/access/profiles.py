"""Access profiles (R-ADMIN-1): create, edit, list with member counts, delete."""

from __future__ import annotations

from aiohttp import web

from flow_engine.admin.directory import (
    Directory,
    Profile,
)
from flow_engine.storage.audit import AuditEntry
from flow_engine.web.api.access.common import (
    directory_of,
    dry_run_of,
    entry,
    member_out,
    profile_out,
    profile_update_entries,
)
from flow_engine.web.api.access.models import (
    ACCESS,
    DeleteQuery,
    MemberList,
    ProfileDeleted,
    ProfileIn,
    ProfileList,
    ProfileOut,
    ProfilePatch,
)
from flow_engine.web.api.auth import principal
from flow_engine.web.api.registry import Api, Permission, body, json, query

api = Api()


@api.route(
    "GET",
    "/profiles",
    permission=Permission(module=ACCESS),
    summary="Access profiles",
    tag="access",
    response=ProfileList,
)
async def list_profiles(request: web.Request) -> web.Response:
    who = principal(request)
    d = await directory_of(request).current()
    items = sorted(d.profiles.values(), key=lambda p: p.name.casefold())
    return json(ProfileList(items=[profile_out(d, p, who) for p in items]))


@api.route(
    "POST",
    "/profiles",
    permission=Permission(module=ACCESS),
    summary="Create an access profile (only with modules you have yourself)",
    tag="access",
    body=ProfileIn,
    response=ProfileOut,
    status=201,
    errors=(409, 422),
)
async def create_profile(request: web.Request) -> web.Response:
    b = await body(request, ProfileIn)
    who = principal(request)
    svc = directory_of(request)
    now = svc.clock()

    def apply(d: Directory) -> ProfileOut:
        p = d.create_profile(who, b.name, b.description, b.modules, now)
        return profile_out(d, p, who)

    def audit(p: ProfileOut, at: float) -> list[AuditEntry]:
        return [
            entry(
                who,
                at,
                "profile.create",
                f"profile {p.name!r} created",
                target=p.id,
                modules=[m.value for m in p.modules],
            )
        ]

    created = await svc.change(apply, audit)
    return json(created, status=201)


@api.route(
    "GET",
    "/profiles/{profile_id}",
    permission=Permission(module=ACCESS),
    summary="One access profile",
    tag="access",
    response=ProfileOut,
    errors=(404,),
)
async def get_profile(request: web.Request) -> web.Response:
    d = await directory_of(request).current()
    p = d.profile(request.match_info["profile_id"])
    return json(profile_out(d, p, principal(request)))


@api.route(
    "PATCH",
    "/profiles/{profile_id}",
    permission=Permission(module=ACCESS),
    summary="Rename, describe, or change the modules of a profile",
    tag="access",
    body=ProfilePatch,
    response=ProfileOut,
    errors=(404, 409, 422),
)
async def patch_profile(request: web.Request) -> web.Response:
    """Changes the rights of every member holding the profile: allowed only if you have
    every module of the profile (before and after) and could manage each of its members.
    An empty body is a 422; values equal to the profile's change nothing and are not
    audited."""
    b = await body(request, ProfilePatch)
    profile_id = request.match_info["profile_id"]
    who = principal(request)
    svc = directory_of(request)
    now = svc.clock()

    def apply(d: Directory) -> tuple[ProfileOut, Profile, Profile]:
        before = d.profile(profile_id)
        p = d.update_profile(
            who, profile_id, name=b.name, description=b.description, modules=b.modules, now=now
        )
        return profile_out(d, p, who), before, p

    def audit(result: tuple[ProfileOut, Profile, Profile], at: float) -> list[AuditEntry]:
        _, before, after = result
        return profile_update_entries(who, at, before, after)

    out, _, _ = await svc.change(apply, audit)
    return json(out)


@api.route(
    "DELETE",
    "/profiles/{profile_id}",
    permission=Permission(module=ACCESS),
    summary="Delete a profile (dry_run=true: only the summary)",
    tag="access",
    query=DeleteQuery,
    response=ProfileDeleted,
    errors=(404,),
)
async def delete_profile(request: web.Request) -> web.Response:
    """Its members keep their numbers but lose every module of the profile at once.
    `dry_run=true` answers the same summary and changes nothing."""
    q = query(request, DeleteQuery)
    profile_id = request.match_info["profile_id"]
    who = principal(request)
    svc = directory_of(request)

    def apply(d: Directory) -> ProfileDeleted:
        profile = profile_out(d, d.profile(profile_id), who)
        visible = {m.id for m in d.visible_members(who)}
        affected = [
            member_out(d, m, who)
            for m in sorted(d.members.values(), key=lambda m: m.email)
            if m.profile_id == profile_id and m.id in visible
        ]
        d.delete_profile(who, profile_id)
        return ProfileDeleted(
            profile=profile,
            members_affected=affected,
            dry_run=q.dry_run,
            deleted=not q.dry_run,
        )

    def audit(result: ProfileDeleted, at: float) -> list[AuditEntry]:
        return [
            entry(
                who,
                at,
                "profile.delete",
                f"profile {result.profile.name!r} deleted"
                f" ({len(result.members_affected)} members affected)",
                target=profile_id,
                members_affected=[m.id for m in result.members_affected],
            )
        ]

    result = await dry_run_of(request, apply) if q.dry_run else await svc.change(apply, audit)
    return json(result)


@api.route(
    "GET",
    "/profiles/{profile_id}/members",
    permission=Permission(module=ACCESS),
    summary="Members holding a profile (those you may see)",
    tag="access",
    response=MemberList,
    errors=(404,),
)
async def list_profile_members(request: web.Request) -> web.Response:
    who = principal(request)
    d = await directory_of(request).current()
    p = d.profile(request.match_info["profile_id"])
    items = [member_out(d, m, who) for m in d.visible_members(who) if m.profile_id == p.id]
    return json(MemberList(items=items))
