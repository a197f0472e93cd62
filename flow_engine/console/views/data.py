"""Data (module ``data``, the manual's "Datos"): the overview cards and the service,
notifications, surveys and messages reports, each with the API's query (numbers among
the member's own, from/to local dates, interval), charts of the series drawn on the
server by pygal (``console/charts.py``) and the CSV export of the same report.

Every page parses its query with the API's own models (``web/api/data.py``), resolves
the numbers and the period with ``data/query.py`` (a number outside the member's grant:
the 403 page) and calls the data service, exactly as the ``/api/v1/data`` routes do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from flow_engine.admin.permissions import Module
from flow_engine.console.auth import LOCALE, WHO
from flow_engine.console.charts import charts_css, series_chart
from flow_engine.console.figures import Figures
from flow_engine.console.i18n import Translate, translator
from flow_engine.console.registry import PUBLIC, Handler, Pages
from flow_engine.console.render import render, url
from flow_engine.console.validation import field_message
from flow_engine.data.query import resolve
from flow_engine.data.service import DataService, Query
from flow_engine.errors import UnprocessableEntity
from flow_engine.web.api.data import (
    NotificationsQuery,
    ReportQuery,
    SurveysQuery,
    csv_response,
)
from flow_engine.web.api.registry import Permission, parse
from flow_engine.web.state import CONFIGS, DATA_SERVICE

pages = Pages()
DATA = Permission(module=Module.DATA)
INTERVALS = ("day", "week", "month")
SERVICE = [
    ("offered", "count"),
    ("closed", "count"),
    ("attended", "count"),
    ("abandoned", "count"),
    ("lost", "count"),
    ("transferred", "count"),
    ("attended_pct", "percent"),
    ("aht_s", "duration"),
    ("tmf_s", "duration"),
    ("first_response_s", "duration"),
    ("tme_s", "duration"),
    ("response_s", "duration"),
]
NOTIFY = [
    ("total", "count"),
    ("received", "count"),
    ("read", "count"),
    ("errors", "count"),
    ("replied", "count"),
    ("response_rate", "percent"),
]
SURVEY_COMMON = [("shown", "count"), ("answered", "count"), ("response_rate", "percent")]
SURVEY = {
    "csat": [*SURVEY_COMMON, ("csat", "decimal"), ("csat_satisfied_pct", "percent")],
    "nps": [*SURVEY_COMMON, ("nps", "decimal")],
}
MESSAGES = [
    ("received", "count"),
    ("sent", "count"),
    ("sent_bot", "count"),
    ("sent_attendant", "count"),
    ("sent_notification", "count"),
]
MONTHS = [
    ("mau", "count"),
    ("mis", "count"),
    ("mau_previous", "count"),
    ("mau_mom_pct", "signed_percent"),
]
#: the cards of the overview: (card, figure, kind)
CARDS = [
    ("tickets", [("offered", "count"), ("closed", "count"), ("attended_pct", "percent")]),
    (
        "notifications",
        [
            ("total", "count"),
            ("received", "count"),
            ("replied", "count"),
            ("response_rate", "percent"),
        ],
    ),
    (
        "surveys",
        [
            ("shown", "count"),
            ("answered", "count"),
            ("response_rate", "percent"),
            ("csat", "decimal"),
            ("nps", "decimal"),
        ],
    ),
    (
        "volume",
        [
            ("received", "count"),
            ("sent", "count"),
            ("mau", "count"),
            ("mis", "count"),
            ("mau_mom_pct", "signed_percent"),
        ],
    ),
]


@dataclass(frozen=True)
class Chart:
    """A chart of a report's series: the figures it draws, and how."""

    title: str
    keys: tuple[str, ...]
    kind: str = "bar"


@dataclass(frozen=True)
class Report:
    """One report of the data service as a console page."""

    name: str
    model: type[ReportQuery]
    run: Callable[[DataService, Query, ReportQuery], Any]
    columns: Callable[[ReportQuery], list[tuple[str, str]]]
    charts: tuple[Chart, ...]
    #: the tables of the report beside the series: (key of the report, first column)
    tables: Callable[[ReportQuery], list[tuple[str, str]]]


