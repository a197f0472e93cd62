"""Active templates per number (R-CONF-6): which, how many, when they last changed; one
number at a time or many at once from a reference. Stored in the configuration
(``templates.active``), so they share its versions, ETag and atomic bulk writes."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field, StrictBool

from flow_engine.admin.configs import ConfigService, etag_of
from flow_engine.admin.permissions import Module
from flow_engine.domain.config_admin import TemplateList
from flow_engine.domain.config_base import PhoneNumberId
from flow_engine.errors import UnprocessableEntity
from flow_engine.storage.configs import ConfigVersion
from flow_engine.web.api.auth import principal, require_all
from flow_engine.web.api.configs import (
    BULK_MAX,
    DRY_RUN,
    FORCE,
    IF_MATCH,
    BulkResult,
    config_service,
    if_match_header,
    run_bulk,
)
from flow_engine.web.api.registry import Api, Input, Offset, Permission, body, json, query

api = Api()
TEMPLATES = Permission(module=Module.TEMPLATES, number="number")


class TemplatesOut(BaseModel):
    number: str
    active: list[str]
    count: int
    updated_at: float | None
    etag: str

    @classmethod
    def of(cls, v: ConfigVersion) -> TemplatesOut:
        active = list(v.config.get("templates", {}).get("active", []))
        return cls(
            number=v.number,
            active=active,
            count=len(active),
            updated_at=v.changed_at.get("templates"),
            etag=etag_of(v),
        )


class TemplatesRow(BaseModel):
    number: str
    name: str
    count: int
    updated_at: float | None


class TemplatesPage(BaseModel):
    items: list[TemplatesRow]
    total: int


class TemplatesQuery(Input):
    q: str | None = Field(None, max_length=100, description="Search by number, phone or name.")
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


class TemplatesBody(Input):
    active: TemplateList


class TemplatesBulkBody(Input):
    numbers: list[PhoneNumberId] = Field(min_length=1, max_length=BULK_MAX)
    reference: PhoneNumberId | None = Field(
        None, description="Copy the active templates of this number."
    )
    active: TemplateList | None = Field(None, description="Or set exactly these templates.")
    dry_run: StrictBool = Field(False, description=DRY_RUN)
    if_match: dict[str, str] | None = Field(None, description=IF_MATCH)
    force: StrictBool = Field(False, description=FORCE)


def matches(v: ConfigVersion, q: str | None) -> bool:
    if not q:
        return True
    needle = q.strip().casefold()
    c = v.config
    hay = [v.number, str(c.get("display_phone_number", "")), str(c.get("name", ""))]
    return any(needle in h.casefold() for h in hay)


@api.route(
    "GET",
    "/templates",
    permission=Permission(module=Module.TEMPLATES),
    summary="Active templates of every number you manage: count and last change",
    tag="templates",
    query=TemplatesQuery,
    response=TemplatesPage,
)
async def list_templates(request: web.Request) -> web.Response:
    q = query(request, TemplatesQuery)
    service = config_service(request)
    visible = principal(request).visible(await service.store.numbers(), Module.TEMPLATES)
    heads = await service.store.heads(visible)
    rows = [
        TemplatesRow(
            number=v.number,
            name=str(v.config.get("name", "")),
            count=len(v.config.get("templates", {}).get("active", [])),
            updated_at=v.changed_at.get("templates"),
        )
        for n in visible
        if (v := heads.get(n)) is not None and matches(v, q.q)
    ]
    page = rows[q.offset : q.offset + q.limit]
    return json(TemplatesPage(items=page, total=len(rows)))


@api.route(
    "GET",
    "/numbers/{number}/templates",
    permission=TEMPLATES,
    summary="The templates active on a number",
    tag="templates",
    response=TemplatesOut,
    errors=(404,),
)
async def get_templates(request: web.Request) -> web.Response:
    head = await config_service(request).head(request.match_info["number"])
    return json(TemplatesOut.of(head), headers={"ETag": etag_of(head)})


@api.route(
    "PUT",
    "/numbers/{number}/templates",
    permission=TEMPLATES,
    summary="Set the templates active on a number (If-Match: the config ETag)",
    tag="templates",
    body=TemplatesBody,
    response=TemplatesOut,
    if_match=True,
    errors=(404, 412, 422, 428),
)
async def put_templates(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    b = await body(request, TemplatesBody)
    v = await config_service(request).update(
        number,
        lambda current: {**current, "templates": {"active": b.active}},
        if_match=if_match_header(request),
        author=principal(request),
        source="templates",
        action="templates.put",
    )
    return json(TemplatesOut.of(v), headers={"ETag": etag_of(v)})


@api.route(
    "POST",
    "/templates/bulk",
    permission=Permission(module=Module.TEMPLATES),
    summary="Set the active templates of many numbers: from a reference, or a list",
    tag="templates",
    body=TemplatesBulkBody,
    response=BulkResult,
    errors=(404, 412, 422, 428),
)
async def bulk_templates(request: web.Request) -> web.Response:
    """`dry_run: true` lists the numbers that would change; apply with the dry run's etags
    in `if_match` (428 without them, unless `force: true`). All numbers change, or none."""
    b = await body(request, TemplatesBulkBody)
    numbers = list(dict.fromkeys(b.numbers))
    require_all(
        principal(request), numbers + ([b.reference] if b.reference else []), Module.TEMPLATES
    )
    if (b.reference is None) == (b.active is None):
        raise UnprocessableEntity(
            "give either a reference number or the list of active templates",
            details=[
                {
                    "field": "active",
                    "message": "give reference or active, not both or neither",
                    "type": "missing",
                }
            ],
        )
    if b.reference is not None:
        ref = (await config_service(request).head(b.reference)).config
        active = list(ref.get("templates", {}).get("active", []))
    else:
        active = list(b.active or [])
    build = ConfigService.from_reference(None, {"templates": {"active": active}}, [])
    return await run_bulk(
        request,
        numbers,
        build,
        dry_run=b.dry_run,
        if_match=b.if_match,
        force=b.force,
        source="templates",
        action="templates.bulk",
        summary=f"templates from {b.reference}" if b.reference else "templates set",
    )
