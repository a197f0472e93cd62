"""Number health (module ``health``, the manual's "La salud de los números"): cards with
the count of each class that filter the table, search, the CSV export of the same
table, a number's history and a re-read from the gateway; and activation step by step
(module ``numbers``, the manual's "Activación de números": the WABA id and phone, a
code by voice call, the code and the two-step PIN, then success or the gateway's error).
Both call the health services (``health/``) as the API does."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from flow_engine.admin.permissions import Module
from flow_engine.console.auth import LOCALE, WHO
from flow_engine.console.forms import field
from flow_engine.console.labels import render_form
from flow_engine.console.registry import Pages
from flow_engine.console.render import render, url
from flow_engine.console.validation import field_message
from flow_engine.domain.activation import CodeMethod
from flow_engine.domain.health import HealthClass, health_csv
from flow_engine.errors import FlowEngineError, GatewayError, NotFound
from flow_engine.health import Health
from flow_engine.health.activation import gateway_refused
from flow_engine.web.api.activation import RequestCodeBody, VerifyBody
from flow_engine.web.api.registry import Permission
from flow_engine.web.errors import validation_details
from flow_engine.web.state import CONFIG_ADMIN, HEALTH

pages = Pages()
ANY = Permission(module=Module.HEALTH)
ONE = Permission(module=Module.HEALTH, number="number")
ACTIVATE = Permission(module=Module.NUMBERS, number="number")
CLASSES = [c.value for c in HealthClass]
#: the labels of the activation's inputs, for its error summary
ACTIVATION_LABELS = {
    "method": "act.method",
    "language": "act.language",
    "code": "act.code",
    "pin": "act.pin",
}


def health_of(request: web.Request) -> Health:
    return request.config_dict[HEALTH]


async def table(request: web.Request) -> tuple[dict[str, int], list[Any], str, str]:
    chosen = request.query.get("class", "")
    health = HealthClass(chosen) if chosen in CLASSES else None
    q = request.query.get("q", "")[:100]
    store = request.config_dict[CONFIG_ADMIN].store
    numbers = request[WHO].visible(await store.numbers(), Module.HEALTH)
    counts, rows = await health_of(request).service.table(numbers, health=health, q=q or None)
    return counts, rows, health.value if health else "", q


@pages.route("GET", "/health", permission=ANY, name="health")
async def health_page(request: web.Request) -> web.Response:
    counts, rows, chosen, q = await table(request)
    return render(
        request,
        "health/table.html",
        counts=counts,
        rows=rows,
        chosen=chosen,
        q=q,
        classes=CLASSES,
        refreshed=request.query.get("refreshed", ""),
        error=None,
    )


@pages.route("GET", "/health.csv", permission=ANY, name="health_csv")
async def health_export(request: web.Request) -> web.Response:
    """The same table as the page (class and search), as the API's CSV."""
    _counts, rows, _chosen, _q = await table(request)
    return web.Response(
        text=health_csv(rows),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="health.csv"'},
    )


@pages.route("GET", "/health/{number:[0-9]+}", permission=ONE, name="health_number")
async def health_number(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    history = await health_of(request).service.history(number)
    facts = await health_of(request).service.facts(number)
    head = await request.config_dict[CONFIG_ADMIN].head(number)
    return render(
        request, "health/number.html", head=head, history=history, facts=facts, error=None
    )


@pages.route("POST", "/health/{number:[0-9]+}/refresh", permission=ONE, name="health_refresh")
async def health_refresh(request: web.Request) -> web.StreamResponse:
    """Read the number from the gateway now; a refusal is shown with Meta's error."""
    number = request.match_info["number"]
    if await request.config_dict[CONFIG_ADMIN].store.head(number) is None:
        raise NotFound(f"number {number} has no configuration", details={"number": number})
    try:
        await health_of(request).service.read(number, cause="refresh")
    except GatewayError as exc:
        refused = gateway_refused("reading the phone number", exc)
        counts, rows, chosen, q = await table(request)
        return render(
            request,
            "health/table.html",
            status=refused.status,
            counts=counts,
            rows=rows,
            chosen=chosen,
            q=q,
            classes=CLASSES,
            refreshed="",
            error=refused,
        )
    raise web.HTTPSeeOther(url(request, "health", query={"refreshed": number}))


# ---------------------------------------------------------------------- activation
async def render_activation(
    request: web.Request,
    *,
    step: str = "start",
    error: FlowEngineError | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    number = request.match_info["number"]
    view: dict[str, Any] | None = None
    try:
        view = await health_of(request).activation.view(number)
    except GatewayError as exc:  # the gateway cannot say: the page says why
        error = error or exc
        status = max(status, exc.status)
    head = await request.config_dict[CONFIG_ADMIN].head(number)
    return render_form(
        request,
        "health/activation.html",
        ACTIVATION_LABELS,
        status=status,
        head=head,
        view=view,
        step=step,
        error=error,
        errors=errors or {},
        methods=[m.value for m in CodeMethod],
    )


@pages.route(
    "GET", "/access/numbers/{number:[0-9]+}/activation", permission=ACTIVATE, name="activation"
)
async def activation_page(request: web.Request) -> web.Response:
    return await render_activation(request)


@pages.route(
    "POST",
    "/access/numbers/{number:[0-9]+}/activation/request-code",
    permission=ACTIVATE,
    name="activation_request",
)
async def activation_request(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        b = RequestCodeBody.model_validate(
            {
                "method": field(form, "method") or "VOICE",
                "language": field(form, "language") or "es",
            }
        )
        await health_of(request).activation.request_code(
            request.match_info["number"], b.method, b.language
        )
    except ValidationError as exc:
        return await render_activation(
            request, errors=field_errors(exc, request[LOCALE]), status=422
        )
    except FlowEngineError as exc:
        return await render_activation(request, error=exc, status=exc.status)
    return await render_activation(request, step="code")


def field_errors(exc: ValidationError, locale: str) -> dict[str, str]:
    return {d["field"]: field_message(locale, d) for d in validation_details(exc)}


@pages.route(
    "POST",
    "/access/numbers/{number:[0-9]+}/activation/verify",
    permission=ACTIVATE,
    name="activation_verify",
)
async def activation_verify(request: web.Request) -> web.Response:
    """The code and the PIN travel only in this form's body: never logged, never shown."""
    form = await request.post()
    raw = {"code": field(form, "code").strip()}
    if field(form, "pin"):
        raw["pin"] = field(form, "pin")
    try:
        b = VerifyBody.model_validate(raw)
    except ValidationError as exc:
        return await render_activation(
            request, step="code", errors=field_errors(exc, request[LOCALE]), status=422
        )
    pin = b.pin.get_secret_value() if b.pin is not None else None
    try:
        await health_of(request).activation.verify(request.match_info["number"], b.code, pin)
    except FlowEngineError as exc:
        return await render_activation(request, step="code", error=exc, status=exc.status)
    return await render_activation(request, step="done")
