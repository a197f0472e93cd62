"""Overload one Redis engine process, then check that it still owns each partition once.

``python -m bench.overload [--contacts 1000] [--duration 6]``: a closed loop with
many more contacts than ``make bench`` uses, on one engine process with the Redis
store; then, with the engine idle, ``MONITOR`` for a few seconds shows which
reads each partition stream (an idle partition worker re-reads its stream every
``block_ms``, on whichever pooled connection it gets). One process should have one
reader per stream: about one read per ``block_ms``; two workers polling one partition
double that. Prints the delivery counts, the ``partition_lost`` warnings of the
target's log and any stream read too often; exits 1 when a message did not get
exactly one reply or a stream had two readers.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections import defaultdict
from collections.abc import Sequence

from bench.driver import Driver
from bench.sink import TOKEN, Sink
from bench.targets import APP_SECRET, ROOT, TARGETS, new_log_dir, snapshot_engine, start_target
from flow_engine.devtools.redis_server import RedisServer

_XREAD = re.compile(rb'\[\d+ ([0-9.:]+)\] "XREAD".*?"([^"]*\{q\d+\}[^"]*)"', re.IGNORECASE)


BLOCK_S = 1.0  # the engine's idle read block (Runtime.block_ms)
WATCH_S = 3.5


async def stream_readers(port: int, seconds: float) -> dict[str, list[str]]:
    """Stream key → the client address of each XREAD on it during ``seconds``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"MONITOR\r\n")
    await writer.drain()
    readers: dict[str, list[str]] = defaultdict(list)
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        try:
            line = await asyncio.wait_for(reader.readline(), 0.5)
        except TimeoutError:
            continue
        m = _XREAD.search(line)
        if m:
            readers[m[2].decode()].append(m[1].decode())
    writer.close()
    return readers


async def main_async(args: argparse.Namespace) -> int:
    log_dir = new_log_dir()
    root, config = await asyncio.to_thread(snapshot_engine, ROOT / "bench" / "config", log_dir)
    redis = await asyncio.to_thread(RedisServer)
    sink = Sink()
    await sink.start()
    try:
        target = await asyncio.to_thread(
            start_target,
            TARGETS["redis"],
            redis_url=redis.url,
            sink_url=sink.url,
            token=TOKEN,
            config_dir=config,
            log_dir=log_dir,
            engine_root=root,
        )
        try:
            driver = Driver("127.0.0.1", target.port, APP_SECRET, args.contacts)
            sink.listener = driver.on_reply
            print(f"closed loop: {args.contacts} contacts, {args.duration:g} s…", flush=True)
            phase = await driver.closed_loop(0.5, args.duration, 30.0)
            await asyncio.sleep(2.0)  # late duplicates, then an idle engine
            readers = await stream_readers(redis.port, WATCH_S)
        finally:
            await asyncio.to_thread(target.stop)
    finally:
        await sink.stop()
        await asyncio.to_thread(redis.stop)
    msgs = phase.messages
    lost = sum(1 for m in msgs if m.t_reply is None and m.status == 200)
    non200 = sum(1 for m in msgs if m.status != 200)
    extra = driver.tracker.unexpected
    log = target.log_path.read_text(errors="replace")
    # one reader reads about WATCH_S / BLOCK_S times (+1 for the edges); two, twice that
    most = WATCH_S / BLOCK_S + 1.5
    twice = {k: v for k, v in readers.items() if len(v) > most}
    print(
        f"posted {len(msgs)}, lost {lost}, extra replies {extra}, non-200 acks {non200}; "
        f"sink got {sink.sends} sends"
    )
    print(
        f"target log: {log.count('partition_lost')} partition_lost, "
        f"{log.count('commit_conflict_retry')} commit_conflict_retry, "
        f"{log.count('outbox_recovery')} outbox_recovery ({target.log_path})"
    )
    print(
        f"partition streams polled while idle: {len(readers)} "
        f"(reads per stream in {WATCH_S:g} s: {min(map(len, readers.values()), default=0)}–"
        f"{max(map(len, readers.values()), default=0)}); read as by two workers:"
    )
    for key, addrs in sorted(twice.items()):
        print(f"  {key}: {len(addrs)} reads from {', '.join(sorted(set(addrs)))}")
    if not twice:
        print("  none")
    return 1 if lost or extra or twice else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__)
    p.add_argument("--contacts", type=int, default=1000, help="simulated contacts (1000)")
    p.add_argument("--duration", type=float, default=6.0, help="closed-loop seconds (6)")
    args = p.parse_args(argv)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
