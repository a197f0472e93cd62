"""Conversation tests: what the contact sends, what the contact receives."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestServer

from flow_engine.devtools import webhooks
from flow_engine.domain import menus
from flow_engine.web.app import create_app
from tests.conftest import FAST_RETRY, ServerFactory, engine_settings, serve_engine
from tests.support.clock import MovableClock
from tests.support.harness import DEMO_NUMBER, Harness, text_of

ROOT = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((ROOT / "fixtures" / f"{DEMO_NUMBER}.yaml").read_text(encoding="utf-8"))
ADMIN = {"Authorization": "Bearer admin-token"}


def demo_config(**changes: Any) -> dict[str, Any]:
    """The demo number's configuration with ``changes`` merged in (dotted keys allowed)."""
    config = copy.deepcopy(DEMO)
    for dotted, value in changes.items():
        node = config
        *path, last = dotted.split(".")
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value
    return config


class Chat:
    """One contact talking to the engine through signed webhooks."""

    def __init__(
        self,
        h: Harness,
        contact: str,
        clock: MovableClock,
        name: str = "Ana",
        number: str = DEMO_NUMBER,
    ) -> None:
        self.number = number
        self.h = h
        self.contact = contact
        self.clock = clock
        self.name = name
        self.seen = 0
        self.records: list[dict[str, Any]] = []

    async def _post(self, payload: dict[str, Any]) -> None:
        resp = await self.h.post_payload(payload)
        assert resp.status == 200

    async def send(self, text: str) -> list[str]:
        """Send a text; return the texts received in answer (menus with numbered options)."""
        await self._post(
            webhooks.build_text_webhook(
                wa_id=self.contact, name=self.name, text=text, phone_number_id=self.number
            )
        )
        return await self.received()

    async def tap(self, title: str) -> list[str]:
        """Tap the option titled ``title`` of the last menu received."""
        kind, option_id, real_title = self.option(title)
        builder = (
            webhooks.build_list_reply_webhook
            if kind == "list_reply"
            else webhooks.build_button_reply_webhook
        )
        await self._post(
            builder(
                wa_id=self.contact,
                name=self.name,
                reply_id=option_id,
                title=real_title,
                phone_number_id=self.number,
            )
        )
        return await self.received()

    def option(self, title: str) -> tuple[str, str, str]:
        for record in reversed(self.records):
            for kind, option_id, option_title in webhooks.options_of(record["payload"]):
                if option_title == title:
                    return kind, option_id, option_title
        raise AssertionError(f"no option {title!r} in {[text_of(r) for r in self.records]}")

    def option_titles(self) -> list[str]:
        """Titles of the options of the last menu received (all its messages)."""
        for i in range(len(self.records) - 1, -1, -1):
            if webhooks.options_of(self.records[i]["payload"]):
                titles = [t for _k, _i, t in webhooks.options_of(self.records[i]["payload"])]
                # a long menu is a list followed by buttons: include the list before
                interactive = self.records[i]["payload"]["interactive"]
                continued = interactive["body"]["text"] == menus.MORE_BODY_DEFAULT
                if i > 0 and interactive["type"] == "button" and continued:
                    before = webhooks.options_of(self.records[i - 1]["payload"])
                    titles = [t for _k, _i, t in before] + titles
                return titles
        raise AssertionError("no menu received")

    async def received(self, quiet: float = 0.3) -> list[str]:
        records = await self.h.settle(self.contact, quiet=quiet)
        new = records[self.seen :]
        self.seen = len(records)
        self.records = records
        return [text_of(r) for r in new]


StackFactory = Callable[..., Awaitable[tuple[Harness, MovableClock]]]


@pytest.fixture
async def flow_stack(
    aiohttp_server: ServerFactory, gateway_server: TestServer, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    """An engine running the base flow on the given configuration: on the memory store,
    or with ``redis_url`` on Redis (several engines may share it)."""
    harnesses: list[Harness] = []
    gw_url = str(gateway_server.make_url("")).rstrip("/")

    async def make(
        config: dict[str, Any],
        clock: MovableClock | None = None,
        redis_url: str = "",
        **settings_changes: Any,
    ) -> Harness:
        path = tmp_path / f"{config['phone_number_id']}.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        settings = engine_settings(gw_url, tmp_path, redis_url, **settings_changes)
        app = create_app(settings, retry_policy=FAST_RETRY, clock=clock)
        h = await serve_engine(aiohttp_server, app, gw_url)
        harnesses.append(h)
        return h

    yield make
    for h in harnesses:
        await h.close()
