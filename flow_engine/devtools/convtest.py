"""Running conversation files (``*.test.yaml``, :mod:`flow_engine.devtools.convfile`):
their ``serve:`` server started first, each step done on a
:class:`~flow_engine.devtools.conversation.LocalConversation` and checked — the replies
in order (``text`` equals the message body or its whole readable text, ``contains``
and ``matches`` look in the readable text, ``options`` are the menu titles, exact), the
state reached and skill variables set. :func:`run_conversation` stops at the first
mismatch and describes it, with every skill failure of the run so far (and the
traceback's last frames when a Python skill raised); ``flow-engine test`` and the
pytest plugin print that description.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flow_engine.devtools.conversation import (
    LocalConversation,
    attendant_action,
    local_policy,
    skill_var,
)
from flow_engine.devtools.convfile import (
    PLACEHOLDER,
    SERVE_URL,
    SUFFIX,
    ConversationFile,
    Expect,
    TestStep,
    expand,
    load_conversation_file,
)
from flow_engine.devtools.replies import Reply
from flow_engine.devtools.skill_server import SkillServer
from flow_engine.devtools.terminal import failure_lines
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.skills import SkillAttachment
from flow_engine.errors import ConfigurationError

#: what callers of this module have always found here
__all__ = [
    "SUFFIX",
    "ConversationFile",
    "RunResult",
    "expand_skill_files",
    "load_conversation_file",
    "run_conversation",
    "run_files",
]


@dataclass
class RunResult:
    ok: bool
    failure: str | None = None
    steps_run: int = 0
    transcript: list[str] = field(default_factory=list)
    #: (step number, what the failure looked like) of every skill failure of the run
    skill_failures: list[tuple[int, list[str]]] = field(default_factory=list)


# ------------------------------------------------------------------------ checking
def mismatch(expect: Expect, reply: Reply) -> list[str]:
    """What in ``reply`` differs from ``expect`` (empty when it fits)."""
    out: list[str] = []
    if expect.text is not None and expect.text not in (reply.body, reply.text):
        out.append(f"text: expected {expect.text!r}, got {reply.body!r}")
    if expect.contains is not None and expect.contains not in reply.text:
        out.append(f"contains: {expect.contains!r} is not in {reply.text!r}")
    if expect.matches is not None and re.search(expect.matches, reply.text) is None:
        out.append(f"matches: /{expect.matches}/ does not match {reply.text!r}")
    if expect.options is not None and expect.options != reply.options:
        out.append(f"options: expected {expect.options!r}, got {reply.options!r}")
    return out


def _describe(expect: Expect) -> str:
    return ", ".join(f"{k}: {v!r}" for k, v in expect.model_dump(exclude_none=True).items())


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.splitlines() or [""])


def _step_report(
    number: int,
    step: TestStep,
    replies: list[Reply],
    problems: list[str],
    failures: list[tuple[int, list[str]]],
) -> str:
    lines = [f"step {number}: {step.describe()}"]
    lines += [f"  ✗ {p}" for p in problems]
    for at, failure in failures:
        where = "" if at == number else f" (at step {at})"
        lines.append(f"  ! {failure[0]}{where}")
        lines += [f"    {line}" for line in failure[1:]]
    lines.append(f"  replies ({len(replies)}):")
    for i, reply in enumerate(replies, 1):
        lines.append(f"    [{i}]")
        lines.append(_indent(reply.text))
    if not replies:
        lines.append("    (none)")
    return "\n".join(lines)


WAIT_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def wait_of(text: str) -> timedelta:
    """``31m`` → 31 minutes (``s``, ``m``, ``h``, ``d``)."""
    return timedelta(**{WAIT_UNITS[text[-1]]: int(text[:-1])})


def check_step(conv: LocalConversation, step: TestStep, replies: list[Reply]) -> list[str]:
    problems: list[str] = []
    if step.expect is not None:
        for i, (expect, reply) in enumerate(zip(step.expect, replies, strict=False), 1):
            problems += [f"reply {i}: {p}" for p in mismatch(expect, reply)]
        if len(step.expect) != len(replies):
            problems.append(f"expected {len(step.expect)} replies, got {len(replies)}")
            for i, expect in enumerate(step.expect[len(replies) :], len(replies) + 1):
                problems.append(f"reply {i} missing: {_describe(expect)}")
    if step.state is not None and conv.state != step.state:
        problems.append(f"state: expected {step.state!r}, got {conv.state!r}")
    if step.vars:
        current = conv.skill_vars
        for name, value in step.vars.items():
            found, got = skill_var(current, name)
            if not found:
                problems.append(f"vars: {name!r} is not set (skill variables: {current})")
            elif got != value:
                problems.append(f"vars: {name!r} expected {value!r}, got {got!r}")
    return problems


def expand_skill_files(
    config: NumberConfig, config_dir: Path, env: Mapping[str, str], directory: Path
) -> NumberConfig:
    """``config`` with every declarative skill file that holds ``${NAME}`` replaced by an
    expanded copy written to ``directory`` (the engine reads flow files as they are)."""
    skills: list[SkillAttachment] = []
    for index, skill in enumerate(config.skills):
        if skill.kind == "declarative" and skill.path is not None:
            source = local_policy(config_dir).flow_file(skill.path)
            try:
                text = source.read_text(encoding="utf-8")
            except OSError:
                text = ""  # the loader names the missing file
            if PLACEHOLDER.search(text):
                try:
                    expanded = expand(text, env)
                except ConfigurationError as exc:
                    raise ConfigurationError(f"{source}: {exc.message}") from None
                target = directory / f"{index}-{source.name}"
                target.write_text(expanded, encoding="utf-8")
                skill = skill.model_copy(update={"path": str(target)})
        skills.append(skill)
    return config.model_copy(update={"skills": skills})


async def run_conversation(cf: ConversationFile) -> RunResult:
    """Run the steps of ``cf`` (its ``serve:`` server started first, stopped after);
    stop at the first step that does not fit."""
    if cf.serve is None or cf.serve_url is not None:
        return await _run_file(cf)
    server = SkillServer(cf.serve, cf.path.resolve().parent)
    url = await server.start()
    try:
        given = {k: v for k, v in cf.env.items() if k != SERVE_URL}
        result = await _run_file(load_conversation_file(cf.path, given, serve_url=url))
        if not result.ok and await server.ended():
            result.failure = f"{result.failure}\nthe server {cf.serve!r} ended{server.tail()}"
        return result
    finally:
        await server.stop()


async def _run_file(cf: ConversationFile) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="flow-engine-test-") as tmp:
        config = expand_skill_files(cf.config, cf.config_dir, cf.env, Path(tmp))
        conv = LocalConversation(
            config, cf.config_dir, contact=cf.contact.phone, name=cf.contact.name, now=cf.now
        )
        try:
            await conv.start()
        except ConfigurationError:
            await conv.close()
            raise
        return await _run_steps(cf, conv)


async def _run_steps(cf: ConversationFile, conv: LocalConversation) -> RunResult:
    result = RunResult(ok=True)
    try:
        for number, step in enumerate(cf.steps, 1):
            if step.wait is not None:
                conv.set_time(conv.now + wait_of(step.wait))
            try:
                replies = await _act(conv, step)
            except LookupError as exc:
                problems, replies = [str(exc)], []
            else:
                problems = check_step(conv, step, replies)
            result.steps_run = number
            result.transcript += [r.text for r in replies]
            result.skill_failures += [(number, failure_lines(f)) for f in conv.failed]
            if problems:
                result.ok = False
                result.failure = _step_report(
                    number, step, replies, problems, result.skill_failures
                )
                break
    finally:
        await conv.close()
    return result


async def _act(conv: LocalConversation, step: TestStep) -> list[Reply]:
    """Do what the step says; ``LookupError`` when it cannot be done (no such option,
    no ticket for the attendant)."""
    if step.send is not None:
        return await conv.send(step.send)
    if step.tap is not None:
        try:
            return await conv.tap(step.tap)
        except LookupError as exc:
            raise LookupError(f"cannot tap: {exc}") from None
    if step.attendant is not None:
        return await conv.attendant(*attendant_action(step.attendant))
    return await conv.run_due()  # only time passed


# -------------------------------------------------------------------------- CLI
def collect(paths: Sequence[Path]) -> list[Path]:
    """Files given, and ``*.test.yaml`` under folders given (recursively, sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob(f"*{SUFFIX}") if p.is_file())
        else:
            out.append(path)
    return out


async def run_files(paths: Sequence[Path], out: Any = sys.stdout) -> int:
    files = collect(paths)
    if not files:
        print("no conversation files found", file=out)
        return 1
    failed = 0
    for path in files:
        try:
            result = await run_conversation(load_conversation_file(path))
        except ConfigurationError as exc:
            result = RunResult(ok=False, failure=exc.message)
        if result.ok:
            print(f"PASS {path}", file=out)
            for at, failure in result.skill_failures:  # passed, but say so
                print(f"  note: step {at}: {failure[0]}", file=out)
        else:
            failed += 1
            print(f"FAIL {path}", file=out)
            print(_indent(result.failure or "", "  "), file=out)
    print(f"{len(files) - failed} passed, {failed} failed", file=out)
    return 1 if failed else 0


def _main(args: argparse.Namespace) -> int:
    from flow_engine.devtools.terminal import configure_tool_logging

    configure_tool_logging("warning")
    return asyncio.run(run_files([Path(p) for p in args.paths]))


def register_cli(subparsers: Any) -> None:
    """Add ``flow-engine test PATH…`` to the command line."""
    parser = subparsers.add_parser(
        "test", help="run conversation files (*.test.yaml, folders searched recursively)"
    )
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.set_defaults(func=_main)
