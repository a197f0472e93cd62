"""The campaign part of ``make bench`` (docs/benchmark.md, "Campaigns").

Side by side in the same run, against the same sink: a bare aiohttp loop sending the
same template 20,000 times (``bench/campaign_baseline.py``, its own process), and the
engine on Redis running a 20,000-recipient campaign from one number. Measured: sends/s
(first to last send at the sink), CPU µs per send of each process, Redis bytes per
recipient after completion (``used_memory`` before the campaign and after it, and
``MEMORY USAGE`` of the campaign's own keys), and the conversation ack p99 of an open
loop of webhooks while a second campaign runs, as a ratio to the same loop without one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from redis import Redis

from bench import report
from bench.driver import Driver
from bench.probes import CpuMeter
from bench.sink import TOKEN, Sink
from bench.targets import APP_SECRET, ROOT, TARGETS, cpu_seconds, start_target
from flow_engine.devtools.redis_server import RedisServer

NUMBER = "100000000000001"
ADMIN = {"Authorization": "Bearer bench-admin-token"}
TEMPLATE: dict[str, Any] = {
    "id": "900000000000099",
    "name": "bench_promo",
    "language": "es",
    "status": "APPROVED",
    "category": "MARKETING",
    "parameter_format": "POSITIONAL",
    "components": [{"type": "BODY", "text": "Hola {{1}}, tienes {{2}} de descuento."}],
}
ACK_RATE = 200.0  # webhooks/s of the conversation loop, with and without a campaign


def csv_of(phones: list[str]) -> str:
    return "telefono,nombre,descuento\n" + "".join(
        f"+{p},N{i},{i % 50}%\n" for i, p in enumerate(phones)
    )


def spec(name: str, phones: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "number": NUMBER,
        "phone_column": "telefono",
        "template": {"name": "bench_promo", "language": "es"},
        "parameters": {"body": [{"column": "nombre"}, {"column": "descuento"}]},
        "csv": csv_of(phones),
    }


async def run_baseline(sink: Sink, count: int) -> dict[str, Any]:
    times: list[float] = []
    sink.template_listener = lambda _to, now: times.append(now)
    argv = [
        sys.executable,
        "-m",
        "bench.campaign_baseline",
        "--sink-url",
        sink.url,
        "--token",
        TOKEN,
        "--count",
        str(count),
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await proc.communicate()
    sink.template_listener = None
    if proc.returncode != 0:
        return {"error": err.decode(errors="replace")[-2000:]}
    doc = json.loads(out)
    sends = int(doc["sends"])
    span = times[-1] - times[0] if len(times) > 1 else doc["seconds"]
    return {
        "sends": sends,
        "sends_per_s": (len(times) - 1) / span if span > 0 else None,
        "cpu_us_per_send": doc["cpu_s"] / sends * 1e6 if sends else None,
    }


async def wait_done(session: aiohttp.ClientSession, base: str, cid: str) -> dict[str, Any]:
    while True:
        async with session.get(f"{base}/api/v1/campaigns/{cid}") as r:
            c = (await r.json())["campaign"]
        if c["state"] in ("completed", "cancelled", "needs_attention"):
            return dict(c)
        await asyncio.sleep(0.2)


def redis_bytes(client: Redis, pattern: str) -> int:
    total = 0
    for key in client.scan_iter(match=pattern, count=1000):
        total += int(client.memory_usage(key, samples=0) or 0)
    return total


async def ack_loop(driver: Driver, meter: CpuMeter, args: argparse.Namespace) -> dict[str, Any]:
    phase = await driver.open_loop(ACK_RATE, args.warmup, args.duration, args.drain, meter.mark)
    return report.summarize_phase(phase, meter.cores())


async def bench_campaign(
    redis: RedisServer, sink: Sink, args: argparse.Namespace, log_dir: Path
) -> dict[str, Any]:
    n = args.campaign_recipients
    out: dict[str, Any] = {"recipients": n, "ok": False}
    redis.flushall()
    print(f"\n[campaign] bare aiohttp loop: {n} template sends…", flush=True)
    out["baseline"] = await run_baseline(sink, n)
    print(f"[campaign]   {out['baseline']}", flush=True)
    redis.flushall()
    target = await asyncio.to_thread(
        start_target,
        TARGETS["redis"],
        redis_url=redis.url,
        sink_url=sink.url,
        token=TOKEN,
        config_dir=args.engine_config_dir,
        log_dir=log_dir,
        engine_root=args.engine_root,
    )
    client = Redis.from_url(redis.url)
    try:
        async with aiohttp.ClientSession(headers=ADMIN) as session:
            async with session.post(f"{target.base}/api/v1/numbers/{NUMBER}/templates/sync") as r:
                assert r.status == 200, await r.text()
            sent_at: list[float] = []
            sink.template_listener = lambda _to, now: sent_at.append(now)
            phones = [f"549119{i:07d}" for i in range(n)]
            used0 = int(client.info("memory")["used_memory"])
            print(f"[campaign] engine on Redis: a campaign of {n}…", flush=True)
            t_create = time.perf_counter()
            async with session.post(
                f"{target.base}/api/v1/campaigns", json=spec("one", phones)
            ) as r:
                body = await r.json()
                assert r.status == 201, body
            created_s = time.perf_counter() - t_create
            cid = body["campaign"]["id"]
            cpu0 = cpu_seconds(target.pid)
            c = await wait_done(session, target.base, cid)
            cpu1 = cpu_seconds(target.pid)
            await asyncio.sleep(1.0)  # the last marks and the completion settle
            used1 = int(client.info("memory")["used_memory"])
            span = sent_at[-1] - sent_at[0] if len(sent_at) > 1 else 0.0
            engine = {
                "state": c["state"],
                "sends": len(sent_at),
                "distinct": len(set(phones)),
                "create_s": round(created_s, 2),
                "sends_per_s": (len(sent_at) - 1) / span if span > 0 else None,
                "cpu_us_per_send": (cpu1 - cpu0) / max(1, len(sent_at)) * 1e6,
                "redis_bytes_per_recipient": (used1 - used0) / n,
                "campaign_keys_bytes_per_recipient": redis_bytes(client, f"fe:{{c{cid}}}:*") / n,
                "reply_index_bytes_per_recipient": redis_bytes(client, f"fe:{{n{NUMBER}}}:nt:*")
                / n,
            }
            out["engine"] = engine
            print(f"[campaign]   {engine}", flush=True)
            # the conversation's ack p99, without a campaign and while one runs
            driver = Driver("127.0.0.1", target.port, APP_SECRET, 100)
            sink.listener = driver.on_reply
            meter = CpuMeter({"target": target.pid, "redis": redis.pid})
            alone = await ack_loop(driver, meter, args)
            sent_at.clear()
            more = [f"549118{i:07d}" for i in range(n)]
            async with session.post(
                f"{target.base}/api/v1/campaigns", json=spec("two", more)
            ) as r:
                second = (await r.json())["campaign"]["id"]
            await asyncio.sleep(0.5)
            during = await ack_loop(driver, meter, args)
            sends_during = len(sent_at)
            await wait_done(session, target.base, second)
            sink.listener = None
            out["ack"] = {
                "rate": ACK_RATE,
                "alone_p99_ms": alone["ack_ms"]["p99"],
                "during_p99_ms": during["ack_ms"]["p99"],
                "ratio": during["ack_ms"]["p99"] / alone["ack_ms"]["p99"]
                if alone["ack_ms"]["p99"]
                else None,
                "campaign_sends_during_loop": sends_during,
                "lost": alone["lost"] + during["lost"],
            }
            print(f"[campaign]   ack {out['ack']}", flush=True)
            base = out["baseline"].get("sends_per_s")
            if base and engine["sends_per_s"]:
                engine["ratio_to_baseline"] = engine["sends_per_s"] / base
            out["ok"] = (
                c["state"] == "completed"
                and len(sent_at) >= 0
                and engine["sends"] == n
                and c["counts"]["sent"] == n
            )
    finally:
        sink.template_listener = None
        sink.listener = None
        client.close()
        await asyncio.to_thread(target.stop)
    return out


def lines(result: dict[str, Any]) -> str:
    """The campaign figures as a small table."""
    b, e, a = result.get("baseline", {}), result.get("engine", {}), result.get("ack", {})

    def f(x: Any, digits: int = 0) -> str:
        return "-" if x is None else f"{x:,.{digits}f}"

    rows = [
        ("", "bare aiohttp loop", "engine campaign (Redis)"),
        (
            "sends/s",
            f(b.get("sends_per_s")),
            f(e.get("sends_per_s"))
            + (f" ({e['ratio_to_baseline']:.2f}×)" if e.get("ratio_to_baseline") else ""),
        ),
        ("CPU µs per send", f(b.get("cpu_us_per_send")), f(e.get("cpu_us_per_send"))),
        ("Redis B/recipient (all)", "", f(e.get("redis_bytes_per_recipient"))),
        ("  campaign keys", "", f(e.get("campaign_keys_bytes_per_recipient"))),
        ("  reply index (7 days)", "", f(e.get("reply_index_bytes_per_recipient"))),
        (
            f"ack p99 at {f(a.get('rate'))}/s",
            "",
            f"{f(a.get('alone_p99_ms'), 1)} ms alone, "
            f"{f(a.get('during_p99_ms'), 1)} ms during a campaign ({f(a.get('ratio'), 2)}×)",
        ),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) for r in rows)
