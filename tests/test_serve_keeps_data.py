"""Issue 9, rough edge 9: ``flow-engine serve`` in development keeps its data.

With no ``FLOW_ENGINE_REDIS_URL`` the engine starts and owns a redis-server with
append-only persistence in ``FLOW_ENGINE_DATA_DIR``: members, their tokens and
configuration changes made through the admin API are there after a stop (SIGTERM) and
after a ``kill -9``; a second engine on the same data dir is refused.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flow_engine.devtools.redis_server import free_port
from flow_engine.storage.embedded import PID_FILE, SOCKET_FILE, _alive
from tests.support.processes import ROOT, EngineProcess

NUMBER = "100000000000001"
ADMIN_TOKEN = "dev-admin-token"
GREETING = "Hola {{contact.name}}, esto sobrevive a un reinicio."


def development_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOW_ENGINE_")}
    env.update(
        {
            "FLOW_ENGINE_ENV": "development",
            "FLOW_ENGINE_DATA_DIR": str(data_dir),
            "FLOW_ENGINE_CONFIG_DIR": str(ROOT / "fixtures"),
            "FLOW_ENGINE_LOG_FORMAT": "json",
            "FLOW_ENGINE_REDIS_URL": "",  # empty is unset, whatever the outer environment says
            "FLOW_ENGINE_STORE": "",
            **extra,
        }
    )
    return env


def serve(data_dir: Path) -> EngineProcess:
    """``flow-engine serve`` (the same entry point as the console script) until ready."""
    return EngineProcess(development_env(data_dir), module="flow_engine", args=("serve",))


def serve_once(data_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = development_env(data_dir, FLOW_ENGINE_PORT=str(free_port()), **extra)
    return subprocess.run(
        [sys.executable, "-m", "flow_engine", "serve"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def api(
    engine: EngineProcess,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str = ADMIN_TOKEN,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{engine.url}/api/v1{path}",
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"null")


def log_of(engine: EngineProcess) -> str:
    return Path(engine.log.name).read_text(errors="replace")[-4000:]


def redis_pid(data_dir: Path) -> int:
    return int((data_dir / PID_FILE).read_text())


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data dir; any redis-server still running in it afterwards is killed (and fails
    the test that left it)."""
    directory = tmp_path / "data"
    yield directory
    pid_file = directory / PID_FILE
    if pid_file.exists() and _alive(pid := int(pid_file.read_text())):
        os.kill(pid, signal.SIGKILL)


def create_member_token_and_change(engine: EngineProcess) -> str:
    """As the super-admin: a profile, Ana on the demo number, her token, a new greeting.
    Returns Ana's token."""
    profile_body = {"name": "Editors", "modules": ["config"]}
    status, _, profile = api(engine, "POST", "/profiles", profile_body)
    assert status == 201, profile
    status, _, members = api(
        engine,
        "POST",
        "/members",
        {
            "members": [{"email": "ana@example.com", "name": "Ana"}],
            "profile_id": profile["id"],
            "numbers": [NUMBER],
        },
    )
    assert status == 200, members
    member_id = members["items"][0]["member"]["id"]
    status, _, token = api(engine, "POST", f"/members/{member_id}/tokens", {"name": "laptop"})
    assert status == 201, token
    status, headers, current = api(engine, "GET", f"/numbers/{NUMBER}/config")
    assert status == 200 and current["version"] == 1, current
    config = current["config"]
    config["flow"]["initial_greeting"]["text"] = GREETING
    status, _, body = api(
        engine, "PUT", f"/numbers/{NUMBER}/config", config, headers={"If-Match": headers["ETag"]}
    )
    assert status == 200, body
    return str(token["token"])


