"""Figures of a bench run: per-phase summaries, the side-by-side table, aims, JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.driver import PhaseResult

RESULTS = Path(__file__).resolve().parent / "results"
THROUGHPUT_AIM = 0.5  # Redis engine msg/s ≥ this × baseline msg/s
ACK_P99_AIM_MS = 50.0  # ack p99 at half the max rate
FACTS_AIM = 0.9  # throughput with the data facts ≥ this × without them


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """Nearest-rank p50/p90/p99, max and mean (None when there is nothing to rank)."""
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None, "n": 0}
    ordered = sorted(values)
    n = len(ordered)

    def rank(p: float) -> float:
        return ordered[max(0, min(n - 1, math.ceil(p / 100 * n) - 1))]

    return {
        "p50": rank(50),
        "p90": rank(90),
        "p99": rank(99),
        "max": ordered[-1],
        "mean": sum(ordered) / n,
        "n": n,
    }


def summarize_phase(phase: PhaseResult, cpu: dict[str, float]) -> dict[str, Any]:
    t0, t1 = phase.t0, phase.t1
    seconds = t1 - t0
    window = [m for m in phase.messages if t0 <= m.t_post < t1]
    acks = [(m.t_ack - m.t_post) * 1000 for m in window if m.t_ack is not None and m.status == 200]
    e2e = [(m.t_reply - m.t_post) * 1000 for m in window if m.t_reply is not None]
    replied_in_window = sum(
        1 for m in phase.messages if m.t_reply is not None and t0 <= m.t_reply < t1
    )
    return {
        "window_s": round(seconds, 3),
        "rate_asked_per_s": phase.rate_asked,
        "posted_per_s": len(window) / seconds,
        "throughput_per_s": replied_in_window / seconds,
        "ack_ms": percentiles(acks),
        "e2e_ms": percentiles(e2e),
        "posted": len(phase.messages),
        "replied": sum(1 for m in phase.messages if m.t_reply is not None),
        "lost": sum(1 for m in phase.messages if m.t_reply is None and m.status == 200),
        "ack_errors": sum(1 for m in phase.messages if m.status != 200),
        "unexpected_replies": phase.unexpected,
        "connections": phase.connections,
        "cpu_cores": cpu,
    }


# (label, getter, ratio?) rows of the table
Row = tuple[str, Callable[[dict[str, Any]], float | None], bool]


def _get(*path: str) -> Callable[[dict[str, Any]], float | None]:
    def get(t: dict[str, Any]) -> float | None:
        value: Any = t
        for p in path:
            if not isinstance(value, dict) or value.get(p) is None:
                return None
            value = value[p]
        return float(value)

    return get


class Count(int):
    """A figure printed as a whole number."""


def _count(key: str) -> Callable[[dict[str, Any]], float | None]:
    def get(t: dict[str, Any]) -> float | None:
        return None if t.get(key) is None else Count(t[key])

    return get


def _rows() -> list[Row | str]:
    rows: list[Row | str] = []
    for phase, title in (
        ("closed", "closed loop: max throughput"),
        ("open", "open loop: half of the max rate"),
        ("few", "closed loop: 8 connections"),
    ):
        rows.append(title)
        if phase == "open":
            rows.append(("  rate asked, msg/s", _get(phase, "rate_asked_per_s"), True))
        rows += [
            ("  msg/s, webhook → send", _get(phase, "throughput_per_s"), True),
            ("  ack p50, ms", _get(phase, "ack_ms", "p50"), True),
            ("  ack p99, ms", _get(phase, "ack_ms", "p99"), True),
            ("  end-to-end p50, ms", _get(phase, "e2e_ms", "p50"), True),
            ("  end-to-end p99, ms", _get(phase, "e2e_ms", "p99"), True),
            ("  CPU target, cores", _get(phase, "cpu_cores", "target"), True),
            ("  CPU redis-server, cores", _get(phase, "cpu_cores", "redis"), False),
            ("  CPU bench (driver+sink)", _get(phase, "cpu_cores", "bench"), False),
            ("  CPU other processes, cores", _get(phase, "cpu_cores", "other"), False),
            ("  target CPU per message, µs", _get(phase, "cpu_us_per_msg"), True),
            ("  Redis commands per message", _get(phase, "redis_commands", "per_msg"), True),
            (
                "    of which EVALSHA",
                _get(phase, "redis_commands", "script_calls_per_msg"),
                False,
            ),
        ]
    rows.append("process")
    rows += [
        ("  RSS at end, MiB", _get("rss_mib"), True),
        ("  peak RSS (VmHWM), MiB", _get("peak_rss_mib"), True),
        ("  messages posted", _count("posted"), False),
        ("  replies received", _count("replied"), False),
        ("  lost (200 but no reply)", _count("lost"), False),
        ("  extra replies", _count("unexpected_replies"), False),
        ("  non-200 acks", _count("ack_errors"), False),
    ]
    return rows


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if isinstance(v, Count):
        return str(int(v))
    if v == int(v) and abs(v) >= 100:
        return f"{int(v)}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def table(targets: dict[str, dict[str, Any]]) -> str:
    """Metrics down, targets across; engine cells carry their ratio to the baseline."""
    names = list(targets)
    base = targets.get("baseline")
    width0 = 32
    widths = [max(24, len(targets[n]["label"]) + 2) for n in names]
    lines = [
        "".ljust(width0)
        + "".join(targets[n]["label"].rjust(w) for n, w in zip(names, widths, strict=True))
    ]
    lines.append("-" * len(lines[0]))
    for row in _rows():
        if isinstance(row, str):
            lines.append(row)
            continue
        label, get, ratio = row
        cells = []
        for n, w in zip(names, widths, strict=True):
            v = get(targets[n]) if targets[n].get("ok_start") else None
            text = _fmt(v)
            if ratio and base is not None and n != "baseline" and base.get("ok_start"):
                b = get(base)
                text += f" ({v / b:.2f}×)" if v is not None and b else " " * 8
            elif base is not None and n != "baseline":
                text += " " * 8
            cells.append(text.rjust(w))
        lines.append(label.ljust(width0) + "".join(cells))
    return "\n".join(lines)


def aims(targets: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    base, redis = targets.get("baseline"), targets.get("redis")
    if base and redis and base.get("ok_start") and redis.get("ok_start"):
        b = base["closed"]["throughput_per_s"]
        r = redis["closed"]["throughput_per_s"]
        ratio = r / b if b else 0.0
        out.append(
            {
                "aim": f"Redis engine throughput ≥ {THROUGHPUT_AIM}× baseline",
                "value": ratio,
                "pass": ratio >= THROUGHPUT_AIM,
                "text": f"{r:.0f} msg/s vs baseline {b:.0f} msg/s = {ratio:.2f}×",
            }
        )
    out += issue15_aims(base, redis)
    for name in ("memory", "redis", "baseline"):
        t = targets.get(name)
        if not t or not t.get("ok_start") or "open" not in t:
            continue
        p99 = t["open"]["ack_ms"]["p99"]
        rate = t["open"]["rate_asked_per_s"]
        out.append(
            {
                "aim": f"{t['label']}: ack p99 < {ACK_P99_AIM_MS:.0f} ms at half max rate",
                "value": p99,
                "pass": p99 is not None and p99 < ACK_P99_AIM_MS,
                "text": f"p99 {_fmt(p99)} ms at {rate:.0f} msg/s",
            }
        )
    return out


TWO_PROCESSES_AIM = 1.6  # two engine processes on the cluster ≥ this × one, with spare cores
#: issue 15's aims for one Redis engine process: msg/s ≥ this × the baseline's (closed
#: loop), CPU per message, ack p99 with 8 connections and at saturation
RUNTIME_THROUGHPUT_AIM = 1.0
CPU_US_AIM = 350.0
ACK_P99_FEW_AIM_MS = 5.0
ACK_P99_SATURATION_AIM_MS = 50.0


def issue15_aims(
    base: dict[str, Any] | None, redis: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The runtime's aims (issue 15), each with the baseline's own figure beside it."""
    b, r = _phase(base, "closed"), _phase(redis, "closed")
    if b is None or r is None:
        return []
    ratio = r["throughput_per_s"] / b["throughput_per_s"] if b["throughput_per_s"] else 0.0
    out = [
        {
            "aim": f"Redis engine msg/s ≥ {RUNTIME_THROUGHPUT_AIM}× baseline (issue 15)",
            "value": ratio,
            "pass": ratio >= RUNTIME_THROUGHPUT_AIM,
            "text": f"{r['throughput_per_s']:.0f} vs {b['throughput_per_s']:.0f} msg/s = "
            f"{ratio:.2f}×",
        }
    ]
    cpu, cpu_b = r.get("cpu_us_per_msg"), b.get("cpu_us_per_msg")
    if cpu is not None:
        out.append(
            {
                "aim": f"Redis engine CPU ≤ {CPU_US_AIM:.0f} µs per message (issue 15)",
                "value": cpu,
                "pass": cpu <= CPU_US_AIM,
                "text": f"{cpu:.0f} µs at saturation (baseline {_fmt(cpu_b)} µs)",
            }
        )
    fb, fr = _phase(base, "few"), _phase(redis, "few")
    checks = [(fr, fb, ACK_P99_FEW_AIM_MS, "with 8 connections")]
    checks.append((r, b, ACK_P99_SATURATION_AIM_MS, "at saturation"))
    for mine, theirs, limit, where in checks:
        if mine is None:
            continue
        p99 = mine["ack_ms"]["p99"]
        theirs_p99 = theirs["ack_ms"]["p99"] if theirs is not None else None
        out.append(
            {
                "aim": f"Redis engine ack p99 ≤ {limit:g} ms {where} (issue 15)",
                "value": p99,
                "pass": p99 is not None and p99 <= limit,
                "text": f"{_fmt(p99)} ms (baseline {_fmt(theirs_p99)} ms)",
            }
        )
    return out


