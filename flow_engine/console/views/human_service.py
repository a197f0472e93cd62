"""Human service (module ``human_service``, the manual's "Servicio Humano"): a number's
general human-service settings, and their replication from one number to others
(summary first) — never the active-messaging settings (R-CONF-3)."""

from __future__ import annotations

from aiohttp import web

from flow_engine.admin.configs import HUMAN_SERVICE_PATHS, ConfigService, Planned, etag_of
from flow_engine.admin.permissions import Module
from flow_engine.console import config_form
from flow_engine.console.auth import LOCALE, WHO
from flow_engine.console.forms import Form, by_line, field, fields, items_of, one_input
from flow_engine.console.labels import render_form
from flow_engine.console.registry import Pages
from flow_engine.console.render import render, url
from flow_engine.console.views.configs import (
    checked_update,
    saved_notice,
    service_of,
    summary,
    visible_heads,
)
from flow_engine.errors import UnprocessableEntity
from flow_engine.storage.configs import ConfigVersion
from flow_engine.web.api.auth import require_all
from flow_engine.web.api.registry import Permission

pages = Pages()
HUMAN = Module.HUMAN_SERVICE
ANY = Permission(module=HUMAN)
ONE = Permission(module=HUMAN, number="number")
TAGS = "desk.tags"
#: the settings of this page (queues, service messages and hours are the config tabs)
SETTINGS = config_form.Tab(
    "human",
    (
        config_form.F("desk.tags", "emails"),
        config_form.F("flow.call_center", "bool"),
        config_form.F("flow.ticket_inactivity_close_minutes", "int", nullable=False),
        config_form.F("timezone", nullable=False),
    ),
)

#: their labels (``config/human_number.html``)
LABELS = {
    "desk.tags": "hs.tags",
    "flow.call_center": "cfg.flow.call_center",
    "flow.ticket_inactivity_close_minutes": "cfg.flow.ticket_inactivity_close_minutes",
    "timezone": "cfg.timezone",
}


@pages.route("GET", "/human-service", permission=ANY, name="human_service")
async def human_service_page(request: web.Request) -> web.Response:
    heads = await visible_heads(request, HUMAN)
    return render(request, "config/human.html", heads=heads, error="")


def render_settings(
    request: web.Request,
    head: ConfigVersion,
    values: dict[str, object],
    errors: dict[str, str],
    *,
    status: int = 200,
    notice: str = "",
) -> web.Response:
    return render_form(
        request,
        "config/human_number.html",
        LABELS,
        status=status,
        head=head,
        etag=etag_of(head),
        values=values,
        errors=errors,
        notice=notice,
    )


@pages.route("GET", "/human-service/{number:[0-9]+}", permission=ONE, name="human_number")
async def human_number(request: web.Request) -> web.Response:
    head = await service_of(request).head(request.match_info["number"])
    values, _ = config_form.values_of(SETTINGS, head.config)
    return render_settings(request, head, values, {}, notice=saved_notice(request))


@pages.route("POST", "/human-service/{number:[0-9]+}", permission=ONE, name="human_number_post")
async def human_number_post(request: web.Request) -> web.StreamResponse:
    number = request.match_info["number"]
    form = await request.post()
    values, _ = config_form.posted_values(SETTINGS, form)

    async def stale(current: ConfigVersion) -> web.Response:
        return render_settings(request, current, values, {}, status=412, notice="stale")

    try:
        answer = await checked_update(
            request,
            number,
            lambda current: config_form.apply(SETTINGS, form, current).doc,
            etag=field(form, "etag"),
            action="config.human_service",
            stale=stale,
        )
    except UnprocessableEntity as exc:
        head = await service_of(request).head(number)
        # tags are one per line: "desk.tags.2" belongs to the tags field, and its errors
        # are each shown after the line of its tag
        locale = request[LOCALE]
        errors = one_input(config_form.errors_of(exc.details, {}, locale), TAGS)
        details = exc.details if isinstance(exc.details, list) else []
        about_tags = [
            d for d in details if str(d.get("field", "")).split(".")[:2] == ["desk", "tags"]
        ]
        if about_tags:
            errors[TAGS] = by_line(locale, about_tags, TAGS, items_of(field(form, TAGS))[1])
        return render_settings(request, head, values, errors, status=422)
    if answer is not None:
        return answer
    raise web.HTTPSeeOther(url(request, "human_number", number=number, query={"saved": "1"}))


async def plan(
    request: web.Request, form: Form, if_match: dict[str, str] | None
) -> tuple[list[Planned], str]:
    source = field(form, "reference")
    targets = [n for n in dict.fromkeys(fields(form, "numbers")) if n != source]
    if not targets or not source:
        raise UnprocessableEntity("choose the number to copy from and the numbers to copy to")
    require_all(request[WHO], [*targets, source], HUMAN)
    service = service_of(request)
    reference = (await service.head(source)).config
    build = ConfigService.from_reference(reference, None, HUMAN_SERVICE_PATHS)
    return await service.plan(
        targets, build, if_match=if_match, require_if_match=if_match is not None, who=request[WHO]
    ), source


def replicate_summary(
    request: web.Request, planned: list[Planned], source: str, done: list[ConfigVersion] | None
) -> web.Response:
    return summary(
        request,
        planned,
        source,
        done,
        title_key="hs.replicate",
        back="human_service",
        apply="human_replicate_apply",
    )


@pages.route("POST", "/human-service/replicate", permission=ANY, name="human_replicate")
async def replicate(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        planned, source = await plan(request, form, None)
    except UnprocessableEntity as exc:
        heads = await visible_heads(request, HUMAN)
        return render(request, "config/human.html", status=422, heads=heads, error=exc.message)
    return replicate_summary(request, planned, source, None)


@pages.route(
    "POST", "/human-service/replicate/apply", permission=ANY, name="human_replicate_apply"
)
async def replicate_apply(request: web.Request) -> web.Response:
    form = await request.post()
    if_match = {n: field(form, f"etag.{n}") for n in fields(form, "numbers")}
    planned, source = await plan(request, form, if_match)
    written = await service_of(request).apply(
        planned,
        author=request[WHO],
        source="replicate",
        action="config.replicate",
        summary=f"human-service settings replicated from {source}",
    )
    return replicate_summary(request, planned, source, written)
