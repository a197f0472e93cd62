"""``flow-engine chat CONFIG_FILE``: talk to a number's configuration in a terminal.

Runs :class:`~flow_engine.devtools.conversation.LocalConversation` (the real
engine on the memory store and a recording gateway). Replies are printed with
their options numbered; a bare number answers the last menu. Commands:
``/reset``, ``/time 2026-12-25T09:00`` (naive: the number's time zone),
``/state``, the attendant's ``/take``, ``/say TEXT``, ``/close`` and
``/transfer QUEUE`` (through the real desk service), ``/save FILE`` (the session
as a conversation file), ``/quit``, ``/help``. Input may be piped from a file:
then no prompt is printed and each line read is echoed, so the output reads as a
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

from flow_engine.devtools.conversation import LocalConversation
from flow_engine.devtools.convtest import SUFFIX, expand_skill_files
from flow_engine.devtools.replies import Reply
from flow_engine.devtools.session_file import Session
from flow_engine.devtools.terminal import configure_tool_logging, failure_lines, paint
from flow_engine.engine.configs import read_config_file
from flow_engine.engine.skills.dispatch import FailureReport
from flow_engine.errors import ConfigurationError

HELP = (
    "type a message; a number answers the last menu. /reset  /time 2026-12-25T09:00  "
    "/state  attendant: /take  /say TEXT  /close  /transfer QUEUE  /save FILE  /quit"
)
ATTENDANT_COMMANDS = {"/take": "take", "/say": "say", "/close": "close", "/transfer": "transfer"}


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


class Chat:
    """One terminal session: the conversation, and what it did (for ``/save``)."""

    def __init__(self, conv: LocalConversation, config_file: Path, out: TextIO) -> None:
        self.conv = conv
        self.config_file = config_file
        self.out = out
        self.session = self._begin()

    def _begin(self) -> Session:
        return Session.begin(self.config_file, self.conv.contact, self.conv.name, self.conv.now)

    def say(self, text: str) -> None:
        print(f"  {text}", file=self.out)

    async def message(self, text: str) -> None:
        """A line that is not a command: a text, or a number that taps the last menu."""
        conv, before = self.conv, self.conv.now
        menu = conv.last_menu()
        typed = text.strip()
        try:
            if (
                menu is not None
                and typed.isascii()
                and typed.isdigit()
                and 1 <= int(typed) <= len(menu.options)
            ):
                action: dict[str, Any] = {"tap": int(typed)}
                replies = await conv.tap(int(typed))
            else:
                action = {"send": text}
                replies = await conv.send(text)
        except LookupError as exc:
            self.say(str(exc))
            return
        show(replies, self.out, conv.failed)
        self.session.record(action, replies, conv.state, before)

    async def command(self, line: str) -> bool:
        """Run a ``/command``; False for ``/quit``."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        conv = self.conv
        if name in ("/quit", "/exit", "/q"):
            return False
        if name == "/reset":
            conv.reset()
            self.session = self._begin()
            self.say("(conversation reset)")
        elif name == "/time":
            await self.time(arg)
        elif name == "/state":
            self.state()
        elif name in ATTENDANT_COMMANDS:
            await self.attendant(ATTENDANT_COMMANDS[name], arg)
        elif name == "/save":
            self.save(arg)
        else:
            self.say(HELP)
        return True

    async def time(self, arg: str) -> None:
        conv = self.conv
        if arg:
            try:
                conv.set_time(datetime.fromisoformat(arg))
            except ValueError:
                self.say(f"bad time {arg!r}: use 2026-12-25T09:00")
                return
            self.say(f"(now {conv.now.isoformat(timespec='minutes')})")
            due = await conv.run_due()
            if due or conv.failed:
                show(due, self.out, conv.failed)
            self.session.moved(conv.now, due, conv.state)
        else:
            self.say(f"(now {conv.now.isoformat(timespec='minutes')})")

    def state(self) -> None:
        conv = self.conv
        self.say(f"state: {conv.state}")
        skill = conv.skill
        if skill:
            self.say(f"skill: {skill.get('point')} ({skill.get('kind')})")
            variables = json.dumps(conv.skill_vars, ensure_ascii=False, sort_keys=True)
            self.say(f"skill variables: {variables}")
        else:
            self.say("skill: none")

    async def attendant(self, action: str, arg: str) -> None:
        if action in ("say", "transfer") and not arg:
            self.say(f"/{action} needs {'a text' if action == 'say' else 'a queue'}")
            return
        before = self.conv.now
        try:
            replies = await self.conv.attendant(action, arg)
        except LookupError as exc:
            self.say(str(exc))
            return
        show(replies, self.out, self.conv.failed)
        step = action if not arg else f'{action} "{arg}"' if action == "say" else f"{action} {arg}"
        self.session.record({"attendant": step}, replies, self.conv.state, before)

    def save(self, arg: str) -> None:
        if not arg:
            self.say("/save needs a file name, e.g. /save tests/my.test.yaml")
            return
        target = Path(arg)
        try:
            self.session.save(target)
        except (ValueError, OSError) as exc:
            self.say(f"not saved: {exc}")
            return
        self.say(
            f"(saved {len(self.session.steps)} steps to {target}; run: flow-engine test {arg})"
        )
        for note in self.session.notes:
            self.say(f"note: {note}")
        if not target.name.endswith(SUFFIX):
            self.say(f"note: flow-engine test finds files ending in {SUFFIX} in folders")


async def chat(
    conv: LocalConversation,
    stdin: TextIO,
    out: TextIO,
    *,
    interactive: bool,
    config_file: Path | None = None,
) -> int:
    """The loop: one input line at a time, until ``/quit`` or the end of input."""
    session = Chat(conv, config_file or Path("config.yaml"), out)
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
                if not await session.command(text.strip()):
                    break
            else:
                await session.message(text)
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
            config_file = Path(args.config_file)
            return await chat(conv, stdin, out, interactive=interactive, config_file=config_file)

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
