from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from structlog.testing import capture_logs

from flow_engine.domain.outbound import Button, ReplyButtons, Text, to_cloud_payload
from flow_engine.errors import GatewayError, PermanentGatewayError, TransientGatewayError
from flow_engine.gateway.whatsapp import CloudApiGateway, parse_retry_after
from flow_engine.settings import Settings

TOKEN = "test-token-123"
OK_BODY = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "5491100000000", "wa_id": "5491100000000"}],
    "messages": [{"id": "wamid.OK1"}],
}


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=lambda: OK_BODY)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class GraphStub:
    answers: list[Answer] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)


STUB = web.AppKey("stub", GraphStub)


async def graph_handler(request: web.Request) -> web.StreamResponse:
    stub = request.app[STUB]
    stub.requests.append(
        {"path": request.path, "headers": dict(request.headers), "json": await request.json()}
    )
    answer = stub.answers.pop(0) if stub.answers else Answer()
    await asyncio.sleep(answer.delay_s)
    text = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
    return web.Response(
        status=answer.status, text=text, headers=answer.headers, content_type="application/json"
    )


@pytest.fixture
async def stub_server() -> AsyncIterator[tuple[GraphStub, TestServer]]:
    app = web.Application()
    stub = GraphStub()
    app[STUB] = stub
    app.router.add_post("/{version}/{phone_number_id}/messages", graph_handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield stub, server
    await server.close()


@pytest.fixture
async def gateway(
    stub_server: tuple[GraphStub, TestServer],
) -> AsyncIterator[CloudApiGateway]:
    _, server = stub_server
    gw = CloudApiGateway(str(server.make_url("/")), "v23.0", SecretStr(TOKEN), timeout_s=0.5)
    yield gw
    await gw.close()


def graph_error(code: int, message: str = "boom") -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": "details here"},
            "fbtrace_id": "Az8or2",
        }
    }


async def test_send_posts_cloud_payload_with_bearer_and_returns_wamid(
    stub_server: tuple[GraphStub, TestServer], gateway: CloudApiGateway
) -> None:
    stub, _ = stub_server
    message = ReplyButtons(body="Ok?", buttons=[Button(id="y", title="Yes")])
    assert await gateway.send("100000000000001", "5491100000000", message) == "wamid.OK1"
    [request] = stub.requests
    assert request["path"] == "/v23.0/100000000000001/messages"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["json"] == to_cloud_payload(message, "5491100000000")


async def test_mark_read_posts_read_status(
    stub_server: tuple[GraphStub, TestServer], gateway: CloudApiGateway
) -> None:
    stub, _ = stub_server
    stub.answers.append(Answer(body={"success": True}))
    await gateway.mark_read("100000000000001", "wamid.IN1")
    assert stub.requests[0]["json"] == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.IN1",
    }


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, 130429, TransientGatewayError),
        (400, 131056, TransientGatewayError),
        (400, 131057, TransientGatewayError),
        (400, 80007, TransientGatewayError),
        (400, 4, TransientGatewayError),
        (500, 131000, TransientGatewayError),  # 5xx with no permanent code
        (503, 2, TransientGatewayError),
        (400, 131026, PermanentGatewayError),
        (400, 131047, PermanentGatewayError),
        (400, 131048, PermanentGatewayError),
        (400, 131049, PermanentGatewayError),
        (400, 131050, PermanentGatewayError),
        (400, 132000, PermanentGatewayError),
        (400, 132016, PermanentGatewayError),
        (403, 368, PermanentGatewayError),
        (500, 131026, PermanentGatewayError),  # the code decides, not the status
        (429, 131047, PermanentGatewayError),
        (401, 190, PermanentGatewayError),
        (400, 100, PermanentGatewayError),
    ],
)
async def test_errors_classified_by_code(
    stub_server: tuple[GraphStub, TestServer],
    gateway: CloudApiGateway,
    status: int,
    code: int,
    expected: type[GatewayError],
) -> None:
    stub, _ = stub_server
    stub.answers.append(Answer(status=status, body=graph_error(code, f"(#{code}) nope")))
    with pytest.raises(GatewayError) as info:
        await gateway.send("100000000000001", "5491100000000", Text(body="hi"))
    assert type(info.value) is expected
    assert info.value.api_code == code
    assert info.value.http_status == status
    assert info.value.message == f"(#{code}) nope"
    assert info.value.details["details"] == "details here"
    assert len(stub.requests) == 1  # exactly one attempt


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (502, "<html>Bad gateway</html>", TransientGatewayError),
        (500, "", TransientGatewayError),
        (429, "", TransientGatewayError),
        (404, "<html>not found</html>", PermanentGatewayError),
        (200, "not json", PermanentGatewayError),
        (200, {"messaging_product": "whatsapp", "messages": []}, PermanentGatewayError),
    ],
)
async def test_unreadable_or_codeless_answers(
    stub_server: tuple[GraphStub, TestServer],
    gateway: CloudApiGateway,
    status: int,
    body: Any,
    expected: type[GatewayError],
) -> None:
    stub, _ = stub_server
    stub.answers.append(Answer(status=status, body=body))
    with pytest.raises(GatewayError) as info:
        await gateway.send("100000000000001", "5491100000000", Text(body="hi"))
    assert type(info.value) is expected
    assert info.value.api_code is None
    assert info.value.http_status == status


