"""Rendering a page: the template, and what every template may use (``t`` for texts in
the member's language, ``url`` for links, the CSRF token, the navigation of the modules
the member's profile grants)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup

from flow_engine.admin.permissions import Module
from flow_engine.console.auth import LOCALE, MEMBER, SESSION, WHO
from flow_engine.console.i18n import LOCALES, NAMES, translator
from flow_engine.console.validation import row_reason


@dataclass(frozen=True)
class NavItem:
    """One entry of the navigation: shown to members whose profile grants ``module``.
    ``route`` None: the screen is not built yet (it slots in by module)."""

    key: str
    module: Module
    route: str | None


NAV = [
    NavItem("nav.desk", Module.DESK, "desk"),
    NavItem("nav.numbers", Module.CONFIG, "numbers"),
    NavItem("nav.human_service", Module.HUMAN_SERVICE, "human_service"),
    NavItem("nav.templates", Module.TEMPLATES, "templates"),
    NavItem("nav.notifications", Module.NOTIFICATIONS, "notifications"),
    NavItem("nav.data", Module.DATA, "data"),
    NavItem("nav.health", Module.HEALTH, "health"),
    NavItem("nav.profiles", Module.ACCESS, "profiles"),
    NavItem("nav.members", Module.ACCESS, "members"),
    NavItem("nav.system", Module.NUMBERS, "system_numbers"),
]


def url(
    request: web.Request, route: str, /, query: dict[str, Any] | None = None, **parts: object
) -> str:
    path = str(request.app.router[route].url_for(**{k: str(v) for k, v in parts.items()}))
    if query:
        clean = {k: v for k, v in query.items() if v not in (None, "")}
        if clean:
            path += "?" + urlencode(clean, doseq=True)
    return path


def when(ts: float | None) -> str:
    """An ISO timestamp for ``<time datetime>`` (the script shows it in local time)."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def when_text(ts: float | None, zone: str | None = None) -> str:
    """``ts`` as text, in the IANA ``zone`` (a number's time zone) or else in UTC: what a
    page shows without the script."""
    if ts is None:
        return ""
    try:
        tz: tzinfo = ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M %Z")


def time_tag(ts: float | None, zone: str | None = None) -> Markup:
    """``<time>`` of ``ts``: the script shows it in ``zone`` (a number's time zone, as its
    PDF transcripts and CSV exports do) or, without one, in the browser's."""
    if ts is None:
        return Markup("")
    tz = Markup(' data-tz="{}"').format(zone) if zone else Markup("")
    return Markup('<time datetime="{}"{}>{}</time>').format(when(ts), tz, when_text(ts, zone))


def context(request: web.Request, **values: Any) -> dict[str, Any]:
    locale = request.get(LOCALE, "es")
    who = request.get(WHO)
    nav = []
    if who is not None:
        nav = [
            n
            for n in NAV
            if n.route is not None and n.route in request.app.router and who.has_module(n.module)
        ]
    session = request.get(SESSION)
    return {
        "request": request,
        "t": translator(locale),
        "locale": locale,
        "locales": [(code, NAMES[code]) for code in LOCALES],
        "who": who,
        "member": request.get(MEMBER),
        "csrf": session.csrf if session else "",
        "nav": nav,
        "url": lambda route, /, query=None, **parts: url(request, route, query, **parts),
        "when": when,
        "when_text": when_text,
        "time_tag": time_tag,
        "rejected_reason": lambda row: row_reason(locale, row),
        "zip": zip,
        **values,
    }


def render(
    request: web.Request, page: str, /, *, status: int = 200, **values: Any
) -> web.Response:
    return aiohttp_jinja2.render_template(page, request, context(request, **values), status=status)


def render_string(request: web.Request, page: str, /, **values: Any) -> str:
    return aiohttp_jinja2.render_string(page, request, context(request, **values))


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)
