"""The data tests: engines on several numbers in different time zones, a clock that stands
still between the steps, and helpers to read the data API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestServer

from flow_engine.web.app import create_app
from tests.admin.conftest import admin, admin_any  # noqa: F401 - fixtures of the admin API
from tests.admin.test_cli import cli  # noqa: F401 - the CLI against that API
from tests.conftest import FAST_RETRY, ServerFactory, engine_settings, serve_engine
from tests.flow.conftest import demo_config
from tests.notify.conftest import notify_factory, stack  # noqa: F401 - notifications
from tests.support.clock import MovableClock
from tests.support.harness import Harness

ADMIN = {"Authorization": "Bearer admin-token"}
SP, TOKYO = "100000000000001", "100000000000002"


class FixedClock(MovableClock):
    """A clock that moves only when told: durations between steps are exact."""

    def __init__(self, start: datetime) -> None:
        super().__init__()
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += seconds


def tokyo_config() -> dict[str, Any]:
    """A second number, in Tokyo (UTC+9), with an NPS survey and no call center."""
    return demo_config(
        **{
            "phone_number_id": TOKYO,
            "display_phone_number": "15550000002",
            "name": "Tokio",
            "timezone": "Asia/Tokyo",
            "flow.call_center": False,
            "flow.survey.kind": "nps",
            "flow.survey.min_days_between": 0,
            "flow.ticket_inactivity_close_minutes": 60,
            # the survey after an inactivity close comes > 30 min after the contact's
            # last message: keep the conversation (not a restart) when they answer it
            "flow.restart_after_minutes": 120,
        }
    )


def sao_paulo_config() -> dict[str, Any]:
    return demo_config(**{"flow.survey.min_days_between": 0})


DataStack = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def data_stack(
    aiohttp_server: ServerFactory, gateway_server: TestServer, tmp_path: Path
) -> AsyncIterator[DataStack]:
    """An engine serving several numbers (memory, or Redis with ``redis_url``)."""
    harnesses: list[Harness] = []
    gw_url = str(gateway_server.make_url("")).rstrip("/")

    async def make(
        configs: list[dict[str, Any]], clock: MovableClock, redis_url: str = "", **settings: Any
    ) -> Harness:
        for config in configs:
            path = tmp_path / f"{config['phone_number_id']}.yaml"
            path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        app = create_app(
            engine_settings(gw_url, tmp_path, redis_url, **settings),
            retry_policy=FAST_RETRY,
            clock=clock,
        )
        h = await serve_engine(aiohttp_server, app, gw_url)
        harnesses.append(h)
        return h

    yield make
    for h in harnesses:
        await h.close()


async def get(h: Harness, path: str, token: str = "admin-token", **params: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with h.session.get(h.engine_url + path, params=params, headers=headers) as r:
        body: Any = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, body


async def until(read: Callable[[], Awaitable[Any]], expected: Any, within: float = 15.0) -> Any:
    """Read until the answer equals ``expected`` (facts are folded within a second or
    so), then return the last answer, equal or not."""
    deadline = time.monotonic() + within
    while True:
        got = await read()
        if got == expected or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.2)
