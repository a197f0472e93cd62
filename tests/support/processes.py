"""Engine processes started as real OS processes, for multi-process and crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from flow_engine.devtools.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


class EngineProcess:
    def __init__(
        self,
        env: dict[str, str],
        module: str = "tests.support.engine_proc",
        args: tuple[str, ...] = (),
    ) -> None:
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
        self.wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"engine exited with {self.proc.returncode}: {self.output()}")
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
