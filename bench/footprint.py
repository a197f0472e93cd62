"""Redis bytes per conversation and per message: ``python -m bench.footprint [--contacts N]``.

Runs the engine in this process on a throwaway redis-server (the real webhook path, the
real flow, a recording gateway) and reads ``MEMORY USAGE <key> SAMPLES 0`` of what each
kind of state costs:

- an idle conversation record (its hash) and its known-contact mark, after the first
  message of the demo number's flow (greeting + FAQ menu: the record waits for an answer)
  and of the bench's one-reply configuration (the conversation ended);
- a queued message (its inbound stream entry, with a web-only process so nothing handles
  it) and its dedupe mark (kept ``FLOW_ENGINE_DEDUPE_TTL_S``);
- an outbox entry, and the sent mark each send leaves (kept as long as the dedupe mark).

Measured, not asserted. Prints a table and returns the figures (``bench.run`` adds them
to its results).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from flow_engine.devtools.redis_server import RedisServer, free_port
from flow_engine.devtools.webhooks import build_text_webhook, signed_request
from flow_engine.gateway.recording import RecordingGateway
from flow_engine.logging import configure_logging
from flow_engine.settings import Settings
from flow_engine.storage.keys import KeyBuilder
from flow_engine.storage.outbox import OutboxItem
from flow_engine.storage.redis_backend import RedisBackend
from flow_engine.web.app import create_app
from flow_engine.web.state import STORAGE

ROOT = Path(__file__).resolve().parents[1]
SECRET = "footprint-secret"
NUMBER = "100000000000001"
FLOWS = {"demo": ROOT / "fixtures", "one reply": ROOT / "bench" / "config"}


def settings(redis_url: str, config_dir: Path, role: str = "all", **extra: Any) -> Settings:
    return Settings.model_validate(
        {
            "redis_url": redis_url,
            "whatsapp_app_secret": SECRET,
            "whatsapp_token": "t",
            "admin_token": "a",
            "config_dir": config_dir,
            "role": role,
            "port": free_port(),
            **extra,
        }
    )


async def serve(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def contacts(n: int) -> list[str]:
    return [f"5491100{i:06d}" for i in range(n)]


async def post_all(port: int, who: list[str], text: str = "hola") -> None:
    async with aiohttp.ClientSession() as session:

        async def one(contact: str) -> None:
            payload = build_text_webhook(
                wa_id=contact, name="Ana", text=text, phone_number_id=NUMBER
            )
            body, headers = signed_request(payload, SECRET)
            url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
            async with session.post(url, data=body, headers=headers) as r:
                assert r.status == 200, await r.text()

        for i in range(0, len(who), 50):
            await asyncio.gather(*(one(c) for c in who[i : i + 50]))


async def usage(r: Any, keys: list[str]) -> list[int]:
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.memory_usage(k, samples=0)
    return [int(u or 0) for u in await pipe.execute()]


async def stream_bytes(r: Any, keys: KeyBuilder, name: str, partitions: int) -> int:
    streams = [getattr(keys, name)(p) for p in range(partitions)]
    return sum(await usage(r, streams))


async def scan(r: Any, pattern: str) -> list[str]:
    return [k.decode() async for k in r.scan_iter(match=pattern, count=1000)]


def mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


async def settled(app: web.Application) -> None:
    st = app[STORAGE]
    for _ in range(600):
        if await st.queue.depth() == 0 and await st.outbox.depth() == 0:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the engine did not handle every message")


async def conversations(redis: RedisServer, flow: str, n: int) -> dict[str, Any]:
    redis.flushall()
    s = settings(redis.url, FLOWS[flow])
    app = create_app(s, gateway=RecordingGateway())
    runner = await serve(app, s.port)
    try:
        await post_all(s.port, contacts(n))
        await settled(app)
        r = app[STORAGE].backend.r
        records = await scan(r, "fe:{q*}:conv:*")
        known = await scan(r, "fe:{q*}:known:*")
        record_json = [
            len(raw) for raw in await asyncio.gather(*(r.hget(k, "d") for k in records))
        ]
        return {
            "conversations": len(records),
            "record_bytes": mean(await usage(r, records)),
            "record_json_bytes": mean(record_json),
            "known_mark_bytes": mean(await usage(r, known)),
            "dedupe_mark_bytes": mean(await usage(r, await scan(r, "fe:{q*}:dedupe:*"))),
            "sent_mark_bytes": mean(await usage(r, await scan(r, "fe:{q*}:sent:*"))),
            "sent_marks_per_message": len(await scan(r, "fe:{q*}:sent:*")) / n,
            "sample_record": json.loads(await r.hget(records[0], "d")) if records else None,
        }
    finally:
        await runner.cleanup()


async def queued(redis: RedisServer, n: int) -> dict[str, Any]:
    """Messages a web-only process enqueued, that nothing handled yet."""
    redis.flushall()
    s = settings(redis.url, FLOWS["one reply"], role="web")
    app = create_app(s, gateway=RecordingGateway())
    keys = KeyBuilder()
    runner = await serve(app, s.port)
    try:
        r = app[STORAGE].backend.r
        before = await stream_bytes(r, keys, "inbound", s.partitions)
        await post_all(s.port, contacts(n))
        after = await stream_bytes(r, keys, "inbound", s.partitions)
        return {"queued_entry_bytes": (after - before) / n}
    finally:
        await runner.cleanup()


async def outbox(redis: RedisServer, n: int, partitions: int = 32) -> dict[str, Any]:
    """Outbox entries of one text reply each, appended by commits and not sent."""
    from flow_engine.domain.conversation import Conversation
    from flow_engine.storage.redis import redis_storage

    redis.flushall()
    st = redis_storage(redis.url, partitions=partitions)
    await st.connect()
    keys = KeyBuilder()
    try:
        backend: RedisBackend = st.backend
        before = await stream_bytes(backend.r, keys, "outbox", partitions)
        body = "Hola Ana, ¡gracias por escribir! Soy Bench, el asistente virtual de la tienda."
        for i, contact in enumerate(contacts(n)):
            item = OutboxItem(
                NUMBER, contact, f"wamid.{i:040d}:0", "send", {"type": "text", "text": body}
            )
            await st.conversations.commit(
                i % partitions, Conversation(number=NUMBER, contact=contact), None, [item]
            )
        after = await stream_bytes(backend.r, keys, "outbox", partitions)
        return {"outbox_entry_bytes": (after - before) / n}
    finally:
        await st.close()


async def measure(n: int) -> dict[str, Any]:
    configure_logging("warning", "json")  # the engines of this process: problems only
    redis = await asyncio.to_thread(RedisServer)
    try:
        out: dict[str, Any] = {
            "contacts": n,
            "redis": redis.info("server").split("redis_version:")[1].split()[0],
        }
        out["flows"] = {flow: await conversations(redis, flow, n) for flow in FLOWS}
        out.update(await queued(redis, n))
        out.update(await outbox(redis, n))
        return out
    finally:
        await asyncio.to_thread(redis.stop)


def table(f: dict[str, Any]) -> str:
    rows = [f"Redis bytes (MEMORY USAGE, redis {f['redis']}, {f['contacts']} contacts)"]
    for flow, g in f["flows"].items():
        rows += [
            f"  idle conversation, {flow} flow: record {g['record_bytes']:.0f} B "
            f"(JSON {g['record_json_bytes']:.0f} B) + known-contact mark "
            f"{g['known_mark_bytes']:.0f} B",
        ]
    g = f["flows"]["one reply"]
    rows += [
        f"  queued message: stream entry {f['queued_entry_bytes']:.0f} B + dedupe mark "
        f"{g['dedupe_mark_bytes']:.0f} B (the mark stays 7 days)",
        f"  outbox entry: {f['outbox_entry_bytes']:.0f} B until sent; then a sent mark of "
        f"{g['sent_mark_bytes']:.0f} B per send for 7 days",
    ]
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.footprint", description=__doc__)
    p.add_argument("--contacts", type=int, default=1000)
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args(argv)
    figures = asyncio.run(measure(args.contacts))
    print(table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