def _notify_by(q: ReportQuery) -> str:
    return q.by if isinstance(q, NotificationsQuery) else "number"


def _kind(q: ReportQuery) -> str:
    return q.kind if isinstance(q, SurveysQuery) else "csat"


REPORTS: dict[str, Report] = {
    "service": Report(
        "service",
        ReportQuery,
        lambda d, r, q: d.service(r),
        lambda q: SERVICE,
        (
            Chart("data.chart.tickets", ("offered", "closed", "abandoned", "lost")),
            Chart("data.chart.times", ("aht_s", "tme_s", "first_response_s"), "line"),
        ),
        lambda q: [("by_number", "number"), ("by_queue", "queue")],
    ),
    "notifications": Report(
        "notifications",
        NotificationsQuery,
        lambda d, r, q: d.notifications(r, _notify_by(q)),  # type: ignore[arg-type]
        lambda q: NOTIFY,
        (Chart("data.chart.notifications", ("total", "received", "read", "replied", "errors")),),
        lambda q: [(f"by_{_notify_by(q)}", _notify_by(q))],
    ),
    "surveys": Report(
        "surveys",
        SurveysQuery,
        lambda d, r, q: d.surveys(r, _kind(q)),  # type: ignore[arg-type]
        lambda q: SURVEY[_kind(q)],
        (Chart("data.chart.surveys", ("shown", "answered")),),
        lambda q: [("by_number", "number")],
    ),
    "messages": Report(
        "messages",
        ReportQuery,
        lambda d, r, q: d.messages(r),
        lambda q: MESSAGES,
        (
            Chart(
                "data.chart.messages",
                ("sent_bot", "sent_attendant", "sent_notification"),
                "stacked",
            ),
            Chart("data.chart.received", ("received", "sent"), "line"),
        ),
        lambda q: [("by_number", "number")],
    ),
}


def data_of(request: web.Request) -> DataService:
    return request.config_dict[DATA_SERVICE]


def raw_query(request: web.Request, model: type[ReportQuery]) -> dict[str, str]:
    """The page's form as the API's query: the numbers ticked (one field each) joined by
    commas, the empty fields left out, every other field as it came (an unknown one is
    the API's 422)."""
    raw: dict[str, str] = {}
    numbers = [n for n in request.query.getall("numbers", []) if n]
    if numbers:
        raw["numbers"] = ",".join(numbers)
    for name, value in request.query.items():
        if name != "numbers" and value != "" and name not in raw:
            raw[name] = value
    raw.pop("format", None)  # the export is its own route
    return raw


def field_errors(exc: UnprocessableEntity, locale: str) -> dict[str, str]:
    details = exc.details if isinstance(exc.details, list) else []
    return {str(d.get("field")): field_message(locale, d) for d in details if isinstance(d, dict)}


async def number_choices(request: web.Request) -> list[tuple[str, str]]:
    """The numbers the member may see in the data module, with their names."""
    numbers = request[WHO].visible(await data_of(request).numbers(), Module.DATA)
    out = []
    for n in numbers:
        config = await request.config_dict[CONFIGS].get(n)
        out.append((n, (config.name if config else "") or n))
    return out


async def query_of(
    request: web.Request, model: type[ReportQuery]
) -> tuple[ReportQuery, Query] | dict[str, str]:
    """The parsed query and the resolved one, or the errors by field (a number outside
    the grant is the 403 page, raised by ``resolve``)."""
    try:
        q = parse(model, raw_query(request, model))
        who = request[WHO]
        resolved = await resolve(data_of(request), who, q.numbers, q.from_, q.to, q.interval)
    except UnprocessableEntity as exc:
        return field_errors(exc, request[LOCALE])
    return q, resolved


def the_chart(t: Translate, chart: Chart, report: dict[str, Any]) -> Any:
    labels = [p["period"] for p in report["series"]]
    lines = [(t("data.col." + k), [p.get(k) for p in report["series"]]) for k in chart.keys]
    return series_chart(t(chart.title), labels, lines, kind=chart.kind)


