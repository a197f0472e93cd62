"""Access (modules ``access`` and ``numbers``, the manual's "Perfil de acceso" and
"Administración del sistema"): profiles with their modules, members (one or many at
once, to numbers), their API tokens (shown once), numbers (rename, owner, members) and
removals with their summary first. Every change goes through the directory service
with the API's own checks (``admin/directory.py``) and audit entries; inputs are
validated by the API's own request models."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from flow_engine.admin.access import DirectoryService
from flow_engine.admin.configs import etag_of
from flow_engine.admin.directory import Directory, Link, Member, Profile
from flow_engine.admin.permissions import Module, Principal
from flow_engine.console.auth import LOCALE, WHO
from flow_engine.console.forms import Form, field, fields, one_input
from flow_engine.console.labels import render_form
from flow_engine.console.registry import Pages
from flow_engine.console.render import render, url
from flow_engine.console.validation import field_message
from flow_engine.errors import FlowEngineError, UnprocessableEntity
from flow_engine.storage.audit import AuditEntry
from flow_engine.web.api.access.common import (
    entry,
    known_members,
    link_entries,
    member_update_entries,
    profile_update_entries,
)
from flow_engine.web.api.access.models import (
    MEMBERS_MAX,
    AddMembers,
    MemberPatch,
    ProfileIn,
    TokenIn,
)
from flow_engine.web.api.auth import require_all
from flow_engine.web.api.numbers import NumberPatch
from flow_engine.web.api.registry import Permission
from flow_engine.web.errors import validation_details
from flow_engine.web.state import CONFIG_ADMIN, DIRECTORY

#: empty rows of the form to add members
ROWS = 5
#: the labels of the forms' inputs, for their error summaries
PROFILE_LABELS = {"name": "acc.name", "description": "acc.description", "modules": "acc.modules"}
MEMBERS_LABELS = {
    "members": "acc.add_members",
    "members.{n}.name": "acc.name_n",
    "members.{n}.email": "acc.email_n",
    "profile_id": "acc.profile",
    "numbers": "acc.numbers",
}
MEMBER_LABELS = {"name": "acc.name", "profile_id": "acc.profile", "token_name": "acc.token_name"}
NUMBER_LABELS = {"name": "cfg.name", "owner_email": "sys.owner"}

pages = Pages()
ACCESS = Permission(module=Module.ACCESS)
NUMBERS = Permission(module=Module.NUMBERS)
ONE_NUMBER = Permission(module=Module.NUMBERS, number="number")


def directory_of(request: web.Request) -> DirectoryService:
    return request.config_dict[DIRECTORY]


def errors_of(exc: ValidationError | FlowEngineError, locale: str) -> dict[str, str]:
    details: Any = validation_details(exc) if isinstance(exc, ValidationError) else exc.details
    if not isinstance(details, list):
        return {"form": exc.message if isinstance(exc, FlowEngineError) else str(exc)}
    return {str(d.get("field")): field_message(locale, d) for d in details}


def profile_in(form: Form) -> ProfileIn:
    """The profile form, by the API's model: a module it does not know is a 422."""
    return ProfileIn.model_validate(
        {
            "name": field(form, "name"),
            "description": field(form, "description"),
            "modules": fields(form, "modules"),
        }
    )


def profile_errors(exc: ValidationError | FlowEngineError, locale: str) -> dict[str, str]:
    return one_input(errors_of(exc, locale), "modules")


def typed_profile(form: Form) -> dict[str, Any]:
    """What the profile form had typed, to show it again with its errors."""
    return {
        "name": field(form, "name"),
        "description": field(form, "description"),
        "modules": fields(form, "modules"),
    }


# ---------------------------------------------------------------------- profiles
async def render_profiles(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    typed: dict[str, Any] | None = None,
) -> web.Response:
    who = request[WHO]
    d = await directory_of(request).current()
    profiles = sorted(d.profiles.values(), key=lambda p: p.name.casefold())
    visible = d.visible_members(who)
    counts = {p.id: sum(1 for m in visible if m.profile_id == p.id) for p in profiles}
    return render_form(
        request,
        "access/profiles.html",
        PROFILE_LABELS,
        status=status,
        profiles=profiles,
        counts=counts,
        modules=list(Module),
        errors=errors or {},
        typed=typed or {"name": "", "description": "", "modules": []},
    )


