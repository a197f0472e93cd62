"""The integration plugin (module ``config``): the numbers list with search; one number's
configuration by the manual's tabs, with each field's error beside it and the diff
before saving; versions with author, date and restore; a bulk edit of selected numbers
from a reference number, with the summary before "apply". Every write goes through the
configuration service (``admin/configs.py``) with the version it was computed from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from flow_engine.admin.configs import (
    REFERENCE_PATHS,
    ConfigService,
    Planned,
    etag_of,
    validate_config,
)
from flow_engine.admin.jsondoc import diff
from flow_engine.admin.permissions import Module
from flow_engine.console import config_form
from flow_engine.console.auth import LOCALE, WHO
from flow_engine.console.forms import Form, field, fields
from flow_engine.console.i18n import translator
from flow_engine.console.labels import FORM_ERRORS
from flow_engine.console.registry import Pages
from flow_engine.console.render import render, url
from flow_engine.domain.skills import EXTENSION_POINTS
from flow_engine.errors import Forbidden, NotFound, PreconditionFailed, UnprocessableEntity
from flow_engine.storage.configs import ConfigVersion
from flow_engine.web.api.auth import require_all
from flow_engine.web.api.registry import Permission
from flow_engine.web.state import CONFIG_ADMIN

pages = Pages()
CONFIG = Module.CONFIG
ANY_NUMBER = Permission(module=CONFIG)
ONE_NUMBER = Permission(module=CONFIG, number="number")
TAB_ORDER = ["flow", "faq", "queue", "service", "social", "hours", "skills"]


def service_of(request: web.Request) -> ConfigService:
    return request.config_dict[CONFIG_ADMIN]


def matches(v: ConfigVersion, q: str) -> bool:
    if not q:
        return True
    needle = q.strip().casefold()
    c = v.config
    hay = [v.number, str(c.get("display_phone_number", "")), str(c.get("name", ""))]
    return any(needle in h.casefold() for h in hay)


async def visible_heads(request: web.Request, module: Module) -> list[ConfigVersion]:
    store = service_of(request).store
    numbers = request[WHO].visible(await store.numbers(), module)
    heads = await store.heads(numbers)
    return [heads[n] for n in numbers if n in heads]


@pages.route("GET", "/numbers", permission=ANY_NUMBER, name="numbers")
async def numbers_page(request: web.Request) -> web.Response:
    q = request.query.get("q", "")
    heads = [v for v in await visible_heads(request, CONFIG) if matches(v, q)]
    return render(
        request, "config/numbers.html", heads=heads, q=q, errors={}, options=options_of(heads)
    )


def options_of(heads: list[ConfigVersion]) -> list[tuple[str, str]]:
    return [(v.number, f"{v.config.get('name') or v.number} ({v.number})") for v in heads]


def tab_of(request: web.Request) -> config_form.Tab:
    tab = config_form.TABS.get(request.match_info["tab"])
    if tab is None:
        raise NotFound(f"no tab {request.match_info['tab']!r}")
    return tab


async def render_tab(
    request: web.Request,
    head: ConfigVersion,
    tab: config_form.Tab,
    *,
    values: dict[str, Any],
    rows: dict[str, int],
    errors: dict[str, str],
    changes: list[dict[str, Any]] | None = None,
    status: int = 200,
    notice: str = "",
) -> web.Response:
    return render(
        request,
        "config/tab.html",
        status=status,
        head=head,
        etag=etag_of(head),
        tab=tab,
        tabs=TAB_ORDER,
        values=values,
        rows=rows,
        errors=errors,
        changes=changes,
        notice=notice,
        points=EXTENSION_POINTS,
        skill_kinds=config_form.SKILL_KINDS,
        form=config_form,
        label=labeler(request),
        error_labels={name: input_label(request, tab, name) for name in errors},
    )


def input_label(request: web.Request, tab: config_form.Tab, name: str) -> str:
    """What the member reads beside the input called ``name`` ("Pregunta 1")."""
    if name in FORM_ERRORS:  # the form's own (a refusal): its message alone
        return ""
    t = translator(request[LOCALE])
    for item in tab.items:
        if isinstance(item, config_form.G) and name.startswith(item.path + "."):
            row, _, col = name[len(item.path) + 1 :].partition(".")
            if row.isascii() and row.isdigit() and col:
                return f"{t('cfg.col.' + col.split('.')[0])} {int(row) + 1}"
    if name.startswith("skills."):
        return name.split(".")[1]
    return str(labeler(request)(name))


def labeler(request: web.Request) -> Any:
    """The label of an input, from its path: a message's switch and text share its name."""
    t = translator(request[LOCALE])

    def label(path: str) -> str:
        base, _, leaf = path.rpartition(".")
        if leaf == "enabled" and base in config_form.MESSAGES:
            return t("cfg.send", what=t("cfg." + base))
        if leaf == "text" and base in config_form.MESSAGES:
            return t("cfg.text_of", what=t("cfg." + base))
        return t("cfg." + path)

    return label


