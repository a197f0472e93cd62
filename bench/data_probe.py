"""The data probe of ``make bench`` (docs/benchmark.md#data-facts): 100 numbers × 90 days
of rollups written on the bench's Redis through the engine's own path (facts committed
with conversations, then folded), Redis bytes per number-day, and the time of
``GET /api/v1/data/service`` over all of them from a real engine process. Measured, not
asserted."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import redis as redis_sync

from bench.sink import TOKEN, Sink
from bench.targets import ROOT, TARGETS, start_target
from flow_engine.devtools.redis_server import RedisServer
from flow_engine.domain import facts as F
from flow_engine.domain.conversation import Conversation
from flow_engine.storage.keys import partition_of
from flow_engine.storage.redis import redis_storage

NUMBERS = 100
DAYS = 90
PARTITIONS = 32
QUEUES = ("Ventas", "Soporte", "Otros asuntos")
RUNS = 20
ZONE = "America/Sao_Paulo"
ADMIN = "bench-admin-token"


def numbers() -> list[str]:
    return [f"2000000{i:08d}" for i in range(NUMBERS)]


def day_facts(number: str, day: date, k: int) -> F.Facts:
    """A busy day of one number: tickets in three queues with every duration, messages,
    a CSAT survey, 40 active contacts."""
    noon = datetime(day.year, day.month, day.day, 15, tzinfo=UTC).timestamp()  # 12:00 SP
    sheet = F.Sheet(number, ZONE)
    for q, queue in enumerate(QUEUES):
        for name, count in (("offered", 8), ("closed", 7), ("attended", 5), ("lost", 1)):
            sheet.service(queue, name, noon, count + (k + q) % 3)
        sheet.service(queue, "abandoned", noon, 1)
        for name, seconds in (("aht", 420), ("tmf", 90), ("fr", 35), ("rt", 50)):
            for i in range(5):
                sheet.duration(queue, name, noon, seconds + 7 * i + q)
    for name, count in (("msg_in", 160), ("msg_bot", 210), ("msg_attendant", 70)):
        sheet.add("d", name, noon, count + k % 5)
    sheet.add("d", "csat_shown", noon, 12)
    sheet.add("d", "csat_answered", noon, 9)
    for score in (5, 5, 4, 3, 5, 4, 2, 5, 4):
        sheet.add("d", f"csat_score_{score}", noon)
    for c in range(40):
        contact = f"5511{(k * 17 + c) % 3000:07d}"
        sheet.active("mau", contact, noon)
        sheet.active("mis", contact, noon)
    return sheet.facts


async def fill_number(storage: Any, n: int, number: str, first: date) -> None:
    config = {"phone_number_id": number, "display_phone_number": number, "name": f"N{n}"}
    await storage.configs.put(number, {**config, "timezone": ZONE})
    p = partition_of(number, "bench", PARTITIONS)
    conv = Conversation(number=number, contact="bench")
    for d in range(DAYS):
        facts = day_facts(number, first + timedelta(days=d), n + d)
        await storage.conversations.commit(p, conv, None, [], None, facts)
        conv = conv.model_copy(update={"version": conv.version + 1})


async def fill(url: str, first: date) -> None:
    """Through the engine's own path: each day's facts committed with a conversation,
    then the partitions' fact streams folded."""
    storage = redis_storage(url, partitions=PARTITIONS)
    try:
        await asyncio.gather(*(fill_number(storage, n, x, first) for n, x in enumerate(numbers())))
        for p in range(PARTITIONS):
            while await storage.rollups.fold(p) > 0:
                pass
    finally:
        await storage.close()


def rollup_bytes(url: str) -> dict[str, Any]:
    r = redis_sync.Redis.from_url(url)
    try:
        total, keys = 0, 0
        by_kind: dict[str, int] = {}
        for key in r.scan_iter(match="fe:{n*", count=1000):
            name = key.decode()
            kind = name.split("}:", 1)[1].split(":", 2)
            label = ":".join(kind[:2]) if kind[0] in ("r", "act") else kind[0]
            size = int(r.memory_usage(key, samples=0) or 0)
            by_kind[label] = by_kind.get(label, 0) + size
            total += size
            keys += 1
        used = int(r.info("memory")["used_memory"])
    finally:
        r.close()
    per = NUMBERS * DAYS
    return {
        "keys": keys,
        "bytes": total,
        "bytes_per_number_day": round(total / per, 1),
        "day_strings_bytes_per_number_day": round(
            sum(v for k, v in by_kind.items() if k.startswith("r:")) / per, 1
        ),
        "by_kind": by_kind,
        "used_memory": used,
    }


