"""Live pages by Server-Sent Events, served by any engine process.

A stream polls the store cheaply (a ticket's version, the ids and versions of a queue)
every :data:`POLL_S` and sends the re-rendered part of the page only when what it shows
changed, as ``event: replace`` with ``{"target": element id, "html": …}`` (HTML rendered and
escaped by the templates, never by the script). Since the store is the only source, a
browser may be served by one process while the ticket changes in another. A stream
ends when its session ends (``event: signedout``), when the browser goes, or when the
engine stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from flow_engine.console.auth import SESSION_COOKIE
from flow_engine.web.state import SIGNIN

POLL_S = 0.5
#: Set on shutdown: live streams end instead of holding the engine's stop.
STOPPING = web.AppKey("console_stopping", asyncio.Event)
HEARTBEAT_S = 15.0

#: what a stream shows: a fingerprint of the data, and how to render each part
Snapshot = tuple[Any, Callable[[], list[tuple[str, str]]]]


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def serve(
    request: web.Request,
    snapshot: Callable[[], Awaitable[Snapshot]],
    stopping: asyncio.Event,
    headers: dict[str, str],
) -> web.StreamResponse:
    resp = web.StreamResponse(
        headers={
            **headers,
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    signin = request.config_dict[SIGNIN]
    session_id = request.cookies.get(SESSION_COOKIE, "")
    last: Any = object()
    quiet = 0.0
    try:
        while not stopping.is_set():
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            if await signin.load(session_id, touch=False) is None:
                await resp.write(event("signedout", {}))
                break
            fingerprint, parts = await snapshot()
            if fingerprint != last:
                for target, html in parts():
                    await resp.write(event("replace", {"target": target, "html": html}))
                last, quiet = fingerprint, 0.0
            elif quiet >= HEARTBEAT_S:
                await resp.write(b": still here\n\n")
                quiet = 0.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), POLL_S)
            quiet += POLL_S
    except (ConnectionResetError, ConnectionError):
        pass  # the browser went away
    return resp