def _phase(t: dict[str, Any] | None, phase: str) -> dict[str, Any] | None:
    if not t or not t.get("ok_start") or phase not in t:
        return None
    result: dict[str, Any] = t[phase]
    return result


def scale_lines(targets: dict[str, dict[str, Any]], cores: int) -> str:
    """The scale-out rows side by side: web + worker against all on Redis, one and two
    processes on the 3-node cluster (and the cluster against one Redis)."""
    lines = []
    pairs = [
        ("roles", "redis", "web + worker against all, one Redis"),
        ("cluster", "redis", "one process: 3-node cluster against one Redis"),
        ("cluster2", "cluster", "two processes against one, 3-node cluster"),
    ]
    for name, ref, title in pairs:
        a, b = _phase(targets.get(name), "closed"), _phase(targets.get(ref), "closed")
        if a is None or b is None:
            continue
        ratio = a["throughput_per_s"] / b["throughput_per_s"] if b["throughput_per_s"] else 0.0
        text = (
            f"{title}: {a['throughput_per_s']:.0f} vs {b['throughput_per_s']:.0f} msg/s = "
            f"{ratio:.2f}×; ack p50/p99 {_fmt(a['ack_ms']['p50'])}/{_fmt(a['ack_ms']['p99'])} "
            f"vs {_fmt(b['ack_ms']['p50'])}/{_fmt(b['ack_ms']['p99'])} ms (closed loop)"
        )
        oa, ob = _phase(targets.get(name), "open"), _phase(targets.get(ref), "open")
        if oa is not None and ob is not None:
            text += (
                f", {_fmt(oa['ack_ms']['p99'])} vs {_fmt(ob['ack_ms']['p99'])} ms at half "
                "the max rate"
            )
        if name == "cluster2":
            text += (
                f"; aim ≥ {TWO_PROCESSES_AIM}× on a machine with spare cores: this one has "
                f"{cores} core{'s' if cores != 1 else ''} for the engines, Redis, the driver "
                "and the sink"
            )
        lines.append(text)
    return "\n".join(lines)


