"""An engine app with the admin API on a test client, and helpers to call it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from flow_engine.domain.config import NumberConfig
from flow_engine.gateway.recording import RecordingGateway
from flow_engine.settings import Settings
from flow_engine.storage.base import Storage
from flow_engine.storage.memory import memory_storage
from flow_engine.web.app import create_app
from tests.flow.conftest import flow_stack  # noqa: F401 - the fixture, for test_live_config

ADMIN_TOKEN = "admin-test-token"
NUMBERS = [f"10000000000010{i}" for i in range(1, 6)]  # five numbers
ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def number_config(number: str, **extra: Any) -> dict[str, Any]:
    """A small valid configuration of ``number``, as the API stores it (defaults filled)."""
    doc = {
        "phone_number_id": number,
        "display_phone_number": "1555" + number[-7:],
        "name": f"Agent {number[-3:]}",
        **extra,
    }
    return NumberConfig.model_validate(doc).model_dump(mode="json")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return next(v for k, v in self.headers.items() if k.lower() == "etag")


@dataclass
class AdminClient:
    client: TestClient[Any, Any]
    app: web.Application
    storage: Storage
    token: str = ADMIN_TOKEN

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        """Call ``/api/v1<path>`` as ``token`` (default: this client's token; None: none)."""
        h = dict(headers or {})
        use = self.token if token == "" else token
        if use is not None:
            h["Authorization"] = f"Bearer {use}"
        kwargs: dict[str, Any] = {"headers": h}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.client.request(method, "/api/v1" + path, **kwargs) as resp:
            text = await resp.text()
            parsed: Any = None
            if text:
                try:
                    parsed = await resp.json(content_type=None)
                except ValueError:
                    parsed = text
            return Reply(resp.status, parsed, dict(resp.headers))

    def as_token(self, token: str) -> AdminClient:
        return AdminClient(self.client, self.app, self.storage, token)

    async def member_token(
        self, email: str, modules: list[str], numbers: list[str], *, name: str = ""
    ) -> str:
        """Create (as the super-admin) a profile with ``modules`` and a member linked to
        ``numbers``; return a fresh API token of that member."""
        profile = await self.call(
            "POST",
            "/profiles",
            {"name": f"profile of {email}", "description": "", "modules": modules},
            token=ADMIN_TOKEN,
        )
        assert profile.status == 201, profile.body
        added = await self.call(
            "POST",
            "/members",
            {
                "members": [{"name": name or email.split("@")[0], "email": email}],
                "profile_id": profile.body["id"],
                "numbers": numbers,
            },
            token=ADMIN_TOKEN,
        )
        assert added.status == 200, added.body
        member_id = added.body["items"][0]["member"]["id"]
        token = await self.call(
            "POST", f"/members/{member_id}/tokens", {"name": "tests"}, token=ADMIN_TOKEN
        )
        assert token.status == 201, token.body
        return str(token.body["token"])


async def make_admin(
    aiohttp_client: ClientFactory, storage: Storage, numbers: list[str] = NUMBERS
) -> AdminClient:
    settings = Settings.model_validate(
        {"admin_token": ADMIN_TOKEN, "partitions": 4, "python_skill_modules": "tests"}
    )
    for n in numbers:
        await storage.configs.put(n, number_config(n))
    app = create_app(settings, storage=storage, gateway=RecordingGateway())
    return AdminClient(await aiohttp_client(app), app, storage)


@pytest.fixture
async def admin(aiohttp_client: ClientFactory) -> AdminClient:
    """The admin API on the memory store, with five configured numbers (``NUMBERS``)."""
    return await make_admin(aiohttp_client, memory_storage())


@pytest.fixture
async def admin_any(storage: Storage, aiohttp_client: ClientFactory) -> AdminClient:
    """Like ``admin``, once on the memory store and once on Redis."""
    return await make_admin(aiohttp_client, storage)