async def time_service(base: str, first: date, last: date, interval: str) -> dict[str, Any]:
    params = {
        "numbers": ",".join(numbers()),
        "from": first.isoformat(),
        "to": last.isoformat(),
        "interval": interval,
    }
    headers = {"Authorization": f"Bearer {ADMIN}"}
    times: list[float] = []
    async with aiohttp.ClientSession() as session:
        for i in range(RUNS + 2):
            t0 = time.perf_counter()
            async with session.get(
                f"{base}/api/v1/data/service", params=params, headers=headers
            ) as r:
                body = await r.json()
                assert r.status == 200, body
            if i >= 2:  # two warm-ups
                times.append((time.perf_counter() - t0) * 1000)
    return {
        "interval": interval,
        "points": len(body["series"]),
        "offered": body["totals"]["offered"],
        "ms_p50": round(statistics.median(times), 1),
        "ms_min": round(min(times), 1),
        "ms_max": round(max(times), 1),
    }


async def run(
    redis: RedisServer, sink: Sink, args: argparse.Namespace, log_dir: Path
) -> dict[str, Any]:
    print(f"\n[data] {NUMBERS} numbers × {DAYS} days of rollups on Redis…", flush=True)
    redis.flushall()
    last = datetime.now(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=DAYS - 1)
    t0 = time.monotonic()
    await fill(redis.url, first)
    out: dict[str, Any] = {
        "numbers": NUMBERS,
        "days": DAYS,
        "fill_s": round(time.monotonic() - t0, 1),
    }
    out["redis"] = await asyncio.to_thread(rollup_bytes, redis.url)
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
    try:
        out["service"] = [
            await time_service(target.base, first, last, interval) for interval in ("day", "month")
        ]
    finally:
        await asyncio.to_thread(target.stop)
    return out


def lines(data: dict[str, Any]) -> str:
    r = data["redis"]
    rows = [
        f"data: {data['numbers']} numbers × {data['days']} days of rollups (written in "
        f"{data['fill_s']} s): {r['bytes_per_number_day']} Redis bytes per number-day in all "
        f"({r['day_strings_bytes_per_number_day']} of them the day strings; "
        f"{r['keys']} keys, MEMORY USAGE)",
    ]
    for s in data["service"]:
        mark = "PASS" if s["ms_p50"] <= 50 else "MISS"
        rows.append(
            f"{mark}  GET /data/service, interval={s['interval']} ({s['points']} points): "
            f"p50 {s['ms_p50']} ms (min {s['ms_min']}, max {s['ms_max']}) over {RUNS} runs "
            "(aim ≤ 50 ms)"
        )
    return "\n".join(rows)


async def alone(args: argparse.Namespace) -> dict[str, Any]:
    redis = await asyncio.to_thread(RedisServer)
    sink = Sink()
    await sink.start()
    log_dir = Path(tempfile.mkdtemp(prefix="fe-data-probe-"))
    try:
        return await run(redis, sink, args, log_dir)
    finally:
        await sink.stop()
        await asyncio.to_thread(redis.stop)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.data_probe``: this probe alone (``make bench`` runs it too),
    with the engine from the checkout."""
    p = argparse.ArgumentParser(prog="python -m bench.data_probe", description=__doc__)
    p.add_argument(
        "--config-dir",
        type=Path,
        default=ROOT / "bench" / "config",
        help="engine configuration directory (default bench/config/)",
    )
    args = p.parse_args(argv)
    args.engine_config_dir, args.engine_root = args.config_dir, ROOT
    print(lines(asyncio.run(alone(args))))


if __name__ == "__main__":
    main()
