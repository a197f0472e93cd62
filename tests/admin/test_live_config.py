"""A pushed configuration answers the next message, without a restart, in every engine
process; a message already being handled finishes under the configuration it began with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from flow_engine.domain.skills import Envelope
from flow_engine.engine.skills.base import Skill, SkillContext, SkillResult
from tests.conftest import SHARED_STORES, store_url
from tests.flow.conftest import demo_config
from tests.support.harness import DEMO_NUMBER, Harness, text_of
from tests.support.processes import EngineProcess, process_env, wait_balanced

ADMIN = {"Authorization": "Bearer admin-token"}


class GateSkill(Skill):
    """A PreMain skill that holds the message until the test opens the gate."""

    entered: ClassVar[asyncio.Event]
    gate: ClassVar[asyncio.Event]

    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        type(self).entered.set()
        await type(self).gate.wait()
        return SkillResult(envelope=envelope)


def greeting_config(text: str, **changes: Any) -> dict[str, Any]:
    return demo_config(
        **{
            "flow.initial_greeting.text": text,
            "service.absence.enabled": True,  # the flow ends right after the greeting
            "service.absence.text": "Ausente.",
            **changes,
        }
    )


async def push(session: aiohttp.ClientSession, engine_url: str, config: dict[str, Any]) -> None:
    """Replace the demo number's configuration through the admin API, as an admin would."""
    url = f"{engine_url}/api/v1/numbers/{DEMO_NUMBER}/config"
    async with session.get(url, headers=ADMIN) as r:
        assert r.status == 200, await r.text()
        etag = r.headers["ETag"]
    async with session.put(url, json=config, headers={**ADMIN, "If-Match": etag}) as r:
        assert r.status == 200, await r.text()


async def greeting_of(h: Harness, contact: str, count: int = 2) -> str:
    records = await h.wait_sent(count, to=contact)
    assert len(records) >= count, records
    return text_of(records[0])


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_a_step_finishes_under_its_config_and_the_next_message_sees_the_new_one(
    flow_stack: Callable[..., Awaitable[Harness]], request: pytest.FixtureRequest, store: str
) -> None:
    redis_url = request.getfixturevalue("redis_url") if store == "redis" else ""
    GateSkill.entered, GateSkill.gate = asyncio.Event(), asyncio.Event()
    skill = {
        "serviceName": "PreMain",
        "parentServiceName": "Main",
        "kind": "python",
        "target": f"{__name__}:GateSkill",
    }
    h = await flow_stack(greeting_config("Hola v1", skills=[skill]), redis_url=redis_url)
    new = greeting_config("Hola v2", skills=[skill])

    await h.say("5491100000001", "hola")
    await asyncio.wait_for(GateSkill.entered.wait(), 10)
    await push(h.session, h.engine_url, new)  # pushed while the first message is mid-step
    GateSkill.gate.set()
    assert await greeting_of(h, "5491100000001") == "Hola v1"

    await h.say("5491100000002", "hola")
    assert await greeting_of(h, "5491100000002") == "Hola v2"


@pytest.fixture(params=SHARED_STORES)
def shared_url(request: pytest.FixtureRequest) -> str:
    """One redis-server, then a 3-master Redis Cluster."""
    return store_url(request, request.param)


@pytest.fixture
async def two_base_engines(
    shared_url: str, gateway_server: TestServer, tmp_path: Path
) -> AsyncIterator[tuple[Harness, list[EngineProcess]]]:
    import yaml

    (tmp_path / f"{DEMO_NUMBER}.yaml").write_text(
        yaml.safe_dump(greeting_config("Hola v1"), allow_unicode=True), encoding="utf-8"
    )
    gw_url = str(gateway_server.make_url("")).rstrip("/")
    env = process_env(shared_url, gw_url, tmp_path)
    procs = await asyncio.gather(
        *(
            asyncio.to_thread(EngineProcess, env, "tests.support.base_engine_proc")
            for _ in range(2)
        )
    )
    h = Harness(procs[1].url, gw_url)
    yield h, list(procs)
    await h.close()
    for p in procs:
        await asyncio.to_thread(p.stop)


@pytest.mark.slow
async def test_every_process_answers_with_the_pushed_config(
    two_base_engines: tuple[Harness, list[EngineProcess]], shared_url: str
) -> None:
    h, procs = two_base_engines
    await wait_balanced(shared_url, owners=2)
    await h.say("5491100000100", "hola")
    assert await greeting_of(h, "5491100000100") == "Hola v1"

    await push(h.session, procs[0].url, greeting_config("Hola v2"))  # through process 0

    contacts = [f"54911000002{i:02d}" for i in range(12)]  # spread over both processes
    await asyncio.gather(
        *(h.say(c, "hola", engine_url=procs[i % 2].url) for i, c in enumerate(contacts))
    )
    for c in contacts:
        assert await greeting_of(h, c) == "Hola v2", c
