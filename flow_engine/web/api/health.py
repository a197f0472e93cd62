"""Number health (R-HEALTH): the table with counts per class, its CSV, a number's daily
history, and a re-read of a number's fields from the gateway (module ``health``)."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from flow_engine.admin.permissions import Module
from flow_engine.domain.health import (
    ClassChange,
    DailySnapshot,
    HealthClass,
    HealthEvent,
    HealthRow,
    NumberHealth,
    health_csv,
)
from flow_engine.errors import GatewayError, NotFound
from flow_engine.health.activation import gateway_refused
from flow_engine.web.api.auth import principal
from flow_engine.web.api.registry import Api, Input, Permission, query
from flow_engine.web.state import CONFIG_ADMIN, HEALTH

api = Api()


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class HealthCounts(BaseModel):
    good: int
    medium: int
    bad: int
    unknown: int


class HealthTable(_Out):
    counts: HealthCounts = Field(description="Numbers per class, of those matching `q`.")
    numbers: list[HealthRow] = Field(description="The numbers matching `q` and `class`.")


class HealthQuery(Input):
    health: HealthClass | None = Field(
        None, alias="class", description="Only the numbers in this class."
    )
    q: str | None = Field(
        None, max_length=100, description="Search the number id, the phone number and the name."
    )
    format: Literal["json", "csv"] = Field("json", description="`csv` exports the table.")


class FactOut(BaseModel):
    value: Any
    read_at: float


class ReadErrorOut(BaseModel):
    at: float
    code: int | None
    message: str


class GatewayOut(_Out):
    """What the gateway last said of the number: each phone number field with the time it
    was read, the class it gives, and the last read's error (None when it succeeded)."""

    health: HealthClass = Field(alias="class")
    quality_rating: str | None
    messaging_limit: str | None
    status: str | None
    checked_at: float | None
    changed_at: float | None
    waba_id: str | None
    error: ReadErrorOut | None
    fields: dict[str, FactOut]

    @classmethod
    def of(cls, record: NumberHealth | None, number: str) -> GatewayOut:
        r = record or NumberHealth(number=number)
        return cls(
            health=r.health,
            quality_rating=r.quality_rating,
            messaging_limit=r.messaging_limit,
            status=r.status,
            checked_at=r.checked_at,
            changed_at=r.changed_at,
            waba_id=r.waba_id,
            error=ReadErrorOut(**r.error.model_dump()) if r.error else None,
            fields={k: FactOut(value=f.value, read_at=f.read_at) for k, f in r.facts.items()},
        )


class DayOut(_Out):
    day: str = Field(description="The local day (FLOW_ENGINE_HEALTH_TIMEZONE), YYYY-MM-DD.")
    health: HealthClass = Field(alias="class")
    quality_rating: str | None
    messaging_limit: str | None
    status: str | None
    checked_at: float

    @classmethod
    def of(cls, s: DailySnapshot) -> DayOut:
        return cls(**s.model_dump())


class ChangeOut(_Out):
    id: str
    before: HealthClass = Field(alias="from")
    after: HealthClass = Field(alias="to")
    at: float
    cause: str
    quality_rating: str | None
    status: str | None
    messaging_limit: str | None

    @classmethod
    def of(cls, c: ClassChange) -> ChangeOut:
        return cls(**c.model_dump(exclude={"number"}))


class EventOut(BaseModel):
    id: str
    field: str
    event: str = Field(description="As the webhook named it (names not known to us too).")
    waba_id: str
    at: float
    value: dict[str, Any]

    @classmethod
    def of(cls, e: HealthEvent) -> EventOut:
        return cls(**e.model_dump(exclude={"number"}))


class HealthHistory(BaseModel):
    number: str
    days: list[DayOut] = Field(description="The daily classes, oldest first (90 days kept).")
    changes: list[ChangeOut] = Field(description="Changes of class, newest first.")
    events: list[EventOut] = Field(description="Quality and account webhooks, newest first.")


def aliased(model: BaseModel, *, status: int = 200) -> web.Response:
    return web.Response(
        body=model.model_dump_json(by_alias=True), status=status, content_type="application/json"
    )


@api.route(
    "GET",
    "/health",
    permission=Permission(module=Module.HEALTH),
    summary="Health of your numbers: counts per class and the table (or its CSV)",
    tag="health",
    query=HealthQuery,
    response=HealthTable,
)
async def get_health(request: web.Request) -> web.StreamResponse:
    """Each number's class from the gateway's quality rating: `good` (GREEN), `medium`
    (YELLOW), `bad` (RED), `unknown` (anything else, or never read). `counts` count the
    numbers matching `q` in every class; `numbers` also keeps only `class`.
    `format=csv` answers the same table as CSV."""
    q = query(request, HealthQuery)
    who = principal(request)
    numbers = who.visible(await request.config_dict[CONFIG_ADMIN].store.numbers(), Module.HEALTH)
    found, rows = await request.config_dict[HEALTH].service.table(numbers, health=q.health, q=q.q)
    if q.format == "csv":
        return web.Response(
            text=health_csv(rows),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": 'attachment; filename="health.csv"'},
        )
    return aliased(HealthTable(counts=HealthCounts(**found), numbers=rows))


@api.route(
    "GET",
    "/numbers/{number}/health/history",
    permission=Permission(module=Module.HEALTH, number="number"),
    summary="A number's daily classes, changes of class and quality events",
    tag="health",
    response=HealthHistory,
    errors=(404,),
)
async def get_health_history(request: web.Request) -> web.Response:
    history = await request.config_dict[HEALTH].service.history(request.match_info["number"])
    return aliased(
        HealthHistory(
            number=history["number"],
            days=[DayOut.of(s) for s in history["days"]],
            changes=[ChangeOut.of(c) for c in history["changes"]],
            events=[EventOut.of(e) for e in history["events"]],
        )
    )


@api.route(
    "POST",
    "/numbers/{number}/gateway/refresh",
    permission=Permission(module=Module.HEALTH, number="number"),
    summary="Read the number's fields from the gateway now",
    tag="health",
    response=GatewayOut,
    errors=(404, 502),
)
async def refresh_gateway(request: web.Request) -> web.Response:
    """Reads `display_phone_number`, `verified_name`, `quality_rating`, `status`,
    `name_status`, `code_verification_status`, `throughput` and
    `whatsapp_business_manager_messaging_limit` and answers them. A refusal of the gateway
    is a 502 `gateway_error` whose `details` are Meta's error."""
    number = request.match_info["number"]
    if await request.config_dict[CONFIG_ADMIN].store.head(number) is None:
        raise NotFound(f"number {number} has no configuration", details={"number": number})
    try:
        record = await request.config_dict[HEALTH].service.read(number, cause="refresh")
    except GatewayError as exc:
        raise gateway_refused("reading the phone number", exc) from None
    return aliased(GatewayOut.of(record, number))
