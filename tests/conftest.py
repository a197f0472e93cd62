from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from flow_engine.devtools.fake_gateway import create_fake_gateway_app
from flow_engine.devtools.redis_cluster import RedisClusterServer
from flow_engine.devtools.redis_server import RedisServer
from flow_engine.engine.flow import Flow
from flow_engine.gateway.retry import RetryPolicy
from flow_engine.settings import Settings
from flow_engine.storage.base import Storage
from flow_engine.storage.memory import memory_storage
from flow_engine.storage.redis import redis_storage
from flow_engine.web.app import create_app
from tests.support import cluster_scripts
from tests.support.flows import CountingEchoFlow
from tests.support.harness import APP_SECRET, DEMO_DISPLAY, DEMO_NUMBER, TOKEN, Harness

PARTITIONS = 8
ROOT = Path(__file__).resolve().parents[1]
NEVER_RUN_ON_CLUSTER = pytest.StashKey[list[str]]()
#: Every backend a storage test runs on: memory, one redis-server, a 3-master Redis Cluster
STORES = ["memory", "redis", pytest.param("cluster", marks=pytest.mark.slow)]
#: The backends shared by several processes
SHARED_STORES = ["redis", pytest.param("cluster", marks=pytest.mark.slow)]
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
FAST_RETRY = RetryPolicy(base_delay_s=0.01, factor=2.0, max_delay_s=0.05, budget_s=2.0, jitter=0.0)


def write_demo_config(directory: Path, **extra: Any) -> Path:
    config = {
        "phone_number_id": DEMO_NUMBER,
        "display_phone_number": DEMO_DISPLAY,
        "name": "Demo",
        **extra,
    }
    path = directory / f"{DEMO_NUMBER}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return directory


async def serve_engine(
    aiohttp_server: ServerFactory, app: web.Application, gateway_url: str
) -> Harness:
    """Serve ``app`` on loopback; the harness talks to it and to the gateway."""
    server = await aiohttp_server(app)
    h = Harness(str(server.make_url("")).rstrip("/"), gateway_url)
    h.app = app  # type: ignore[attr-defined]
    return h


def engine_settings(
    gateway_url: str, config_dir: Path, redis_url: str = "", **overrides: Any
) -> Settings:
    return Settings.model_validate(
        {
            "env": "production",
            "whatsapp_api_url": gateway_url,
            "whatsapp_token": TOKEN,
            "whatsapp_app_secret": APP_SECRET,
            "whatsapp_verify_token": "verify-me",
            "admin_token": "admin-token",
            "config_dir": config_dir,
            "redis_url": redis_url,
            "partitions": 8,
            "lease_ttl_ms": 1000,
            # the skills of the tests: the examples, servers on loopback, tests.support
            "skills_dir": ROOT / "skills",
            "skill_url_allow": "127.0.0.1",
            "python_skill_modules": "tests",
            # the store's answer may take a while on a loaded machine (two suites' workers,
            # a cluster): the outage tests set the documented 2 s, or less, themselves
            "store_timeout_s": 10.0,
            **overrides,
        }
    )


@pytest.fixture
async def gateway_server(aiohttp_server: ServerFactory) -> TestServer:
    app = create_fake_gateway_app(
        engine_url="http://127.0.0.1:9/unused", app_secret=APP_SECRET, token=TOKEN
    )
    return await aiohttp_server(app)


def store_url(request: pytest.FixtureRequest, store: str) -> str:
    """The Redis URL of ``store`` (``memory``: none), flushed for this test."""
    if store == "memory":
        return ""
    return str(request.getfixturevalue("redis_url" if store == "redis" else "cluster_url"))


@pytest.fixture(params=STORES)
async def stack_factory(
    request: pytest.FixtureRequest,
    aiohttp_server: ServerFactory,
    gateway_server: TestServer,
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    """Start an engine (memory, Redis or a Redis Cluster) wired to the fake gateway; returns
    its harness."""
    redis_url = store_url(request, request.param)
    harnesses: list[Harness] = []
    gw_url = str(gateway_server.make_url("")).rstrip("/")

    async def make(flow: Flow | None = None, **overrides: Any) -> Harness:
        settings = engine_settings(gw_url, write_demo_config(tmp_path), redis_url, **overrides)
        app = create_app(settings, flow=flow, retry_policy=FAST_RETRY)
        h = await serve_engine(aiohttp_server, app, gw_url)
        harnesses.append(h)
        return h

    yield make
    for h in harnesses:
        await h.close()


@pytest.fixture
async def echo_stack(stack_factory: Callable[..., Awaitable[Harness]]) -> Harness:
    return await stack_factory(CountingEchoFlow())


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_factory() -> Iterator[Callable[..., RedisServer]]:
    """redis-servers of the test's own, for tests that kill, restart or freeze them:
    ``redis_factory(persistent=True)`` keeps its data append-only across a restart."""
    servers: list[RedisServer] = []

    def make(*, persistent: bool = False) -> RedisServer:
        servers.append(RedisServer(persistent=persistent))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster(request: pytest.FixtureRequest) -> Iterator[RedisClusterServer]:
    """A 3-master Redis Cluster for the whole session (started on first use). At its end,
    the Lua scripts of ``redis_scripts.py`` that never ran on it are noted (see
    :func:`pytest_sessionfinish`)."""
    cluster = RedisClusterServer()
    yield cluster
    request.config.stash[NEVER_RUN_ON_CLUSTER] = cluster_scripts.never_run(cluster)
    cluster.stop()


NEVER_RUN_KEY = "never_run_on_cluster"
#: pytest-xdist's controller: what each worker that started a cluster reported
WORKER_REPORTS = pytest.StashKey[list[list[str]]]()


def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist, on the controller: keep a worker's list of scripts its cluster never
    ran (only workers that started a cluster report one)."""
    never = getattr(node, "workeroutput", {}).get(NEVER_RUN_KEY)
    if never is not None:
        node.config.stash.setdefault(WORKER_REPORTS, []).append(never)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The whole suite fails when a Lua script never ran on the cluster: every script
    must be proved single-slot there (by a storage contract test taking ``storage``).
    Under pytest-xdist each worker has a cluster of its own: a worker hands its list to
    the controller, and a script counts as never run when no worker's cluster ran it."""
    config = session.config
    never = config.stash.get(NEVER_RUN_ON_CLUSTER, None)
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller decides
        if never is not None:
            workeroutput[NEVER_RUN_KEY] = never
        return
    reports = config.stash.get(WORKER_REPORTS, [])
    if reports:
        never = sorted(set(reports[0]).intersection(*reports[1:]))
    if not never:
        return
    whole = (
        config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not config.option.keyword
        and not config.option.markexpr
    )
    print(f"\nLua scripts never run on the Redis Cluster: {', '.join(never)}")
    if whole and session.exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture
def cluster_url(redis_cluster: RedisClusterServer) -> str:
    redis_cluster.flushall()
    return redis_cluster.url


@pytest.fixture(params=STORES)
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[Storage]:
    """Each storage contract test runs on every backend: memory, Redis, Redis Cluster."""
    if request.param == "memory":
        st = memory_storage()
    else:
        st = redis_storage(store_url(request, request.param), partitions=PARTITIONS)
    await st.connect()
    yield st
    await st.close()
