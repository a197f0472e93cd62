"""Access (R-ADMIN-1 … R-ADMIN-4): access profiles, members, their links to numbers, their
API tokens, and the audit log.

Permission is always profile × number × member (``admin/permissions.py``); the rules that
keep a member from raising their own rights live in the directory (``admin/directory.py``).
Every change goes through :meth:`DirectoryService.change`: applied to a fresh copy of the
directory and stored with its audit entries atomically, or not at all. Lists and
members show only what the caller may see: members sharing one of their numbers (or
linked to none), and only the caller's numbers among a member's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from flow_engine.admin.access import DirectoryService
from flow_engine.admin.directory import (
    DESCRIPTION_MAX,
    ApiToken,
    Directory,
    Link,
    Member,
    Name,
    Profile,
)
from flow_engine.admin.permissions import Module, Principal
from flow_engine.admin.tokens import PREFIX as TOKEN_PREFIX
from flow_engine.domain.config_base import Email
from flow_engine.errors import UnprocessableEntity
from flow_engine.storage.base import AuditEntry
from flow_engine.web.api.auth import principal, require, require_all
from flow_engine.web.api.registry import Api, Input, Permission, body, json, query
from flow_engine.web.state import DIRECTORY, STORAGE

api = Api()
T = TypeVar("T")

ACCESS = Module.ACCESS
NUMBERS = Module.NUMBERS
PAGE_MAX = 200
MEMBERS_MAX = 500  # members added, or linked, in one call
NUMBERS_MAX = 1000  # numbers linked in one call
QUERY_MAX = 100
ID_MAX = 64

Number = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,32}$", description="A phone number id.", examples=["100000000000001"]
    ),
]
Id = Annotated[str, Field(min_length=1, max_length=ID_MAX)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX)]
Modules = Annotated[list[Module], Field(max_length=len(Module) * 2)]
MemberIds = Annotated[list[Id], Field(min_length=1, max_length=MEMBERS_MAX)]
LinkNumbers = Annotated[list[Number], Field(min_length=1, max_length=NUMBERS_MAX)]

# ---------------------------------------------------------------------- models


class ProfileOut(BaseModel):
    id: str
    name: str
    description: str
    modules: list[Module]
    member_count: int = Field(description="Members holding the profile that you may see.")
    created_at: float
    updated_at: float


class ProfileList(BaseModel):
    items: list[ProfileOut]


class ProfileIn(Input):
    name: Name
    description: Description = ""
    modules: Modules = Field(default_factory=list)


class ProfilePatch(Input):
    name: Name | None = None
    description: Description | None = None
    modules: Modules | None = None


class DeleteQuery(Input):
    dry_run: bool = False


class MemberOut(BaseModel):
    id: str
    name: str
    email: str
    profile_id: str | None
    profile_name: str | None
    modules: list[Module]
    numbers: list[str] = Field(description="The member's numbers that you may see.")
    owner_of: list[str] = Field(description="Numbers they own, among those you may see.")
    created_at: float


class MemberList(BaseModel):
    items: list[MemberOut]


class MemberPage(BaseModel):
    items: list[MemberOut]
    total: int


class ProfileDeleted(BaseModel):
    profile: ProfileOut
    members_affected: list[MemberOut]
    dry_run: bool
    deleted: bool


class MembersQuery(Input):
    q: str | None = Field(None, max_length=QUERY_MAX, description="Search name or e-mail.")
    profile_id: Id | None = None
    number: Number | None = None
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: int = Field(0, ge=0)


class NewMember(Input):
    email: Email
    name: Name | None = Field(None, description="Required for a new member.")


def _distinct_emails(members: list[NewMember]) -> list[NewMember]:
    seen: set[str] = set()
    for m in members:
        if m.email in seen:
            raise PydanticCustomError("duplicate", "{email} is listed twice", {"email": m.email})
        seen.add(m.email)
    return members


class AddMembers(Input):
    members: Annotated[
        list[NewMember],
        Field(min_length=1, max_length=MEMBERS_MAX),
        AfterValidator(_distinct_emails),
    ]
    profile_id: Id | None = None
    numbers: Annotated[list[Number], Field(max_length=NUMBERS_MAX)] = Field(default_factory=list)


class AddedMember(BaseModel):
    member: MemberOut
    created: bool


class AddedMembers(BaseModel):
    items: list[AddedMember]


class MemberPatch(Input):
    name: Name | None = None
    email: Email | None = None
    profile_id: Id | None = Field(None, description="null removes the profile.")


class MemberDeleted(BaseModel):
    member: MemberOut
    tokens_revoked: int


class TokenOut(BaseModel):
    id: str
    name: str
    created_at: float
    revoked_at: float | None
    prefix: str = Field(description="How the token starts: fe_<id>.")


class TokenList(BaseModel):
    items: list[TokenOut]


class TokenIn(Input):
    name: Name


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself: shown only in this answer.")


class AuditQuery(Input):
    number: Number | None = None
    actor: str | None = Field(None, max_length=QUERY_MAX)
    action: str | None = Field(None, max_length=QUERY_MAX, description="Exact, or prefix.*")
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: int = Field(0, ge=0)


class AuditOut(BaseModel):
    at: float
    actor: str
    action: str
    summary: str
    number: str | None
    target: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditOut]


class LinksIn(Input):
    member_ids: MemberIds
    numbers: LinkNumbers


class LinksRemoveIn(LinksIn):
    dry_run: bool = False


class NumberMembersIn(Input):
    member_ids: MemberIds


class LinksAdded(BaseModel):
    added: list[Link]


class LinksRemoved(BaseModel):
    removed: list[Link]
    dry_run: bool = False


# ---------------------------------------------------------------------- helpers


def _service(request: web.Request) -> DirectoryService:
    return request.config_dict[DIRECTORY]


def profile_out(d: Directory, p: Profile, who: Principal) -> ProfileOut:
    visible = [m for m in d.visible_members(who) if m.profile_id == p.id]
    return ProfileOut(
        id=p.id,
        name=p.name,
        description=p.description,
        modules=list(p.modules),
        member_count=len(visible),
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def member_out(d: Directory, m: Member, who: Principal) -> MemberOut:
    profile = d.profiles.get(m.profile_id or "")
    owned = sorted(n for n, email in d.owners.items() if email == m.email)
    return MemberOut(
        id=m.id,
        name=m.name,
        email=m.email,
        profile_id=m.profile_id,
        profile_name=profile.name if profile else None,
        modules=list(profile.modules) if profile else [],
        numbers=who.visible(m.numbers),
        owner_of=who.visible(owned),
        created_at=m.created_at,
    )


def token_out(t: ApiToken) -> TokenOut:
    return TokenOut(
        id=t.id,
        name=t.name,
        created_at=t.created_at,
        revoked_at=t.revoked_at,
        prefix=f"{TOKEN_PREFIX}_{t.id}",
    )


def entry(
    who: Principal,
    now: float,
    action: str,
    summary: str,
    *,
    target: str | None = None,
    number: str | None = None,
    **details: Any,
) -> AuditEntry:
    return AuditEntry(
        at=now,
        actor=who.actor,
        action=action,
        summary=summary,
        number=number,
        target=target,
        details=details,
    )


def link_entries(
    who: Principal, now: float, action: str, links: list[Link], **details: Any
) -> list[AuditEntry]:
    """One entry per number: who was linked to (or unlinked from) it."""
    by_number: dict[str, list[Link]] = {}
    for link in links:
        by_number.setdefault(link.number, []).append(link)
    verb = "linked to" if action == "member.link" else "unlinked from"
    out = []
    for number, group in sorted(by_number.items()):
        emails = [lk.email for lk in group]
        out.append(
            entry(
                who,
                now,
                action,
                f"{', '.join(emails)} {verb} {number}",
                number=number,
                target=group[0].member_id if len(group) == 1 else None,
                members=[{"member_id": lk.member_id, "email": lk.email} for lk in group],
                **details,
            )
        )
    return out


def known_members(d: Directory, who: Principal, member_ids: list[str]) -> None:
    """422 naming every id of ``member_ids`` that is no member ``who`` may see."""
    bad = [
        {"field": f"member_ids.{i}", "message": "unknown member", "type": "not_found"}
        for i, member_id in enumerate(member_ids)
        if member_id not in d.members or not d.is_visible(who, d.members[member_id])
    ]
    if bad:
        raise UnprocessableEntity("unknown members", details=bad)


async def _dry_run(request: web.Request, apply: Callable[[Directory], T]) -> T:
    """Run ``apply`` on a copy of the directory and store nothing."""
    return apply(await _service(request).current())


# ---------------------------------------------------------------------- profiles


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
    d = await _service(request).current()
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
    svc = _service(request)
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
    d = await _service(request).current()
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
    every module of the profile (before and after) and could manage each of its members."""
    b = await body(request, ProfilePatch)
    profile_id = request.match_info["profile_id"]
    who = principal(request)
    svc = _service(request)
    now = svc.clock()

    def apply(d: Directory) -> tuple[ProfileOut, list[str]]:
        before = d.profile(profile_id).modules
        p = d.update_profile(
            who, profile_id, name=b.name, description=b.description, modules=b.modules, now=now
        )
        return profile_out(d, p, who), [m.value for m in before]

    def audit(result: tuple[ProfileOut, list[str]], at: float) -> list[AuditEntry]:
        p, before = result
        changed = sorted(k for k in b.model_fields_set if getattr(b, k) is not None)
        return [
            entry(
                who,
                at,
                "profile.update",
                f"profile {p.name!r} updated: {', '.join(changed) or 'nothing'}",
                target=p.id,
                changed=changed,
                modules_before=before,
                modules=[m.value for m in p.modules],
            )
        ]

    out, _ = await svc.change(apply, audit)
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
    svc = _service(request)

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

    result = await _dry_run(request, apply) if q.dry_run else await svc.change(apply, audit)
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
    d = await _service(request).current()
    p = d.profile(request.match_info["profile_id"])
    items = [member_out(d, m, who) for m in d.visible_members(who) if m.profile_id == p.id]
    return json(MemberList(items=items))