@pages.route("GET", "/access/profiles", permission=ACCESS, name="profiles")
async def profiles_page(request: web.Request) -> web.Response:
    return await render_profiles(request)


@pages.route("POST", "/access/profiles", permission=ACCESS, name="profiles_post")
async def create_profile(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    who = request[WHO]
    try:
        b = profile_in(form)
        svc = directory_of(request)
        now = svc.clock()

        def audit(p: Any, at: float) -> list[AuditEntry]:
            return [entry(who, at, "profile.create", f"profile {p.name!r} created", target=p.id)]

        await svc.change(
            lambda d: d.create_profile(who, b.name, b.description, b.modules, now), audit
        )
    except (ValidationError, FlowEngineError) as exc:
        return await render_profiles(
            request,
            errors=profile_errors(exc, request[LOCALE]),
            status=422,
            typed=typed_profile(form),
        )
    raise web.HTTPSeeOther(url(request, "profiles"))


@pages.route("GET", "/access/profiles/{profile_id}", permission=ACCESS, name="profile")
async def profile_page(request: web.Request) -> web.Response:
    return await render_profile(request)


async def render_profile(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    deleting: list[Any] | None = None,
    typed: dict[str, Any] | None = None,
) -> web.Response:
    """A profile and its form (``typed``: what a refused save had typed)."""
    who = request[WHO]
    d = await directory_of(request).current()
    p = d.profile(request.match_info["profile_id"])
    members = [m for m in d.visible_members(who) if m.profile_id == p.id]
    return render_form(
        request,
        "access/profile.html",
        PROFILE_LABELS,
        status=status,
        profile=p,
        members=members,
        modules=list(Module),
        errors=errors or {},
        deleting=deleting,
        typed=typed or {"name": p.name, "description": p.description, "modules": p.modules},
    )


@pages.route("POST", "/access/profiles/{profile_id}", permission=ACCESS, name="profile_post")
async def update_profile(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    who = request[WHO]
    profile_id = request.match_info["profile_id"]
    try:
        b = profile_in(form)
        svc = directory_of(request)
        now = svc.clock()

        def apply(d: Directory) -> tuple[Profile, Profile]:
            before = d.profile(profile_id)
            after = d.update_profile(
                who,
                profile_id,
                name=b.name,
                description=b.description,
                modules=b.modules,
                now=now,
            )
            return before, after

        await svc.change(apply, lambda r, at: profile_update_entries(who, at, *r))
    except (ValidationError, FlowEngineError) as exc:
        return await render_profile(
            request,
            errors=profile_errors(exc, request[LOCALE]),
            status=422,
            typed=typed_profile(form),
        )
    raise web.HTTPSeeOther(url(request, "profile", profile_id=profile_id))


@pages.route(
    "POST", "/access/profiles/{profile_id}/delete", permission=ACCESS, name="profile_delete"
)
async def delete_profile(request: web.Request) -> web.StreamResponse:
    """Without ``confirm``: the summary of the members who lose the profile's modules."""
    form = await request.post()
    who = request[WHO]
    profile_id = request.match_info["profile_id"]
    svc = directory_of(request)

    def apply(d: Directory) -> list[Any]:
        visible = {m.id for m in d.visible_members(who)}
        return [m for m in d.delete_profile(who, profile_id) if m.id in visible]

    if field(form, "confirm") != "yes":
        affected = apply(await svc.current())  # on a copy: nothing is stored
        return await render_profile(request, deleting=affected)

    def audit(affected: list[Any], at: float) -> list[AuditEntry]:
        return [
            entry(
                who,
                at,
                "profile.delete",
                f"profile {profile_id} deleted ({len(affected)} members affected)",
                target=profile_id,
                members_affected=[m.id for m in affected],
            )
        ]

    await svc.change(apply, audit)
    raise web.HTTPSeeOther(url(request, "profiles"))


# ---------------------------------------------------------------------- members
async def render_members(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    added: list[Any] | None = None,
    posted: Form | None = None,
    rows: int = ROWS,
) -> web.Response:
    """The members and the form to add some; ``posted``: what a refused add had typed."""
    who = request[WHO]
    d = await directory_of(request).current()
    q = request.query.get("q", "")
    return render_form(
        request,
        "access/members.html",
        MEMBERS_LABELS,
        status=status,
        members=d.search_members(who, q),
        d=d,
        q=q,
        profiles=sorted(d.profiles.values(), key=lambda p: p.name.casefold()),
        numbers=sorted(who.numbers),
        errors=errors or {},
        rows=rows,
        added=added,
        typed={k: field(posted, k) for k in posted} if posted is not None else {},
        chosen=set(fields(posted, "numbers")) if posted is not None else set(),
    )


@pages.route("GET", "/access/members", permission=ACCESS, name="members")
async def members_page(request: web.Request) -> web.Response:
    return await render_members(request)


@pages.route("POST", "/access/members", permission=ACCESS, name="members_post")
async def add_members(request: web.Request) -> web.StreamResponse:
    """One or many at once: new ones with a name, existing ones by e-mail; the profile and
    the numbers chosen apply to all (all or nothing)."""
    form = await request.post()
    who = request[WHO]
    count = field(form, "rows") or "0"
    if not (count.isascii() and count.isdigit()) or int(count) > MEMBERS_MAX:
        return await render_members(
            request, errors={"form": f"rows: expected 0 to {MEMBERS_MAX}"}, status=422
        )
    rows, row_of = [], []  # the members posted, and the form row of each
    for i in range(int(count)):
        email, name = field(form, f"members.{i}.email").strip(), field(form, f"members.{i}.name")
        if email or name.strip():
            rows.append({"email": email, **({"name": name.strip()} if name.strip() else {})})
            row_of.append(i)
    try:
        b = AddMembers.model_validate(
            {
                "members": rows,
                "profile_id": field(form, "profile_id") or None,
                "numbers": fields(form, "numbers"),
            }
        )
        svc = directory_of(request)
        now = svc.clock()

        def apply(d: Directory) -> list[tuple[Any, list[str] | None]]:
            d.require_names([(m.name, m.email) for m in b.members])
            done = []
            for m in b.members:
                before = d.member_by_email(m.email)
                member, _ = d.add_member(
                    who,
                    name=m.name,
                    email=m.email,
                    profile_id=b.profile_id,
                    numbers=b.numbers,
                    now=now,
                )
                done.append((member, None if before is None else list(before.numbers)))
            return done

        def audit(done: list[tuple[Any, list[str] | None]], at: float) -> list[AuditEntry]:
            out, links = [], []
            for member, before in done:
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
                new = sorted(set(member.numbers) - set(before or []))
                links += [Link(member_id=member.id, email=member.email, number=n) for n in new]
            return out + link_entries(who, at, "member.link", links)

        done = await svc.change(apply, audit)
    except (ValidationError, FlowEngineError) as exc:
        errors = {_form_row(k, row_of): v for k, v in errors_of(exc, request[LOCALE]).items()}
        return await render_members(
            request, errors=errors, status=422, posted=form, rows=max(int(count), ROWS)
        )
    return await render_members(request, added=[m for m, _ in done])


def _form_row(key: str, row_of: list[int]) -> str:
    """``members.K.email`` of the K-th member posted is the field of its row in the form
    (empty rows are left out of what is validated)."""
    match = re.fullmatch(r"members\.(\d+)(\..*)?", key)
    if match and int(match[1]) < len(row_of):
        return f"members.{row_of[int(match[1])]}{match[2] or ''}"
    return key


async def render_member(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    token: str | None = None,
) -> web.Response:
    who = request[WHO]
    d = await directory_of(request).current()
    m = d.visible_member(who, request.match_info["member_id"])
    try:
        tokens = d.member_tokens(who, m.id)
    except FlowEngineError:  # a member whose rights are beyond yours: no token of theirs
        tokens = None
    return render_form(
        request,
        "access/member.html",
        MEMBER_LABELS,
        status=status,
        m=m,
        d=d,
        profiles=sorted(d.profiles.values(), key=lambda p: p.name.casefold()),
        numbers=who.visible(m.numbers),
        tokens=tokens,
        errors=errors or {},
        token=token,
    )


@pages.route("GET", "/access/members/{member_id}", permission=ACCESS, name="member")
async def member_page(request: web.Request) -> web.Response:
    return await render_member(request)


@pages.route("POST", "/access/members/{member_id}", permission=ACCESS, name="member_post")
async def update_member(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    who = request[WHO]
    member_id = request.match_info["member_id"]
    profile = field(form, "profile_id")
    try:
        b = MemberPatch.model_validate(
            {"name": field(form, "name"), "profile_id": profile or None}
        )

        def apply(d: Directory) -> tuple[Member, Member]:
            before = d.visible_member(who, member_id)
            after = d.update_member(
                who,
                member_id,
                name=b.name,
                email=None,
                profile_id=b.profile_id,
                clear_profile=not profile,
            )
            return before, after

        await directory_of(request).change(apply, lambda r, at: member_update_entries(who, at, *r))
    except (ValidationError, FlowEngineError) as exc:
        return await render_member(request, errors=errors_of(exc, request[LOCALE]), status=422)
    raise web.HTTPSeeOther(url(request, "member", member_id=member_id))


@pages.route("POST", "/access/members/{member_id}/tokens", permission=ACCESS, name="member_token")
async def create_token(request: web.Request) -> web.Response:
    """The new token is on this page only: it is not stored, and never in a URL."""
    form = await request.post()
    who = request[WHO]
    member_id = request.match_info["member_id"]
    try:
        b = TokenIn.model_validate({"name": field(form, "token_name")})
        svc = directory_of(request)
        now = svc.clock()

        def audit(result: Any, at: float) -> list[AuditEntry]:
            record, _ = result
            return [
                entry(
                    who,
                    at,
                    "token.create",
                    f"API token {record.name!r} created",
                    target=member_id,
                    token_id=record.id,
                )
            ]

        _record, token = await svc.change(
            lambda d: d.create_token(who, member_id, b.name, now), audit
        )
    except (ValidationError, FlowEngineError) as exc:
        errors = {
            ("token_name" if k == "name" else k): v
            for k, v in errors_of(exc, request[LOCALE]).items()
        }
        return await render_member(request, errors=errors, status=422)
    return await render_member(request, token=token)


@pages.route(
    "POST",
    "/access/members/{member_id}/tokens/{token_id}/revoke",
    permission=ACCESS,
    name="member_token_revoke",
)
async def revoke_token(request: web.Request) -> web.StreamResponse:
    who = request[WHO]
    member_id, token_id = request.match_info["member_id"], request.match_info["token_id"]
    svc = directory_of(request)
    now = svc.clock()

    def audit(record: Any, at: float) -> list[AuditEntry]:
        return [
            entry(
                who, at, "token.revoke", "API token revoked", target=member_id, token_id=record.id
            )
        ]

    await svc.change(lambda d: d.revoke_token(who, member_id, token_id, now), audit)
    raise web.HTTPSeeOther(url(request, "member", member_id=member_id))


# ---------------------------------------------------------------------- numbers
async def render_numbers(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    removing: list[Link] | None = None,
    chosen: tuple[list[str], list[str]] = ([], []),
) -> web.Response:
    who = request[WHO]
    store = request.config_dict[CONFIG_ADMIN].store
    numbers = who.visible(await store.numbers(), Module.NUMBERS)
    heads = await store.heads(numbers)
    d = await directory_of(request).current()
    q = request.query.get("q", "").strip().casefold()
    rows = [heads[n] for n in numbers if n in heads]
    if q:
        rows = [
            v
            for v in rows
            if q in v.number
            or q in str(v.config.get("name", "")).casefold()
            or any(q in m.email or q in m.name.casefold() for m in d.members_of(v.number))
        ]
    return render(
        request,
        "access/numbers.html",
        status=status,
        heads=rows,
        d=d,
        members=d.visible_members(who),
        errors=errors or {},
        removing=removing,
        chosen=chosen,
        q=request.query.get("q", ""),
    )


@pages.route("GET", "/access/numbers", permission=NUMBERS, name="system_numbers")
async def numbers_page(request: web.Request) -> web.Response:
    return await render_numbers(request)


def _links_asked(form: Form, who: Principal) -> tuple[list[str], list[str]]:
    """The members and numbers a link or unlink form names, each of the numbers the
    caller's to manage; a 422 when either list is empty."""
    member_ids, numbers = fields(form, "member_ids"), fields(form, "numbers")
    if not member_ids or not numbers:
        raise UnprocessableEntity("choose members and numbers")
    require_all(who, numbers, Module.NUMBERS)
    return member_ids, numbers


@pages.route("POST", "/access/numbers/link", permission=NUMBERS, name="system_link")
async def link(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    who = request[WHO]
    try:
        member_ids, numbers = _links_asked(form, who)

        def apply(d: Directory) -> list[Link]:
            known_members(d, who, member_ids)
            return d.link(who, member_ids, numbers)

        await directory_of(request).change(
            apply, lambda added, at: link_entries(who, at, "member.link", added)
        )
    except FlowEngineError as exc:
        return await render_numbers(
            request, errors=errors_of(exc, request[LOCALE]), status=exc.status
        )
    raise web.HTTPSeeOther(url(request, "system_numbers"))


@pages.route("POST", "/access/numbers/unlink", permission=NUMBERS, name="system_unlink")
async def unlink(request: web.Request) -> web.StreamResponse:
    """Without ``confirm``: the summary of the links that would be removed."""
    form = await request.post()
    who = request[WHO]
    try:
        member_ids, numbers = _links_asked(form, who)

        def apply(d: Directory) -> list[Link]:
            known_members(d, who, member_ids)
            return d.unlink(who, member_ids, numbers)

        svc = directory_of(request)
        if field(form, "confirm") != "yes":
            removing = apply(await svc.current())
            return await render_numbers(request, removing=removing, chosen=(member_ids, numbers))
        await svc.change(apply, lambda gone, at: link_entries(who, at, "member.unlink", gone))
    except FlowEngineError as exc:
        return await render_numbers(
            request, errors=errors_of(exc, request[LOCALE]), status=exc.status
        )
    raise web.HTTPSeeOther(url(request, "system_numbers"))


@pages.route("GET", "/access/numbers/{number:[0-9]+}", permission=ONE_NUMBER, name="system_number")
async def number_page(request: web.Request) -> web.Response:
    return await render_number(request)


async def render_number(
    request: web.Request, *, errors: dict[str, str] | None = None, status: int = 200
) -> web.Response:
    number = request.match_info["number"]
    head = await request.config_dict[CONFIG_ADMIN].head(number)
    d = await directory_of(request).current()
    return render_form(
        request,
        "access/number.html",
        NUMBER_LABELS,
        status=status,
        head=head,
        etag=etag_of(head),
        owner=d.owners.get(number, ""),
        members=d.members_of(number),
        errors=errors or {},
    )


@pages.route(
    "POST", "/access/numbers/{number:[0-9]+}", permission=ONE_NUMBER, name="system_number_post"
)
async def number_post(request: web.Request) -> web.StreamResponse:
    """Rename the bot (a new configuration version) and set the owner, who must be a member
    and is then linked to the number (R-ADMIN-3)."""
    number = request.match_info["number"]
    form = await request.post()
    who = request[WHO]
    try:
        b = NumberPatch.model_validate(
            {"name": field(form, "name"), "owner_email": field(form, "owner_email") or None}
        )
        service = request.config_dict[CONFIG_ADMIN]
        head = await service.head(number)
        if b.name is not None and b.name != head.config.get("name"):
            name = b.name
            await service.update(
                number,
                lambda current: {**current, "name": name},
                if_match=field(form, "etag"),
                author=who,
                source="console",
                action="number.rename",
                summary=f"renamed to {name!r}",
            )
        d = await directory_of(request).current()
        if (b.owner_email or None) != (d.owners.get(number) or None):
            owner = b.owner_email

            def audit(_r: object, at: float) -> list[AuditEntry]:
                text = f"owner set to {owner}" if owner else "owner removed"
                return [
                    AuditEntry(
                        at=at, actor=who.actor, action="number.owner", summary=text, number=number
                    )
                ]

            await directory_of(request).change(lambda d: d.set_owner(who, number, owner), audit)
    except (ValidationError, FlowEngineError) as exc:
        return await render_number(request, errors=errors_of(exc, request[LOCALE]), status=422)
    raise web.HTTPSeeOther(url(request, "system_number", number=number))
