from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog.testing
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from flow_engine.devtools import webhooks
from flow_engine.devtools.fake_gateway import create_fake_gateway_app
from flow_engine.devtools.fake_gateway_cli import register_cli
from flow_engine.domain.outbound import Button, ReplyButtons, Text
from flow_engine.errors import PermanentGatewayError, TransientGatewayError
from flow_engine.gateway.whatsapp import CloudApiGateway

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-app-secret"
TOKEN = "test-token"
PNID = "100000000000001"
USER = "5491100000000"


@dataclass
class Receiver:
    """A tiny engine stand-in: verifies the signature like the real webhook must."""

    secret: str = SECRET
    received: list[dict[str, Any]] = field(default_factory=list)
    reply: ReplyButtons | None = None
    gateway: CloudApiGateway | None = None


RECEIVER = web.AppKey("receiver", Receiver)


async def receive(request: web.Request) -> web.Response:
    receiver = request.app[RECEIVER]
    raw = await request.read()
    expected = "sha256=" + hmac.new(receiver.secret.encode(), raw, hashlib.sha256).hexdigest()
    got = request.headers.get("X-Hub-Signature-256", "")
    if not hmac.compare_digest(expected, got):
        return web.json_response({"error": "bad signature"}, status=401)
    payload = json.loads(raw)
    receiver.received.append(payload)
    if receiver.gateway is not None and receiver.reply is not None:
        user = payload["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
        await receiver.gateway.send(PNID, user, receiver.reply)
    return web.Response(text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, TestServer]]:
    app = web.Application()
    state = Receiver()
    app[RECEIVER] = state
    app.router.add_post("/webhooks/whatsapp", receive)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield state, server
    await server.close()


@pytest.fixture
async def fake(receiver: tuple[Receiver, TestServer]) -> AsyncIterator[TestClient[Any, Any]]:
    engine_url = str(receiver[1].make_url("/webhooks/whatsapp"))
    app = create_fake_gateway_app(engine_url=engine_url, app_secret=SECRET, token=TOKEN)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client
    await client.close()


def gateway_for(fake: TestClient[Any, Any], token: str = TOKEN, timeout_s: float = 2.0) -> Any:
    return CloudApiGateway(str(fake.make_url("/")), "v23.0", SecretStr(token), timeout_s)


async def sent(fake: TestClient[Any, Any], **query: str) -> list[dict[str, Any]]:
    resp = await fake.get("/_fake/messages", params=query)
    assert resp.status == 200
    messages: list[dict[str, Any]] = (await resp.json())["messages"]
    return messages


async def test_records_sends_like_the_graph_api(fake: TestClient[Any, Any]) -> None:
    gw = gateway_for(fake)
    try:
        wamid = await gw.send(PNID, USER, Text(body="Hola Ana"))
        await gw.send("999", "15550001111", Text(body="other"))
        await gw.mark_read(PNID, "wamid.IN")
    finally:
        await gw.close()
    assert wamid.startswith("wamid.")
    [record] = await sent(fake, to=USER, phone_number_id=PNID)
    assert record["id"] == wamid
    assert record["authorization"] == f"Bearer {TOKEN}"
    assert record["version"] == "v23.0"
    assert record["payload"]["text"] == {"preview_url": False, "body": "Hola Ana"}
    assert isinstance(record["timestamp"], float)
    assert len(await sent(fake)) == 2
    read = await (await fake.get("/_fake/read")).json()
    assert [(r["phone_number_id"], r["message_id"]) for r in read["read"]] == [(PNID, "wamid.IN")]
    assert (await fake.delete("/_fake/messages")).status == 200
    assert await sent(fake) == []


async def test_wrong_token_gets_graph_401(fake: TestClient[Any, Any]) -> None:
    gw = gateway_for(fake, token="wrong")
    try:
        with pytest.raises(PermanentGatewayError) as info:
            await gw.send(PNID, USER, Text(body="hi"))
    finally:
        await gw.close()
    assert (info.value.http_status, info.value.api_code) == (401, 190)
    assert await sent(fake) == []