async def checked_update(
    request: web.Request,
    number: str,
    build: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    etag: str,
    action: str,
    stale: Callable[[ConfigVersion], Awaitable[web.Response]],
) -> web.Response | None:
    """Save a console form's change against the version the form was read from
    (``etag``); None when saved. Saved by someone else meanwhile: ``stale(current)``, the
    page's form again on the current version, with what the member typed, the banner
    and a 412 — never the generic error page, never an overwrite."""
    service = service_of(request)
    try:
        await service.update(
            number, build, if_match=etag, author=request[WHO], source="console", action=action
        )
    except PreconditionFailed:
        return await stale(await service.head(number))
    return None


@pages.route("GET", "/numbers/{number}/config/{tab}", permission=ONE_NUMBER, name="config_tab")
async def config_tab(request: web.Request) -> web.Response:
    tab = tab_of(request)
    head = await service_of(request).head(request.match_info["number"])
    values, rows = config_form.values_of(tab, head.config)
    notice = saved_notice(request)
    return await render_tab(request, head, tab, values=values, rows=rows, errors={}, notice=notice)


def saved_notice(request: web.Request) -> str:
    """The notice of a page its save redirected to (``?saved=1``)."""
    return "saved" if request.query.get("saved") else ""


@pages.route(
    "POST", "/numbers/{number}/config/{tab}", permission=ONE_NUMBER, name="config_tab_post"
)
async def config_tab_post(request: web.Request) -> web.StreamResponse:
    """``action=review``: validate and show the diff; ``action=save``: store it, checked
    against the version the member reviewed (``etag``)."""
    number = request.match_info["number"]
    tab = tab_of(request)
    form = await request.post()
    service = service_of(request)
    head = await service.head(number)
    values, rows = config_form.posted_values(tab, form)
    parsed = config_form.apply(tab, form, head.config)
    try:
        new = validate_config(number, parsed.doc).model_dump(mode="json")
    except UnprocessableEntity as exc:
        errors = config_form.errors_of(exc.details, parsed.rows, request[LOCALE])
        return await render_tab(
            request, head, tab, values=values, rows=rows, errors=errors, status=422
        )

    async def stale(current: ConfigVersion) -> web.Response:
        """The form was read from an older version: its unchanged fields would undo what
        was saved meanwhile. The diff against ``current``, and its etag to save with once
        reviewed again."""
        return await render_tab(
            request,
            current,
            tab,
            values=values,
            rows=rows,
            errors={},
            changes=diff(current.config, new),
            status=412,
            notice="stale",
        )

    if field(form, "etag") != etag_of(head):
        return await stale(head)
    changes = diff(head.config, new)
    if field(form, "action") != "save" or not changes:
        return await render_tab(
            request, head, tab, values=values, rows=rows, errors={}, changes=changes
        )
    try:  # saved by someone else between the check and the save: stale too
        answer = await checked_update(
            request,
            number,
            lambda current: config_form.apply(tab, form, current).doc,
            etag=field(form, "etag"),
            action="config.put",
            stale=stale,
        )
    except UnprocessableEntity as exc:
        errors = config_form.errors_of(exc.details, parsed.rows, request[LOCALE])
        return await render_tab(
            request, head, tab, values=values, rows=rows, errors=errors, status=422
        )
    except Forbidden as exc:  # e.g. changing skills without the skills module
        return await render_tab(
            request,
            head,
            tab,
            values=values,
            rows=rows,
            errors={"form": exc.message},
            changes=changes,
            status=403,
        )
    if answer is not None:
        return answer
    raise web.HTTPSeeOther(
        url(request, "config_tab", number=number, tab=tab.key, query={"saved": "1"})
    )


