"""``make bench``: the engine (memory store, Redis store, web + worker processes on Redis,
one and two processes on a 3-node Redis Cluster) and a bare aiohttp + Redis baseline,
side by side, under the same driver and the same Send API sink; then the Redis bytes per
conversation and per message (``bench/footprint.py``).

``python -m bench.run [--duration S] [--contacts N] [--quick]``. Per target, a
fresh process and a flushed Redis; a closed-loop phase measures the max
throughput, then an open-loop phase at half that rate measures latencies. Prints a
table, PASS/MISS lines for the aims, and saves ``bench/results/<UTC stamp>.json``
(and ``latest.json``). Exits 0 whatever the figures; non-zero only when a target
failed to start or a message did not get exactly one reply.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bench import campaign, data_probe, footprint, profile, report
from bench.driver import Driver, PhaseResult
from bench.probes import CpuMeter, log_problems, machine, start_py_spy, stop_py_spy
from bench.redis_monitor import MonitorCounter
from bench.sink import TOKEN, Sink
from bench.targets import (
    APP_SECRET,
    ORDER,
    ROOT,
    TARGETS,
    TargetSpec,
    memory_kib,
    new_log_dir,
    snapshot_engine,
    source_fingerprint,
    start_target,
)
from flow_engine.devtools.redis_cluster import RedisClusterServer
from flow_engine.devtools.redis_server import RedisServer


class Store(Protocol):
    """A throwaway redis-server or Redis Cluster."""

    @property
    def url(self) -> str: ...

    @property
    def pids(self) -> list[int]: ...

    def flushall(self) -> None: ...

    def commandstats(self) -> dict[str, int]: ...


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--duration",
        type=float,
        default=10.0,
        help="measured seconds per phase and target (default 10)",
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        help="unmeasured seconds before each phase (default 1)",
    )
    p.add_argument("--contacts", type=int, default=200, help="simulated contacts (default 200)")
    p.add_argument(
        "--drain",
        type=float,
        default=10.0,
        help="seconds to wait for outstanding replies after a phase (default 10)",
    )
    p.add_argument(
        "--targets",
        default=",".join((*ORDER, "campaign")),
        help=f"comma-separated subset of {','.join(ORDER)},campaign (default: all of them; "
        "the -nofacts targets run with FLOW_ENGINE_DATA_FACTS=false; redis-demo: the demo "
        "number of fixtures/, each message a new contact's first, answered with the "
        "greeting and the FAQ menu; campaign: a campaign from one number next to a bare "
        "aiohttp loop, bench/campaign.py)",
    )
    p.add_argument(
        "--no-footprint",
        dest="footprint",
        action="store_false",
        help="skip the Redis bytes per conversation and per message (bench/footprint.py)",
    )
    p.add_argument(
        "--config-dir",
        type=Path,
        default=ROOT / "bench" / "config",
        help="engine configuration directory (default bench/config/: one reply per "
        "message through the base flow)",
    )
    p.add_argument(
        "--redis-max-connections",
        type=int,
        default=0,
        metavar="N",
        help="append ?max_connections=N to the engine's FLOW_ENGINE_REDIS_URL, which "
        "overrides the engine's own pool size (partitions + 512); not needed by default",
    )
    p.add_argument(
        "--redis-calls",
        action="store_true",
        help="count the commands clients send to Redis (by command and Lua script) with "
        "MONITOR during each phase of the Redis targets; it costs CPU, so do not compare "
        "the figures of such a run",
    )
    p.add_argument(
        "--no-snapshot",
        dest="snapshot",
        action="store_false",
        help="run the engine from the checkout itself, not from the copy of flow_engine/ "
        "and the configuration taken at the start of the run",
    )
    p.add_argument(
        "--py-spy",
        action="store_true",
        help="profile each target with py-spy during the closed loop (py-spy must be "
        "installed; collapsed stacks go next to the target logs)",
    )
    p.add_argument(
        "--py-spy-phase",
        choices=("closed", "open"),
        default="closed",
        help="with --py-spy: the phase profiled, the closed loop (default) or the open "
        "loop at half the max rate",
    )
    p.add_argument(
        "--campaign-recipients",
        type=int,
        default=20000,
        metavar="N",
        help="recipients of the campaign part (default 20000)",
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke run: 1 s phases, 0.3 s warm-up, 50 contacts"
    )
    p.add_argument(
        "--no-data",
        dest="data",
        action="store_false",
        help="skip the data probe (GET /data/service over 100 numbers x 90 days of rollups "
        "on Redis, and Redis bytes per number-day)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.contacts, args.drain = 1.0, 0.3, 50, 5.0
        args.campaign_recipients = min(args.campaign_recipients, 2000)
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS and n != "campaign"]
    if unknown or not names:
        p.error(f"unknown targets {unknown}; choose from {', '.join(TARGETS)}")
    args.target_names = [n for n in names if n != "campaign"]
    args.campaign = "campaign" in names
    return args


#: connections of the third phase, a closed loop far from saturation
FEW = 8


def _profiled(args: argparse.Namespace, phase: str) -> bool:
    return bool(args.py_spy) and args.py_spy_phase == phase


def engine_redis_url(redis: Store, args: argparse.Namespace) -> str:
    if args.redis_max_connections > 0:
        return f"{redis.url}?max_connections={args.redis_max_connections}"
    return redis.url


def commandstats_delta(
    before: dict[str, int], after: dict[str, int], messages: int
) -> dict[str, Any]:
    """Redis commands per message over a window (``INFO commandstats`` deltas): all of
    them, including those Lua scripts run, and the script calls alone."""
    delta = {k: v - before.get(k, 0) for k, v in after.items()}
    delta = {k: v for k, v in delta.items() if v > 0 and k != "info"}
    n = max(1, messages)
    scripts = delta.get("evalsha", 0) + delta.get("eval", 0)
    return {
        "messages": messages,
        "per_msg": sum(delta.values()) / n,
        "script_calls_per_msg": scripts / n,
        "by_command": {k: round(v / n, 3) for k, v in sorted(delta.items(), key=lambda x: -x[1])},
    }


async def run_phase(
    driver: Driver,
    meter: CpuMeter,
    kind: str,
    args: argparse.Namespace,
    rate: float = 0.0,
    *,
    redis: Store | None = None,
    monitor: MonitorCounter | None = None,
) -> tuple[PhaseResult, dict[str, Any]]:
    meter.at.clear()
    stats: dict[str, dict[str, int]] = {}
    if monitor is not None:
        monitor.reset()

    def on_window(which: str) -> None:
        meter.mark(which)
        if monitor is not None:
            monitor.counting = which == "start"
        if redis is not None:
            try:
                stats[which] = redis.commandstats()
            except OSError as exc:
                print(f"INFO commandstats failed: {exc}", flush=True)

    if kind == "closed":
        phase = await driver.closed_loop(args.warmup, args.duration, args.drain, on_window)
    else:
        phase = await driver.open_loop(rate, args.warmup, args.duration, args.drain, on_window)
    summary = report.summarize_phase(phase, meter.cores())
    tput, cores = summary["throughput_per_s"], summary["cpu_cores"].get("target")
    summary["cpu_us_per_msg"] = cores / tput * 1e6 if tput and cores is not None else None
    messages = round(tput * summary["window_s"])
    if "start" in stats and "end" in stats:
        summary["redis_commands"] = commandstats_delta(stats["start"], stats["end"], messages)
    if monitor is not None:
        summary["redis_calls"] = monitor.per_message(messages)
    return phase, summary


async def bench_target(
    spec: TargetSpec, redis: Store, sink: Sink, args: argparse.Namespace, log_dir: Path
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": spec.name,
        "label": spec.label,
        "kind": spec.kind,
        "store": spec.store,
        "ok_start": False,
    }
    redis.flushall()
    print(f"\n[{spec.name}] starting {spec.label}…", flush=True)
    try:
        target = await asyncio.to_thread(
            start_target,
            spec,
            redis_url=engine_redis_url(redis, args),
            sink_url=sink.url,
            token=TOKEN,
            config_dir=ROOT / spec.config_dir if spec.config_dir else args.engine_config_dir,
            log_dir=log_dir,
            engine_root=args.engine_root,
        )
    except RuntimeError as exc:
        print(f"[{spec.name}] FAILED TO START: {exc}", flush=True)
        out["error"] = str(exc)
        return out
    out["ok_start"] = True
    out["pid"] = target.pid
    out["pids"] = target.pids
    out["roles"] = list(spec.roles)
    out["log"] = str(target.log_path)
    out["logs"] = [str(p) for p in target.log_paths]
    sink.reset()
    driver = Driver(
        "127.0.0.1",
        target.port,
        APP_SECRET,
        args.contacts,
        ports=target.ports,
        replies=spec.replies,
        fresh_contacts=spec.fresh_contacts,
    )
    sink.listener = driver.on_reply
    meter = CpuMeter({"target": target.pids, "redis": redis.pids, "bench": os.getpid()})
    uses_redis = spec.store != "memory"
    monitor: MonitorCounter | None = None
    if args.redis_calls and isinstance(redis, RedisServer) and uses_redis:
        monitor = MonitorCounter(redis.port)
        await monitor.start()
    probes: dict[str, Any] = {"redis": redis if uses_redis else None, "monitor": monitor}
    phases: list[PhaseResult] = []
    try:
        print(
            f"[{spec.name}] closed loop: {args.contacts} contacts, {args.warmup:g} s warm-up "
            f"+ {args.duration:g} s…",
            flush=True,
        )
        spy = start_py_spy(target, args, log_dir) if _profiled(args, "closed") else None
        try:
            phase, closed = await run_phase(driver, meter, "closed", args, **probes)
        finally:
            if spy is not None:
                out["profile"] = await asyncio.to_thread(stop_py_spy, *spy)
        phases.append(phase)
        out["closed"] = closed
        print(
            f"[{spec.name}]   {closed['throughput_per_s']:.0f} msg/s, ack p99 "
            f"{report._fmt(closed['ack_ms']['p99'])} ms, end-to-end p99 "
            f"{report._fmt(closed['e2e_ms']['p99'])} ms",
            flush=True,
        )
        rate = closed["throughput_per_s"] / 2
        if rate >= 1:
            print(f"[{spec.name}] open loop at {rate:.0f} msg/s…", flush=True)
            spy = start_py_spy(target, args, log_dir) if _profiled(args, "open") else None
            try:
                phase, opened = await run_phase(driver, meter, "open", args, rate, **probes)
            finally:
                if spy is not None:
                    out["profile"] = await asyncio.to_thread(stop_py_spy, *spy)
            phases.append(phase)
            out["open"] = opened
            print(
                f"[{spec.name}]   ack p50/p99 {report._fmt(opened['ack_ms']['p50'])}/"
                f"{report._fmt(opened['ack_ms']['p99'])} ms, end-to-end p50/p99 "
                f"{report._fmt(opened['e2e_ms']['p50'])}/"
                f"{report._fmt(opened['e2e_ms']['p99'])} ms",
                flush=True,
            )
        # a closed loop of FEW connections: the acks and the CPU per message of a process
        # far from saturation, where fewer commands share each round trip
        few = Driver(
            "127.0.0.1",
            target.port,
            APP_SECRET,
            FEW,
            ports=target.ports,
            replies=spec.replies,
            fresh_contacts=spec.fresh_contacts,
        )
        sink.listener = few.on_reply
        print(f"[{spec.name}] closed loop: {FEW} contacts…", flush=True)
        phase, eight = await run_phase(few, meter, "closed", args, **probes)
        phases.append(phase)
        out["few"] = eight
        print(
            f"[{spec.name}]   {eight['throughput_per_s']:.0f} msg/s, ack p50/p99 "
            f"{report._fmt(eight['ack_ms']['p50'])}/{report._fmt(eight['ack_ms']['p99'])} ms",
            flush=True,
        )
        mems = [memory_kib(pid) for pid in target.pids]
        out["rss_mib"] = sum(m.get("VmRSS", 0) for m in mems) / 1024
        out["peak_rss_mib"] = sum(m.get("VmHWM", 0) for m in mems) / 1024
    finally:
        sink.listener = None
        if monitor is not None:
            monitor.stop()
        out["exit_code"] = await asyncio.to_thread(target.stop)
    out["posted"] = sum(len(p.messages) for p in phases)
    out["replied"] = sum(1 for p in phases for m in p.messages if m.t_reply is not None)
    out["lost"] = sum(
        p_["lost"] for p_ in (out.get("closed"), out.get("open"), out.get("few")) if p_
    )
    out["unexpected_replies"] = sum(p.unexpected for p in phases)
    out["ack_errors"] = sum(1 for p in phases for m in p.messages if m.status != 200)
    out["sink"] = {"sends": sink.sends, "reads": sink.reads, "refused": sink.refused}
    out["log_problems"] = log_problems(target)
    out["ok"] = (
        out["lost"] == 0
        and out["unexpected_replies"] == 0
        and out["ack_errors"] == 0
        and sink.refused == 0
    )
    if not out["ok"]:
        print(
            f"[{spec.name}] DELIVERY PROBLEM: posted {out['posted']}, replied "
            f"{out['replied']}, extra {out['unexpected_replies']}, non-200 acks "
            f"{out['ack_errors']}, refused sends {sink.refused} (log: {target.log_path})",
            flush=True,
        )
    if out["log_problems"]["errors"]:
        print(
            f"[{spec.name}] the target logged {out['log_problems']['errors']} errors: "
            f"{target.log_path}",
            flush=True,
        )
    return out


async def main_async(args: argparse.Namespace) -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.monotonic()
    log_dir = new_log_dir()
    load = os.getloadavg()
    if load[0] > 0.5:
        print(
            f"note: load average {load[0]:.2f} before the start (a bench run just before "
            "counts too); see the 'CPU other processes' rows: other work on this machine "
            "skews the figures",
            flush=True,
        )
    args.engine_source = await asyncio.to_thread(source_fingerprint)
    args.engine_root, args.engine_config_dir = ROOT, args.config_dir
    if args.snapshot:
        args.engine_root, args.engine_config_dir = await asyncio.to_thread(
            snapshot_engine, args.config_dir, log_dir
        )
        args.engine_source = await asyncio.to_thread(source_fingerprint, args.engine_root)
    redis = await asyncio.to_thread(RedisServer)
    cluster: RedisClusterServer | None = None
    sink = Sink()
    sink.templates = [campaign.TEMPLATE]
    await sink.start()
    targets: dict[str, dict[str, Any]] = {}
    campaign_result: dict[str, Any] | None = None
    data_result: dict[str, Any] | None = None
    try:
        for name in args.target_names:
            spec = TARGETS[name]
            store: Store = redis
            if spec.store == "cluster":
                if cluster is None:
                    print("\nstarting a 3-master Redis Cluster…", flush=True)
                    cluster = await asyncio.to_thread(RedisClusterServer)
                store = cluster
            targets[name] = await bench_target(spec, store, sink, args, log_dir)
        if args.campaign:
            campaign_result = await campaign.bench_campaign(redis, sink, args, log_dir)
        if args.data:
            data_result = await data_probe.run(redis, sink, args, log_dir)
    finally:
        await sink.stop()
        await asyncio.to_thread(redis.stop)
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)
    sizes: dict[str, Any] | None = None
    if args.footprint:
        print("\nRedis bytes per conversation and per message (bench/footprint.py)…", flush=True)
        sizes = await footprint.measure(1000 if not args.quick else 200)
    live = await asyncio.to_thread(source_fingerprint)
    if live != args.engine_source:
        print(
            f"\nnote: the checkout's flow_engine/ changed during the run "
            f"({args.engine_source} → {live}); the engine targets ran "
            + ("the copy taken at the start" if args.snapshot else "a mix of versions"),
            flush=True,
        )
    order = [n for n in ORDER if n in targets]
    targets = {n: targets[n] for n in order}
    aims = report.aims(targets)
    doc = {
        "started_at": stamp,
        "elapsed_s": round(time.monotonic() - started, 1),
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "contacts": args.contacts,
            "drain_s": args.drain,
            "quick": args.quick,
            "config_dir": str(args.config_dir),
            "mark_read": False,
            "send_rate_per_second": 100000,
            "redis_max_connections": args.redis_max_connections or None,
            "redis_calls": args.redis_calls,
            "engine_snapshot": str(args.engine_root) if args.snapshot else None,
            "engine_source": args.engine_source,
        },
        "machine": machine(load),
        "targets": targets,
        "campaign": campaign_result,
        "aims": aims,
        "footprint": sizes,
        "logs": str(log_dir),
    }
    print()
    if targets:
        print(report.table(targets))
    print(
        "\nratios (×) are to the baseline: above 1 is more msg/s, or slower/larger for "
        "latency, CPU and memory"
    )
    print(report.aim_lines(aims))
    other = [
        t[ph]["cpu_cores"].get("other", 0.0)
        for t in targets.values()
        for ph in ("closed", "open")
        if ph in t and t[ph].get("cpu_cores")
    ]
    print(
        f"load average (1 min) {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the "
        f"end; other processes used up to {max(other, default=0.0):.2f} core during the "
        "measured windows"
    )
    print(report.scale_lines(targets, os.cpu_count() or 1))
    if campaign_result is not None:
        print(f"\ncampaign of {campaign_result['recipients']} recipients from one number:")
        print(campaign.lines(campaign_result))
    facts = report.facts_lines(targets)
    if facts:
        print("\n" + facts)
    if data_result is not None:
        doc["data"] = data_result
        print("\n" + data_probe.lines(data_result))
    if sizes is not None:
        print("\n" + footprint.table(sizes))
    calls = report.redis_calls(targets)
    if calls:
        print("\n" + calls)
    for t in targets.values():
        if t.get("profile"):
            text = await asyncio.to_thread(profile.summary, Path(t["profile"]), 10)
            print(
                f"\n{t['label']}, {args.py_spy_phase} loop under py-spy "
                "(python -m bench.profile FILE):"
            )
            print(text)
    path = report.save(doc, stamp)
    print(
        f"\nsaved {path.relative_to(ROOT)} (and bench/results/latest.json) in "
        f"{doc['elapsed_s']:.0f} s; target logs in {log_dir}"
    )
    failed = [n for n, t in targets.items() if not t.get("ok_start") or not t.get("ok")]
    if campaign_result is not None and not campaign_result.get("ok"):
        failed.append("campaign")
    if failed:
        print(
            f"FAILED: {', '.join(failed)} (did not start, or a message did not get exactly "
            "one reply)"
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is optional off Linux
        pass
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
