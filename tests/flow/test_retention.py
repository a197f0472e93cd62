"""R-FLOW-2 under the retention settings: a contact writing again after their idle record
expired gets the return greeting while they are still known, the initial greeting once
the contact retention forgot them too."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from tests.conftest import store_url
from tests.flow.conftest import demo_config
from tests.support.harness import Harness, text_of

ANA = "5491100000042"
DAY_S = 24 * 3600
RECORD_S = 1.0  # the conversation retention of these tests


def greetings_config() -> dict[str, object]:
    return demo_config(
        **{
            "flow.initial_greeting.text": "Hola nuevo",
            "flow.return_greeting.text": "Hola de nuevo",
            "service.absence.enabled": True,  # the flow ends right after the greeting
            "service.absence.text": "Ausente.",
        }
    )


async def greeting(h: Harness, count: int) -> str:
    """The greeting of the latest message (then comes the absence message)."""
    texts = [text_of(r) for r in await h.wait_sent(count, ANA)]
    assert len(texts) == count, texts
    return texts[count - 2]


@pytest.mark.parametrize("store", ["memory", "redis"])
@pytest.mark.parametrize(
    ("contact_days", "after_expiry"),
    [(30.0, "Hola de nuevo"), (0.0, "Hola nuevo")],
    ids=["still-known", "forgotten"],
)
async def test_a_contact_back_after_the_record_expired(
    flow_stack: Callable[..., Awaitable[Harness]],
    request: pytest.FixtureRequest,
    store: str,
    contact_days: float,
    after_expiry: str,
) -> None:
    h = await flow_stack(
        greetings_config(),
        redis_url=store_url(request, store),
        conversation_retention_days=RECORD_S / DAY_S,
        contact_retention_days=contact_days,
    )
    await h.say(ANA, "hola")
    assert await greeting(h, 2) == "Hola nuevo"
    await h.say(ANA, "hola")  # right away: the record is there, a returning contact
    assert await greeting(h, 4) == "Hola de nuevo"
    await asyncio.sleep(RECORD_S * 2)  # idle for longer than the retention
    await h.say(ANA, "hola")
    assert await greeting(h, 6) == after_expiry
    assert len(await h.settle(ANA)) == 6
