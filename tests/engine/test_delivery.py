"""Nothing lost, nothing doubled: redelivery, concurrency, gateway errors (memory and Redis)."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from flow_engine.web.state import STORAGE
from tests.support.harness import Harness, text_of

CONTACT = "5491100000001"


def replies(records: list[dict[str, object]]) -> list[str]:
    return [text_of(r) for r in records]  # type: ignore[arg-type]


async def metric(h: Harness, name: str) -> float:
    async with h.session.get(h.engine_url + "/metrics") as r:
        text = await r.text()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_redelivered_webhook_gets_one_reply(echo_stack: Harness) -> None:
    h = echo_stack
    mid = await h.say(CONTACT, "hola")
    await asyncio.gather(*(h.say(CONTACT, "hola", message_id=mid) for _ in range(4)))
    await h.say(CONTACT, "hola", message_id=mid)
    sent = await h.settle(CONTACT)
    assert replies(sent) == ["1:hola"]
    assert await metric(h, "flow_engine_dedupe_hits_total") == 5


async def test_concurrent_messages_of_one_contact_handled_in_order(echo_stack: Harness) -> None:
    h = echo_stack
    waves = [[f"w{w}m{i}" for i in range(10)] for w in range(5)]
    for wave in waves:  # each wave is posted concurrently, after the previous one was acked
        await asyncio.gather(*(h.say(CONTACT, text) for text in wave))
    sent = await h.wait_sent(50, CONTACT)
    sent = await h.settle(CONTACT)
    got = replies(sent)
    assert len(got) == 50, got
    numbers = [int(r.split(":")[0]) for r in got]
    assert numbers == list(range(1, 51)), "handled one at a time, sent in handling order"
    texts = [r.split(":")[1] for r in got]
    assert sorted(texts) == sorted(t for wave in waves for t in wave), "none lost or doubled"
    wave_of = [int(t[1]) for t in texts]
    assert wave_of == sorted(wave_of), "a later wave was never handled before an earlier one"


async def test_many_contacts_do_not_block_each_other(echo_stack: Harness) -> None:
    h = echo_stack
    contacts = [f"54911000{i:05d}" for i in range(30)]
    for step in range(3):
        await asyncio.gather(*(h.say(c, f"s{step}") for c in contacts))
    await h.wait_sent(90)
    for c in contacts:
        assert replies(await h.sent(c)) == ["1:s0", "2:s1", "3:s2"]


async def test_gateway_429_then_200_is_delivered_once(echo_stack: Harness) -> None:
    h = echo_stack
    await h.fault(code=130429, http_status=429, times=2)
    await h.say(CONTACT, "hola")
    sent = await h.wait_sent(1, CONTACT)
    assert replies(await h.settle(CONTACT)) == ["1:hola"]
    assert sent[0]["authorization"] == "Bearer test-token"
    assert await metric(h, "flow_engine_send_retries_total") == 2


async def test_each_retry_is_logged_once(echo_stack: Harness) -> None:
    h = echo_stack
    await h.fault(code=130429, http_status=429, times=2)
    with capture_logs() as logs:
        await h.say(CONTACT, "hola")
        await h.wait_sent(1, CONTACT)
        await h.settle(CONTACT)
    retries = [e for e in logs if "retry" in e["event"]]
    assert [(e["event"], e["attempt"]) for e in retries] == [("send_retry", 0), ("send_retry", 1)]
    assert all(e["code"] == 130429 and "contact" in e for e in retries)


async def test_permanent_error_is_recorded_and_not_retried(echo_stack: Harness) -> None:
    h = echo_stack
    await h.fault(code=131026, http_status=400, times=1)
    await h.say(CONTACT, "first")
    await h.say(CONTACT, "second")
    sent = await h.wait_sent(1, CONTACT)
    assert replies(await h.settle(CONTACT)) == ["2:second"]
    assert replies(sent) == ["2:second"]
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    failures = await storage.events.send_failures("100000000000001")
    assert [f["code"] for f in failures] == [131026]
    assert await metric(h, "flow_engine_send_retries_total") == 0


async def test_gateway_5xx_is_retried(echo_stack: Harness) -> None:
    h = echo_stack
    await h.fault(code=2, http_status=503, times=1)
    await h.say(CONTACT, "hola")
    await h.wait_sent(1, CONTACT)
    assert replies(await h.settle(CONTACT)) == ["1:hola"]