async def page(request: web.Request, name: str) -> web.Response:
    """The overview (``name`` ``overview``) or a report, with its form and its charts."""
    model = REPORTS[name].model if name in REPORTS else ReportQuery
    parsed = await query_of(request, model)
    t = translator(request.get(LOCALE, "es"))
    errors = parsed if isinstance(parsed, dict) else {}
    q, resolved = parsed if isinstance(parsed, tuple) else (None, None)
    report: dict[str, Any] | None = None
    charts: list[Any] = []
    columns: list[tuple[str, str]] = []
    tables: list[tuple[str, str]] = []
    if q is not None and resolved is not None:
        if name == "overview":
            report = await data_of(request).overview(resolved)
        else:
            r = REPORTS[name]
            report = await r.run(data_of(request), resolved, q)
            charts = [the_chart(t, c, report) for c in r.charts]
            columns, tables = r.columns(q), r.tables(q)
            if name == "surveys":  # the scores given over the period
                scores = report["totals"]["distribution"]
                answers = [(t("data.col.answers"), list(scores.values()))]
                charts.append(series_chart(t("data.chart.scores"), list(scores), answers))
    raw = raw_query(request, model)
    export = url(request, f"data_{name}_csv", query=raw) if report else ""
    choices = await number_choices(request)
    return render(
        request,
        "data/report.html",
        status=422 if errors else 200,
        name=name,
        reports=["overview", *REPORTS],
        raw=raw,
        resolved=resolved,
        errors=errors,
        report=report,
        charts=charts,
        columns=columns,
        tables=tables,
        cards=CARDS,
        months=MONTHS,
        intervals=[(i, t("data.interval." + i)) for i in INTERVALS],
        choices=choices,
        names=dict(choices),
        chosen=list(resolved.numbers) if resolved else request.query.getall("numbers", []),
        fig=Figures(request.get(LOCALE, "es")),
        export=export,
    )


def overview_row(resolved: Query, report: dict[str, Any]) -> dict[str, Any]:
    """The cards as one CSV row, as ``GET /api/v1/data/overview?format=csv`` gives."""
    flat: dict[str, Any] = {"period": f"{resolved.start}/{resolved.end}"}
    for card in ("tickets", "notifications", "surveys", "volume"):
        flat.update({f"{card}_{k}": v for k, v in report[card].items()})
    return flat


async def export(request: web.Request, name: str) -> web.Response:
    """The report of the page's query as the API's CSV (a bad query: the error page)."""
    model = REPORTS[name].model if name in REPORTS else ReportQuery
    q = parse(model, raw_query(request, model))
    resolved = await resolve(data_of(request), request[WHO], q.numbers, q.from_, q.to, q.interval)
    if name == "overview":
        report = {"series": [overview_row(resolved, await data_of(request).overview(resolved))]}
    else:
        report = await REPORTS[name].run(data_of(request), resolved, q)
    suffix = f"_{_kind(q)}" if name == "surveys" else ""
    filename = f"{name}{suffix}_{resolved.start}_{resolved.end}.csv"
    return csv_response(report, filename)


def _declare(name: str) -> None:
    path = "/data" if name == "overview" else f"/data/{name}"
    route = "data" if name == "overview" else f"data_{name}"

    async def show(request: web.Request) -> web.Response:
        return await page(request, name)

    async def download(request: web.Request) -> web.Response:
        return await export(request, name)

    show.__name__, download.__name__ = f"data_{name}_page", f"data_{name}_export"
    handlers: list[tuple[str, str, Handler]] = [
        (path, route, show),
        (
            f"{path}.csv" if name != "overview" else "/data/overview.csv",
            f"data_{name}_csv",
            download,
        ),
    ]
    for p, n, h in handlers:
        pages.route("GET", p, permission=DATA, name=n)(h)


for _name in ("overview", *REPORTS):
    _declare(_name)


@pages.route("GET", "/data/charts.css", permission=PUBLIC, name="charts_css")
async def charts_stylesheet(request: web.Request) -> web.Response:
    """pygal's stylesheet for the console's charts (public: nothing secret in it)."""
    return web.Response(
        text=charts_css(),
        content_type="text/css",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )
