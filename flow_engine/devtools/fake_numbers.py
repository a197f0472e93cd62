"""The development gateway's phone numbers: their fields, quality webhooks, activation.

Engine side it serves, like the Graph API:

- ``GET /{version}/{phone_number_id}?fields=…`` — the number's fields, from one JSON file
  per number (``<dir>/<phone_number_id>.json``, created with healthy defaults on first
  use, read again on every request: edit it while the gateway runs); without a directory
  the numbers live in memory;
- ``POST /{version}/{id}/request_code`` — "calls" the number: the code is handed to
  ``on_code`` (the command line prints it as the voice call); a second request within
  60 s is refused with Meta's error 136024;
- ``POST /{version}/{id}/verify_code`` — a wrong or expired code is refused (136025);
- ``POST /{version}/{id}/register`` — with the number's two-step PIN (the file's ``pin``;
  when it has none, the first PIN registered becomes it); a wrong PIN is refused (133005).

Test side: ``GET/PUT /_fake/numbers/{id}`` reads and changes a number (the pending code
is shown there), ``POST /_fake/quality-update`` and ``POST /_fake/account-update`` post
those webhooks to the engine, signed.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from flow_engine.domain.activation import CODE_REQUEST_INTERVAL_S, VERIFIED_FOR_S
from flow_engine.domain.health import PHONE_FIELDS

#: Posts a webhook payload to the engine: ``(HTTP status, body)``.
PostWebhook = Callable[[dict[str, Any]], Awaitable[tuple[int, str]]]
#: Sees each code "sent": ``(phone_number_id, number document, method, code)``.
OnCode = Callable[[str, dict[str, Any], str, str], None]

DEFAULT_NUMBERS_DIR = Path(".data/fake-gateway/numbers")
REGISTER_LIMIT = 10  # register calls per number in 72 h
REGISTER_WINDOW_S = 72 * 3600
DEFAULT_WABA_ID = "100000000000000"


def default_number(phone_number_id: str) -> dict[str, Any]:
    """A healthy, verified number; ``display_phone_number`` is left for you to fill in."""
    return {
        "id": phone_number_id,
        "display_phone_number": "",
        "verified_name": "Fake Business",
        "quality_rating": "GREEN",
        "status": "CONNECTED",
        "name_status": "APPROVED",
        "code_verification_status": "VERIFIED",
        "throughput": {"level": "STANDARD"},
        "whatsapp_business_manager_messaging_limit": "TIER_2K",
        "pin": None,
    }


def graph_error(
    status: int, code: int, message: str, *, title: str, user_message: str, subcode: int = 0
) -> web.Response:
    """An error answer shaped like the Graph API's, with the user-facing title and text."""
    body = {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_subcode": subcode or code * 10,
            "is_transient": False,
            "error_user_title": title,
            "error_user_msg": user_message,
            "error_data": {"messaging_product": "whatsapp", "details": user_message},
            "fbtrace_id": "Fake" + secrets.token_urlsafe(12),
        }
    }
    return web.json_response(body, status=status)


@dataclass
class PendingCode:
    code: str
    method: str
    at: float


@dataclass
class FakeNumbers:
    """The numbers of the fake gateway and their activation state."""

    post_webhook: PostWebhook
    directory: Path | None = None
    on_code: OnCode | None = None
    token: str | None = None
    clock: Callable[[], float] = time.time
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, PendingCode] = field(default_factory=dict)
    last_request: dict[str, float] = field(default_factory=dict)
    registers: dict[str, list[float]] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)  # GETs served per number

    def _file(self, phone_number_id: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{phone_number_id}.json"

    def load(self, phone_number_id: str) -> dict[str, Any]:
        """The number's document (created with the defaults on first use)."""
        if self.directory is None:
            return dict(self.memory.setdefault(phone_number_id, default_number(phone_number_id)))
        path = self._file(phone_number_id)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            doc = default_number(phone_number_id)
            self.save(phone_number_id, doc)
        if not isinstance(doc, dict):
            raise ValueError(f"{path} must hold a JSON object")
        return {**default_number(phone_number_id), **doc, "id": phone_number_id}

    def save(self, phone_number_id: str, doc: dict[str, Any]) -> None:
        if self.directory is None:
            self.memory[phone_number_id] = dict(doc)
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._file(phone_number_id)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)

    def update(self, phone_number_id: str, **changes: Any) -> dict[str, Any]:
        doc = self.load(phone_number_id) | changes
        self.save(phone_number_id, doc)
        return doc


