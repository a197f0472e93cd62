"""Probes around a target: CPU over a window, its log's problems, py-spy, the machine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.targets import CLOCK_TICKS, ROOT, TargetGroup, cpu_seconds


def machine_busy_seconds() -> float:
    """CPU time every process of the machine used so far, all cores (``/proc/stat``:
    user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


class CpuMeter:
    """CPU time of the target, redis-server and this process over a phase's window, and
    of everything else on the machine (``other``: a test suite run meanwhile, say). A
    name may stand for several processes (a target's, a cluster's nodes): their sum."""

    def __init__(self, pids: dict[str, int | list[int]]) -> None:
        self.pids = {name: [p] if isinstance(p, int) else p for name, p in pids.items()}
        self.at: dict[str, tuple[float, dict[str, float]]] = {}

    def _sample(self) -> dict[str, float]:
        out = {}
        for name, pids in self.pids.items():
            try:
                out[name] = sum(cpu_seconds(pid) for pid in pids)
            except OSError:
                out[name] = float("nan")
        try:
            out["machine"] = machine_busy_seconds()
        except OSError:
            out["machine"] = float("nan")
        return out

    def mark(self, which: str) -> None:
        self.at[which] = (time.perf_counter(), self._sample())

    def cores(self) -> dict[str, float]:
        if "start" not in self.at or "end" not in self.at:
            return {}
        (ta, a), (tb, b) = self.at["start"], self.at["end"]
        out = {name: (b[name] - a[name]) / (tb - ta) for name in (*self.pids, "machine")}
        out["other"] = max(0.0, out["machine"] - sum(out[name] for name in self.pids))
        return {name: round(v, 3) for name, v in out.items()}


def log_problems(target: TargetGroup) -> dict[str, Any]:
    """Warning and error lines the target logged (JSON logs of the engine, text otherwise)."""
    lines: list[str] = []
    for path in target.log_paths:
        with contextlib.suppress(OSError):
            lines += path.read_text(errors="replace").splitlines()
    errors = [
        ln
        for ln in lines
        if '"level": "error"' in ln or "Traceback" in ln or '"level": "critical"' in ln
    ]
    warnings = [ln for ln in lines if '"level": "warning"' in ln]
    return {
        "warnings": len(warnings),
        "errors": len(errors),
        "sample": [ln[:400] for ln in (errors + warnings)[:5]],
    }


def start_py_spy(
    target: TargetGroup, args: argparse.Namespace, log_dir: Path
) -> tuple[subprocess.Popen[bytes], Path] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        print("py-spy not found: pip install py-spy", flush=True)
        return None
    path = log_dir / f"{target.spec.name}.collapsed.txt"
    seconds = int(args.warmup + args.duration + 1)
    proc = subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(target.pid),
            "--format",
            "raw",
            "--rate",
            "100",
            "--duration",
            str(seconds),
            "--output",
            str(path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, path


def stop_py_spy(proc: subprocess.Popen[bytes], path: Path) -> str:
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(5)
    return str(path)


def machine(loadavg_at_start: tuple[float, float, float]) -> dict[str, Any]:
    try:
        redis_version = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        redis_version = ""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    try:
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no", "--", "flow_engine"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        dirty = False
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "redis_server": redis_version,
        "git_head": commit,
        "engine_uncommitted_changes": dirty,
        "loadavg_at_start": [round(x, 2) for x in loadavg_at_start],
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
    }