async def test_body_without_messaging_product_refused(fake: TestClient[Any, Any]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    resp = await fake.post(f"/v23.0/{PNID}/messages", json={"to": USER}, headers=headers)
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == 100
    assert await sent(fake) == []


async def test_queued_faults_answer_the_next_sends(fake: TestClient[Any, Any]) -> None:
    fault = {"code": 130429, "http_status": 429, "times": 2, "retry_after": 3}
    assert (await fake.post("/_fake/faults", json=fault)).status == 200
    gw = gateway_for(fake)
    try:
        for _ in range(2):
            with pytest.raises(TransientGatewayError) as info:
                await gw.send(PNID, USER, Text(body="hi"))
            assert (info.value.api_code, info.value.http_status) == (130429, 429)
            assert info.value.retry_after == 3.0
        await gw.send(PNID, USER, Text(body="hi"))
    finally:
        await gw.close()
    state = await (await fake.get("/_fake/faults")).json()
    assert state == {"pending": [], "hold": False, "served": 2}
    assert len(await sent(fake)) == 1


async def test_a_fault_for_one_recipient_lasts_its_seconds(fake: TestClient[Any, Any]) -> None:
    slow, other = "5491100000009", USER
    fault = {"code": 131056, "http_status": 400, "to": slow, "seconds": 0.5}
    assert (await fake.post("/_fake/faults", json=fault)).status == 200
    gw = gateway_for(fake)
    try:
        for _ in range(3):  # as often as asked while it lasts, for that recipient only
            with pytest.raises(TransientGatewayError) as info:
                await gw.send(PNID, slow, Text(body="hi"))
            assert info.value.api_code == 131056
            await gw.send(PNID, other, Text(body="hi"))
        await asyncio.sleep(0.6)
        await gw.send(PNID, slow, Text(body="hi"))  # over
    finally:
        await gw.close()
    assert [m["to"] for m in await sent(fake)] == [other, other, other, slow]
    failures = (await (await fake.get("/_fake/failures")).json())["failures"]
    assert [(f["to"], f["code"]) for f in failures] == [(slow, 131056)] * 3
    assert (await (await fake.get("/_fake/faults")).json())["pending"] == []


async def test_bad_fault_request_is_400(fake: TestClient[Any, Any]) -> None:
    resp = await fake.post("/_fake/faults", json={"code": 130429, "http_status": 200})
    assert resp.status == 400


async def test_held_send_completes_on_release(fake: TestClient[Any, Any]) -> None:
    await fake.post("/_fake/faults", json={"hold": True})
    gw = gateway_for(fake)
    try:
        task = asyncio.create_task(gw.send(PNID, USER, Text(body="held")))
        await asyncio.sleep(0.2)
        assert not task.done()
        assert await sent(fake) == []
        await fake.post("/_fake/faults", json={"hold": False})
        wamid = await asyncio.wait_for(task, 2)
    finally:
        await gw.close()
    assert [m["id"] for m in await sent(fake)] == [wamid]


@pytest.mark.parametrize("handler_cancellation", [False, True])
async def test_held_send_whose_client_disconnects_is_not_recorded(
    handler_cancellation: bool,
) -> None:
    # run_app's default leaves the handler running after a disconnect: it must notice.
    app = create_fake_gateway_app(engine_url="http://127.0.0.1:9/", app_secret=SECRET)
    runner = web.AppRunner(app, handler_cancellation=handler_cancellation)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    gw = CloudApiGateway(base, "v23.0", SecretStr(TOKEN), timeout_s=0.2)
    try:
        async with aiohttp.ClientSession(base) as client:
            await client.post("/_fake/faults", json={"hold": True})
            with pytest.raises(TransientGatewayError, match="timed out"):
                await gw.send(PNID, USER, Text(body="lost"))
            await asyncio.sleep(0.1)  # the held handler is still waiting, or was cancelled
            await client.post("/_fake/faults", json={"hold": False})
            await asyncio.sleep(0.1)  # let it see the release
            assert (await (await client.get("/_fake/messages")).json())["messages"] == []
            assert await gw.send(PNID, USER, Text(body="kept"))
            [kept] = (await (await client.get("/_fake/messages")).json())["messages"]
            assert kept["payload"]["text"]["body"] == "kept"
    finally:
        await gw.close()
        await runner.cleanup()


async def test_inbound_posts_a_signed_webhook(
    fake: TestClient[Any, Any], receiver: tuple[Receiver, TestServer]
) -> None:
    body = {"phone_number_id": PNID, "display_phone_number": "15550000001", "from": USER}
    resp = await fake.post("/_fake/inbound", json={**body, "name": "Ana", "text": "hola"})
    assert resp.status == 200
    answer = await resp.json()
    assert answer["status"] == 200
    [payload] = receiver[0].received
    value = payload["entry"][0]["changes"][0]["value"]
    assert payload["object"] == "whatsapp_business_account"
    assert payload["entry"][0]["changes"][0]["field"] == "messages"
    assert value["metadata"] == {"display_phone_number": "15550000001", "phone_number_id": PNID}
    assert value["contacts"] == [{"profile": {"name": "Ana"}, "wa_id": USER}]
    [message] = value["messages"]
    assert message["id"] == answer["message_id"]
    assert message["from"] == USER and message["type"] == "text"
    assert message["text"] == {"body": "hola"}
    assert message["timestamp"].isdigit()


async def test_inbound_forced_id_and_button_reply_with_context(
    fake: TestClient[Any, Any], receiver: tuple[Receiver, TestServer]
) -> None:
    gw = gateway_for(fake)
    try:
        menu_id = await gw.send(PNID, USER, Text(body="menu"))
    finally:
        await gw.close()
    reply = {"id": "sales", "title": "Sales"}
    request = {"from": USER, "button_reply": reply, "id": "wamid.FORCED"}
    answer = await (await fake.post("/_fake/inbound", json=request)).json()
    assert answer["message_id"] == "wamid.FORCED"
    message = receiver[0].received[0]["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["id"] == "wamid.FORCED"
    assert message["context"] == {"from": "15550000001", "id": menu_id}
    assert message["interactive"] == {"type": "button_reply", "button_reply": reply}
    await fake.post("/_fake/inbound", json={"from": USER, "list_reply": reply})
    message = receiver[0].received[1]["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["interactive"] == {"type": "list_reply", "list_reply": reply}


async def test_inbound_reports_the_engine_refusal(
    fake: TestClient[Any, Any], receiver: tuple[Receiver, TestServer]
) -> None:
    receiver[0].secret = "another-secret"
    answer = await (await fake.post("/_fake/inbound", json={"from": USER, "text": "x"})).json()
    assert answer["status"] == 401
    assert receiver[0].received == []


@pytest.mark.parametrize(
    "request_body",
    [
        {"from": USER},
        {"from": USER, "text": "a", "button_reply": {"id": "a", "title": "A"}},
        {"from": "+54 11", "text": "a"},
        {"from": USER, "text": "a", "colour": "red"},
    ],
)
async def test_inbound_request_validated(
    fake: TestClient[Any, Any], request_body: dict[str, Any]
) -> None:
    assert (await fake.post("/_fake/inbound", json=request_body)).status == 400


async def test_inbound_engine_unreachable_is_502() -> None:
    dead = TestServer(web.Application(), host="127.0.0.1")
    await dead.start_server()
    url = str(dead.make_url("/webhooks/whatsapp"))
    await dead.close()
    app = create_fake_gateway_app(engine_url=url, app_secret=SECRET)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.post("/_fake/inbound", json={"from": USER, "text": "x"})
        assert resp.status == 502
        assert (await resp.json())["error"]["code"] == "engine_unreachable"


def test_sign_body_is_hmac_sha256_of_raw_bytes() -> None:
    body = webhooks.encode(webhooks.build_text_webhook(wa_id=USER, name="Ana", text="ñ"))
    digest = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert webhooks.sign_body(body, "s3cret") == f"sha256={digest}"
    raw, headers = webhooks.signed_request(json.loads(body), "s3cret")
    assert raw == body
    assert headers["X-Hub-Signature-256"] == f"sha256={digest}"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="flow-engine")
    register_cli(root.add_subparsers(dest="command"))
    return root


def test_cli_fake_gateway_alone_serves_and_send_is_a_subcommand() -> None:
    serve = parser().parse_args(["fake-gateway", "--port", "9999"])
    send = parser().parse_args(["fake-gateway", "send", "hola", "--wait", "0.5"])
    assert serve.port == 9999 and serve.func.__name__ == "_serve"
    assert send.func.__name__ == "_send" and send.text == "hola" and send.wait == 0.5
    assert (send.from_, send.number, send.name) == (USER, PNID, "Ana")


async def test_cli_send_prints_replies_as_numbered_options(
    fake: TestClient[Any, Any],
    receiver: tuple[Receiver, TestServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = receiver[0]
    state.gateway = gateway_for(fake)
    buttons = [Button(id="s", title="Sales"), Button(id="h", title="Help")]
    state.reply = ReplyButtons(body="Hi Ana, pick one", buttons=buttons)
    base = str(fake.make_url("")).rstrip("/")
    try:
        args = parser().parse_args(["fake-gateway", "send", "hola", "--gateway-url", base])
        assert await asyncio.to_thread(args.func, args) == 0
        out = capsys.readouterr().out
        assert "← Hi Ana, pick one\n    1. Sales\n    2. Help\n" in out
        args = parser().parse_args(["fake-gateway", "send", "--pick", "2", "--gateway-url", base])
        assert await asyncio.to_thread(args.func, args) == 0
    finally:
        await state.gateway.close()
    last = state.received[-1]["entry"][0]["changes"][0]["value"]["messages"][0]
    assert last["interactive"]["button_reply"] == {"id": "h", "title": "Help"}


# --- what reaches the user: the inbox cursor of `send`, and `watch` (issue 9, item 10) -------
async def inbox(fake: TestClient[Any, Any], to: str = USER, reader: str = "send") -> list[str]:
    resp = await fake.post(
        "/_fake/inbox", json={"to": to, "phone_number_id": PNID, "reader": reader}
    )
    assert resp.status == 200, await resp.text()
    return [webhooks.one_line(m["payload"]) for m in (await resp.json())["messages"]]


async def test_the_inbox_gives_each_message_once_per_reader(fake: TestClient[Any, Any]) -> None:
    gw = gateway_for(fake)
    try:
        await gw.send(PNID, USER, Text(body="uno"))
        await gw.send(PNID, "5491100000009", Text(body="someone else"))
        assert await inbox(fake) == ["uno"]
        assert await inbox(fake) == []  # given once
        await gw.send(PNID, USER, Text(body="dos"))
        assert (await fake.delete("/_fake/messages")).status == 200  # cleared: seq goes on
        await gw.send(PNID, USER, Text(body="tres"))
        assert await inbox(fake) == ["tres"]
        assert await inbox(fake, reader="other") == ["tres"]  # each reader has its cursor
    finally:
        await gw.close()
    listed = await (await fake.get("/_fake/messages", params={"after": "0"})).json()
    (only,) = listed["messages"]
    assert only["seq"] == listed["last_seq"] == 4
    resp = await fake.get("/_fake/messages", params={"after": str(only["seq"])})
    assert (await resp.json())["messages"] == []
    assert (await fake.get("/_fake/messages", params={"after": "x"})).status == 400
    assert (await fake.post("/_fake/inbox", json={"to": USER})).status == 400


async def test_cli_send_first_prints_what_reached_the_user_since_its_last_call(
    fake: TestClient[Any, Any],
    receiver: tuple[Receiver, TestServer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = receiver[0]
    state.gateway = gateway_for(fake)
    state.reply = ReplyButtons(body="Hi", buttons=[Button(id="a", title="A")])
    base = str(fake.make_url("")).rstrip("/")
    send = ["fake-gateway", "send", "--gateway-url", base, "--wait", "3"]
    # the gateway client's own log lines are not the CLI's output
    with structlog.testing.capture_logs():
        try:
            args = parser().parse_args([*send, "hola"])
            assert await asyncio.to_thread(args.func, args) == 0
            assert capsys.readouterr().out.splitlines() == ["← Hi", "    1. A"]
            await state.gateway.send(PNID, USER, Text(body="an attendant writes"))  # meanwhile
            args = parser().parse_args([*send, "gracias"])
            assert await asyncio.to_thread(args.func, args) == 0
            out = capsys.readouterr().out.splitlines()
            assert out == ["← an attendant writes", "→ gracias", "← Hi", "    1. A"]
        finally:
            await state.gateway.close()


async def test_cli_watch_follows_what_reaches_the_user_until_ctrl_c(
    fake: TestClient[Any, Any],
) -> None:
    gw = gateway_for(fake)
    await gw.send(PNID, USER, Text(body="before watching"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flow_engine",
        "fake-gateway",
        "watch",
        "--gateway-url",
        str(fake.make_url("")).rstrip("/"),
        "--from",
        USER,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        started = await asyncio.wait_for(proc.stderr.readline(), 20)
        assert b"Ctrl-C" in started
        await gw.send(PNID, USER, Text(body="hola desde el equipo"))
        await gw.send(PNID, "5491100000009", Text(body="not for this user"))
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        assert re.fullmatch(r"\d\d:\d\d:\d\d ← hola desde el equipo\n", line.decode()), line
        proc.send_signal(signal.SIGINT)
        rest, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0, err
        assert rest == b"" and b"Traceback" not in err
    finally:
        await gw.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_cli_watch_without_a_gateway_says_so() -> None:
    args = parser().parse_args(["fake-gateway", "watch", "--gateway-url", "http://127.0.0.1:9"])
    assert await asyncio.to_thread(args.func, args) == 1