# ---------------------------------------------------------------------- members


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
    d = await _service(request).current()
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
    errors=(422,),
)
async def add_members(request: web.Request) -> web.Response:
    """All or nothing. A new member needs a name; an existing one (same e-mail) gets the
    profile when given and the numbers added. You may link only your own numbers and
    assign only a profile whose modules you have."""
    b = await body(request, AddMembers)
    who = principal(request)
    svc = _service(request)
    now = svc.clock()

    def apply(d: Directory) -> tuple[AddedMembers, list[tuple[Member, Member | None]]]:
        missing = [
            {"field": f"members.{i}.name", "message": "Field required", "type": "missing"}
            for i, m in enumerate(b.members)
            if not m.name and d.member_by_email(m.email) is None
        ]
        if missing:
            raise UnprocessableEntity("a new member needs a name", details=missing)
        done: list[tuple[Member, Member | None]] = []
        for m in b.members:
            before = d.member_by_email(m.email)
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
    d = await _service(request).current()
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
    must grant only modules you have."""
    b = await body(request, MemberPatch)
    member_id = request.match_info["member_id"]
    who = principal(request)
    svc = _service(request)
    clear = "profile_id" in b.model_fields_set and b.profile_id is None

    def apply(d: Directory) -> tuple[MemberOut, Member]:
        before = d.visible_member(who, member_id)
        m = d.update_member(
            who,
            member_id,
            name=b.name,
            email=b.email,
            profile_id=b.profile_id,
            clear_profile=clear,
        )
        return member_out(d, m, who), before

    def audit(result: tuple[MemberOut, Member], at: float) -> list[AuditEntry]:
        m, before = result
        changed = [
            k for k in ("name", "email", "profile_id") if getattr(before, k) != getattr(m, k)
        ]
        return [
            entry(
                who,
                at,
                "member.update",
                f"member {m.email} updated: {', '.join(changed) or 'nothing'}",
                target=m.id,
                changed=changed,
                before={k: getattr(before, k) for k in changed},
                after={k: getattr(m, k) for k in changed},
            )
        ]

    out, _ = await svc.change(apply, audit)
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
    svc = _service(request)
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


# ---------------------------------------------------------------------- tokens

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
    d = await _service(request).current()
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
    svc = _service(request)
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
    svc = _service(request)
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


# ---------------------------------------------------------------------- audit


@api.route(
    "GET",
    "/audit",
    permission=Permission(module=ACCESS),
    summary="Who changed what, newest first",
    tag="access",
    query=AuditQuery,
    response=AuditPage,
)
async def list_audit(request: web.Request) -> web.Response:
    """A member sees the entries of their numbers and the entries of no number."""
    q = query(request, AuditQuery)
    who = principal(request)
    numbers: set[str] | None
    include_global = True
    if q.number is not None:
        require(who, q.number, ACCESS)
        numbers, include_global = {q.number}, False
    else:
        numbers = None if who.is_super else set(who.numbers)
    found = await request.config_dict[STORAGE].audit.entries(
        numbers=numbers,
        include_global=include_global,
        actor=q.actor,
        action=q.action,
        limit=q.limit,
        offset=q.offset,
    )
    items = [
        AuditOut(
            at=e.at,
            actor=e.actor,
            action=e.action,
            summary=e.summary,
            number=e.number,
            target=e.target,
            details=e.details,
        )
        for e in found
    ]
    return json(AuditPage(items=items))


# ---------------------------------------------------------------------- links


async def _link(request: web.Request, member_ids: list[str], numbers: list[str]) -> LinksAdded:
    who = principal(request)

    def apply(d: Directory) -> list[Link]:
        known_members(d, who, member_ids)
        return d.link(who, member_ids, numbers)

    def audit(added: list[Link], at: float) -> list[AuditEntry]:
        return link_entries(who, at, "member.link", added)

    return LinksAdded(added=await _service(request).change(apply, audit))


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
        return LinksRemoved(removed=await _dry_run(request, apply), dry_run=True)
    return LinksRemoved(removed=await _service(request).change(apply, audit), dry_run=False)


@api.route(
    "POST",
    "/links",
    permission=Permission(module=NUMBERS),
    summary="Link several members to several numbers in one call",
    tag="access",
    body=LinksIn,
    response=LinksAdded,
    errors=(422,),
)
async def add_links(request: web.Request) -> web.Response:
    """Needs the numbers module on every number. Answers the links that are new."""
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
)
async def list_number_members(request: web.Request) -> web.Response:
    who = principal(request)
    d = await _service(request).current()
    items = [member_out(d, m, who) for m in d.members_of(request.match_info["number"])]
    return json(MemberList(items=items))


@api.route(
    "POST",
    "/numbers/{number}/members",
    permission=NUMBER_MEMBERS,
    summary="Link members to a number",
    tag="access",
    body=NumberMembersIn,
    response=LinksAdded,
    errors=(422,),
)
async def add_number_members(request: web.Request) -> web.Response:
    b = await body(request, NumberMembersIn)
    return json(await _link(request, b.member_ids, [request.match_info["number"]]))


class LinksRemovedOne(BaseModel):
    removed: list[Link]


@api.route(
    "DELETE",
    "/numbers/{number}/members/{member_id}",
    permission=NUMBER_MEMBERS,
    summary="Unlink a member from a number",
    tag="access",
    response=LinksRemovedOne,
    errors=(404,),
)
async def remove_number_member(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    member_id = request.match_info["member_id"]
    who = principal(request)

    def apply(d: Directory) -> list[Link]:
        d.visible_member(who, member_id)
        return d.unlink(who, [member_id], [number])

    def audit(removed: list[Link], at: float) -> list[AuditEntry]:
        return link_entries(who, at, "member.unlink", removed)

    return json(LinksRemovedOne(removed=await _service(request).change(apply, audit)))
