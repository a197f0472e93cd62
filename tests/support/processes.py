"""Engine processes started as real OS processes, for multi-process and crash tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from flow_engine.devtools.redis_server import free_port
from flow_engine.storage.keys import KeyBuilder, partition_of
from flow_engine.storage.redis_backend import RedisBackend
from tests.support.harness import APP_SECRET, DEMO_NUMBER, TOKEN

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 8


def process_env(redis_url: str, gateway_url: str, config_dir: Path) -> dict[str, str]:
    """The environment of an engine process on ``redis_url`` (a server or a cluster)."""
    return {
        "FLOW_ENGINE_ENV": "production",
        "FLOW_ENGINE_REDIS_URL": redis_url,
        "FLOW_ENGINE_WHATSAPP_API_URL": gateway_url,
        "FLOW_ENGINE_WHATSAPP_TOKEN": TOKEN,
        "FLOW_ENGINE_WHATSAPP_APP_SECRET": APP_SECRET,
        "FLOW_ENGINE_WHATSAPP_VERIFY_TOKEN": "verify-me",
        "FLOW_ENGINE_ADMIN_TOKEN": "admin-token",
        "FLOW_ENGINE_CONFIG_DIR": str(config_dir),
        "FLOW_ENGINE_PARTITIONS": str(PARTITIONS),
        "FLOW_ENGINE_LEASE_TTL_MS": "1000",
        "FLOW_ENGINE_SEND_RATE_PER_SECOND": "1000",
    }


async def lease_holders(redis_url: str) -> list[str | None]:
    """The owner of each partition's lease (None: free), on a server or a cluster."""
    backend = RedisBackend.from_url(redis_url, partitions=PARTITIONS)
    keys = KeyBuilder()
    try:
        raw = [await backend.r.get(keys.lease(p)) for p in range(PARTITIONS)]
    finally:
        await backend.close()
    return [None if h is None else h.decode() for h in raw]


async def wait_balanced(redis_url: str, owners: int, within: float = 10.0) -> list[str]:
    """Wait until the partitions are spread over ``owners`` processes; their owner ids."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        holders = await lease_holders(redis_url)
        if all(holders) and len(set(holders)) == owners:
            return sorted({h for h in holders if h})
        await asyncio.sleep(0.1)
    raise AssertionError("partitions never balanced")


async def lease_holder_pid(redis_url: str, contact: str) -> int:
    """The pid of the process that owns ``contact``'s partition (demo number)."""
    owner = (await lease_holders(redis_url))[partition_of(DEMO_NUMBER, contact, PARTITIONS)]
    assert owner is not None
    return int(owner.split(":")[1])


#: What ``flow-engine serve`` says when its port was taken between ``free_port`` and its
#: bind (by another test's process, or an outgoing connection's ephemeral port).
PORT_TAKEN = "the address is already in use"
PORT_TRIES = 3


class PortTaken(RuntimeError):
    """The engine could not listen: the port it was given was taken meanwhile."""


class EngineProcess:
    """An engine process on a free loopback port, ready to serve; one whose port was
    taken before it could listen starts again on another."""

    def __init__(
        self,
        env: dict[str, str],
        module: str = "tests.support.engine_proc",
        args: tuple[str, ...] = (),
    ) -> None:
        for attempt in range(PORT_TRIES):
            self._start(env, module, args)
            try:
                self.wait_ready()
                return
            except BaseException as exc:
                self.stop()
                if not isinstance(exc, PortTaken) or attempt == PORT_TRIES - 1:
                    raise

    def _start(self, env: dict[str, str], module: str, args: tuple[str, ...]) -> None:
        self.port = free_port()
        full = {
            **os.environ,
            **env,
            "FLOW_ENGINE_PORT": str(self.port),
            "FLOW_ENGINE_HOST": "127.0.0.1",
        }
        self.log = open(  # noqa: SIM115 - closed in stop()
            Path(os.environ.get("TMPDIR", "/tmp")) / f"fe-engine-{self.port}.log", "wb"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=full,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                output = self.output()
                if PORT_TAKEN in output:
                    raise PortTaken(f"port {self.port} was taken: {output}")
                raise RuntimeError(f"engine exited with {self.proc.returncode}: {output}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=0.5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("engine did not become ready: " + self.output())

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> float:
        """SIGTERM (a graceful stop), SIGKILL after 15 s; returns how long it took."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not self.log.closed:
            self.log.close()
        return time.monotonic() - started