NUMBERS = web.AppKey("fake_numbers", FakeNumbers)


def _authorized(request: web.Request) -> web.Response | None:
    token = request.app[NUMBERS].token
    auth = request.headers.get("Authorization", "")
    if token and not hmac.compare_digest(auth.encode(), f"Bearer {token}".encode()):
        return graph_error(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
            title="Invalid token",
            user_message="The access token is not valid.",
        )
    return None


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return graph_error(
            400,
            100,
            "(#100) The request body is not valid JSON",
            title="Invalid parameter",
            user_message="The request body must be a JSON object.",
        )
    return body


def _missing(name: str) -> web.Response:
    return graph_error(
        400,
        100,
        f"(#100) The parameter {name} is required",
        title="Invalid parameter",
        user_message=f"The parameter {name} is missing or not valid.",
    )


async def handle_phone_number(request: web.Request) -> web.Response:
    refused = _authorized(request)
    if refused is not None:
        return refused
    numbers = request.app[NUMBERS]
    pid = request.match_info["phone_number_id"]
    if not (pid.isascii() and pid.isdigit()):
        return graph_error(
            400,
            100,
            f"(#100) Unsupported get request. Object with ID '{pid}' does not exist",
            title="Unsupported request",
            user_message="There is no phone number with this id.",
        )
    wanted = [f for f in request.query.get("fields", "").split(",") if f]
    unknown = [f for f in wanted if f not in PHONE_FIELDS and f != "id"]
    if unknown:
        return graph_error(
            400,
            100,
            f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type "
            "(WhatsAppBusinessPhoneNumber)",
            title="Invalid field",
            user_message=f"The field {unknown[0]} does not exist.",
        )
    doc = numbers.load(pid)
    numbers.reads[pid] = numbers.reads.get(pid, 0) + 1
    fields = wanted or ["display_phone_number", "verified_name", "quality_rating"]
    return web.json_response({"id": pid, **{f: doc.get(f) for f in fields if f != "id"}})


async def handle_request_code(request: web.Request) -> web.Response:
    refused = _authorized(request)
    if refused is not None:
        return refused
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    numbers = request.app[NUMBERS]
    pid = request.match_info["phone_number_id"]
    method = body.get("code_method")
    if method not in ("SMS", "VOICE"):
        return _missing("code_method")
    if not isinstance(body.get("language"), str):
        return _missing("language")
    now = numbers.clock()
    last = numbers.last_request.get(pid)
    if last is not None and now - last < CODE_REQUEST_INTERVAL_S:
        return graph_error(
            400,
            136024,
            "(#136024) Code request error",
            title="Too many code requests",
            user_message="You have requested a code too recently. Wait before requesting "
            "a new one.",
        )
    doc = numbers.load(pid)
    code = f"{secrets.randbelow(1_000_000):06d}"
    numbers.codes[pid] = PendingCode(code=code, method=method, at=now)
    numbers.last_request[pid] = now
    if numbers.on_code is not None:
        numbers.on_code(pid, doc, method, code)
    return web.json_response({"success": True})


async def handle_verify_code(request: web.Request) -> web.Response:
    refused = _authorized(request)
    if refused is not None:
        return refused
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    numbers = request.app[NUMBERS]
    pid = request.match_info["phone_number_id"]
    given = body.get("code")
    if not isinstance(given, str):
        return _missing("code")
    pending = numbers.codes.get(pid)
    fresh = pending is not None and numbers.clock() - pending.at < VERIFIED_FOR_S
    if pending is None or not fresh or not hmac.compare_digest(given, pending.code):
        return graph_error(
            400,
            136025,
            "(#136025) Verify code error",
            title="Incorrect code",
            user_message="Code couldn't be verified. You have entered an incorrect code.",
            subcode=2388093,
        )
    del numbers.codes[pid]
    numbers.update(pid, code_verification_status="VERIFIED")
    return web.json_response({"success": True})


