"""Templates (module ``templates``, the manual's "Configuración de plantillas"): how many
templates each number has active and when they last changed, with search; one number's
active templates; bulk activation from a reference number, summary first."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from flow_engine.admin.configs import ConfigService, Planned, etag_of
from flow_engine.admin.permissions import Module
from flow_engine.console.auth import LOCALE, WHO
from flow_engine.console.forms import Form, field, fields, items_of
from flow_engine.console.forms import by_line as lines_by
from flow_engine.console.registry import Pages
from flow_engine.console.render import render, url
from flow_engine.console.views.configs import (
    checked_update,
    matches,
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
TEMPLATES = Module.TEMPLATES
ANY = Permission(module=TEMPLATES)
ONE = Permission(module=TEMPLATES, number="number")
#: the configuration's field the page edits (its errors: ``templates.active.<index>``)
ACTIVE = "templates.active"


@pages.route("GET", "/templates", permission=ANY, name="templates")
async def templates_page(request: web.Request) -> web.Response:
    q = request.query.get("q", "")
    heads = [v for v in await visible_heads(request, TEMPLATES) if matches(v, q)]
    return render(request, "config/templates.html", heads=heads, q=q, error="")


@pages.route("GET", "/templates/{number:[0-9]+}", permission=ONE, name="templates_number")
async def number_templates(request: web.Request) -> web.Response:
    head = await service_of(request).head(request.match_info["number"])
    active = "\n".join(head.config.get("templates", {}).get("active", []))
    return render_templates(request, head, active, notice=saved_notice(request))


def render_templates(
    request: web.Request,
    head: ConfigVersion,
    active: str,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    notice: str = "",
    etag: str | None = None,
) -> web.Response:
    """One number's active templates (``active``: one a line, as typed)."""
    return render(
        request,
        "config/templates_number.html",
        status=status,
        head=head,
        etag=etag or etag_of(head),
        active=active,
        errors=errors or {},
        notice=notice,
    )


def names_of(text: str) -> tuple[list[str], list[int]]:
    """The template names typed (one a line; spaces, commas and semicolons part them too)
    and the line each is on, from 1."""
    return items_of(text)


def by_line(locale: str, details: Any, lines: list[int]) -> str:
    """The errors of ``templates.active`` as the member reads them: each once, after the
    line of the name it is about ("line 3: …"); an error of the whole list, alone."""
    return lines_by(locale, details, ACTIVE, lines)


@pages.route("POST", "/templates/{number:[0-9]+}", permission=ONE, name="templates_number_post")
async def number_templates_post(request: web.Request) -> web.StreamResponse:
    number = request.match_info["number"]
    form = await request.post()
    names, lines = names_of(field(form, "active"))

    async def stale(current: ConfigVersion) -> web.Response:
        return render_templates(
            request, current, field(form, "active"), status=412, notice="stale"
        )

    try:
        answer = await checked_update(
            request,
            number,
            lambda current: {**current, "templates": {"active": names}},
            etag=field(form, "etag"),
            action="templates.put",
            stale=stale,
        )
    except UnprocessableEntity as exc:
        head = await service_of(request).head(number)
        errors = {"active": by_line(request[LOCALE], exc.details, lines)}
        return render_templates(
            request,
            head,
            field(form, "active"),
            errors=errors,
            status=422,
            etag=field(form, "etag"),
        )
    if answer is not None:
        return answer
    raise web.HTTPSeeOther(url(request, "templates_number", number=number, query={"saved": "1"}))


async def plan(
    request: web.Request, form: Form, if_match: dict[str, str] | None
) -> tuple[list[Planned], str]:
    reference = field(form, "reference")
    numbers = [n for n in dict.fromkeys(fields(form, "numbers")) if n != reference]
    if not numbers or not reference:
        raise UnprocessableEntity("choose the numbers to change and a reference number")
    require_all(request[WHO], [*numbers, reference], TEMPLATES)
    service = service_of(request)
    ref = (await service.head(reference)).config
    active = list(ref.get("templates", {}).get("active", []))
    build = ConfigService.from_reference(None, {"templates": {"active": active}}, [])
    return await service.plan(
        numbers, build, if_match=if_match, require_if_match=if_match is not None, who=request[WHO]
    ), reference


@pages.route("POST", "/templates/bulk", permission=ANY, name="templates_bulk")
async def templates_bulk(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        planned, reference = await plan(request, form, None)
    except UnprocessableEntity as exc:
        heads = await visible_heads(request, TEMPLATES)
        return render(
            request, "config/templates.html", status=422, heads=heads, q="", error=exc.message
        )
    return summary(
        request,
        planned,
        reference,
        None,
        title_key="tpl.bulk",
        back="templates",
        apply="templates_bulk_apply",
    )


@pages.route("POST", "/templates/bulk/apply", permission=ANY, name="templates_bulk_apply")
async def templates_bulk_apply(request: web.Request) -> web.Response:
    form = await request.post()
    if_match = {n: field(form, f"etag.{n}") for n in fields(form, "numbers")}
    planned, reference = await plan(request, form, if_match)
    written = await service_of(request).apply(
        planned,
        author=request[WHO],
        source="templates",
        action="templates.bulk",
        summary=f"templates from {reference}",
    )
    return summary(
        request,
        planned,
        reference,
        written,
        title_key="tpl.bulk",
        back="templates",
        apply="templates_bulk_apply",
    )
