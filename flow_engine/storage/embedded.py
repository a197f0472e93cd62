"""The embedded store: a ``redis-server`` the engine starts, owns and stops, keeping its
data append-only in one directory (``FLOW_ENGINE_DATA_DIR``, ``.data/`` by default).

The directory holds::

    flow-engine.lock   locked (flock) by the engine owning the directory; holds its pid
    redis.conf         the server's configuration, written at every start
    redis.sock         the server's unix socket: no TCP port (nothing to clash with,
                       nothing reachable from the network), only this user may connect
    redis.pid          the server's pid, written by redis-server
    redis.log          the server's log
    appendonlydir/     the append-only files (``appendonly.aof`` before Redis 7)

Persistence is ``appendonly yes`` with ``appendfsync everysec``. A crash or ``kill -9`` of
the engine loses nothing: its server runs on until the next start shuts it down cleanly.
Redis writes each change to the file before it answers and fsyncs every second, so a
crash of redis-server itself, of the operating system, or a power cut loses at most the
last second or two. ``always`` would make every conversation turn wait for the disk; where
that second matters, an external Redis (``FLOW_ENGINE_REDIS_URL``) is the answer.

One engine owns a directory at a time; a second one is refused while the first holds the
lock. The lock is the kernel's, so it is released when its holder dies, even by
``kill -9``. The redis-server such an engine leaves behind is found by the next owner
through its socket (or its pid file), shut down (it flushes what it has), and replaced by a
fresh server of the new owner: never two servers on one directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import structlog

from flow_engine.errors import ConfigurationError

log = structlog.get_logger()

LOCK_FILE = "flow-engine.lock"
CONF_FILE = "redis.conf"
SOCKET_FILE = "redis.sock"
PID_FILE = "redis.pid"
LOG_FILE = "redis.log"
#: A unix socket path holds at most 107 bytes on Linux and 103 on macOS.
MAX_SOCKET_PATH = 100
#: Loading a large append-only file takes a while; a leftover server may take as long.
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
POLL_S = 0.05

MISSING_BINARY = (
    "redis-server not found on PATH: the embedded store (FLOW_ENGINE_STORE=embedded, the "
    "development default) needs it: install redis-server (apt-get install redis-server, "
    "brew install redis; `make run` does it for you), or set "
    "FLOW_ENGINE_REDIS_URL=redis://… for an external Redis, or FLOW_ENGINE_STORE=memory "
    "to keep nothing across restarts"
)


def find_redis_server() -> str | None:
    return shutil.which("redis-server")


class EmbeddedRedis:
    """The redis-server of one data directory, owned by this process while started.

    Building one only checks what can be checked without side effects (the binary, the
    socket path); :meth:`start` takes the directory and starts the server, :meth:`stop`
    (or leaving the ``with`` block) stops it and gives the directory back.
    """

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir.absolute()
        self.socket = self.dir / SOCKET_FILE
        if len(os.fsencode(self.socket)) > MAX_SOCKET_PATH:
            raise ConfigurationError(
                f"FLOW_ENGINE_DATA_DIR {self.dir} is too long for the embedded store's unix "
                f"socket ({SOCKET_FILE} in it must stay under {MAX_SOCKET_PATH} bytes): "
                "choose a shorter path",
                details=["FLOW_ENGINE_DATA_DIR"],
            )
        binary = find_redis_server()
        if binary is None:
            raise ConfigurationError(MISSING_BINARY, details=["FLOW_ENGINE_STORE"])
        self.binary = binary
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None

    @property
    def url(self) -> str:
        return "unix://" + quote(str(self.socket))

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Own the directory, retire a server left by a dead owner, start ours, wait until
        it answers (its data loaded)."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock()
        try:
            self._retire_leftover()
            self._wait_ready(self._spawn())
        except BaseException:
            self.stop()
            raise
        log.info("embedded_store_started", data_dir=str(self.dir), pid=self.pid)

    def stop(self) -> None:
        """Stop our server (SIGTERM: it flushes the append-only file) and free the
        directory. Safe to call more than once."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    log.warning("embedded_store_kill", pid=proc.pid)
                    proc.kill()
                    proc.wait(5)
            log.info("embedded_store_stopped", data_dir=str(self.dir), code=proc.returncode)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def _lock(self) -> None:
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigurationError(
                f"the data dir {self.dir} is in use by another flow-engine (pid {holder}): "
                "stop that one, or give this one its own FLOW_ENGINE_DATA_DIR (processes "
                "that share one store use FLOW_ENGINE_REDIS_URL)",
                details=["FLOW_ENGINE_DATA_DIR"],
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _retire_leftover(self) -> None:
        pid = self._pid_on_socket()
        if pid is None:
            pid = self._pid_in_file()
        if pid is not None:
            log.warning("embedded_store_leftover", data_dir=str(self.dir), pid=pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, STOP_TIMEOUT_S):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                if not _wait_gone(pid, 5):
                    raise ConfigurationError(
                        f"a redis-server left in {self.dir} (pid {pid}) does not stop: "
                        "stop it, then start again"
                    )
        for name in (SOCKET_FILE, PID_FILE):
            with contextlib.suppress(FileNotFoundError):
                (self.dir / name).unlink()

    def _pid_on_socket(self) -> int | None:
        """The pid of the server answering on our socket (it says so itself), if any."""
        try:
            reply = self._ask(b"INFO server")
        except OSError:
            return None
        for line in reply.decode(errors="replace").splitlines():
            if line.startswith("process_id:"):
                return int(line.partition(":")[2])
        return None

    def _pid_in_file(self) -> int | None:
        """The pid of the pid file, if that process is alive and is a redis-server (a pid
        may have been reused since)."""
        try:
            pid = int((self.dir / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        if _alive(pid) and "redis-server" in _command_line(pid):
            return pid
        return None

    def _spawn(self) -> subprocess.Popen[bytes]:
        conf = self.dir / CONF_FILE
        conf.write_text(self._config(), encoding="utf-8")
        # A session of its own: the Ctrl-C of a terminal reaches the engine only, which
        # stops the server after its own shutdown (which still needs the store).
        self.proc = subprocess.Popen(
            [self.binary, str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self.proc

    def _config(self) -> str:
        settings = {
            "dir": str(self.dir),
            "port": "0",
            "unixsocket": str(self.socket),
            "unixsocketperm": "700",
            "appendonly": "yes",
            "appendfsync": "everysec",
            "save": "",
            "pidfile": str(self.dir / PID_FILE),
            "logfile": str(self.dir / LOG_FILE),
            "daemonize": "no",
        }
        lines = [f"{key} {_quoted(value)}" for key, value in settings.items()]
        return "# written by flow-engine at every start; edits are overwritten\n" + "\n".join(
            lines
        )

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            code = proc.poll()
            if code is not None:
                raise ConfigurationError(
                    f"redis-server of the embedded store exited at start (code {code}): "
                    f"{self._last_log_line()} (log: {self.dir / LOG_FILE})"
                )
            with contextlib.suppress(OSError):
                if self._ask(b"PING").startswith(b"+PONG"):
                    return
            if time.monotonic() > deadline:
                raise ConfigurationError(
                    f"redis-server of the embedded store did not answer within "
                    f"{START_TIMEOUT_S:.0f} s (log: {self.dir / LOG_FILE})"
                )
            time.sleep(POLL_S)

    def _ask(self, inline: bytes) -> bytes:
        """One inline command on the socket: a status or error line, or a bulk's body."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2.0)
            s.connect(str(self.socket))
            s.sendall(inline + b"\r\n")
            reply = b""
            while b"\r\n" not in reply:
                reply += _recv(s)
            head, _, rest = reply.partition(b"\r\n")
            if not head.startswith(b"$"):
                return head
            size = int(head[1:])
            while len(rest) < size:
                rest += _recv(s)
            return rest[:size]

    def _last_log_line(self) -> str:
        try:
            lines = (self.dir / LOG_FILE).read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "empty log"


def _recv(s: socket.socket) -> bytes:
    chunk = s.recv(65536)
    if not chunk:
        raise ConnectionResetError("redis closed the connection")
    return chunk


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purpose (its parent did not reap it yet)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        pass
    try:  # no /proc (macOS)
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.decode(errors="replace")
