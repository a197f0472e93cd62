"""Skills through signed webhooks (issue 4, first slice): a skill at an extension point
that stays several turns and returns, and one that fails — the contact is never stranded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.flow.conftest import Chat, demo_config
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
