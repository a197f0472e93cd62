"""``flow-engine serve --role web|worker|all``: a web process answers webhooks and serves the
APIs without handling anything; a worker handles the queues and sends, and serves only the
operations endpoints; both scale apart behind one Redis (a server or a cluster)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from flow_engine.errors import ConfigurationError
from flow_engine.settings import Settings
from flow_engine.web.app import create_app
from flow_engine.web.state import PARTITIONS, STORAGE
from tests.conftest import (
    FAST_RETRY,
    SHARED_STORES,
    ServerFactory,
    engine_settings,
    serve_engine,
    store_url,
    write_demo_config,
)
from tests.support.flows import CountingEchoFlow
from tests.support.harness import Harness, text_of
from tests.support.processes import (
    ROOT,
    EngineProcess,
    lease_holder_pid,
    lease_holders,
    process_env,
    wait_balanced,
)

ADMIN = {"Authorization": "Bearer admin-token"}
Role = Callable[[str], Awaitable[Harness]]


@pytest.fixture(params=SHARED_STORES)
async def start_role(
    request: pytest.FixtureRequest,
    aiohttp_server: ServerFactory,
    gateway_server: TestServer,
    tmp_path: Path,
) -> AsyncIterator[Role]:
    """Start an engine app of a role on one shared store (a server, then a cluster)."""
    url = store_url(request, request.param)
    gw_url = str(gateway_server.make_url("")).rstrip("/")
    harnesses: list[Harness] = []

    async def start(role: str) -> Harness:
        settings = engine_settings(gw_url, write_demo_config(tmp_path), url, role=role)
        app = create_app(settings, flow=CountingEchoFlow(), retry_policy=FAST_RETRY)
        h = await serve_engine(aiohttp_server, app, gw_url)
        harnesses.append(h)
        return h

    yield start
    for h in harnesses:
        await h.close()


async def status(h: Harness, path: str, **kwargs: Any) -> int:
    async with h.session.get(h.engine_url + path, **kwargs) as r:
        await r.read()
        return r.status


async def test_a_web_process_answers_and_a_worker_process_replies(start_role: Role) -> None:
    web = await start_role("web")
    worker = await start_role("worker")
    await web.say("5491100000001", "hola")
    await web.say("5491100000001", "otra")
    await web.wait_sent(2, "5491100000001")
    assert [text_of(r) for r in await web.settle("5491100000001")] == ["1:hola", "2:otra"]
    # each role serves its own routes, and the operations endpoints
    assert await status(web, "/api/v1/numbers", headers=ADMIN) == 200
    assert await status(worker, "/api/v1/numbers", headers=ADMIN) == 404
    post = await worker.post_payload({"object": "whatsapp_business_account", "entry": []})
    assert post.status == 404
    for h in (web, worker):
        for path in ("/healthz", "/readyz", "/metrics"):
            assert await status(h, path) == 200, (h, path)


async def test_a_web_process_alone_handles_nothing_and_holds_no_partition(
    start_role: Role,
) -> None:
    web = await start_role("web")
    await web.say("5491100000002", "hola")
    await asyncio.sleep(1.0)  # longer than a partition worker takes to answer
    assert await web.sent() == []
    app = web.app  # type: ignore[attr-defined]
    assert PARTITIONS not in app
    assert await app[STORAGE].queue.depth() == 1  # kept for a worker
    worker = await start_role("worker")
    await worker.wait_sent(1, "5491100000002")
    assert [text_of(r) for r in await worker.settle("5491100000002")] == ["1:hola"]


@pytest.mark.parametrize("role", ["web", "worker"])
@pytest.mark.parametrize("store", [{}, {"store": "memory"}, {"store": "embedded"}])
def test_web_and_worker_need_a_shared_redis(role: str, store: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="needs a Redis shared with the other role"):
        Settings.model_validate({"role": role, **store})
    env = {f"FLOW_ENGINE_{k.upper()}": v for k, v in store.items()}
    with pytest.raises(ConfigurationError) as err:
        Settings.from_env({"FLOW_ENGINE_ROLE": role, **env})
    assert "FLOW_ENGINE_REDIS_URL" in err.value.message and "\n" not in err.value.message
    settings = Settings.from_env({"FLOW_ENGINE_ROLE": role, "FLOW_ENGINE_REDIS_URL": "redis://r"})
    assert settings.role == role


def test_serve_role_web_on_the_memory_store_is_refused_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOW_ENGINE_")}
    env.update({"FLOW_ENGINE_ENV": "development", "FLOW_ENGINE_STORE": "memory"})
    proc = subprocess.run(
        [sys.executable, "-m", "flow_engine", "serve", "--role", "web"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "FLOW_ENGINE_ROLE=web" in proc.stderr and "FLOW_ENGINE_REDIS_URL" in proc.stderr


@pytest.fixture(params=SHARED_STORES)
def shared_url(request: pytest.FixtureRequest) -> str:
    return store_url(request, request.param)


@pytest.mark.slow
async def test_web_and_two_workers_kill_9_of_a_worker_mid_message_is_handled_once(
    shared_url: str, gateway_server: TestServer, tmp_path: Path
) -> None:
    gw_url = str(gateway_server.make_url("")).rstrip("/")
    env = process_env(shared_url, gw_url, write_demo_config(tmp_path))
    web, *workers = await asyncio.gather(
        asyncio.to_thread(EngineProcess, {**env, "FLOW_ENGINE_ROLE": "web"}),
        *(asyncio.to_thread(EngineProcess, {**env, "FLOW_ENGINE_ROLE": "worker"}) for _ in "ab"),
    )
    h = Harness(web.url, gw_url)
    try:
        owners = await wait_balanced(shared_url, 2)
        assert {int(o.split(":")[1]) for o in owners} == {w.proc.pid for w in workers}
        contacts = [f"5511900{i:06d}" for i in range(40)]
        for step in range(2):
            await asyncio.gather(*(h.say(c, f"m{step}") for c in contacts))
        await h.wait_sent(80, within=30)

        contact = "5511977776666"
        await h.say(contact, "slow hola")  # the flow sleeps 3 s before answering
        await asyncio.sleep(0.5)
        victim_pid = await lease_holder_pid(shared_url, contact)
        victim = next(w for w in workers if w.proc.pid == victim_pid)
        await asyncio.to_thread(victim.kill9)
        await h.wait_sent(1, contact, within=20)
        assert [text_of(r) for r in await h.settle(contact)] == ["1:slow hola"]
        for c in contacts:
            assert [text_of(r) for r in await h.sent(c)] == ["1:m0", "2:m1"], c
        survivor = next(w for w in workers if w is not victim)
        holders = await lease_holders(shared_url)
        assert {int(o.split(":")[1]) for o in holders if o} <= {survivor.proc.pid}
    finally:
        await h.close()
        for p in (web, *workers):
            await asyncio.to_thread(p.stop)
