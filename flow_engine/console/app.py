"""The console's sub-application: templates, static files, its middlewares and pages."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from flow_engine.console import registry
from flow_engine.console.auth import SignedOut, session_middleware
from flow_engine.console.labels import NoInput
from flow_engine.console.render import render
from flow_engine.console.security import SECURITY_HEADERS
from flow_engine.console.stream import STOPPING
from flow_engine.console.views import ALL_PAGES
from flow_engine.errors import FlowEngineError

log = structlog.get_logger()

HERE = Path(__file__).parent


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        resp = await handler(request)
    except web.HTTPException as exc:  # redirects carry the headers too
        exc.headers.update(SECURITY_HEADERS)
        raise
    resp.headers.update(SECURITY_HEADERS)
    if not request.path.startswith("/console/static/"):
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors as pages in the member's language (the API's JSON stays in /api/v1)."""
    try:
        return await handler(request)
    except SignedOut as exc:
        if request.headers.get("Accept", "").startswith("text/event-stream"):
            return web.Response(status=401, text="signed out")
        return render(request, "error.html", status=exc.status, status_code=401, error=exc)
    except FlowEngineError as exc:
        if exc.status >= 500:
            log.error("console_request_failed", path=request.path, code=exc.code)
        if request.headers.get("X-Console-Fetch"):  # a form posted by the script: a line
            return web.Response(status=exc.status, text=exc.message)
        return render(request, "error.html", status=exc.status, status_code=exc.status, error=exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return render(request, "error.html", status=exc.status, status_code=exc.status, error=None)


def shown(value: object) -> str:
    """A configuration value as a person reads it in a diff (escaped by the template)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return f"“{value}”"
    return json.dumps(value, ensure_ascii=False)


def console_app() -> web.Application:
    app = web.Application(middlewares=[headers_middleware, error_pages, session_middleware])
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        filters={"shown": shown},
    )
    env.tests["no_input"] = lambda value: isinstance(value, NoInput)
    app[STOPPING] = asyncio.Event()

    async def stop_streams(app: web.Application) -> None:
        app[STOPPING].set()

    app.on_shutdown.append(stop_streams)
    for pages in ALL_PAGES:
        pages.add_to(app)
    STATIC.add_to(app)
    return app


STATIC = registry.Pages()


@STATIC.route("GET", "/static/{name}", permission=registry.PUBLIC, name="static")
async def static_file(request: web.Request) -> web.StreamResponse:
    """The console's own stylesheet and script (public: nothing secret in them)."""
    name = request.match_info["name"]
    path = HERE / "static" / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise web.HTTPNotFound()
    resp = web.FileResponse(path, headers={"Cache-Control": "public, max-age=300"})
    return resp


async def favicon(request: web.Request) -> web.StreamResponse:
    """``/favicon.ico``, which browsers ask the site's root for on every page (public, as
    the static files are): the console's icon (``static/favicon.svg`` drawn as an .ico)."""
    return web.FileResponse(
        HERE / "static" / "favicon.ico",
        headers={
            **SECURITY_HEADERS,
            "Content-Type": "image/x-icon",
            "Cache-Control": "public, max-age=86400",
        },
    )
