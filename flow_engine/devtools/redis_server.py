"""A throwaway redis-server on a free loopback port (no persistence), for tests and benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from flow_engine.storage.embedded import find_redis_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """``redis-server`` started on ``127.0.0.1:<free port>``; :meth:`stop` removes its dir."""

    def __init__(self) -> None:
        binary = find_redis_server() or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RuntimeError("redis-server is not installed: run scripts/ensure-redis")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="fe-redis-"))
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if self.command(b"PING").startswith(b"+PONG"):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, inline: bytes) -> bytes:
        """One inline command, its raw reply (enough for PING, FLUSHALL, DBSIZE)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(inline + b"\r\n")
            return s.recv(4096)

    def info(self, section: str) -> str:
        """``INFO <section>`` as text (a bulk reply of any length)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"INFO " + section.encode() + b"\r\n")
            buf = b""
            while b"\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("redis closed the connection")
                buf += chunk
            head, _, rest = buf.partition(b"\r\n")
            if not head.startswith(b"$"):
                raise OSError(f"unexpected INFO reply {head!r}")
            size = int(head[1:])
            while len(rest) < size:
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("redis closed the connection")
                rest += chunk
            return rest[:size].decode()

    def commandstats(self) -> dict[str, int]:
        """Calls per command since the start (``INFO commandstats``). Commands that a Lua
        script runs are counted too, under their own name, besides the ``evalsha``."""
        out: dict[str, int] = {}
        for line in self.info("commandstats").splitlines():
            if not line.startswith("cmdstat_"):
                continue
            name, _, fields = line[len("cmdstat_") :].partition(":")
            for field in fields.split(","):
                key, _, value = field.partition("=")
                if key == "calls":
                    out[name] = int(value)
        return out

    def flushall(self) -> None:
        reply = self.command(b"FLUSHALL")
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"FLUSHALL failed: {reply!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
