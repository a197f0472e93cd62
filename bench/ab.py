"""Two or more engine versions against the baseline, interleaved round by round.

``python -m bench.ab before=DIR after=DIR [--rounds 3] [--contacts 200] [--duration 6]
[--cluster]``:
each ``DIR`` holds a ``flow_engine/`` (``git archive <commit> flow_engine | tar -x -C DIR``).
Every round runs the baseline, then each version, on the Redis store, each in a fresh
process and a flushed Redis: a closed loop with ``--contacts`` contacts (saturation), then
one with 8 (eight connections). It prints each run and then, per version, the medians
over the rounds and the median of the ratios to the baseline *of the same round*.

On a machine shared with other work, one ``make bench`` run per version compares windows
with different background load (sequential runs of the same code swung by ±30 % in msg/s
on the 2-core machine of docs/benchmark.md); interleaving and ratios per round cancel
most of it. A ``hiredis.py`` that raises ``ImportError`` next to a version's
``flow_engine/`` runs that version without the hiredis parser (the baseline keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import report
from bench.driver import Driver
from bench.probes import CpuMeter
from bench.run import FEW, engine_redis_url, parse_args, run_phase
from bench.sink import TOKEN, Sink
from bench.targets import APP_SECRET, ROOT, TARGETS, start_target
from flow_engine.devtools.redis_cluster import RedisClusterServer
from flow_engine.devtools.redis_server import RedisServer


async def one_target(
    name: str,
    root: Path | None,
    redis: RedisServer,
    sink: Sink,
    args: argparse.Namespace,
    cluster: RedisClusterServer | None = None,
) -> dict[str, dict[str, Any]]:
    spec = TARGETS["baseline" if root is None else "cluster" if cluster else "redis"]
    store: RedisServer | RedisClusterServer = redis if root is None or cluster is None else cluster
    store.flushall()
    log_dir = Path(tempfile.mkdtemp(prefix=f"fe-ab-{name}-"))
    target = await asyncio.to_thread(
        start_target,
        spec,
        redis_url=engine_redis_url(store, args),
        sink_url=sink.url,
        token=TOKEN,
        config_dir=args.engine_config_dir,
        log_dir=log_dir,
        engine_root=root or ROOT,
    )
    out: dict[str, dict[str, Any]] = {}
    try:
        for phase, contacts in (("many", args.contacts), ("few", FEW)):
            sink.reset()
            driver = Driver("127.0.0.1", target.port, APP_SECRET, contacts, ports=target.ports)
            sink.listener = driver.on_reply
            meter = CpuMeter({"target": target.pids, "redis": store.pids, "bench": os.getpid()})
            _result, s = await run_phase(driver, meter, "closed", args, redis=store)
            sink.listener = None
            out[phase] = {
                "msg_s": s["throughput_per_s"],
                "cpu_us": s["cpu_us_per_msg"],
                "ack_p50": s["ack_ms"]["p50"],
                "ack_p99": s["ack_ms"]["p99"],
                "other": s["cpu_cores"].get("other", 0.0),
                "lost": s["lost"],
                "bad": s["ack_errors"] + s["unexpected_replies"],
            }
    finally:
        await asyncio.to_thread(target.stop)
    return out


def line(name: str, row: dict[str, dict[str, Any]]) -> str:
    def cell(p: dict[str, Any]) -> str:
        if p["msg_s"] is None or p["cpu_us"] is None:  # nothing answered in the window
            return f"no reply in the window (lost {p['lost']}, bad {p['bad']}: see its log)"
        return (
            f"{p['msg_s']:.0f} msg/s {p['cpu_us']:.0f} µs ack {report._fmt(p['ack_p50'])}/"
            f"{report._fmt(p['ack_p99'])} ms other {p['other']:.2f}"
        )

    return f"{name:10s} | {cell(row['many'])} | {FEW} conn: {cell(row['few'])}"


async def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    p.add_argument("versions", nargs="+", help="name=DIR (a directory holding flow_engine/)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--contacts", type=int, default=200)
    p.add_argument("--duration", type=float, default=6.0)
    p.add_argument(
        "--cluster",
        action="store_true",
        help="run the versions on a 3-master Redis Cluster (the baseline keeps its Redis)",
    )
    a = p.parse_args(argv)
    args = parse_args(["--duration", str(a.duration), "--drain", "5", "--no-data"])
    args.contacts = a.contacts
    args.engine_config_dir = ROOT / "bench" / "config"
    versions: list[tuple[str, Path | None]] = [("baseline", None)]
    for v in a.versions:
        name, _, root = v.partition("=")
        if not (Path(root) / "flow_engine").is_dir():
            p.error(f"{v}: no flow_engine/ in {root!r}")
        versions.append((name, Path(root)))
    redis = await asyncio.to_thread(RedisServer)
    cluster = await asyncio.to_thread(RedisClusterServer) if a.cluster else None
    sink = Sink()
    await sink.start()
    rows: dict[str, list[dict[str, dict[str, Any]]]] = {name: [] for name, _r in versions}
    try:
        for r in range(a.rounds):
            for name, root in versions:
                row = await one_target(name, root, redis, sink, args, cluster)
                rows[name].append(row)
                print(f"round {r} {line(name, row)}", flush=True)
    finally:
        await sink.stop()
        await asyncio.to_thread(redis.stop)
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)
    med = statistics.median
    base = rows["baseline"]
    print("\nmedians over the rounds; (×): median of the ratios to the same round's baseline")
    ok = True
    for name, _root in versions:
        cells = []
        for phase, label in (("many", f"{a.contacts} conn"), ("few", f"{FEW} conn")):
            mine = [x[phase] for x in rows[name]]
            theirs = [b[phase] for b in base]
            if any(x["msg_s"] is None or x["cpu_us"] is None for x in mine + theirs):
                cells.append(f"{label}: no medians (a round had no reply in its window)")
                ok = False
                continue
            ratio = med(x["msg_s"] / b["msg_s"] for x, b in zip(mine, theirs, strict=True))
            cpu = med(x["cpu_us"] / b["cpu_us"] for x, b in zip(mine, theirs, strict=True))
            cells.append(
                f"{label}: {med(x['msg_s'] for x in mine):.0f} msg/s ({ratio:.2f}×), "
                f"{med(x['cpu_us'] for x in mine):.0f} µs/msg ({cpu:.2f}×), ack p50/p99 "
                f"{report._fmt(med(x['ack_p50'] for x in mine))}/"
                f"{report._fmt(med(x['ack_p99'] for x in mine))} ms"
            )
            ok = ok and all(x["lost"] == 0 and x["bad"] == 0 for x in mine)
        print(f"{name:10s} " + " | ".join(cells))
    print("every message got one 200 and exactly one reply" if ok else "DELIVERY PROBLEM")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
