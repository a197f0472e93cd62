"""The baseline: the least an aiohttp + Redis webhook bot can do per message.

``python -m bench.baseline --port P --redis-url URL --sink-url URL`` serves
``POST /webhooks/whatsapp``: verify the HMAC, parse the JSON, then per message the
Redis round trips the engine conceptually needs — read the conversation (GET),
write it (SET), push one outbound (RPUSH) — and answer 200. Worker tasks in the
same process pop the outbound list (BLPOP) and POST each message to the Send API.

No flow-engine imports: this is what the engine's overhead is measured against.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import sys
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

SIGNATURE_HEADER = "X-Hub-Signature-256"
OUTBOUND = "bench:outbound"
# the same reply as bench/config's absence message
GREETING = (
    "Hola {name}, ¡gracias por escribir! Soy Bench, el asistente virtual de la tienda: "
    "hoy no atendemos, volvemos mañana a las 9."
)

REDIS = web.AppKey("redis", Redis)
ARGS = web.AppKey("args", argparse.Namespace)


async def receive(request: web.Request) -> web.Response:
    args, r = request.app[ARGS], request.app[REDIS]
    body = await request.read()
    given = request.headers.get(SIGNATURE_HEADER, "")
    expected = "sha256=" + hmac.new(args.app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return web.json_response({"error": "bad signature"}, status=403)
    try:
        payload = json.loads(body)
        values = [c["value"] for e in payload["entry"] for c in e["changes"]]
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": "malformed"}, status=400)
    accepted = 0
    for value in values:
        number = value["metadata"]["phone_number_id"]
        names = {
            c["wa_id"]: c.get("profile", {}).get("name", "") for c in value.get("contacts", [])
        }
        for msg in value.get("messages", []):
            contact = msg["from"]
            key = f"bench:conv:{number}:{contact}"
            raw = await r.get(key)
            conv = json.loads(raw) if raw else {"number": number, "contact": contact, "n": 0}
            conv["n"] += 1
            conv["last"] = msg["id"]
            await r.set(key, json.dumps(conv))
            out = {
                "number": number,
                "to": contact,
                "text": GREETING.format(name=names.get(contact, "")),
            }
            await r.rpush(OUTBOUND, json.dumps(out))
            accepted += 1
    return web.json_response({"accepted": accepted})


async def readyz(request: web.Request) -> web.Response:
    await request.app[REDIS].ping()
    return web.json_response({"status": "ready"})


async def worker(app: web.Application, session: aiohttp.ClientSession) -> None:
    args, r = app[ARGS], app[REDIS]
    headers = {"Authorization": f"Bearer {args.token}"}
    while True:
        popped = await r.blpop([OUTBOUND], timeout=1)
        if popped is None:
            continue
        out = json.loads(popped[1])
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": out["to"],
            "type": "text",
            "text": {"preview_url": False, "body": out["text"]},
        }
        url = f"{args.sink_url}/{args.api_version}/{out['number']}/messages"
        try:
            async with session.post(url, json=payload, headers=headers) as resp:
                await resp.read()
        except aiohttp.ClientError as exc:  # the sink is local; report and go on
            print(f"baseline: send failed: {exc!r}", file=sys.stderr)


async def lifecycle(app: web.Application) -> AsyncIterator[None]:
    args = app[ARGS]
    # redis-py's async pool refuses a connection past max_connections (default 100)
    # instead of waiting: size it for every concurrent webhook plus the workers.
    app[REDIS] = Redis.from_url(args.redis_url, max_connections=4096)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.workers))
    tasks = [asyncio.create_task(worker(app, session)) for _ in range(args.workers)]
    yield
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    await session.close()
    await app[REDIS].aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--sink-url", required=True)
    parser.add_argument("--app-secret", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--api-version", default="v23.0")
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args()
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass
    app = web.Application()
    app[ARGS] = args
    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/webhooks/whatsapp", receive)
    app.router.add_get("/readyz", readyz)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
