"""The base flow on Redis: a whole journey, and timers across engines and restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from flow_engine.web.state import PARTITIONS
from tests.flow.conftest import Chat, demo_config
from tests.flow.test_base_flow import CSAT, POST, PRE, WEEK_HOURS, api, open_ticket_id
from tests.support.clock import MovableClock
from tests.support.harness import Harness

Stack = Callable[..., Awaitable[Harness]]
ANA = "5491100000009"


async def test_journey_on_redis(flow_stack: Stack, redis_url: str) -> None:
    h = await flow_stack(demo_config(), redis_url=redis_url)
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    await chat.tap("Hablar con un asistente")
    assert (await chat.tap("Soporte técnico"))[0].startswith(PRE)
    ticket = await open_ticket_id(h, ANA)
    await chat.send("no enciende")
    taken, _ = await api(
        h, "POST", f"/api/v1/tickets/{ticket}/take", {"attendant": "carla@example.com"}
    )
    assert taken == 200
    status, _ = await api(
        h,
        "POST",
        f"/api/v1/tickets/{ticket}/messages",
        {"text": "¿Probó reiniciar?", "attendant": "carla@example.com"},
    )
    assert status == 201
    assert await chat.received(quiet=0.5) == ["¿Probó reiniciar?"]
    await api(h, "POST", f"/api/v1/tickets/{ticket}/close", {})
    got = await chat.received(quiet=0.5)
    assert got[0].startswith(POST) and got[1].startswith(CSAT)


async def test_notify_timer_survives_a_restart_and_fires_once(
    flow_stack: Stack, redis_url: str
) -> None:
    clock = MovableClock()
    clock.set(datetime(2026, 11, 23, 23, 0, tzinfo=UTC))  # Monday 20:00 in São Paulo
    config = demo_config(
        **{"hours": {"open_24h": False, "weekdays": WEEK_HOURS}, "faq.enabled": False}
    )
    first = await flow_stack(config, clock, redis_url=redis_url)
    chat = Chat(first, ANA, clock)
    await chat.send("hola")
    await chat.tap("Sí")
    await first.app[PARTITIONS].stop()  # type: ignore[attr-defined]  # the engine goes away
    # two engines come back on the same Redis; the opening passes
    second = await flow_stack(config, clock, redis_url=redis_url)
    third = await flow_stack(config, clock, redis_url=redis_url)
    clock.set(datetime(2026, 11, 24, 12, 1, tzinfo=UTC))  # Tuesday 09:01
    await asyncio.sleep(2.5)  # leases of the stopped engine expire (1 s), timers are polled
    got = await chat.received(quiet=1.5)
    assert got == ["[template atendimento_esta_disponivel (es)]"]
    clock.advance(24 * 3600)
    assert await chat.received(quiet=1.5) == []
    assert second is not third