@pages.route("GET", "/numbers/{number}/versions", permission=ONE_NUMBER, name="versions")
async def versions_page(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    service = service_of(request)
    head = await service.head(number)
    found = await service.store.versions(number, limit=100, offset=0)
    return render(request, "config/versions.html", head=head, versions=found)


def version_param(request: web.Request) -> int:
    raw = request.match_info["version"]
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) < 10**9:
        raise NotFound(f"no version {raw!r}")
    return int(raw)


@pages.route("GET", "/numbers/{number}/versions/{version}", permission=ONE_NUMBER, name="version")
async def version_page(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    service = service_of(request)
    head = await service.head(number)
    old = await service.version(number, version_param(request))
    return render(
        request,
        "config/version.html",
        head=head,
        old=old,
        etag=etag_of(head),
        changes=diff(head.config, old.config),
    )


@pages.route(
    "POST",
    "/numbers/{number}/versions/{version}/restore",
    permission=ONE_NUMBER,
    name="version_restore",
)
async def version_restore(request: web.Request) -> web.StreamResponse:
    number = request.match_info["number"]
    form = await request.post()
    await service_of(request).restore(
        number, version_param(request), if_match=field(form, "etag"), author=request[WHO]
    )
    raise web.HTTPSeeOther(url(request, "versions", number=number))


# ---------------------------------------------------------------------- bulk
def bulk_numbers(form: Form) -> tuple[list[str], str]:
    numbers = list(dict.fromkeys(fields(form, "numbers")))
    reference = field(form, "reference")
    return numbers, reference


async def plan_bulk(
    request: web.Request, form: Form, if_match: dict[str, str] | None
) -> tuple[list[Planned], str]:
    numbers, reference = bulk_numbers(form)
    numbers = [n for n in numbers if n != reference]
    if not numbers or not reference:
        raise UnprocessableEntity(
            "choose the numbers to change and a reference number",
            details=[{"field": "numbers", "message": "choose numbers and a reference"}],
        )
    require_all(request[WHO], [*numbers, reference], CONFIG)
    service = service_of(request)
    ref = (await service.head(reference)).config
    build = ConfigService.from_reference(ref, None, REFERENCE_PATHS)
    return await service.plan(
        numbers, build, if_match=if_match, require_if_match=if_match is not None, who=request[WHO]
    ), reference


@pages.route("POST", "/numbers/bulk", permission=ANY_NUMBER, name="bulk_review")
async def bulk_review(request: web.Request) -> web.Response:
    """The confirmation summary: what would change on each selected number."""
    form = await request.post()
    try:
        planned, reference = await plan_bulk(request, form, None)
    except UnprocessableEntity as exc:
        q = ""
        heads = await visible_heads(request, CONFIG)
        errors = {"numbers": exc.message}
        return render(
            request,
            "config/numbers.html",
            status=422,
            heads=heads,
            q=q,
            errors=errors,
            options=options_of(heads),
        )
    return summary(request, planned, reference, None)


def summary(
    request: web.Request,
    planned: list[Planned],
    reference: str,
    done: list[ConfigVersion] | None,
    *,
    title_key: str = "cfg.bulk",
    back: str = "numbers",
    apply: str = "bulk_apply",
) -> web.Response:
    """The confirmation summary of a write to many numbers (or what it did)."""
    return render(
        request,
        "config/bulk.html",
        planned=planned,
        reference=reference,
        done=done,
        title=translator(request[LOCALE])(title_key),
        back=url(request, back),
        apply_url=url(request, apply),
    )


@pages.route("POST", "/numbers/bulk/apply", permission=ANY_NUMBER, name="bulk_apply")
async def bulk_apply(request: web.Request) -> web.Response:
    form = await request.post()
    numbers, _ = bulk_numbers(form)
    if_match = {n: field(form, f"etag.{n}") for n in numbers if field(form, f"etag.{n}")}
    planned, reference = await plan_bulk(request, form, if_match)
    written = await service_of(request).apply(
        planned,
        author=request[WHO],
        source="bulk",
        action="config.bulk",
        summary=f"bulk edit from {reference}",
    )
    return summary(request, planned, reference, written)
