"""Template catalogs and individual notifications (R-NOTIFY-1/4): thin routes of module
``notifications`` over ``flow_engine.notify`` (docs/notifications.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from flow_engine.admin.permissions import Module
from flow_engine.domain.notifications import Notification, NotificationRequest, NotificationStatus
from flow_engine.domain.templates import CatalogTemplate
from flow_engine.errors import BadRequest
from flow_engine.notify import NotifyService
from flow_engine.web.api.auth import principal, require
from flow_engine.web.api.registry import Api, Input, Offset, Permission, body, query
from flow_engine.web.state import NOTIFY

api = Api()
NOTIFY_NUMBER = Permission(module=Module.NOTIFICATIONS, number="number")
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 200


def notify(request: web.Request) -> NotifyService:
    return request.config_dict[NOTIFY]


class CatalogOut(BaseModel):
    number: str
    synced_at: float | None
    templates: list[CatalogTemplate]


class NotificationOut(BaseModel):
    notification: Notification


class NotificationList(BaseModel):
    notifications: list[Notification]


class ListQuery(Input):
    status: NotificationStatus | None = None
    template: str | None = Field(None, max_length=512)
    from_: str | None = Field(None, alias="from", description="ISO 8601: created at or after.")
    to: str | None = Field(None, description="ISO 8601: created at or before.")
    limit: int = Field(50, ge=1, le=200)
    offset: Offset = 0

    @field_validator("from_", "to")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                raise ValueError("give an offset (e.g. 2026-01-31T09:00:00-03:00 or Z)")
        return value


def _ts(value: str | None) -> float | None:
    return (
        None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    )


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise BadRequest(
            f"{IDEMPOTENCY_HEADER} must have 1 to {IDEMPOTENCY_KEY_MAX} characters",
            details={"header": IDEMPOTENCY_HEADER},
        )
    return key


def shown(n: Notification) -> dict[str, Any]:
    return n.model_dump(mode="json", exclude={"components", "replied_by"})


@api.route(
    "GET",
    "/numbers/{number}/templates/catalog",
    permission=NOTIFY_NUMBER,
    summary="The number's WABA template catalog (as last synced)",
    tag="notifications",
    response=CatalogOut,
    errors=(404,),
)
async def get_catalog(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    service = notify(request)
    await service.catalogs.config(number)
    templates, synced = await service.catalogs.store.catalog(number)
    out = CatalogOut(number=number, synced_at=synced, templates=templates)
    return web.json_response(out.model_dump(mode="json"))


@api.route(
    "POST",
    "/numbers/{number}/templates/sync",
    permission=NOTIFY_NUMBER,
    summary="Read the template catalog of the number's WABA again (every page)",
    tag="notifications",
    response=CatalogOut,
    errors=(404, 422, 502),
)
async def sync_catalog(request: web.Request) -> web.Response:
    """Needs the number's `waba_id` (`PATCH /api/v1/numbers/{number}`)."""
    number = request.match_info["number"]
    templates, synced = await notify(request).catalogs.sync(number)
    out = CatalogOut(number=number, synced_at=synced, templates=templates)
    return web.json_response(out.model_dump(mode="json"))


@api.route(
    "POST",
    "/numbers/{number}/notifications",
    permission=NOTIFY_NUMBER,
    summary="Send one template to one contact (Idempotency-Key makes a retry safe)",
    tag="notifications",
    body=NotificationRequest,
    response=NotificationOut,
    status=202,
    errors=(404, 409, 422, 429),
)
async def post_notification(request: web.Request) -> web.Response:
    """Checked before anything goes out: the phone (any format; the number's country is the
    default), the template (APPROVED and active on the number) and every parameter. 202:
    accepted; follow it with `GET /api/v1/notifications/{id}`."""
    number = request.match_info["number"]
    b = await body(request, NotificationRequest)
    key = idempotency_key(request)
    n = await notify(request).notifications.create(number, b, principal(request).actor, key)
    return web.json_response({"notification": shown(n)}, status=202)


@api.route(
    "GET",
    "/numbers/{number}/notifications",
    permission=NOTIFY_NUMBER,
    summary="The number's individual notifications, newest first",
    tag="notifications",
    query=ListQuery,
    response=NotificationList,
)
async def list_notifications(request: web.Request) -> web.Response:
    q = query(request, ListQuery)
    found = await notify(request).notifications.store.list(
        request.match_info["number"],
        status=None if q.status is None else q.status.value,
        template=q.template,
        since=_ts(q.from_),
        until=_ts(q.to),
        limit=q.limit,
        offset=q.offset,
    )
    return web.json_response({"notifications": [shown(n) for n in found]})


@api.route(
    "GET",
    "/notifications/{notification_id}",
    permission=Permission(module=Module.NOTIFICATIONS),
    summary="One notification and its status",
    tag="notifications",
    response=NotificationOut,
    errors=(404,),
)
async def get_notification(request: web.Request) -> web.Response:
    n = await notify(request).notifications.get(request.match_info["notification_id"])
    require(principal(request), n.number, Module.NOTIFICATIONS)
    return web.json_response({"notification": shown(n)})
