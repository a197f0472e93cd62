"""The data API (R-DATA): live reports per number and period, as JSON or CSV.

Routes of the ``/api/v1`` application, module ``data``: every number asked is checked
(a member asking for one outside their grant gets a 403 naming it). Each route parses
its query, resolves the numbers and the period (``data/query.py``) and calls the data
service (``data/service.py``). ``docs/data.md`` defines every figure.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from flow_engine.admin.permissions import Module
from flow_engine.data.export import series_csv
from flow_engine.data.query import resolve
from flow_engine.data.service import DataService, Query
from flow_engine.domain.metrics import Interval
from flow_engine.web.api.auth import principal
from flow_engine.web.api.registry import Api, Input, Permission, parse
from flow_engine.web.state import DATA_SERVICE

api = Api()
DATA = Permission(module=Module.DATA)
TAG = "data"

NUMBERS = "Comma-separated numbers (phone number ids); default: every number you may see."
FROM = "First local date of the period, YYYY-MM-DD (default: the 1st of this month)."
TO = "Last local date of the period, inclusive (default: today)."


class ReportQuery(Input):
    numbers: str | None = Field(None, description=NUMBERS)
    from_: str | None = Field(None, alias="from", description=FROM)
    to: str | None = Field(None, description=TO)
    interval: Interval = Field("day", description="The series points: day, week or month.")
    format: Literal["json", "csv"] = Field("json", description="csv: the series as CSV.")


class NotificationsQuery(ReportQuery):
    by: Literal["number", "template", "region"] = "number"


class SurveysQuery(ReportQuery):
    kind: Literal["csat", "nps"] = "csat"


class Report(BaseModel):
    """A report: ``totals``, ``series`` (one point per ``interval``) and tables."""

    query: dict[str, Any]
    totals: dict[str, Any]
    series: list[dict[str, Any]]


class Overview(BaseModel):
    query: dict[str, Any]
    tickets: dict[str, Any]
    notifications: dict[str, Any]
    surveys: dict[str, Any]
    volume: dict[str, Any]


async def _query(request: web.Request, model: type[ReportQuery]) -> tuple[ReportQuery, Query]:
    q = parse(model, dict(request.query))
    data = request.config_dict[DATA_SERVICE]
    resolved = await resolve(data, principal(request), q.numbers, q.from_, q.to, q.interval)
    return q, resolved


def csv_response(report: dict[str, Any], filename: str) -> web.Response:
    """``report`` as the CSV download of the data routes (and of the console's reports)."""
    return web.Response(
        text=series_csv(report),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _answer(q: ReportQuery, resolved: Query, report: dict[str, Any], name: str) -> web.Response:
    if q.format == "csv":
        return csv_response(report, f"{name}_{resolved.start}_{resolved.end}.csv")
    echo = {
        "numbers": list(resolved.numbers),
        "from": resolved.start.isoformat(),
        "to": resolved.end.isoformat(),
        "interval": resolved.interval,
    }
    return web.json_response({"query": echo, **report})


def _service(request: web.Request) -> DataService:
    return request.config_dict[DATA_SERVICE]


@api.route(
    "GET",
    "/data/overview",
    permission=DATA,
    summary="The cards: tickets, notifications, surveys, volume (MAU/MIS of this month)",
    tag=TAG,
    query=ReportQuery,
    response=Overview,
    errors=(422,),
)
async def data_overview(request: web.Request) -> web.Response:
    q, resolved = await _query(request, ReportQuery)
    report = await _service(request).overview(resolved)
    if q.format == "csv":  # one row: the cards flattened
        flat = {"period": f"{resolved.start}/{resolved.end}"}
        for card in ("tickets", "notifications", "surveys", "volume"):
            flat.update({f"{card}_{k}": v for k, v in report[card].items()})
        report = {"series": [flat]}
    return _answer(q, resolved, report, "overview")


@api.route(
    "GET",
    "/data/service",
    permission=DATA,
    summary="Human service: tickets offered, closed, attended, abandoned, lost; AHT, TMF, TME",
    tag=TAG,
    query=ReportQuery,
    response=Report,
    errors=(422,),
)
async def data_service(request: web.Request) -> web.Response:
    q, resolved = await _query(request, ReportQuery)
    return _answer(q, resolved, await _service(request).service(resolved), "service")


@api.route(
    "GET",
    "/data/notifications",
    permission=DATA,
    summary="Active notifications: total, received, read, errors, replied, response rate",
    tag=TAG,
    query=NotificationsQuery,
    response=Report,
    errors=(422,),
)
async def data_notifications(request: web.Request) -> web.Response:
    q, resolved = await _query(request, NotificationsQuery)
    assert isinstance(q, NotificationsQuery)
    report = await _service(request).notifications(resolved, q.by)
    return _answer(q, resolved, report, "notifications")


@api.route(
    "GET",
    "/data/surveys",
    permission=DATA,
    summary="Satisfaction surveys: shown, answered, response rate, CSAT or NPS",
    tag=TAG,
    query=SurveysQuery,
    response=Report,
    errors=(422,),
)
async def data_surveys(request: web.Request) -> web.Response:
    q, resolved = await _query(request, SurveysQuery)
    assert isinstance(q, SurveysQuery)
    report = await _service(request).surveys(resolved, q.kind)
    return _answer(q, resolved, report, f"surveys_{q.kind}")


@api.route(
    "GET",
    "/data/messages",
    permission=DATA,
    summary="Message volume: sent (bot, attendant, notification) and received; MAU, MIS",
    tag=TAG,
    query=ReportQuery,
    response=Report,
    errors=(422,),
)
async def data_messages(request: web.Request) -> web.Response:
    q, resolved = await _query(request, ReportQuery)
    return _answer(q, resolved, await _service(request).messages(resolved), "messages")
