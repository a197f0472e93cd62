"""Campaigns (R-NOTIFY-2/3/4): thin routes of module ``notifications`` over
``flow_engine.notify.campaigns`` (docs/notifications.md)."""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from aiohttp import BodyPartReader, web
from pydantic import BaseModel, Field

from flow_engine.admin.permissions import Module
from flow_engine.domain.campaigns import Campaign, CampaignSpec, CampaignState
from flow_engine.errors import BadRequest, Forbidden, PayloadTooLarge
from flow_engine.notify.campaigns import EXPORT_COLUMNS, Campaigns
from flow_engine.storage.notifications import Recipient
from flow_engine.web.api.auth import principal
from flow_engine.web.api.registry import Api, Input, Offset, Permission, parse, query
from flow_engine.web.state import NOTIFY, SETTINGS

api = Api()
NOTIFY_ANY = Permission(module=Module.NOTIFICATIONS)


def campaigns(request: web.Request) -> Campaigns:
    return request.config_dict[NOTIFY].campaigns


class CampaignBody(CampaignSpec):
    """The JSON form: the spec's fields with the CSV text in ``csv``."""

    csv: str = Field(description="The CSV file's text (UTF-8).")


class CampaignsQuery(Input):
    number: str | None = Field(None, pattern=r"^[0-9]{1,32}$")
    state: CampaignState | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0


class RecipientsQuery(Input):
    status: (
        Literal["pending", "sent", "delivered", "read", "failed", "replied", "skipped"] | None
    ) = None
    offset: Offset = 0
    limit: int = Field(100, ge=1, le=1000)
    format: Literal["json", "csv"] = "json"


class CampaignOut(BaseModel):
    campaign: dict[str, Any]
    report: dict[str, Any] | None = None


class CampaignList(BaseModel):
    campaigns: list[dict[str, Any]]


class RecipientPage(BaseModel):
    recipients: list[dict[str, Any]]
    next: int | None


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge("upload over the size limit", details={"max_bytes": limit})
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("upload over the size limit", details={"max_bytes": limit})
        chunks.append(chunk)
    return b"".join(chunks)


async def _spec_and_csv(request: web.Request) -> tuple[CampaignSpec, bytes | str]:
    """``multipart/form-data`` (parts ``spec`` JSON and ``file`` CSV) or JSON."""
    limit = request.config_dict[SETTINGS].max_upload_bytes
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        spec_raw: bytes | None = None
        data: bytes | None = None
        size = 0
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            raw = await part.read(decode=False)
            size += len(raw)
            if size > limit:
                raise PayloadTooLarge("upload over the size limit", details={"max_bytes": limit})
            if part.name == "spec":
                spec_raw = bytes(raw)
            elif part.name == "file":
                data = bytes(raw)
        missing = [n for n, v in (("spec", spec_raw), ("file", data)) if v is None]
        if missing:
            raise BadRequest(
                "multipart upload needs the parts spec (JSON) and file (CSV)",
                details=[
                    {"field": m, "message": "missing part", "type": "missing"} for m in missing
                ],
            )
        return parse(CampaignSpec, spec_raw or b""), data or b""
    b = parse(CampaignBody, await _read_limited(request, limit))
    return CampaignSpec.model_validate(b.model_dump(exclude={"csv"})), b.csv


@api.route(
    "POST",
    "/campaigns",
    permission=NOTIFY_ANY,
    summary="Create a campaign from a CSV (multipart: spec + file; or JSON with csv)",
    tag="notifications",
    body=CampaignBody,
    response=CampaignOut,
    status=201,
    also=(200,),
    errors=(403, 404, 409, 413, 422),
)
async def create_campaign(request: web.Request) -> web.Response:
    """`dry_run: true` answers 200 `{"report"}` and stores nothing; otherwise 201
    `{"campaign", "report"}`. Needs the notifications module on every sender of the file
    (403 listing the numbers otherwise, nothing stored)."""
    spec, data = await _spec_and_csv(request)
    service = campaigns(request)
    created, report = await service.create(spec, data, principal(request))
    if created is None:
        return web.json_response({"report": report}, status=200)
    view = await service.view(created)
    return web.json_response({"campaign": view, "report": report}, status=201)