async def handle_register(request: web.Request) -> web.Response:
    refused = _authorized(request)
    if refused is not None:
        return refused
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    numbers = request.app[NUMBERS]
    pid = request.match_info["phone_number_id"]
    pin = body.get("pin")
    if body.get("messaging_product") != "whatsapp":
        return _missing("messaging_product")
    if not isinstance(pin, str) or len(pin) != 6 or not (pin.isascii() and pin.isdigit()):
        return _missing("pin")
    now = numbers.clock()
    calls = [t for t in numbers.registers.get(pid, []) if now - t < REGISTER_WINDOW_S]
    if len(calls) >= REGISTER_LIMIT:
        return graph_error(
            400,
            133016,
            "(#133016) Account register deregister rate limit exceeded",
            title="Too many registrations",
            user_message="Registration was tried too many times. Try again in 72 hours.",
        )
    numbers.registers[pid] = [*calls, now]
    doc = numbers.load(pid)
    kept = doc.get("pin")
    if kept and not hmac.compare_digest(str(kept), pin):
        return graph_error(
            400,
            133005,
            "(#133005) Two step verification PIN Mismatch",
            title="Wrong PIN",
            user_message="The two-step verification PIN is not the number's PIN.",
        )
    numbers.update(pid, pin=pin, status="CONNECTED")
    return web.json_response({"success": True})


# --------------------------------------------------------------------------- test side
def _public(numbers: FakeNumbers, pid: str, doc: dict[str, Any]) -> dict[str, Any]:
    pending = numbers.codes.get(pid)
    return {
        **{k: v for k, v in doc.items() if k != "pin"},
        "has_pin": bool(doc.get("pin")),
        "code": pending.code if pending else None,
        "reads": numbers.reads.get(pid, 0),
    }


async def handle_control(request: web.Request) -> web.Response:
    numbers = request.app[NUMBERS]
    pid = request.match_info["phone_number_id"]
    if request.method == "PUT":
        changes = await request.json()
        if not isinstance(changes, dict):
            raise web.HTTPBadRequest(text="expected a JSON object of fields to set")
        changes.pop("id", None)
        return web.json_response(_public(numbers, pid, numbers.update(pid, **changes)))
    return web.json_response(_public(numbers, pid, numbers.load(pid)))


def quality_update_payload(
    display_phone_number: str,
    event: str,
    *,
    waba_id: str = DEFAULT_WABA_ID,
    current_limit: str | None = None,
    at: int | None = None,
) -> dict[str, Any]:
    """A ``phone_number_quality_update`` webhook (no metadata, the entry has a time)."""
    value: dict[str, Any] = {"display_phone_number": display_phone_number, "event": event}
    if current_limit is not None:
        value["current_limit"] = current_limit
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "time": int(time.time()) if at is None else at,
                "changes": [{"value": value, "field": "phone_number_quality_update"}],
            }
        ],
    }


def account_update_payload(
    event: str,
    *,
    waba_id: str = DEFAULT_WABA_ID,
    phone_number: str | None = None,
    extra: dict[str, Any] | None = None,
    at: int | None = None,
) -> dict[str, Any]:
    """An ``account_update`` webhook; ``phone_number`` (a display number) when it names one."""
    value: dict[str, Any] = {"event": event, **(extra or {})}
    if phone_number is not None:
        value["phone_number"] = phone_number
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "time": int(time.time()) if at is None else at,
                "changes": [{"value": value, "field": "account_update"}],
            }
        ],
    }


async def handle_quality_update(request: web.Request) -> web.Response:
    """``{"phone_number_id", "event", "quality_rating"?, "current_limit"?, "waba_id"?}``:
    set the rating (when given), then post the webhook naming the display number."""
    numbers = request.app[NUMBERS]
    spec = await request.json()
    pid = str(spec.get("phone_number_id") or "")
    if not (pid.isascii() and pid.isdigit()):
        raise web.HTTPBadRequest(text="phone_number_id (digits) is required")
    doc = numbers.load(pid)
    if spec.get("quality_rating"):
        doc = numbers.update(pid, quality_rating=str(spec["quality_rating"]).upper())
    display = str(spec.get("display_phone_number") or doc.get("display_phone_number") or "")
    if not display:
        raise web.HTTPBadRequest(
            text=f"number {pid} has no display_phone_number: set it (PUT /_fake/numbers/{pid} "
            "or its file) or pass display_phone_number"
        )
    payload = quality_update_payload(
        display,
        str(spec.get("event") or "FLAGGED"),
        waba_id=str(spec.get("waba_id") or DEFAULT_WABA_ID),
        current_limit=spec.get("current_limit"),
    )
    return await _post(request, payload)


