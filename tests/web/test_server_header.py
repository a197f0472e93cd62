"""Every answer names the server ``flow-engine`` and nothing more: not aiohttp's default
``Python/3.x aiohttp/3.x``, which tells a prober which versions to look up. Checked on a
real engine process served exactly like ``flow-engine serve``: the webhook, the API, the
console, the operations routes, a route that does not exist and a request aiohttp cannot
parse."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.support.processes import EngineProcess

ANSWERS = [
    ("GET", "/healthz", 200),
    ("GET", "/readyz", 200),
    ("GET", "/metrics", 200),
    ("GET", "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=no&hub.challenge=1", 403),
    ("POST", "/webhooks/whatsapp", 401),  # unsigned
    ("GET", "/api/v1/openapi.json", 200),
    ("GET", "/api/v1/me", 401),
    ("GET", "/api/v1/numbers/abc/config", 401),
    ("GET", "/api/v1/nowhere", 404),
    ("GET", "/console", 301),
    ("GET", "/console/login", 200),
    ("GET", "/console/static/console.css", 200),
    ("GET", "/console/desk", 303),  # to the sign-in
    ("GET", "/nowhere", 404),
]


async def test_every_answer_names_the_server_without_versions(engine: EngineProcess) -> None:
    base = f"http://127.0.0.1:{engine.port}"
    async with aiohttp.ClientSession() as session:
        for method, path, status in ANSWERS:
            async with session.request(method, base + path, allow_redirects=False) as resp:
                await resp.read()
                assert resp.status == status, (path, resp.status)
                assert resp.headers.getall("Server") == ["flow-engine"], (path, resp.headers)


async def test_a_request_aiohttp_cannot_parse_names_the_server_too(engine: EngineProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", engine.port)
    try:
        writer.write(b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    assert head[0].split()[1] == "400"
    servers = [
        line.partition(":")[2].strip() for line in head[1:] if line.lower().startswith("server:")
    ]
    assert servers == ["flow-engine"], head
