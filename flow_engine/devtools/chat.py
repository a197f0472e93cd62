"""``flow-engine chat CONFIG_FILE``: talk to a number's configuration in a terminal.

Runs :class:`~flow_engine.devtools.conversation.LocalConversation` (the real
engine on the memory store and a recording gateway). Replies are printed with
their options numbered; a bare number answers the last menu. Commands:
``/reset``, ``/time 2026-12-25T09:00`` (naive: the number's time zone),
``/state``, ``/quit``, ``/help``. Input may be piped from a file: then no
prompt is printed and each line read is echoed, so the output reads as a
transcript. A skill failure is printed inline (``! skill failed at …``, with the
traceback's last frames when a Python skill raised), in red on a terminal only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from flow_engine.devtools.conversation import LocalConversation, Reply
from flow_engine.devtools.convtest import expand_skill_files
from flow_engine.devtools.terminal import configure_tool_logging, failure_lines, paint
from flow_engine.engine.configs import read_config_file
from flow_engine.engine.skills.dispatch import FailureReport
from flow_engine.errors import ConfigurationError

HELP = (
    "type a message; a number answers the last menu. /reset  /time 2026-12-25T09:00  /state  /quit"
)


def show(replies: list[Reply], out: TextIO, failed: list[FailureReport] | None = None) -> None:
    """Skill failures first (where the base flow took over), then the replies."""
    for failure in failed or []:
        for line in failure_lines(failure):
            print(paint(f"  ! {line}", out), file=out)
    for reply in replies:
        for line in reply.text.splitlines() or [""]:
            print(f"< {line}", file=out)
    if not replies:
        print("  (no reply)", file=out)


async def command(conv: LocalConversation, line: str, out: TextIO) -> bool:
    """Run a ``/command``; False for ``/quit``."""
    name, _, arg = line.partition(" ")
    arg = arg.strip()
    if name in ("/quit", "/exit", "/q"):
        return False
    if name == "/reset":
        conv.reset()
        print("  (conversation reset)", file=out)
    elif name == "/time":
        if arg:
            try:
                conv.set_time(datetime.fromisoformat(arg))
            except ValueError:
                print(f"  bad time {arg!r}: use 2026-12-25T09:00", file=out)
                return True
            print(f"  (now {conv.now.isoformat(timespec='minutes')})", file=out)
            show_due = await conv.run_due()
            if show_due or conv.failed:
                show(show_due, out, conv.failed)
        else:
            print(f"  (now {conv.now.isoformat(timespec='minutes')})", file=out)
    elif name == "/state":
        print(f"  state: {conv.state}", file=out)
        skill = conv.skill
        if skill:
            print(f"  skill: {skill.get('point')} ({skill.get('kind')})", file=out)
            variables = json.dumps(conv.skill_vars, ensure_ascii=False, sort_keys=True)
            print(f"  skill variables: {variables}", file=out)
        else:
            print("  skill: none", file=out)
    else:
        print(f"  {HELP}", file=out)
    return True


async def chat(conv: LocalConversation, stdin: TextIO, out: TextIO, *, interactive: bool) -> int:
    """The loop: one input line at a time, until ``/quit`` or the end of input."""
    if interactive:
        print(f"  chatting with {conv.config.name} as {conv.name} — {HELP}", file=out)
    try:
        while True:
            if interactive:
                print("> ", end="", file=out, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            text = line.rstrip("\r\n")
            if not interactive:
                print(f"> {text}", file=out)
            if not text.strip():
                continue
            if text.startswith("/"):
                if not await command(conv, text.strip(), out):
                    break
                continue
            try:
                menu = conv.last_menu()
                typed = text.strip()
                if menu is not None and typed.isdigit() and 1 <= int(typed) <= len(menu.options):
                    replies = await conv.tap(int(typed))
                else:
                    replies = await conv.send(text)
            except LookupError as exc:
                print(f"  {exc}", file=out)
                continue
            show(replies, out, conv.failed)
            out.flush()
    finally:
        await conv.close()
    return 0


def read_conversation(args: argparse.Namespace, scratch: Path) -> LocalConversation:
    """The conversation of ``args``; flow files holding ``${NAME}`` are expanded from the
    environment into ``scratch`` (as ``flow-engine test`` does)."""
    path = Path(args.config_file)
    config_dir = path.resolve().parent
    config = expand_skill_files(read_config_file(path), config_dir, os.environ, scratch)
    return LocalConversation(config, config_dir, contact=args.contact, name=args.name)


async def open_conversation(args: argparse.Namespace, scratch: Path) -> LocalConversation:
    """:func:`read_conversation`, its skills loaded (a broken one is named at once)."""
    conv = read_conversation(args, scratch)
    try:
        await conv.start()
    except ConfigurationError:
        await conv.close()
        raise
    return conv


def main(args: argparse.Namespace, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    configure_tool_logging("warning")
    interactive = stdin.isatty()

    async def run() -> int:
        with tempfile.TemporaryDirectory(prefix="flow-engine-chat-") as scratch:
            try:
                conv = await open_conversation(args, Path(scratch))
            except ConfigurationError as exc:
                print(f"flow-engine: {exc.message}", file=sys.stderr)
                return 2
            return await chat(conv, stdin, out, interactive=interactive)

    return asyncio.run(run())


def register_cli(subparsers: Any) -> None:
    """Add ``flow-engine chat CONFIG_FILE`` to the command line."""
    parser = subparsers.add_parser(
        "chat", help="talk to a number's configuration and skills in the terminal"
    )
    parser.add_argument("config_file", metavar="CONFIG_FILE")
    parser.add_argument("--contact", default="5491100000000", help="the contact's phone (wa_id)")
    parser.add_argument("--name", default="Ana", help="the contact's profile name")
    parser.set_defaults(func=main)
