"""A throwaway Redis Cluster of three masters on free loopback ports, for tests and benchmarks.

Three ``redis-server --cluster-enabled yes`` (no persistence) in one temporary directory,
joined by ``redis-cli --cluster create … --cluster-replicas 0``; ready once every node
says ``cluster_state:ok``. Each node's cluster bus port is a free port of its own
(``--cluster-port``), so nothing depends on ``port + 10000`` being free.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flow_engine.devtools.redis_server import (
    PORT_ATTEMPTS,
    answers_as,
    commandstats,
    free_port,
    inline_command,
)
from flow_engine.storage.embedded import find_redis_server

MASTERS = 3


class RedisClusterServer:
    """Three cluster nodes on ``127.0.0.1``; :attr:`url` is ``redis+cluster://…`` of the
    first one (the engine finds the others from it); :meth:`stop` removes the dir."""

    def __init__(self, masters: int = MASTERS, timeout: float = 30.0) -> None:
        binary = find_redis_server() or "/usr/bin/redis-server"
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        if not Path(binary).exists() or not Path(cli).exists():
            raise RuntimeError("redis-server or redis-cli is missing: run scripts/ensure-redis")
        self.dir = Path(tempfile.mkdtemp(prefix="fe-redis-cluster-"))
        self.ports: list[int] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(masters):
                self._start_node(binary, timeout)
            subprocess.run(
                [
                    cli,
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{p}" for p in self.ports),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=timeout,
            )
            self._wait(
                lambda port: b"cluster_state:ok" in inline_command(port, b"CLUSTER INFO"), timeout
            )
        except BaseException:
            self.stop()
            raise

    def _start_node(self, binary: str, timeout: float) -> None:
        """One node, answering as itself: when another process took its port or bus port
        before it bound them, it exits, and the node starts again on other free ports."""
        for _ in range(PORT_ATTEMPTS):
            port, bus = free_port(), free_port()
            while bus == port:
                bus = free_port()
            proc = self._spawn_node(binary, port, bus)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if answers_as(port, proc):
                        self.ports.append(port)
                        self.procs.append(proc)
                        return
                except OSError:
                    pass
                time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)
        raise RuntimeError(f"a cluster node did not start on any of {PORT_ATTEMPTS} free ports")

    def _spawn_node(self, binary: str, port: int, bus: int) -> subprocess.Popen[bytes]:
        node_dir = self.dir / str(port)
        node_dir.mkdir(exist_ok=True)
        options = {
            "port": str(port),
            "cluster-port": str(bus),
            "bind": "127.0.0.1",
            "cluster-enabled": "yes",
            "cluster-config-file": str(node_dir / "nodes.conf"),
            "cluster-node-timeout": "2000",
            "save": "",
            "appendonly": "no",
            "dir": str(node_dir),
            "protected-mode": "yes",
        }
        argv = [binary]
        for name, value in options.items():
            argv += [f"--{name}", value]
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _wait(self, ok: Callable[[int], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self.ports)
        while pending and time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a cluster node exited with {proc.returncode}")
            still = []
            for port in pending:
                try:
                    if not ok(port):
                        still.append(port)
                except OSError:
                    still.append(port)
            pending = still
            if pending:
                time.sleep(0.05)
        if pending:
            raise RuntimeError(f"cluster nodes {pending} not ready after {timeout:.0f}s")

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def commandstats(self) -> dict[str, int]:
        """Calls per command since the start, summed over the nodes."""
        total: dict[str, int] = {}
        for port in self.ports:
            for name, calls in commandstats(port).items():
                total[name] = total.get(name, 0) + calls
        return total

    def flushall(self) -> None:
        for port in self.ports:
            reply = inline_command(port, b"FLUSHALL")
            if not reply.startswith(b"+OK"):
                raise RuntimeError(f"FLUSHALL on {port} failed: {reply!r}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
