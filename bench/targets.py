"""The targets under test, each its own OS processes: the engine (memory store, Redis,
web + worker processes on Redis, one and two processes on a 3-node Redis Cluster) and the
baseline. Started, probed (/proc: RSS, peak RSS, CPU time) and stopped here."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from flow_engine.devtools.redis_server import free_port

ROOT = Path(__file__).resolve().parents[1]
APP_SECRET = "bench-app-secret"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def source_fingerprint(root: Path = ROOT) -> str:
    """A hash of the engine's source (``<root>/flow_engine/**/*.py``) as it is on disk."""
    h = hashlib.sha1()
    for path in sorted((root / "flow_engine").rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"<unreadable>")
    return h.hexdigest()[:12]


def snapshot_engine(config_dir: Path, into: Path) -> tuple[Path, Path]:
    """Copy ``flow_engine/`` and the configuration directory into ``into``: the engine
    targets run that copy (``python -m flow_engine`` with ``into`` as the working
    directory imports it first), so an edit of the checkout during a run cannot give
    the targets different code. Returns (engine root, configuration directory)."""
    root = into / "engine"
    shutil.copytree(
        ROOT / "flow_engine",
        root / "flow_engine",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    config = root / "config"
    shutil.copytree(config_dir, config)
    return root, config


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (now) and ``VmHWM`` (peak) of a process, in KiB."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0])
    return out


@dataclass
class TargetSpec:
    name: str
    label: str
    kind: str  # "engine" or "baseline"
    store: str  # "memory", "redis" or "cluster"
    env: dict[str, str] = field(default_factory=dict)  # more FLOW_ENGINE_* for the engine
    #: one engine process per role (``flow-engine serve --role``); webhooks go to the
    #: ``all`` and ``web`` ones, spread by contact like a load balancer would
    roles: tuple[str, ...] = ("all",)
    #: the engine's configuration directory instead of the run's (relative to the
    #: checkout), the replies a message gets, and whether every message is a new
    #: contact's first
    config_dir: str | None = None
    replies: int = 1
    fresh_contacts: bool = False


NO_FACTS = {"FLOW_ENGINE_DATA_FACTS": "false"}
TARGETS = {
    "baseline": TargetSpec("baseline", "baseline (aiohttp+Redis)", "baseline", "redis"),
    "memory": TargetSpec("memory", "engine, memory store", "engine", "memory"),
    "memory-nofacts": TargetSpec(
        "memory-nofacts", "memory, no data facts", "engine", "memory", NO_FACTS
    ),
    "redis": TargetSpec("redis", "engine, Redis store", "engine", "redis"),
    "redis-nofacts": TargetSpec(
        "redis-nofacts", "Redis, no data facts", "engine", "redis", NO_FACTS
    ),
    "redis-demo": TargetSpec(
        "redis-demo",
        "Redis, demo flow (2 replies)",
        "engine",
        "redis",
        config_dir="fixtures",
        replies=2,
        fresh_contacts=True,
    ),
    "roles": TargetSpec(
        "roles", "engine web + worker", "engine", "redis", roles=("web", "worker")
    ),
    "cluster": TargetSpec("cluster", "engine, 3-node cluster", "engine", "cluster"),
    "cluster2": TargetSpec(
        "cluster2", "2 engines, 3-node cluster", "engine", "cluster", roles=("all", "all")
    ),
}
#: the targets a run has, in the order of the table
ORDER = (
    "baseline",
    "memory",
    "memory-nofacts",
    "redis",
    "redis-nofacts",
    "redis-demo",
    "roles",
    "cluster",
    "cluster2",
)


@dataclass
class TargetProcess:
    """One started target; ``url`` is its webhook endpoint."""

    spec: TargetSpec
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)
    role: str = "all"

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.spec.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.spec.name} not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@dataclass
class TargetGroup:
    """The processes of one target: probed together, stopped together. Webhooks go to
    :attr:`ports` (the processes that answer them)."""

    spec: TargetSpec
    procs: list[TargetProcess]

    @property
    def pid(self) -> int:
        return self.procs[0].pid

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    @property
    def ports(self) -> list[int]:
        return [p.port for p in self.procs if p.role != "worker"]

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.procs[0].log_path

    @property
    def log_paths(self) -> list[Path]:
        return [p.log_path for p in self.procs]

    def stop(self) -> int | None:
        """Stop every process; the first non-zero exit code (or 0)."""
        codes = [p.stop() for p in self.procs]
        return next((c for c in codes if c), codes[0] if codes else None)


