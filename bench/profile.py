"""Read a ``--py-spy`` profile: where the target's CPU goes, by step of a message's path.

``python -m bench.profile <target>.collapsed.txt [--top N]`` (``bench.run --py-spy``
prints the same for each profiled target). A collapsed file has one line per distinct
stack, ``frame;frame;…;leaf <samples>``, root first. Each sample is put in the step of
its deepest frame that a rule below names (so a Redis call made by the commit counts
as the commit); a stack no rule names goes to its deepest ``flow_engine`` frame, or to
the HTTP server / event loop.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

# (function name as py-spy prints it, step). Checked from the leaf up: the deepest wins.
STEPS: list[tuple[str, str]] = [
    # the coalescer sends the commands of every step that wait in one turn of the event
    # loop as one pipeline: its client CPU is shared by the steps, not in their stacks
    ("Coalescer._flush", "Redis: coalesced pipelines (client CPU of every step's commands)"),
    # on a cluster, each node's share of a pipeline is a task of its own
    ("Coalescer._run_node", "Redis: coalesced pipelines (client CPU of every step's commands)"),
    ("RedisQueue.enqueue_many", "webhook: dedupe + enqueue script (EVALSHA)"),
    ("receive", "webhook: signature, parsing, response"),
    ("RedisQueue.read", "worker: partition XREAD + parse entries"),
    ("RedisConversations.load", "worker: load conversation (HGET + pydantic)"),
    ("ConfigCache.get", "worker: number configuration (GET)"),
    ("RedisConversations.commit", "worker: commit script (EVALSHA)"),
    ("RedisRates.reserve", "send: rate-limit reserve script (EVALSHA)"),
    ("RedisOutbox.claim", "send: claim script (EVALSHA)"),
    ("RedisOutbox.complete", "send: complete script (EVALSHA)"),
    ("CloudApiGateway.send", "send: Send API POST (aiohttp client)"),
    ("CloudApiGateway.mark_read", "send: mark-as-read POST"),
    ("RedisOutbox.pending", "send: outbox backlog / recovery (XRANGE)"),
    ("bound", "worker: flow: state machine (transitions, or the table read out of it)"),
    (
        "AsyncEvent.trigger",
        "worker: flow: state machine (transitions, or the table read out of it)",
    ),
    ("FlowModel._move", "worker: flow: state machine (transitions, or the table read out of it)"),
    ("PartitionWorker.fold_facts", "worker: data facts folded into the rollups"),
    ("Runtime.turn_facts", "worker: data facts of the turn"),
    ("BaseFlow.handle", "worker: flow: the base flow's steps (turn → replies)"),
    ("Flow.handle", "worker: flow: the base flow's steps (turn → replies)"),
    ("OutboxSender._finish", "send: sent mark (retried until written)"),
    ("OutboxSender._send", "send: other (validation, retry scheduling, metrics)"),
    ("OutboxSender.attempt", "send: other (validation, retry scheduling, metrics)"),
    ("Runtime._attempt", "worker: other (copy, outbox items, metrics)"),
    ("Runtime.handle", "worker: other (logging context, metrics)"),
    ("PartitionWorker._run_lane", "worker: lanes (one per conversation)"),
    ("PartitionWorker._run", "worker: loop (read, hand to lanes)"),
    ("PartitionWorker.run", "worker: loop (read, hand to lanes)"),
]
# names too common to match in any file
_LOCAL = {
    "receive": "flow_engine/web/",
    "bound": "flow_engine/engine/machine.py",
    "AsyncEvent.trigger": "transitions/",
}
_NAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    """(frames as (function, file), root first; samples) per line."""
    out: list[tuple[list[tuple[str, str]], int]] = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for f in stack.split(";"):
            m = _NAME.match(f)
            frames.append((m["func"], m["file"]) if m else (f, ""))
        out.append((frames, int(count)))
    return out


def step_of(frames: list[tuple[str, str]]) -> str:
    names = dict(STEPS)
    for func, file in reversed(frames):
        if func in names and (func not in _LOCAL or file.startswith(_LOCAL[func])):
            return names[func]
    for func, file in reversed(frames):
        if file.startswith("flow_engine/") and not file.startswith(
            (
                "flow_engine/cli.py",
                "flow_engine/__main__.py",
                "flow_engine/web/app.py",
                "flow_engine/web/server.py",
            )
        ):
            return f"other engine: {func} ({file})"
    if any(file.startswith("aiohttp/web_protocol") for _f, file in frames):
        return "HTTP server (aiohttp protocol, no handler)"
    if any(file.startswith("redis/") for _f, file in frames):
        return "Redis client outside a step (connections, replies read by the event loop)"
    return "event loop, sockets, timers (no engine frame)"


def summary(path: Path, top: int = 15) -> str:
    try:
        stacks = parse(path)
    except OSError as exc:
        return f"{path}: cannot read: {exc}"
    total = sum(n for _s, n in stacks)
    if not total:
        return f"{path}: no samples"
    steps: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    for frames, n in stacks:
        steps[step_of(frames)] += n
        for name in {f"{func} ({file})" for func, file in frames}:
            inclusive[name] += n
        leaf[f"{frames[-1][0]} ({frames[-1][1]})"] += n
    lines = [f"{path}: {total} samples", "by step of a message's path:"]
    lines += [f"  {100 * n / total:5.1f} %  {step}" for step, n in steps.most_common()]
    lines.append(f"top {top} functions, inclusive (library and engine, no entry points):")
    skip = ("<frozen runpy>", "flow_engine/cli.py", "flow_engine/__main__.py")
    shown = 0
    for name, n in inclusive.most_common():
        if any(s in name for s in skip) or name.startswith("run_app ("):
            continue
        lines.append(f"  {100 * n / total:5.1f} %  {name}")
        shown += 1
        if shown >= top:
            break
    lines.append(f"top {top} functions, self:")
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in leaf.most_common(top)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("paths", nargs="+", type=Path, help="collapsed stacks from --py-spy")
    p.add_argument("--top", type=int, default=15, help="functions listed (default 15)")
    args = p.parse_args(argv)
    for path in args.paths:
        print(summary(path, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
