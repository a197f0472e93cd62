"""Helpers shared by the access routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from flow_engine.admin.access import DirectoryService
from flow_engine.admin.directory import (
    ApiToken,
    Directory,
    Link,
    Member,
    Profile,
)
from flow_engine.admin.permissions import Principal
from flow_engine.admin.tokens import PREFIX as TOKEN_PREFIX
from flow_engine.errors import UnprocessableEntity
from flow_engine.storage.audit import AuditEntry
from flow_engine.web.api.access.models import (
    MemberOut,
    ProfileOut,
    T,
    TokenOut,
)
from flow_engine.web.state import DIRECTORY


def directory_of(request: web.Request) -> DirectoryService:
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


def changed_fields(before: BaseModel, after: BaseModel, fields: tuple[str, ...]) -> list[str]:
    """Which of ``fields`` differ between two versions of a record (none: nothing to audit)."""
    return [k for k in fields if getattr(before, k) != getattr(after, k)]


def profile_update_entries(
    who: Principal, at: float, before: Profile, after: Profile
) -> list[AuditEntry]:
    """The audit of a profile's update, API and console alike: none if nothing changed."""
    changed = changed_fields(before, after, ("name", "description", "modules"))
    if not changed:
        return []
    return [
        entry(
            who,
            at,
            "profile.update",
            f"profile {after.name!r} updated: {', '.join(changed)}",
            target=after.id,
            changed=changed,
            modules_before=[m.value for m in before.modules],
            modules=[m.value for m in after.modules],
        )
    ]


def member_update_entries(
    who: Principal, at: float, before: Member, after: Member
) -> list[AuditEntry]:
    """The audit of a member's update, API and console alike: none if nothing changed."""
    changed = changed_fields(before, after, ("name", "email", "profile_id"))
    if not changed:
        return []
    return [
        entry(
            who,
            at,
            "member.update",
            f"member {after.email} updated: {', '.join(changed)}",
            target=after.id,
            changed=changed,
            before={k: getattr(before, k) for k in changed},
            after={k: getattr(after, k) for k in changed},
        )
    ]


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


async def dry_run_of(request: web.Request, apply: Callable[[Directory], T]) -> T:
    """Run ``apply`` on a copy of the directory and store nothing."""
    return apply(await directory_of(request).current())