async def test_retry_after_header_is_kept(
    stub_server: tuple[GraphStub, TestServer], gateway: CloudApiGateway
) -> None:
    stub, _ = stub_server
    stub.answers.append(Answer(429, graph_error(130429), {"Retry-After": "7"}))
    with pytest.raises(TransientGatewayError) as info:
        await gateway.send("100000000000001", "5491100000000", Text(body="hi"))
    assert info.value.retry_after == 7.0


def test_parse_retry_after() -> None:
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


async def test_timeout_is_transient(
    stub_server: tuple[GraphStub, TestServer], gateway: CloudApiGateway
) -> None:
    stub, _ = stub_server
    stub.answers.append(Answer(delay_s=2.0))
    with pytest.raises(TransientGatewayError, match="timed out") as info:
        await gateway.send("100000000000001", "5491100000000", Text(body="hi"))
    assert info.value.http_status is None


async def test_connection_refused_is_transient() -> None:
    server = TestServer(web.Application(), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/"))
    await server.close()  # nothing listens there any more
    gw = CloudApiGateway(url, "v23.0", SecretStr(TOKEN), timeout_s=1.0)
    try:
        with pytest.raises(TransientGatewayError, match="unreachable"):
            await gw.send("100000000000001", "5491100000000", Text(body="hi"))
    finally:
        await gw.close()


async def test_token_and_full_number_never_logged(
    stub_server: tuple[GraphStub, TestServer], gateway: CloudApiGateway
) -> None:
    stub, _ = stub_server
    stub.answers.append(Answer(400, graph_error(131026)))
    with capture_logs() as logs, pytest.raises(PermanentGatewayError):
        await gateway.send("100000000000001", "5491100000000", Text(body="hi"))
    assert logs, "the failure should be logged"
    assert TOKEN not in repr(logs)
    assert "5491100000000" not in repr(logs)


async def test_session_reused_and_reopened_after_close(
    stub_server: tuple[GraphStub, TestServer], gateway: CloudApiGateway
) -> None:
    await gateway.start()
    await gateway.send("1", "5491100000000", Text(body="a"))
    await gateway.send("1", "5491100000000", Text(body="b"))
    await gateway.close()
    await gateway.close()  # idempotent
    assert await gateway.send("1", "5491100000000", Text(body="c")) == "wamid.OK1"


def test_from_settings() -> None:
    settings = Settings.from_env(
        {
            "FLOW_ENGINE_WHATSAPP_API_URL": "http://127.0.0.1:9/",
            "FLOW_ENGINE_WHATSAPP_TOKEN": "tok",
            "FLOW_ENGINE_WHATSAPP_TIMEOUT_S": "3",
        }
    )
    gw = CloudApiGateway.from_settings(settings)
    assert gw._base == "http://127.0.0.1:9/v23.0"
    assert gw._timeout.total == 3.0
    assert gw._token.get_secret_value() == "tok"


async def test_a_failed_catalog_read_is_logged_as_a_call_and_a_failed_send_as_a_send(
    stub_server: tuple[GraphStub, TestServer], gateway: CloudApiGateway
) -> None:
    stub, _ = stub_server
    with capture_logs() as read, pytest.raises(PermanentGatewayError):
        await gateway.list_templates("100000000000000")  # the stub serves no catalog: 404
    assert [e["event"] for e in read] == ["whatsapp_call_failed"]
    assert read[0]["call"] == "message_templates" and read[0]["http_status"] == 404
    stub.answers.append(Answer(400, graph_error(131026)))
    with capture_logs() as sent, pytest.raises(PermanentGatewayError):
        await gateway.send("100000000000001", "5491100000000", Text(body="hi"))
    assert [e["event"] for e in sent] == ["whatsapp_send_failed"]