async def handle_account_update(request: web.Request) -> web.Response:
    """``{"event", "waba_id"?, "phone_number"?, "value"?}``: post an account_update."""
    spec = await request.json()
    payload = account_update_payload(
        str(spec.get("event") or "ACCOUNT_UPDATE"),
        waba_id=str(spec.get("waba_id") or DEFAULT_WABA_ID),
        phone_number=spec.get("phone_number"),
        extra=spec.get("value") if isinstance(spec.get("value"), dict) else None,
    )
    return await _post(request, payload)


async def _post(request: web.Request, payload: dict[str, Any]) -> web.Response:
    status, answer = await request.app[NUMBERS].post_webhook(payload)
    return web.json_response({"status": status, "body": answer[:2000], "payload": payload})


def add_number_routes(
    app: web.Application,
    *,
    post_webhook: PostWebhook,
    token: str | None,
    directory: Path | None = None,
    on_code: OnCode | None = None,
) -> FakeNumbers:
    """Serve phone numbers on ``app`` (add after the app's own fixed routes)."""
    numbers = FakeNumbers(post_webhook, directory=directory, on_code=on_code, token=token)
    app[NUMBERS] = numbers
    app.router.add_get("/_fake/numbers/{phone_number_id}", handle_control)
    app.router.add_put("/_fake/numbers/{phone_number_id}", handle_control)
    app.router.add_post("/_fake/quality-update", handle_quality_update)
    app.router.add_post("/_fake/account-update", handle_account_update)
    app.router.add_post("/{version}/{phone_number_id}/request_code", handle_request_code)
    app.router.add_post("/{version}/{phone_number_id}/verify_code", handle_verify_code)
    app.router.add_post("/{version}/{phone_number_id}/register", handle_register)
    app.router.add_get("/{version}/{phone_number_id}", handle_phone_number)
    return numbers


# --------------------------------------------------------------------------- command line
def print_code(phone_number_id: str, doc: dict[str, Any], method: str, code: str) -> None:
    """The "voice call" (or SMS) of the development gateway: the code, on the terminal."""
    to = doc.get("display_phone_number") or phone_number_id
    kind = "voice call" if method == "VOICE" else "SMS"
    print(f"☎ {kind} to {to}: your verification code is {code}", flush=True)


async def _quality_async(args: argparse.Namespace) -> int:
    spec: dict[str, Any] = {"phone_number_id": args.number, "event": args.event}
    if args.rating:
        spec["quality_rating"] = args.rating
    if args.display:
        spec["display_phone_number"] = args.display
    if args.limit:
        spec["current_limit"] = args.limit
    url = args.gateway_url.rstrip("/") + "/_fake/quality-update"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session,
        session.post(url, json=spec) as resp,
    ):
        if resp.status != 200:
            print(f"the fake gateway refused: {(await resp.text())[:500]}", file=sys.stderr)
            return 1
        result = await resp.json()
    if result.get("status") != 200:
        print(
            f"the engine did not take the webhook: HTTP {result.get('status')} "
            f"{str(result.get('body', ''))[:300]}",
            file=sys.stderr,
        )
        return 1
    rating = f", quality {args.rating.upper()}" if args.rating else ""
    print(f"phone_number_quality_update {args.event} posted for {args.number}{rating}")
    return 0


def _quality(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_quality_async(args))
    except (aiohttp.ClientError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        print(f"fake gateway not reachable at {args.gateway_url}: {reason}", file=sys.stderr)
        return 1


def register_cli(
    serve: argparse.ArgumentParser,
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    gateway_url: str,
) -> None:
    """``fake-gateway --numbers-dir`` and ``fake-gateway quality``."""
    serve.add_argument(
        "--numbers-dir",
        type=Path,
        default=DEFAULT_NUMBERS_DIR,
        help="one JSON file per phone number, editable while running "
        f"(default: {DEFAULT_NUMBERS_DIR})",
    )
    quality = commands.add_parser(
        "quality",
        help="set a number's quality rating and post a phone_number_quality_update webhook",
    )
    quality.add_argument("number", metavar="PHONE_NUMBER_ID")
    quality.add_argument("--rating", choices=["GREEN", "YELLOW", "RED", "UNKNOWN"], type=str.upper)
    quality.add_argument("--event", default="FLAGGED", help="the webhook's event (any name)")
    quality.add_argument("--display", help="display number (default: the number's file)")
    quality.add_argument("--limit", metavar="TIER", help="current_limit, e.g. TIER_2K")
    quality.add_argument("--gateway-url", default=gateway_url)
    quality.set_defaults(func=_quality)
