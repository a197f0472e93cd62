"""The server a conversation file names (``serve: python ../server.py --port 0``).

``flow-engine test`` and the pytest plugin start the command before the file's steps
and stop it after them, so an HTTP skill is tested without a second terminal:

- the command runs in the conversation file's folder, without a shell (split like a
  shell would); ``python`` / ``python3`` is the Python running flow-engine, so the
  server finds the same packages (aiohttp);
- the server must print its base URL (``http://127.0.0.1:PORT``) on its standard
  output, on the first line that holds an ``http://`` or ``https://`` URL, within
  :data:`START_TIMEOUT_S` seconds; with ``--port 0`` it binds a free port and says which;
- the file reads the URL as ``${SERVE_URL}`` (``url: "${SERVE_URL}/skill"``);
- at the end the process group gets SIGTERM, then SIGKILL if it lingers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import sys
from collections import deque
from pathlib import Path

from flow_engine.errors import ConfigurationError

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
URL = re.compile(r"https?://[^\s\"'<>]+")
PYTHONS = ("python", "python3")


def argv_of(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ConfigurationError(f"serve: {command!r}: {exc}") from None
    if not argv:
        raise ConfigurationError("serve: the command is empty")
    if argv[0] in PYTHONS:
        argv[0] = sys.executable
    return argv


class SkillServer:
    """One started server; :meth:`start` returns its URL, :meth:`stop` ends it."""

    def __init__(self, command: str, cwd: Path) -> None:
        self.command = command
        self.cwd = cwd
        self.url = ""
        #: the exit code once it ended (on its own, or stopped)
        self.returncode: int | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._drains: list[asyncio.Task[None]] = []
        #: the last lines the server wrote (both streams), for a failure report
        self.output: deque[str] = deque(maxlen=30)

    async def start(self) -> str:
        argv = argv_of(self.command)
        try:
            self._process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: stopped with its children
            )
        except OSError as exc:
            raise ConfigurationError(f"serve: cannot start {self.command!r}: {exc}") from None
        assert self._process.stdout is not None and self._process.stderr is not None
        self._drains.append(asyncio.create_task(self._drain(self._process.stderr)))
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                self.url = await self._read_url(self._process.stdout)
        except TimeoutError:
            await self.stop()
            raise ConfigurationError(
                f"serve: {self.command!r} printed no URL in {START_TIMEOUT_S:.0f}s" + self.tail()
            ) from None
        except ConfigurationError:
            await self.stop()
            raise
        self._drains.append(asyncio.create_task(self._drain(self._process.stdout)))
        return self.url

    async def _read_url(self, stream: asyncio.StreamReader) -> str:
        while True:
            raw = await stream.readline()
            if not raw:
                assert self._process is not None
                code = await self._process.wait()
                await asyncio.sleep(0.05)  # let stderr's last lines arrive
                raise ConfigurationError(
                    f"serve: {self.command!r} exited (code {code}) before printing its URL"
                    + self.tail()
                )
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            found = URL.search(line)
            if found:
                return found.group(0).rstrip("/.,;")

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while raw := await stream.readline():
            self.output.append(raw.decode(errors="replace").rstrip())

    def tail(self) -> str:
        """The server's last lines, indented, for a report (empty if it said nothing)."""
        if not self.output:
            return ""
        return "; it wrote:\n" + "\n".join(f"    {line}" for line in self.output)

    async def ended(self, within: float = 0.5) -> bool:
        """Whether the server has exited (waiting up to ``within`` seconds to learn it),
        its last lines read."""
        process = self._process
        if process is None:
            return True
        try:
            async with asyncio.timeout(within):
                await process.wait()
        except TimeoutError:
            return False
        await asyncio.wait(self._drains, timeout=within)
        return True

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            self._signal(process, signal.SIGTERM)
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await process.wait()
            except TimeoutError:
                self._signal(process, signal.SIGKILL)
                await process.wait()
        if process is not None:
            self.returncode = process.returncode
        for task in self._drains:
            task.cancel()
        await asyncio.gather(*self._drains, return_exceptions=True)
        self._drains = []

    @staticmethod
    def _signal(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