def engine_env(
    *, port: int, redis_url: str, sink_url: str, token: str, config_dir: Path
) -> dict[str, str]:
    """What ``flow-engine serve`` gets: a production start with bench secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOW_ENGINE_")}
    env.update(
        {
            "FLOW_ENGINE_ENV": "production",
            "FLOW_ENGINE_HOST": "127.0.0.1",
            "FLOW_ENGINE_PORT": str(port),
            "FLOW_ENGINE_STORE": "redis" if redis_url else "memory",
            "FLOW_ENGINE_REDIS_URL": redis_url,
            "FLOW_ENGINE_WHATSAPP_API_URL": sink_url,
            "FLOW_ENGINE_WHATSAPP_TOKEN": token,
            "FLOW_ENGINE_WHATSAPP_APP_SECRET": APP_SECRET,
            "FLOW_ENGINE_WHATSAPP_VERIFY_TOKEN": "bench-verify-token",
            "FLOW_ENGINE_ADMIN_TOKEN": "bench-admin-token",
            "FLOW_ENGINE_CONFIG_DIR": str(config_dir),
            "FLOW_ENGINE_MARK_READ": "false",
            "FLOW_ENGINE_SEND_RATE_PER_SECOND": "100000",
            "FLOW_ENGINE_LOG_FORMAT": "json",
        }
    )
    return env


def start_target(
    spec: TargetSpec,
    *,
    redis_url: str,
    sink_url: str,
    token: str,
    config_dir: Path,
    log_dir: Path,
    engine_root: Path = ROOT,
) -> TargetGroup:
    """Every process of ``spec``, each ready (a failed start stops those started)."""
    procs: list[TargetProcess] = []
    try:
        for i, role in enumerate(spec.roles if spec.kind == "engine" else ("all",)):
            name = spec.name if len(spec.roles) == 1 else f"{spec.name}-{i + 1}-{role}"
            procs.append(
                _start_process(
                    spec,
                    role,
                    log_dir / f"{name}.log",
                    redis_url=redis_url,
                    sink_url=sink_url,
                    token=token,
                    config_dir=config_dir,
                    engine_root=engine_root,
                )
            )
    except BaseException:
        for p in procs:
            p.stop()
        raise
    return TargetGroup(spec, procs)


def _start_process(
    spec: TargetSpec,
    role: str,
    log_path: Path,
    *,
    redis_url: str,
    sink_url: str,
    token: str,
    config_dir: Path,
    engine_root: Path,
) -> TargetProcess:
    port = free_port()
    if spec.kind == "engine":
        # ``python -m flow_engine serve`` runs the same ``flow_engine.cli:main`` as the
        # ``flow-engine`` console script, with ``engine_root`` (the checkout, or the copy
        # of it taken at the start of the run) first on sys.path, so neither a stale
        # editable install nor an edit of the checkout during the run changes the code.
        argv = [sys.executable, "-m", "flow_engine", "serve"]
        env = engine_env(
            port=port,
            redis_url=redis_url if spec.store != "memory" else "",
            sink_url=sink_url,
            token=token,
            config_dir=config_dir,
        )
        env.update(spec.env)
        env["FLOW_ENGINE_ROLE"] = role
    else:
        argv = [
            sys.executable,
            "-m",
            "bench.baseline",
            "--port",
            str(port),
            "--redis-url",
            redis_url.split("?")[0],
            "--sink-url",
            sink_url,
            "--app-secret",
            APP_SECRET,
            "--token",
            token,
        ]
        env = dict(os.environ)
    cwd = engine_root if spec.kind == "engine" else ROOT
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    target = TargetProcess(spec, proc, port, log_path, role=role)
    target.wait_ready()
    return target


def new_log_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="fe-bench-logs-"))
