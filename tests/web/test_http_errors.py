"""Issue 10, item 7: requests aiohttp cannot parse (a header over 8 KB, a NUL in a header,
a broken request line) are refused before any middleware runs; the engine's server still
answers them with the documented JSON error shape. Checked on a real engine process
served exactly like ``flow-engine serve`` (``web.app.run_app``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.support.processes import EngineProcess


async def raw(port: int, request: bytes) -> tuple[int, dict[str, str], Any]:
    """Send ``request`` as it is; the status, headers and decoded JSON body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def assert_error_shape(body: Any) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(
            b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
            id="header-over-8KB",
        ),
        pytest.param(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n", id="nul-in-header"
        ),
        pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", id="bad-header"),
        pytest.param(b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", id="bad-method"),
    ],
)
async def test_a_request_aiohttp_cannot_parse_gets_the_json_error_shape(
    engine: EngineProcess, request_bytes: bytes
) -> None:
    status, headers, body = await raw(engine.port, request_bytes)
    assert status == 400, body
    assert headers["content-type"].startswith("application/json")
    assert_error_shape(body)
    assert body["error"]["code"] == "bad_request"
    assert isinstance(body["error"]["details"]["reason"], str)


async def test_the_same_server_still_answers_good_requests(engine: EngineProcess) -> None:
    status, _headers, body = await raw(
        engine.port, b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == 401 and body["error"]["code"] == "unauthorized"
