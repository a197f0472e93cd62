"""A throwaway redis-server on a free loopback port, for tests and benchmarks: without
persistence by default, or append-only (``persistent=True``); it can be killed, restarted
on the same port and directory, and frozen, to test what the engine does meanwhile."""

from __future__ import annotations

import os
import shutil
import signal
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


def inline_command(port: int, inline: bytes) -> bytes:
    """One inline command to ``127.0.0.1:port``, its raw reply (enough for PING, FLUSHALL,
    DBSIZE, CLUSTER INFO)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(inline + b"\r\n")
        return s.recv(4096)


def info(port: int, section: str) -> str:
    """``INFO <section>`` of ``127.0.0.1:port`` as text (a bulk reply of any length)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
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


def server_pid(port: int) -> int | None:
    """The ``process_id`` of the redis-server answering on ``127.0.0.1:port``."""
    for line in info(port, "server").splitlines():
        if line.startswith("process_id:"):
            return int(line.partition(":")[2])
    return None


def answers_as(port: int, proc: subprocess.Popen[bytes]) -> bool:
    """Whether ``proc`` itself answers on ``port``. A PONG alone proves nothing: when
    another process took the port between :func:`free_port` and the server's bind (or
    while a killed server was down), ``proc`` exits with "address in use" and the PONG
    comes from that other server, whose data a test would then share."""
    return inline_command(port, b"PING").startswith(b"+PONG") and server_pid(port) == proc.pid


def commandstats(port: int) -> dict[str, int]:
    """Calls per command of ``127.0.0.1:port`` since its start (``INFO commandstats``)."""
    out: dict[str, int] = {}
    for line in info(port, "commandstats").splitlines():
        if not line.startswith("cmdstat_"):
            continue
        name, _, fields = line[len("cmdstat_") :].partition(":")
        for field in fields.split(","):
            key, _, value = field.partition("=")
            if key == "calls":
                out[name] = int(value)
    return out


#: free ports tried before giving up (each lost only to a race with another process)
PORT_ATTEMPTS = 5


class RedisServer:
    """``redis-server`` started on ``127.0.0.1:<free port>``; :meth:`stop` removes its dir.

    With ``persistent`` it keeps its data append-only (``appendonly yes``) and syncs the
    file on every write (``appendfsync always``), so :meth:`kill` followed by :meth:`start`
    loses nothing it acknowledged — a test of the engine then never depends on the
    second that ``everysec`` may lose when its background sync is slow; without
    ``persistent`` a restart comes back empty."""

    def __init__(self, *, persistent: bool = False) -> None:
        self.binary = find_redis_server() or "/usr/bin/redis-server"
        if not Path(self.binary).exists():
            raise RuntimeError("redis-server is not installed: run scripts/ensure-redis")
        self.persistent = persistent
        self.dir = Path(tempfile.mkdtemp(prefix="fe-redis-"))
        self.frozen = False
        for _ in range(PORT_ATTEMPTS):
            self.port = free_port()
            if self._launch():
                return
        shutil.rmtree(self.dir, ignore_errors=True)
        raise RuntimeError(f"redis-server did not start on any of {PORT_ATTEMPTS} free ports")

    def start(self) -> None:
        """Start the server again, after :meth:`kill`, on the same port and directory."""
        if not self._launch():
            raise RuntimeError(
                f"redis-server did not start again on port {self.port}"
                " (another process may have taken the port while it was down)"
            )

    def _launch(self) -> bool:
        """Run the server on :attr:`port`; False when it did not come up as itself."""
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent
            else ["--appendonly", "no"]
        )
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *persistence,
                "--dir",
                str(self.dir),
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.frozen = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if answers_as(self.port, self.proc):
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        self._end_process()
        return False

    def kill(self) -> None:
        """SIGKILL: the server dies at once, flushing nothing more (what it acknowledged is
        in its append-only file when persistent)."""
        if self.frozen:
            self.thaw()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def freeze(self) -> None:
        """SIGSTOP: connections are accepted by the kernel, nothing is answered."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def pids(self) -> list[int]:
        return [self.proc.pid]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, inline: bytes) -> bytes:
        """One inline command, its raw reply (enough for PING, FLUSHALL, DBSIZE)."""
        return inline_command(self.port, inline)

    def info(self, section: str) -> str:
        """``INFO <section>`` as text (a bulk reply of any length)."""
        return info(self.port, section)

    def commandstats(self) -> dict[str, int]:
        """Calls per command since the start (``INFO commandstats``). Commands that a Lua
        script runs are counted too, under their own name, besides the ``evalsha``."""
        return commandstats(self.port)

    def flushall(self) -> None:
        reply = self.command(b"FLUSHALL")
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"FLUSHALL failed: {reply!r}")

    def stop(self) -> None:
        self._end_process()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _end_process(self) -> None:
        if self.frozen and self.proc.poll() is None:
            self.thaw()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