def assert_everything_is_there(engine: EngineProcess, ana_token: str) -> None:
    status, _, me = api(engine, "GET", "/me", token=ana_token)
    assert status == 200, me  # her token still opens the API
    assert me["numbers"] == [NUMBER] and me["modules"] == ["config"]
    status, _, current = api(engine, "GET", f"/numbers/{NUMBER}/config", token=ana_token)
    assert status == 200, current
    assert current["version"] == 2  # the file's seed, then the change: the seed kept it
    assert current["config"]["flow"]["initial_greeting"]["text"] == GREETING
    status, _, found = api(engine, "GET", "/members?q=ana@example.com")
    assert status == 200 and [m["name"] for m in found["items"]] == ["Ana"], found


@pytest.mark.slow
def test_members_tokens_and_changes_survive_a_stop_and_a_kill_9(data_dir: Path) -> None:
    first = serve(data_dir)
    try:
        ana_token = create_member_token_and_change(first)
        first_redis = redis_pid(data_dir)
    finally:
        first.stop()
    assert first.proc.returncode == 0, log_of(first)
    assert not _alive(first_redis), "SIGTERM to the engine stops its redis-server"
    assert not (data_dir / SOCKET_FILE).exists()

    second = serve(data_dir)
    try:
        assert_everything_is_there(second, ana_token)
        second_redis = redis_pid(data_dir)
        assert second_redis != first_redis
    finally:
        second.kill9()
        second.stop()  # closes its log
    assert _alive(second_redis), "kill -9 leaves the engine no chance to stop its server"

    third = serve(data_dir)
    try:
        assert not _alive(second_redis), "the leftover server is retired, not shared"
        assert redis_pid(data_dir) not in (first_redis, second_redis)
        assert_everything_is_there(third, ana_token)
    finally:
        third.stop()
    assert third.proc.returncode == 0, log_of(third)


@pytest.mark.slow
def test_a_second_engine_on_the_same_data_dir_is_refused_in_one_line(data_dir: Path) -> None:
    first = serve(data_dir)
    try:
        owner_redis = redis_pid(data_dir)
        second = serve_once(data_dir)
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert str(data_dir) in lines[0] and "in use" in lines[0]
        assert f"pid {first.proc.pid}" in lines[0] and "FLOW_ENGINE_DATA_DIR" in lines[0]
        assert redis_pid(data_dir) == owner_redis and _alive(owner_redis)
        status, _, _ = api(first, "GET", "/numbers")
        assert status == 200  # the owner goes on serving
    finally:
        first.stop()
    assert first.proc.returncode == 0, log_of(first)


def test_a_failed_start_leaves_no_redis_server_behind(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "configs"
    bad.mkdir()
    (bad / "bad.yaml").write_text(
        'phone_number_id: "1000001"\ndisplay_phone_number: "1555001"\nlocale: fr\n'
    )
    proc = serve_once(data_dir, FLOW_ENGINE_CONFIG_DIR=str(bad))
    assert proc.returncode == 2, proc.stderr
    assert "bad.yaml" in proc.stderr
    log = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    started = [e["pid"] for e in log if e["event"] == "embedded_store_started"]
    assert len(started) == 1, proc.stderr  # it did start its server...
    assert not _alive(started[0])  # ...and stopped it
    assert not (data_dir / SOCKET_FILE).exists()


def test_without_redis_server_the_development_start_says_what_to_install(
    data_dir: Path, tmp_path: Path
) -> None:
    proc = serve_once(data_dir, PATH=str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "redis-server" in proc.stderr and "FLOW_ENGINE_STORE=memory" in proc.stderr


def test_production_without_a_store_is_refused_in_one_line(data_dir: Path) -> None:
    proc = serve_once(
        data_dir,
        FLOW_ENGINE_ENV="production",
        FLOW_ENGINE_WHATSAPP_TOKEN="t",
        FLOW_ENGINE_WHATSAPP_APP_SECRET="s",
        FLOW_ENGINE_WHATSAPP_VERIFY_TOKEN="v",
        FLOW_ENGINE_ADMIN_TOKEN="a",
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "FLOW_ENGINE_REDIS_URL" in proc.stderr and "FLOW_ENGINE_STORE" in proc.stderr
    assert not data_dir.exists()
