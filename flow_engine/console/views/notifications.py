"""Active notifications (module ``notifications``, the manual's "Envío de notificaciones
activas"): one template to one contact, with its parameters and the extras shown to the
attendant if the contact replies; a campaign from a CSV file, checked first (the
dry-run report lists the rejected rows) and then followed live, with pause, resume and
cancel. Every send goes through the notification services (``notify/``) with the same
checks as the API."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField
from pydantic import ValidationError

from flow_engine.admin.permissions import Module
from flow_engine.console import notify_form, stream
from flow_engine.console.auth import LOCALE, SESSION, WHO
from flow_engine.console.figures import Figures
from flow_engine.console.forms import Form, field, readable
from flow_engine.console.i18n import Translate, translator
from flow_engine.console.labels import render_form
from flow_engine.console.registry import Pages
from flow_engine.console.render import render, render_string, url
from flow_engine.console.security import SECURITY_HEADERS
from flow_engine.console.validation import field_message
from flow_engine.domain.campaigns import CampaignSpec
from flow_engine.domain.notifications import NotificationRequest
from flow_engine.domain.templates import CatalogTemplate
from flow_engine.errors import FlowEngineError, NotFound
from flow_engine.notify import NotifyService
from flow_engine.web.api.auth import require
from flow_engine.web.api.registry import Permission
from flow_engine.web.errors import validation_details
from flow_engine.web.state import CONFIGS, NOTIFY, STORAGE

pages = Pages()
NOTIFICATIONS = Module.NOTIFICATIONS
ANY = Permission(module=NOTIFICATIONS)
ONE = Permission(module=NOTIFICATIONS, number="number")
DRAFT_TTL_MS = 30 * 60 * 1000
#: the labels of the notification form's inputs (``notify/send.html``, ``_params.html``)
LABELS = {
    "number": "nt.number",
    "template": "nt.template",
    "to": "nt.to",
    "p.header.{key}": "nt.part_header",
    "p.body.{key}": "nt.part_body",
    "p.buttons.{key}": "nt.part_buttons",
    "extras": "nt.extras",
    "extras.{n}.key": "nt.extra_key",
    "extras.{n}.value": "nt.extra_value",
    "reply": "nt.reply",
}
#: and of the campaign's (``notify/campaign_new.html``)
CAMPAIGN_LABELS = {
    **LABELS,
    "name": "nt.campaign_name",
    "file": "nt.file",  # and the CSV's errors (``csv``, ``columns``: notify_form)
    "phone_column": "nt.phone_column",
    "separator": "nt.separator",
    "sender_column": "nt.sender_column",
    "per_second": "nt.per_second",
    "interval_s": "nt.interval",
    "start_at": "nt.start_at",
    "batch_size": "nt.batch_size",
    "batch_interval_min": "nt.batch_interval",
}
CAMPAIGNS_SHOWN = 20


def notify_of(request: web.Request) -> NotifyService:
    return request.config_dict[NOTIFY]


async def senders(request: web.Request) -> list[tuple[str, str]]:
    """The numbers the member may notify from: (id, "name (id)")."""
    who = request[WHO]
    store = request.config_dict[STORAGE].configs
    out = []
    for n in who.visible(await store.numbers(), NOTIFICATIONS):
        config = await request.config_dict[CONFIGS].get(n)
        if config is not None:
            out.append((n, f"{config.name or n} ({n})"))
    return out


async def sendable(request: web.Request, number: str) -> tuple[list[CatalogTemplate], Any]:
    """The catalog templates the number may send (approved, active on it), and when the
    catalog was read."""
    catalogs = notify_of(request).catalogs
    config = await catalogs.config(number)
    templates, synced = await catalogs.catalog(config)
    active = set(config.templates.active)
    return [t for t in templates if t.status == "APPROVED" and t.name in active], synced


def chosen(templates: list[CatalogTemplate], ref: str) -> CatalogTemplate | None:
    name, _, language = ref.partition("|")
    return next((t for t in templates if t.name == name and t.language == language), None)


def errors_of(
    exc: FlowEngineError | ValidationError, template: CatalogTemplate | None, locale: str
) -> dict[str, str]:
    """The errors by input; two of one input (the CSV file's header) shown together."""
    details: Any = validation_details(exc) if isinstance(exc, ValidationError) else exc.details
    errors: dict[str, str] = {}
    if isinstance(details, list):
        for d in details:
            name = notify_form.input_of_error(str(d.get("field", "")), template)
            message = field_message(locale, d)
            if name not in errors:
                errors[name] = message
            elif message not in errors[name].split("; "):
                errors[name] += "; " + message
    if not errors:
        errors["form"] = exc.message if isinstance(exc, FlowEngineError) else str(exc)
    return errors


# ---------------------------------------------------------------------- overview
@pages.route("GET", "/notifications", permission=ANY, name="notifications")
async def overview(request: web.Request) -> web.Response:
    who = request[WHO]
    service = notify_of(request).campaigns
    found = [
        c
        for c in await service.store.campaigns(number=None, state=None, limit=200, offset=0)
        if not who.denied(c.senders, NOTIFICATIONS)
    ][:CAMPAIGNS_SHOWN]
    shown = [await service.view(c) for c in found]
    return render(request, "notify/overview.html", campaigns=shown)


# ---------------------------------------------------------------------- one notification
async def send_context(request: web.Request, number: str, ref: str) -> dict[str, Any]:
    numbers = await senders(request)
    templates: list[CatalogTemplate] = []
    synced = None
    template = None
    queues: list[str] = []
    if number:
        require(request[WHO], number, NOTIFICATIONS)
        templates, synced = await sendable(request, number)
        template = chosen(templates, ref)
        config = await request.config_dict[CONFIGS].get(number)
        queues = config.queue_names() if config else []
    inputs = notify_form.inputs_of(template)[1] if template else []
    return {
        "numbers": numbers,
        "number": number,
        "templates": templates,
        "synced": synced,
        "template": template,
        "ref": ref,
        "inputs": inputs,
        "queues": queues,
        "extra_rows": notify_form.EXTRA_ROWS,
    }


@pages.route("GET", "/notifications/send", permission=ANY, name="notify_send")
async def send_page(request: web.Request) -> web.Response:
    ctx = await send_context(
        request, request.query.get("number", ""), request.query.get("template", "")
    )
    key = uuid.uuid4().hex
    return render_form(request, "notify/send.html", LABELS, values={}, errors={}, key=key, **ctx)


#: the stand-ins of the notification's required fields, for the service's checks of the
#: others when the request model refused one (``forms.readable``)
STAND_INS = {"to": "0"}


def merged(errors: dict[str, str], more: dict[str, str]) -> dict[str, str]:
    """``errors`` and then ``more``: a field keeps the error found first."""
    out = dict(errors)
    for name, message in more.items():
        out.setdefault(name, message)
    return out


@pages.route("POST", "/notifications/send", permission=ANY, name="notify_send_post")
async def send(request: web.Request) -> web.StreamResponse:
    """Every error of the form at once: the request model's and the service's checks
    (the phone, the template's parameters, the reply queue), run on the fields the model
    read even when it refused another."""
    form = await request.post()
    number, ref = field(form, "number"), field(form, "template")
    ctx = await send_context(request, number, ref)
    template: CatalogTemplate | None = ctx["template"]
    values = {k: field(form, k) for k in form}
    service = notify_of(request).notifications
    key = field(form, "key")
    errors: dict[str, str] = {}
    status = 422
    try:
        if template is None:
            raise NotFound("choose a number and one of its templates")
        name, _, language = ref.partition("|")
        raw = {
            "to": field(form, "to"),
            "template": {"name": name, "language": language},
            "parameters": notify_form.parameters(template, form, columns=False),
            "extras": notify_form.extras(form, columns=False),
            "reply": {"queue": field(form, "reply")} if field(form, "reply") else None,
        }
        try:
            body = NotificationRequest.model_validate(raw)
        except ValidationError as exc:
            errors = errors_of(exc, template, request[LOCALE])
            checkable = readable(NotificationRequest, raw, exc, STAND_INS)
            if checkable is not None:
                await service.check(number, checkable)
        else:
            n = await service.create(
                number, body, request[WHO].actor, key if len(key) == 32 else None
            )
            raise web.HTTPSeeOther(url(request, "notification", notification_id=n.id))
    except FlowEngineError as exc:
        status = exc.status if not errors else 422
        errors = merged(errors, errors_of(exc, template, request[LOCALE]))
    return render_form(
        request,
        "notify/send.html",
        LABELS,
        status=status,
        values=values,
        errors=errors,
        key=key,
        **ctx,
    )


@pages.route("POST", "/notifications/{number:[0-9]+}/sync", permission=ONE, name="notify_sync")
async def sync(request: web.Request) -> web.StreamResponse:
    """Read the number's template catalog from its WABA again."""
    number = request.match_info["number"]
    await notify_of(request).catalogs.sync(number)
    form = await request.post()
    back = "campaign_new" if field(form, "back") == "campaign" else "notify_send"
    raise web.HTTPSeeOther(url(request, back, query={"number": number}))


async def notification_of(request: web.Request) -> Any:
    n = await notify_of(request).notifications.get(request.match_info["notification_id"])
    require(request[WHO], n.number, NOTIFICATIONS)
    return n


@pages.route("GET", "/notifications/sent/{notification_id}", permission=ANY, name="notification")
async def notification_page(request: web.Request) -> web.Response:
    n = await notification_of(request)
    return render(
        request,
        "notify/notification.html",
        n=n,
        stream_url=url(request, "notification_stream", notification_id=n.id),
    )


@pages.route(
    "GET",
    "/notifications/sent/{notification_id}/stream",
    permission=ANY,
    name="notification_stream",
    stream=True,
)
async def notification_stream(request: web.Request) -> web.StreamResponse:
    await notification_of(request)

    async def snapshot() -> stream.Snapshot:
        n = await notification_of(request)
        return n.model_dump_json(), lambda: [
            ("notification-status", render_string(request, "notify/notification_status.html", n=n))
        ]

    return await stream.serve(request, snapshot, request.app[stream.STOPPING], SECURITY_HEADERS)


# ---------------------------------------------------------------------- campaigns
def draft_key(request: web.Request, draft: str) -> str:
    """Where an uploaded file waits for its confirmation: bound to the session."""
    raw = f"draft\x1f{request[SESSION].id}\x1f{draft}"
    return "draft:" + hashlib.sha256(raw.encode()).hexdigest()


def spec_of(
    form: Form, template: CatalogTemplate | None, ref: str, dry_run: bool
) -> dict[str, Any]:
    """The campaign's spec as the API's ``spec``, to validate with ``CampaignSpec``."""
    name, _, language = ref.partition("|")
    number = field(form, "number") or None
    sender_column = field(form, "sender_column").strip() or None
    raw: dict[str, Any] = {
        "name": field(form, "name"),
        "number": None if sender_column else number,
        "sender_column": sender_column,
        "phone_column": field(form, "phone_column"),
        "separator": field(form, "separator") or ",",
        "template": {"name": name, "language": language},
        "parameters": notify_form.parameters(template, form, columns=True) if template else None,
        "extras": notify_form.extras(form, columns=True),
        "reply": {"queue": field(form, "reply")} if field(form, "reply") else None,
        "interval_s": field(form, "interval_s") or 0,
        "dry_run": dry_run,
    }
    for key in PACE:
        if key != "interval_s" and field(form, key).strip():
            raw[key] = field(form, key).strip()
    if field(form, "start_at").strip():
        raw["start_at"] = field(form, "start_at").strip()
    return raw


#: the spec's fields no check of the service reads (they only shape the sends): a spec
#: the model refused is checked without them
PACE = ("per_second", "interval_s", "batch_size", "batch_interval_min")
#: stand-ins of the spec's required fields (``forms.readable``)
SPEC_STAND_INS = {"name": "-", "phone_column": "-"}
#: a form without its file: the CSV's checks wait for it, the others are made
NO_FILE = {"file": "choose the CSV file (again)"}


@pages.route("GET", "/notifications/campaigns/new", permission=ANY, name="campaign_new")
async def campaign_page(request: web.Request) -> web.Response:
    ctx = await send_context(
        request, request.query.get("number", ""), request.query.get("template", "")
    )
    return render_form(
        request,
        "notify/campaign_new.html",
        CAMPAIGN_LABELS,
        values={"separator": ","},
        errors={},
        report=None,
        draft="",
        **ctx,
    )


@pages.route("POST", "/notifications/campaigns/new", permission=ANY, name="campaign_new_post")
async def campaign_new(request: web.Request) -> web.StreamResponse:
    """``action=check``: the dry run, and its report (the rejected rows listed); the file
    waits in the store, bound to the session, for ``action=create``."""
    form = await request.post()
    number, ref = field(form, "number"), field(form, "template")
    ctx = await send_context(request, number, ref)
    template: CatalogTemplate | None = ctx["template"]
    values = {k: field(form, k) for k in form}
    store = request.config_dict[STORAGE].sessions
    upload = form.get("file")
    draft = field(form, "draft")
    data: bytes | None = None
    if isinstance(upload, FileField) and upload.filename:
        data = upload.file.read()
        draft = secrets.token_urlsafe(16)
        doc = json.dumps({"csv": base64.b64encode(data).decode(), "name": upload.filename})
        await store.put(draft_key(request, draft), doc, DRAFT_TTL_MS)
    elif draft:
        raw = await store.get(draft_key(request, draft))
        data = base64.b64decode(json.loads(raw)["csv"]) if raw else None
    creating = field(form, "action") == "create"
    service = notify_of(request).campaigns
    report = None
    errors: dict[str, str] = {}
    status = 422
    created = None
    try:
        asked = spec_of(form, template, ref, dry_run=not creating)
        try:
            spec = CampaignSpec.model_validate(asked)
        except ValidationError as exc:
            errors = errors_of(exc, template, request[LOCALE])
            if data is None:
                errors = merged(errors, NO_FILE)
            rest = {k: v for k, v in asked.items() if k not in PACE}
            checkable = readable(CampaignSpec, rest, exc, SPEC_STAND_INS)
            if checkable is not None:
                await service.check(checkable, data, request[WHO])
        else:
            if data is None:
                errors = dict(NO_FILE)
                await service.check(spec, None, request[WHO])
            else:
                created, report = await service.create(spec, data, request[WHO])
    except FlowEngineError as exc:
        status = exc.status if not errors else 422
        errors = merged(errors, errors_of(exc, template, request[LOCALE]))
    if errors:
        return render_form(
            request,
            "notify/campaign_new.html",
            CAMPAIGN_LABELS,
            status=status,
            values=values,
            errors=errors,
            report=None,
            draft=draft if data is not None else "",
            **ctx,
        )
    if created is None:
        return render_form(
            request,
            "notify/campaign_new.html",
            CAMPAIGN_LABELS,
            values=values,
            errors={},
            report=report,
            draft=draft,
            **ctx,
        )
    await store.delete(draft_key(request, draft))
    raise web.HTTPSeeOther(url(request, "campaign", campaign_id=created.id))


async def campaign_view(request: web.Request) -> dict[str, Any]:
    service = notify_of(request).campaigns
    c = await service.get(request.match_info["campaign_id"], request[WHO])
    return await service.view(c)


def pace(c: dict[str, Any], t: Translate, figures: Figures) -> str:
    """The pace the campaign was given — sends per second, or seconds between two sends
    (the slower of both), and its batches —; without one, the pace measured since its
    start."""
    parts = []
    per_second, interval = c.get("per_second"), c.get("interval_s")
    if interval and (not per_second or 1 / interval < per_second):
        parts.append(t("nt.every", s=figures.number(interval)))
    elif per_second:
        parts.append(t("nt.rate", rate=figures.number(per_second)))
    if c.get("batch_size"):
        n, minutes = figures.count(c["batch_size"]), figures.number(c.get("batch_interval_min"))
        parts.append(t("nt.batches", n=n, min=minutes))
    if not parts and c.get("rate"):
        parts.append(t("nt.rate", rate=figures.number(c["rate"])))
    return " · ".join(parts)


def progress(request: web.Request, c: dict[str, Any]) -> dict[str, Any]:
    """What the campaign's progress shows: the campaign and its pace."""
    locale = request[LOCALE]
    return {"c": c, "pace": pace(c, translator(locale), Figures(locale))}


@pages.route("GET", "/notifications/campaigns/{campaign_id}", permission=ANY, name="campaign")
async def campaign(request: web.Request) -> web.Response:
    c = await campaign_view(request)
    return render(
        request,
        "notify/campaign.html",
        stream_url=url(request, "campaign_stream", campaign_id=c["id"]),
        **progress(request, c),
    )


@pages.route(
    "GET",
    "/notifications/campaigns/{campaign_id}/stream",
    permission=ANY,
    name="campaign_stream",
    stream=True,
)
async def campaign_stream(request: web.Request) -> web.StreamResponse:
    await campaign_view(request)

    async def snapshot() -> stream.Snapshot:
        c = await campaign_view(request)
        key = json.dumps({k: v for k, v in c.items() if k != "rate"}, sort_keys=True, default=str)
        return key, lambda: [
            (
                "campaign-progress",
                render_string(request, "notify/campaign_progress.html", **progress(request, c)),
            )
        ]

    return await stream.serve(request, snapshot, request.app[stream.STOPPING], SECURITY_HEADERS)


@pages.route(
    "POST",
    "/notifications/campaigns/{campaign_id}/{action:pause|resume|cancel}",
    permission=ANY,
    name="campaign_control",
)
async def campaign_control(request: web.Request) -> web.StreamResponse:
    """Pause, resume or cancel (a 409 page when the campaign's state does not allow it)."""
    campaign_id = request.match_info["campaign_id"]
    await notify_of(request).campaigns.control(
        campaign_id, request.match_info["action"], request[WHO]
    )
    raise web.HTTPSeeOther(url(request, "campaign", campaign_id=campaign_id))
