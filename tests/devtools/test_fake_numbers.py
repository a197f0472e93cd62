"""The development gateway's phone numbers: fields from editable files, activation with
Meta's refusals, and quality webhooks posted on command (the command line too)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from flow_engine.cli import main
from flow_engine.devtools.fake_gateway import create_fake_gateway_app
from flow_engine.devtools.webhooks import SIGNATURE_HEADER, sign_body

SECRET, TOKEN = "app-secret", "tok"
N = "100000000000001"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


async def call(
    session: aiohttp.ClientSession, method: str, url: str, body: Any = None, **kw: Any
) -> tuple[int, Any]:
    async with session.request(method, url, json=body, **kw) as resp:
        return resp.status, await resp.json()


async def test_fields_come_from_a_file_per_number_edited_while_running(
    aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    app = create_fake_gateway_app(
        engine_url="http://127.0.0.1:9/x", app_secret=SECRET, token=TOKEN, numbers_dir=tmp_path
    )
    base = str((await aiohttp_server(app)).make_url("")).rstrip("/")
    fields = "display_phone_number,quality_rating,status,throughput"
    async with aiohttp.ClientSession() as s:
        status, body = await call(s, "GET", f"{base}/v23.0/{N}?fields={fields}", headers=AUTH)
        assert status == 200
        assert body == {
            "id": N,
            "display_phone_number": "",
            "quality_rating": "GREEN",
            "status": "CONNECTED",
            "throughput": {"level": "STANDARD"},
        }
        file = tmp_path / f"{N}.json"
        doc = json.loads(file.read_text())
        doc["quality_rating"] = "RED"
        file.write_text(json.dumps(doc))  # edited by hand while the gateway runs
        _, body = await call(s, "GET", f"{base}/v23.0/{N}?fields=quality_rating", headers=AUTH)
        assert body == {"id": N, "quality_rating": "RED"}
        status, body = await call(s, "GET", f"{base}/v23.0/{N}?fields=quality_rating")
        assert status == 401 and body["error"]["code"] == 190
        status, body = await call(s, "GET", f"{base}/v23.0/{N}?fields=colour", headers=AUTH)
        assert status == 400 and body["error"]["code"] == 100


async def test_activation_refuses_like_meta(aiohttp_server: ServerFactory) -> None:
    codes: list[str] = []
    app = create_fake_gateway_app(
        engine_url="http://127.0.0.1:9/x",
        app_secret=SECRET,
        token=TOKEN,
        on_code=lambda _n, _doc, _method, code: codes.append(code),
    )
    base = str((await aiohttp_server(app)).make_url("")).rstrip("/") + f"/v23.0/{N}"
    async with aiohttp.ClientSession(headers=AUTH) as s:
        ask = {"code_method": "VOICE", "language": "es"}
        assert await call(s, "POST", f"{base}/request_code", ask) == (200, {"success": True})
        status, body = await call(s, "POST", f"{base}/request_code", ask)
        assert status == 400 and body["error"]["code"] == 136024
        (code,) = codes
        wrong = "000000" if code != "000000" else "111111"
        status, body = await call(s, "POST", f"{base}/verify_code", {"code": wrong})
        assert status == 400 and body["error"]["code"] == 136025
        assert body["error"]["error_user_title"] == "Incorrect code"
        assert await call(s, "POST", f"{base}/verify_code", {"code": code}) == (
            200,
            {"success": True},
        )
        register = {"messaging_product": "whatsapp", "pin": "123456"}
        assert (await call(s, "POST", f"{base}/register", register))[0] == 200
        status, body = await call(s, "POST", f"{base}/register", {**register, "pin": "654321"})
        assert status == 400 and body["error"]["code"] == 133005  # the PIN is set now
        status, body = await call(s, "GET", f"http://{base.split('/')[2]}/_fake/numbers/{N}")
        assert body["has_pin"] is True and "pin" not in body
        assert body["code_verification_status"] == "VERIFIED"


async def test_the_quality_command_posts_a_signed_webhook(
    aiohttp_server: ServerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    got: list[tuple[bytes, str]] = []

    async def engine(request: web.Request) -> web.Response:
        got.append((await request.read(), request.headers[SIGNATURE_HEADER]))
        return web.json_response({"events": 1})

    engine_app = web.Application()
    engine_app.router.add_post("/webhooks/whatsapp", engine)
    engine_url = str((await aiohttp_server(engine_app)).make_url("/webhooks/whatsapp"))
    gateway = create_fake_gateway_app(engine_url=engine_url, app_secret=SECRET, token=TOKEN)
    gateway_url = str((await aiohttp_server(gateway)).make_url("")).rstrip("/")
    argv = ["fake-gateway", "quality", N, "--rating", "red", "--gateway-url", gateway_url]
    assert await asyncio.to_thread(main, argv) == 1  # no display number known yet
    assert "display_phone_number" in capsys.readouterr().err
    argv += ["--display", "15550000001", "--event", "DOWNGRADE", "--limit", "TIER_250"]
    assert await asyncio.to_thread(main, argv) == 0
    assert "posted" in capsys.readouterr().out
    ((raw, signature),) = got
    assert signature == sign_body(raw, SECRET)
    payload = json.loads(raw)
    (change,) = payload["entry"][0]["changes"]
    assert change["field"] == "phone_number_quality_update"
    assert change["value"] == {
        "display_phone_number": "15550000001",
        "event": "DOWNGRADE",
        "current_limit": "TIER_250",
    }
    assert isinstance(payload["entry"][0]["time"], int)
    async with aiohttp.ClientSession() as s:
        _, number = await call(s, "GET", f"{gateway_url}/_fake/numbers/{N}")
    assert number["quality_rating"] == "RED"
