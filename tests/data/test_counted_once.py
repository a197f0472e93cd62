"""Each fact is counted once (issue 12): under a redelivered webhook, and when a turn's
first commit fails (an error, or a lost version race) and the turn runs again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flow_engine.devtools import webhooks
from tests.data.conftest import SP, DataStack, FixedClock, get, sao_paulo_config, until
from tests.flow.conftest import Chat
from tests.flow.test_base_flow import api, open_ticket_id
from tests.flow.test_turn_effects import Failure, failing_commits, texts

ANA = "5491100000001"
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


async def figures(h: Any) -> dict[str, Any]:
    # São Paulo's day of NOW is one of these
    day = {"from": (NOW.date() - timedelta(days=1)).isoformat(), "to": NOW.date().isoformat()}
    _, service = await get(h, "/api/v1/data/service", **day)
    _, surveys = await get(h, "/api/v1/data/surveys", **day)
    _, messages = await get(h, "/api/v1/data/messages", **day)
    return {
        "offered": service["totals"]["offered"],
        "closed": service["totals"]["closed"],
        "shown": surveys["totals"]["shown"],
        "answered": surveys["totals"]["answered"],
        "distribution": surveys["totals"]["distribution"]["4"],
        "received": messages["totals"]["received"],
    }


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else ""


async def test_a_redelivered_webhook_counts_once(data_stack: DataStack, store_url: str) -> None:
    clock = FixedClock(NOW)
    h = await data_stack([sao_paulo_config()], clock, store_url)
    payload = webhooks.build_text_webhook(
        wa_id=ANA, name="Ana", text="hola", phone_number_id=SP, message_id="wamid.same"
    )
    for _ in range(3):  # Meta redelivers the same message id
        assert (await h.post_payload(payload)).status == 200
    await h.settle(ANA)

    async def received() -> Any:
        return (await figures(h))["received"]

    assert await until(received, 1) == 1
    await h.settle(ANA, quiet=1.5)  # a late double would show by now
    assert await received() == 1


@pytest.mark.parametrize("how", ["error", "conflict"])
async def test_facts_of_a_retried_turn_count_once(
    data_stack: DataStack, store_url: str, how: Failure
) -> None:
    clock = FixedClock(NOW)
    h = await data_stack([sao_paulo_config()], clock, store_url)
    commits = failing_commits(h)
    chat = Chat(h, ANA, clock, number=SP)
    await chat.send("hola")
    await chat.tap("Hablar con un asistente")
    commits.fail_next(texts, how)
    await chat.tap("Ventas")  # opens the ticket; the turn's first commit fails
    await commits.until_recovered()
    ticket = await open_ticket_id(h)
    clock.advance(60)
    assert (await api(h, "POST", f"/api/v1/tickets/{ticket}/close", {}))[0] == 200
    await chat.received(quiet=0.5)  # post-service, CSAT survey
    commits.fail_next(texts, how)
    await chat.tap("4")  # the answer's first commit fails
    await commits.until_recovered()
    await chat.received()
    assert commits.failed == 2
    expected = {
        "offered": 1,
        "closed": 1,
        "shown": 1,
        "answered": 1,
        "distribution": 1,
        "received": 4,  # hola, two taps, the score: each once
    }

    async def read() -> Any:
        return await figures(h)

    assert await until(read, expected) == expected
