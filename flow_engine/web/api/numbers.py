"""Numbers (R-ADMIN-3): list with agent name, owner e-mail and members; rename; owner."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from flow_engine.admin.configs import etag_of
from flow_engine.admin.directory import Directory
from flow_engine.admin.permissions import Module, Principal
from flow_engine.domain import limits
from flow_engine.domain.config_base import Email
from flow_engine.errors import NotFound
from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.configs import ConfigVersion
from flow_engine.web.api.auth import principal
from flow_engine.web.api.configs import config_service, if_match_header
from flow_engine.web.api.health import GatewayOut
from flow_engine.web.api.registry import Api, Input, Offset, Permission, body, json, query
from flow_engine.web.state import DIRECTORY, HEALTH

api = Api()


class MemberRef(BaseModel):
    id: str
    name: str
    email: str


class NumberOut(BaseModel):
    number: str
    display_phone_number: str
    name: str
    owner_email: str | None
    members: list[MemberRef]
    flow_version: int
    waba_id: str | None
    version: int
    etag: str
    updated_at: float
    templates: int
    gateway: GatewayOut | None = Field(
        None,
        description="What the gateway last said of the number, each field with the time it "
        "was read (only on GET /numbers/{number}).",
    )

    @classmethod
    def of(cls, v: ConfigVersion, directory: Directory) -> NumberOut:
        c = v.config
        return cls(
            number=v.number,
            display_phone_number=str(c.get("display_phone_number", "")),
            name=str(c.get("name", "")),
            owner_email=directory.owners.get(v.number),
            members=[
                MemberRef(id=m.id, name=m.name, email=m.email)
                for m in directory.members_of(v.number)
            ],
            flow_version=int(c.get("flow_version", 1)),
            waba_id=c.get("waba_id"),
            version=v.version,
            etag=etag_of(v),
            updated_at=v.at,
            templates=len(c.get("templates", {}).get("active", [])),
        )


class NumberPage(BaseModel):
    items: list[NumberOut]
    total: int


class NumbersQuery(Input):
    q: str | None = Field(
        None, max_length=100, description="Search number id, phone, name, owner or member e-mail."
    )
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


class NumberPatch(Input):
    name: str | None = Field(None, max_length=limits.NAME_MAX, description="Bot / agent name.")
    owner_email: Email | None = Field(
        None, description="E-mail of a member, who is then linked to the number."
    )
    waba_id: str | None = Field(
        None,
        pattern=r"^[0-9]{1,32}$",
        description="The number's WhatsApp Business Account id (its template catalog); "
        "null removes it.",
    )


def _matches(item: NumberOut, q: str | None) -> bool:
    if not q:
        return True
    needle = q.strip().casefold()
    hay = [item.number, item.display_phone_number, item.name, item.owner_email or ""]
    hay += [m.email for m in item.members] + [m.name for m in item.members]
    return any(needle in h.casefold() for h in hay)


def _visible(who: Principal, numbers: list[str]) -> list[str]:
    return who.visible(numbers) if not who.is_super else numbers


@api.route(
    "GET",
    "/numbers",
    permission=Permission(any_module=True),
    summary="Numbers you have access to, with agent name, owner and members",
    tag="numbers",
    query=NumbersQuery,
    response=NumberPage,
)
async def list_numbers(request: web.Request) -> web.Response:
    q = query(request, NumbersQuery)
    who = principal(request)
    store = config_service(request).store
    visible = _visible(who, await store.numbers())
    heads = await store.heads(visible)
    directory = await request.config_dict[DIRECTORY].current()
    items = [NumberOut.of(heads[n], directory) for n in visible if n in heads]
    found = [i for i in items if _matches(i, q.q)]
    return json(NumberPage(items=found[q.offset : q.offset + q.limit], total=len(found)))


@api.route(
    "GET",
    "/numbers/{number}",
    permission=Permission(number="number"),
    summary="One number",
    tag="numbers",
    response=NumberOut,
    errors=(404,),
)
async def get_number(request: web.Request) -> web.Response:
    """With `gateway`: the phone number fields as the gateway last gave them
    (docs/health.md)."""
    number = request.match_info["number"]
    head = await config_service(request).head(number)
    directory = await request.config_dict[DIRECTORY].current()
    facts = await request.config_dict[HEALTH].service.facts(number)
    out = NumberOut.of(head, directory).model_copy(
        update={"gateway": GatewayOut.of(facts, number)}
    )
    return web.Response(
        body=out.model_dump_json(by_alias=True),
        content_type="application/json",
        headers={"ETag": etag_of(head)},
    )


@api.route(
    "PATCH",
    "/numbers/{number}",
    permission=Permission(module=Module.NUMBERS, number="number"),
    summary="Rename the number or set its WABA id (If-Match: the config ETag), set its owner",
    tag="numbers",
    body=NumberPatch,
    response=NumberOut,
    if_match=True,
    errors=(404, 412, 422, 428),
)
async def patch_number(request: web.Request) -> web.Response:
    """`owner_email` must be the e-mail of a member (R-ADMIN-3); that member is linked to
    the number. `null` removes the owner."""
    number = request.match_info["number"]
    b = await body(request, NumberPatch)
    who = principal(request)
    service = config_service(request)
    changes: dict[str, Any] = {}
    if b.name is not None:
        changes["name"] = b.name
    if "waba_id" in b.model_fields_set:
        changes["waba_id"] = b.waba_id
    if changes:
        what = ", ".join(f"{k} {v!r}" for k, v in changes.items())

        def apply(current: dict[str, Any]) -> dict[str, Any]:
            out = {**current, **changes}
            if out.get("waba_id") is None:
                out.pop("waba_id", None)
            return out

        head = await service.update(
            number,
            apply,
            if_match=if_match_header(request),
            author=who,
            source="api",
            action="number.rename" if "name" in changes else "number.waba",
            summary=f"set {what}",
        )
    else:
        head = await service.head(number)
    if "owner_email" in b.model_fields_set:
        owner = b.owner_email

        def audit(_result: object, now: float) -> list[AuditEntry]:
            return [
                AuditEntry(
                    at=now,
                    actor=who.actor,
                    action="number.owner",
                    summary=f"owner set to {owner}" if owner else "owner removed",
                    number=number,
                )
            ]

        await request.config_dict[DIRECTORY].change(
            lambda d: d.set_owner(who, number, owner), audit
        )
    directory = await request.config_dict[DIRECTORY].current()
    return json(NumberOut.of(head, directory), headers={"ETag": etag_of(head)})


def not_found(number: str) -> NotFound:
    return NotFound(f"number {number} has no configuration", details={"number": number})
