"""The development gateway: a real HTTP server that plays the WhatsApp Cloud API.

Engine side, it serves ``POST /{version}/{phone_number_id}/messages`` like the
Graph API (bearer check, Graph-style errors, ``wamid.`` ids) and records what
it gets. Test side, it queues faults, holds requests, lists what was sent and
turns ``POST /_fake/inbound`` into a signed webhook POSTed to the engine.

Its command line (``flow-engine fake-gateway`` and ``send``/``watch``) is in
:mod:`flow_engine.devtools.fake_gateway_cli`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from flow_engine.devtools import fake_numbers, webhooks
from flow_engine.devtools.fake_media import add_media_routes
from flow_engine.devtools.fake_templates import (
    PAGE_DEFAULT,
    FakeCatalog,
    StatusSwitches,
    post_statuses,
)

log = structlog.get_logger()

DEFAULT_ENGINE_URL = "http://127.0.0.1:8080/webhooks/whatsapp"
DEFAULT_GATEWAY_URL = "http://127.0.0.1:8081"
DEFAULT_CONTACT = "5491100000000"
HOLD_POLL_S = 0.02


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FaultRequest(_Strict):
    """A fault the next sends answer: ``times`` sends, or every send for ``seconds``;
    only sends to ``to`` when given (the others pass it by)."""

    code: int | None = None
    http_status: int = Field(400, ge=400, le=599)
    times: int = Field(1, ge=1)
    seconds: float | None = Field(None, gt=0)
    to: str | None = Field(None, min_length=1)
    message: str | None = None
    retry_after: float | None = Field(None, ge=0)
    hold: bool | None = None
    _until: float | None = PrivateAttr(None)

    def applies(self, to: str, now: float) -> bool:
        return self.to in (None, to) and (self._until is None or now < self._until)


@dataclass
class FakeGatewayState:
    engine_url: str
    app_secret: str
    token: str | None
    on_send: Callable[[dict[str, Any]], None] | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    read: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[FaultRequest] = field(default_factory=deque)
    #: every send answered with a fault: to, code, timestamp
    failures: list[dict[str, Any]] = field(default_factory=list)
    faults_served: int = 0
    released: asyncio.Event = field(default_factory=asyncio.Event)
    session: aiohttp.ClientSession | None = None
    catalog: FakeCatalog = field(default_factory=FakeCatalog)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    #: the ``seq`` of the last recorded send (never reset, so cursors stay valid)
    last_seq: int = 0
    #: (reader, phone_number_id, to) → the last ``seq`` that reader was given
    cursors: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.released.set()


STATE = web.AppKey("fake_gateway_state", FakeGatewayState)


def _graph_error(
    status: int, code: int, message: str, *, retry_after: float | None = None
) -> web.Response:
    body = {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": "Fake" + webhooks.new_message_id()[-12:],
        }
    }
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    return web.json_response(body, status=status, headers=headers)


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _wait_released(request: web.Request, state: FakeGatewayState) -> bool:
    """Wait while sends are held; False when the client went away meanwhile."""
    while not state.released.is_set():
        if _gone(request):
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.released.wait(), HOLD_POLL_S)
    return not _gone(request)


def _next_fault(state: FakeGatewayState, to: str) -> FaultRequest | None:
    """The first queued fault that answers a send to ``to`` (counted), expired ones gone."""
    now = time.monotonic()
    for fault in list(state.faults):
        if fault._until is not None and now >= fault._until:
            state.faults.remove(fault)
        elif fault.applies(to, now):
            if fault._until is None:
                fault.times -= 1
                if fault.times <= 0:
                    state.faults.remove(fault)
            return fault
    return None


async def handle_messages(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    auth = request.headers.get("Authorization", "")
    if state.token is not None and not hmac.compare_digest(
        auth.encode(), f"Bearer {state.token}".encode()
    ):
        return _graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
    try:
        body = await request.json()
    except ValueError:
        return _graph_error(400, 100, "(#100) The request body is not valid JSON")
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return _graph_error(400, 100, "(#100) The parameter messaging_product is required.")
    phone_number_id = request.match_info["phone_number_id"]
    if body.get("status") == "read":
        if not isinstance(body.get("message_id"), str):
            return _graph_error(400, 100, "(#100) The parameter message_id is required.")
        state.read.append(
            {
                "phone_number_id": phone_number_id,
                "message_id": body["message_id"],
                "at": time.time(),
            }
        )
        return web.json_response({"success": True})
    to = body.get("to")
    if not isinstance(to, str) or not to:
        return _graph_error(400, 100, "(#100) The parameter to is required.")
    if not await _wait_released(request, state):
        return web.Response(status=499)  # the client never sees it: nothing was "sent"
    refused = state.catalog.check_send(phone_number_id, to, body)
    if refused is not None:
        return _graph_error(400, refused[0], refused[1])
    fault = _next_fault(state, to)
    if fault is not None:
        state.faults_served += 1
        code = fault.code if fault.code is not None else 131000
        state.failures.append({"to": to, "code": code, "timestamp": time.time()})
        message = fault.message or f"(#{code}) Fake gateway failure"
        return _graph_error(fault.http_status, code, message, retry_after=fault.retry_after)
    wamid = webhooks.new_message_id()
    state.last_seq += 1
    record = {
        "seq": state.last_seq,
        "id": wamid,
        "phone_number_id": phone_number_id,
        "version": request.match_info["version"],
        "to": to,
        "type": body.get("type"),
        "payload": body,
        "authorization": auth,
        "timestamp": time.time(),
    }
    state.sent.append(record)
    if state.on_send is not None:
        state.on_send(record)
    mode = state.catalog.mode
    if mode == "all" or (mode == "templates" and body.get("type") == "template"):
        task = asyncio.create_task(_statuses(state, record))
        state.background.add(task)
        task.add_done_callback(state.background.discard)
    contact = {"input": to, "wa_id": to.removeprefix("+")}
    return web.json_response(
        {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}
    )


def _bad_request(details: Any) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=webhooks.encode({"error": {"code": "bad_request", "details": details}}).decode(),
        content_type="application/json",
    )


async def _statuses(state: FakeGatewayState, record: dict[str, Any]) -> None:
    payload = record["payload"]

    async def post(status: str, errors: list[dict[str, Any]] | None) -> None:
        hook = webhooks.build_status_webhook(
            message_id=record["id"],
            recipient_id=record["to"].removeprefix("+"),
            status=status,
            phone_number_id=record["phone_number_id"],
            errors=errors,
            callback_data=payload.get("biz_opaque_callback_data"),
            waba_id=state.catalog.waba_of(record["phone_number_id"]) or webhooks.DEV_WABA_ID,
        )
        body, headers = webhooks.signed_request(hook, state.app_secret)
        if state.session is None:
            return
        try:
            async with state.session.post(state.engine_url, data=body, headers=headers) as r:
                await r.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.debug("fake_gateway_status_not_delivered", error=type(exc).__name__)

    await post_statuses(state.catalog, post, record)


async def handle_templates(request: web.Request) -> web.Response:
    """``GET /{version}/{waba_id}/message_templates`` with cursor paging."""
    state = request.app[STATE]
    auth = request.headers.get("Authorization", "")
    if state.token is not None and not hmac.compare_digest(
        auth.encode(), f"Bearer {state.token}".encode()
    ):
        return _graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
    try:
        limit = max(1, min(100, int(request.query.get("limit", PAGE_DEFAULT))))
    except ValueError:
        return _graph_error(400, 100, "(#100) Param limit must be an integer")
    page = state.catalog.page(request.match_info["waba_id"], request.query.get("after"), limit)
    if page is None:
        return _graph_error(
            400, 100, "(#100) Unsupported get request: unknown WhatsApp Business Account"
        )
    return web.json_response(page)


async def handle_status_switches(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.method == "POST":
        state.catalog.configure(await _json_model(request, StatusSwitches))
    return web.json_response(state.catalog.switches())


async def _json_model(request: web.Request, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(await request.json())
    except ValueError as exc:  # JSON decode errors and ValidationError alike
        errors = (
            exc.errors(include_url=False, include_context=False)
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        raise _bad_request(errors) from None


async def handle_faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.method == "POST":
        fault: FaultRequest = await _json_model(request, FaultRequest)
        if fault.hold:
            state.released.clear()
        elif fault.hold is False:
            state.released.set()
        if fault.code is not None or "http_status" in fault.model_fields_set:
            if fault.seconds is not None:
                fault._until = time.monotonic() + fault.seconds
            state.faults.append(fault)
    elif request.method == "DELETE":
        state.faults.clear()
        state.released.set()
    return web.json_response(
        {
            "pending": [f.model_dump(exclude={"hold"}) for f in state.faults],
            "hold": not state.released.is_set(),
            "served": state.faults_served,
        }
    )


async def handle_list(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.method == "DELETE":
        cleared = len(state.sent)
        state.sent.clear()
        state.read.clear()
        return web.json_response({"cleared": cleared})
    wanted = {k: request.query[k] for k in ("to", "phone_number_id") if k in request.query}
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise _bad_request("after must be an integer (a seq)") from None
    found = [
        m for m in state.sent if m["seq"] > after and all(m[k] == v for k, v in wanted.items())
    ]
    return web.json_response({"messages": found, "last_seq": state.last_seq})


class InboxRequest(_Strict):
    to: str = Field(min_length=1)
    phone_number_id: str = Field(min_length=1)
    reader: str = Field("send", min_length=1, max_length=100)


async def handle_inbox(request: web.Request) -> web.Response:
    """What reached ``to`` from ``phone_number_id`` since this reader last asked (and
    remember that it was given): ``fake-gateway send`` prints it before it sends."""
    state = request.app[STATE]
    ask: InboxRequest = await _json_model(request, InboxRequest)
    key = (ask.reader, ask.phone_number_id, ask.to)
    after = state.cursors.get(key, 0)
    found = [
        m
        for m in state.sent
        if m["seq"] > after and m["to"] == ask.to and m["phone_number_id"] == ask.phone_number_id
    ]
    if found:
        state.cursors[key] = found[-1]["seq"]
    return web.json_response({"messages": found})


async def handle_read(request: web.Request) -> web.Response:
    return web.json_response({"read": request.app[STATE].read})


async def handle_failures(request: web.Request) -> web.Response:
    """Every send answered with a fault, oldest first (``to``, ``code``, ``timestamp``)."""
    return web.json_response({"failures": request.app[STATE].failures})


async def handle_inbound(request: web.Request) -> web.Response:
    state = request.app[STATE]
    inbound: webhooks.InboundSpec = await _json_model(request, webhooks.InboundSpec)
    message_id = inbound.id or webhooks.new_message_id()
    previous = [
        m["id"]
        for m in state.sent
        if m["to"] == inbound.from_ and m["phone_number_id"] == inbound.phone_number_id
    ]
    context_id = previous[-1] if previous and inbound.text is None else None
    payload = inbound.to_webhook(message_id=message_id, context_id=context_id)
    body, headers = webhooks.signed_request(payload, state.app_secret)
    assert state.session is not None
    try:
        async with state.session.post(state.engine_url, data=body, headers=headers) as resp:
            answer = (await resp.read()).decode(errors="replace")
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("fake_gateway_engine_unreachable", error=type(exc).__name__)
        reason = str(exc) or type(exc).__name__
        error = {"code": "engine_unreachable", "message": f"{state.engine_url}: {reason}"}
        return web.json_response({"error": error, "message_id": message_id}, status=502)
    result = {"status": resp.status, "message_id": message_id, "body": answer[:2000]}
    return web.json_response(result)


def create_fake_gateway_app(
    *,
    engine_url: str,
    app_secret: str,
    token: str | None = None,
    on_send: Callable[[dict[str, Any]], None] | None = None,
    numbers_dir: Path | None = None,
    on_code: fake_numbers.OnCode | None = None,
    catalog: FakeCatalog | None = None,
) -> web.Application:
    """The fake gateway app; ``on_send`` sees each recorded send (the CLI prints them).
    Phone numbers and activation: :mod:`flow_engine.devtools.fake_numbers` (``numbers_dir``:
    a file per number; None keeps them in memory; ``on_code`` sees each code "sent");
    ``catalog``: the WABA template catalogs it serves and checks template sends against."""
    app = web.Application()
    state = app[STATE] = FakeGatewayState(engine_url, app_secret, token, on_send)
    if catalog is not None:
        state.catalog = catalog

    async def post_webhook(payload: dict[str, Any]) -> tuple[int, str]:
        body, headers = webhooks.signed_request(payload, state.app_secret)
        assert state.session is not None
        async with state.session.post(state.engine_url, data=body, headers=headers) as resp:
            return resp.status, (await resp.read()).decode(errors="replace")

    async def engine_client(app: web.Application) -> AsyncIterator[None]:
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        app[STATE].session = session
        yield
        for task in list(app[STATE].background):
            task.cancel()
        await session.close()

    app.cleanup_ctx.append(engine_client)
    add_media_routes(app, token)  # first: before any /{version}/{id} route
    app.router.add_route("*", "/_fake/faults", handle_faults)
    app.router.add_get("/_fake/messages", handle_list)
    app.router.add_delete("/_fake/messages", handle_list)
    app.router.add_post("/_fake/inbox", handle_inbox)
    app.router.add_get("/_fake/read", handle_read)
    app.router.add_get("/_fake/failures", handle_failures)
    app.router.add_post("/_fake/inbound", handle_inbound)
    app.router.add_route("*", "/_fake/statuses", handle_status_switches)
    app.router.add_get("/{version}/{waba_id}/message_templates", handle_templates)
    app.router.add_post("/{version}/{phone_number_id}/messages", handle_messages)
    fake_numbers.add_number_routes(
        app, post_webhook=post_webhook, token=token, directory=numbers_dir, on_code=on_code
    )
    return app
