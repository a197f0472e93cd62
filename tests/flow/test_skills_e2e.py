"""Skills through signed webhooks (issue 4, first slice): a skill at an extension point
that stays several turns and returns, and one that fails — the contact is never stranded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from flow_engine.storage.keys import partition_of
from flow_engine.web.state import STORAGE
from tests.flow.conftest import Chat, demo_config
from tests.flow.test_base_flow import api
from tests.support.clock import MovableClock
from tests.support.harness import Harness

Stack = Callable[..., Awaitable[Harness]]
ANA = "5491100000077"


def python_skill(point: str, parent: str, target: str) -> list[dict[str, str]]:
    return [
        {"serviceName": point, "parentServiceName": parent, "kind": "python", "target": target}
    ]


async def test_a_premain_skill_stays_two_turns_then_the_greeting_follows(
    flow_stack: Stack,
) -> None:
    config = demo_config(skills=python_skill("PreMain", "Main", "tests.support.skills:AskTwice"))
    h = await flow_stack(config)
    chat = Chat(h, ANA, MovableClock())
    assert await chat.send("hola") == ["Your name?"]
    assert await chat.send("Ana") == ["Your city?"]
    got = await chat.send("Lima")
    assert got[0] == "Thanks Ana from Lima"
    assert got[1].startswith("Hola Ana, ¡espero que estés bien!")  # back after PreMain
    assert "Formas de pago" in got[2]


async def test_a_failing_skill_lets_the_base_flow_go_on(flow_stack: Stack) -> None:
    config = demo_config(skills=python_skill("PreFaq", "Main", "tests.support.skills:Boom"))
    h = await flow_stack(config)
    got = await Chat(h, ANA, MovableClock()).send("hola")
    assert got[0].startswith("Hola Ana") and "Formas de pago" in got[1]
    async with h.session.get(h.engine_url + "/metrics") as r:
        metrics = await r.text()
    assert 'flow_engine_skill_failures_total{point="PreFaq"' in metrics


async def test_a_skill_that_times_out_lets_the_base_flow_go_on(flow_stack: Stack) -> None:
    skills = [
        {
            "serviceName": "PreDesk",
            "parentServiceName": "Desk",
            "kind": "python",
            "target": "tests.support.skills:Sleepy",
            "timeout_s": 1,
        }
    ]
    h = await flow_stack(demo_config(skills=skills))
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    got = await chat.tap("Hablar con un asistente")
    got += await chat.received(quiet=1.5)  # the skill gets 1 s
    assert got[0].startswith("Para dirigir su servicio")  # PreDesk skill gave up: routing
    async with h.session.get(h.engine_url + "/metrics") as r:
        metrics = await r.text()
    assert 'flow_engine_skill_failures_total{point="PreDesk",reason="timeout"}' in metrics


async def test_a_skill_cannot_touch_base_flow_state(flow_stack: Stack) -> None:
    config = demo_config(skills=python_skill("PreMain", "Main", "tests.support.skills:Clobber"))
    h = await flow_stack(config)
    await Chat(h, ANA, MovableClock()).send("hola")
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    number = "100000000000001"
    conv = await storage.conversations.load(partition_of(number, ANA, 8), number, ANA)
    assert conv is not None
    assert conv.state == "skill"  # the skill holds the conversation...
    assert "ticket_id" not in conv.data  # ...but its variables never reach base-flow data
    assert all(k.startswith("skp_") for k in conv.skill["vars"])


PARENT = {
    "PreMain": "Main",
    "PreFaq": "Main",
    "PreDesk": "Desk",
    "PreSurvey": "NotaCerta",
    "PosSurvey": "NotaCerta",
    "PreEnd": "Main",
}
AFTER = {  # what the base flow says right after the skill returns at each point
    "PreMain": "Hola Ana, ¡espero que estés bien!",
    "PreFaq": "Estas son las preguntas más frecuentes",
    "PreDesk": "Para dirigir su servicio",
    "PreSurvey": "¿Cómo calificaría la atención",
    "PosSurvey": "¡Síganos en nuestras redes sociales!",
    "PreEnd": None,  # the end: nothing more
}


@pytest.mark.parametrize("point", list(PARENT))
async def test_a_skill_at_each_point_stays_two_turns_then_returns(
    flow_stack: Stack, point: str
) -> None:
    config = demo_config(
        skills=python_skill(point, PARENT[point], "tests.support.skills:AskTwice")
    )
    h = await flow_stack(config)
    chat = Chat(h, ANA, MovableClock())
    got = await chat.send("hola")
    if point not in ("PreMain", "PreFaq"):
        got = await chat.tap("Hablar con un asistente")
    if point not in ("PreMain", "PreFaq", "PreDesk"):
        await chat.tap("Ventas")
        _status, body = await api(h, "GET", "/api/v1/tickets?number=100000000000001")
        (ticket,) = body["tickets"]
        await api(h, "POST", f"/api/v1/tickets/{ticket['id']}/close", {})
        got = await chat.received(quiet=0.5)
    if point in ("PosSurvey", "PreEnd"):
        got = await chat.send("5")
    assert got[-1] == "Your name?", got  # the skill took over at its point
    assert await chat.send("Ana") == ["Your city?"]
    got = await chat.send("Lima")
    assert got[0] == "Thanks Ana from Lima"
    expected = AFTER[point]
    if expected is None:
        assert got[1:] == []
    else:
        assert got[1].startswith(expected), got