@api.route(
    "GET",
    "/campaigns",
    permission=NOTIFY_ANY,
    summary="Campaigns of the numbers you may notify from, newest first",
    tag="notifications",
    query=CampaignsQuery,
    response=CampaignList,
)
async def list_campaigns(request: web.Request) -> web.Response:
    q = query(request, CampaignsQuery)
    who = principal(request)
    if q.number is not None and not who.can(q.number, Module.NOTIFICATIONS):
        raise Forbidden(
            f"you have no access to number {q.number} in the notifications module",
            details={"number": q.number, "module": "notifications"},
        )
    service = campaigns(request)
    state = None if q.state is None else q.state.value
    found: list[Campaign] = []
    offset = 0
    while len(found) < q.offset + q.limit:
        page = await service.store.campaigns(
            number=q.number, state=state, limit=200, offset=offset
        )
        found += [c for c in page if not who.denied(c.senders, Module.NOTIFICATIONS)]
        if len(page) < 200:
            break
        offset += 200
    shown = [await service.view(c) for c in found[q.offset : q.offset + q.limit]]
    return web.json_response({"campaigns": shown})


@api.route(
    "GET",
    "/campaigns/{campaign_id}",
    permission=NOTIFY_ANY,
    summary="A campaign: state, counts (each recipient once, furthest status), rate",
    tag="notifications",
    response=CampaignOut,
    errors=(404,),
)
async def get_campaign(request: web.Request) -> web.Response:
    service = campaigns(request)
    c = await service.get(request.match_info["campaign_id"], principal(request))
    return web.json_response({"campaign": await service.view(c)})


def recipient_view(r: Recipient, titles: dict[int, str]) -> dict[str, Any]:
    return {
        "index": r.index,
        "phone": r.phone,
        "sender": r.sender,
        "status": r.status,
        "wamid": r.wamid or None,
        "error": None
        if r.error_code is None
        else {"code": r.error_code, "title": titles.get(r.error_code, "")},
        "sent_at": r.sent_at,
        "delivered_at": r.delivered_at,
        "read_at": r.read_at,
        "failed_at": r.failed_at,
        "replied_at": r.replied_at,
    }


@api.route(
    "GET",
    "/campaigns/{campaign_id}/recipients",
    permission=NOTIFY_ANY,
    summary="The recipients (paged; ?format=csv exports them all)",
    tag="notifications",
    query=RecipientsQuery,
    response=RecipientPage,
    errors=(404,),
)
async def list_recipients(request: web.Request) -> web.StreamResponse:
    q = query(request, RecipientsQuery)
    service = campaigns(request)
    c = await service.get(request.match_info["campaign_id"], principal(request))
    if q.format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows(await service.export_rows(c, q.status))
        return web.Response(
            text=out.getvalue(),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{c.id}.csv"'},
        )
    page, next_offset = await service.store.recipients(
        c.id, status=q.status, offset=q.offset, limit=q.limit
    )
    titles = await service.store.error_titles(c.id)
    return web.json_response(
        {"recipients": [recipient_view(r, titles) for r in page], "next": next_offset}
    )


def _control(action: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        service = campaigns(request)
        c = await service.control(request.match_info["campaign_id"], action, principal(request))
        return web.json_response({"campaign": await service.view(c)})

    handler.__name__ = f"{action}_campaign"
    handler.__doc__ = {
        "pause": "running, scheduled or waiting_limit → paused (in-flight sends finish).",
        "resume": "paused or needs_attention → running (scheduled before its start).",
        "cancel": "Any state but completed/cancelled → cancelled; the rest count as skipped.",
    }[action]
    return api.route(
        "POST",
        f"/campaigns/{{campaign_id}}/{action}",
        permission=NOTIFY_ANY,
        summary=f"{action.capitalize()} a campaign",
        tag="notifications",
        response=CampaignOut,
        errors=(404, 409),
    )(handler)


pause_campaign = _control("pause")
resume_campaign = _control("resume")
cancel_campaign = _control("cancel")