def aim_lines(results: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{'PASS' if a['pass'] else 'MISS'}  {a['aim']}: {a['text']}" for a in results
    )


def redis_calls(targets: dict[str, dict[str, Any]]) -> str:
    """The ``--redis-calls`` counts: round trips per message by command, per phase."""
    lines: list[str] = []
    for t in targets.values():
        for phase in ("closed", "open"):
            calls = (t.get(phase) or {}).get("redis_calls")
            if not calls:
                continue
            lines.append(
                f"{t['label']}, {phase} loop: {calls['client_round_trips_per_msg']:.2f} "
                f"client commands per message (MONITOR), "
                f"{calls['lua_commands_per_msg']:.2f} run inside scripts"
            )
            lines += [f"  {v:6.2f}  {k}" for k, v in calls["client"].items() if v >= 0.005]
    return "\n".join(lines)


def save(doc: dict[str, Any], stamp: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    path = RESULTS / f"{stamp}.json"
    path.write_text(text, encoding="utf-8")
    (RESULTS / "latest.json").write_text(text, encoding="utf-8")
    return path


def facts_lines(targets: dict[str, dict[str, Any]]) -> str:
    """Throughput with the data facts over the same run without them (aim ≥ 0.9×)."""
    lines = []
    for store in ("memory", "redis"):
        with_, without = targets.get(store), targets.get(f"{store}-nofacts")
        if not (with_ and without and with_.get("ok_start") and without.get("ok_start")):
            continue
        a = with_["closed"]["throughput_per_s"]
        b = without["closed"]["throughput_per_s"]
        ratio = a / b if b else 0.0
        mark = "PASS" if ratio >= FACTS_AIM else "MISS"
        lines.append(
            f"{mark}  data facts, {store}: {a:.0f} msg/s with, {b:.0f} without = {ratio:.2f}× "
            f"(aim ≥ {FACTS_AIM}×)"
        )
    return "\n".join(lines)
