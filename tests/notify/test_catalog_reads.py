"""A template catalog the engine could not read at start (the gateway not up yet, as when
the README's tour starts the engine before the development gateway): it is read when a
notification first needs it, and tried again in the background until it is read. On
memory and on Redis."""

from __future__ import annotations

import asyncio
import time

from tests.notify.conftest import NUMBER, OTHER, NotifyStack, StackFactory
from tests.notify.test_individual import PROMO


async def start_reads_failed(stack: NotifyStack) -> None:
    """Both demo numbers' start reads reached the stand-in Graph API and were refused."""
    deadline = time.monotonic() + 10
    while stack.catalog.reads < 2:
        assert time.monotonic() < deadline, "the engine did not read the catalogs at start"
        await asyncio.sleep(0.02)
    r = await stack.api("GET", f"/numbers/{NUMBER}/templates/catalog")
    assert r.status == 200 and r.body["synced_at"] is None and r.body["templates"] == []


async def test_a_catalog_unread_at_start_is_read_when_a_notification_needs_it(
    notify_factory: StackFactory,
) -> None:
    stack = await notify_factory(catalog_down=True, start_retry_s=3600)
    await start_reads_failed(stack)
    stack.catalog_up()
    r = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO)
    assert r.status == 202, r.body
    assert [m["payload"]["template"]["name"] for m in await stack.templates_sent()] == [
        "promo_descuento"
    ]
    catalog = await stack.api("GET", f"/numbers/{NUMBER}/templates/catalog")
    assert catalog.body["synced_at"] is not None and len(catalog.body["templates"]) == 6


async def test_while_the_catalog_cannot_be_read_a_notification_is_a_422_that_says_so(
    notify_factory: StackFactory,
) -> None:
    stack = await notify_factory(catalog_down=True, start_retry_s=3600)
    await start_reads_failed(stack)
    r = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO)
    assert r.status == 422, r.body
    error = r.body["error"]
    assert error["details"] == [
        {"field": "template.name", "message": "unknown template", "type": "unknown_template"}
    ]
    assert "could not be read from the gateway" in error["message"]
    assert f"/api/v1/numbers/{NUMBER}/templates/sync" in error["message"]
    # a read on demand that failed pauses the next ones: a gateway that times out must not
    # hold up every request
    reads = stack.catalog.reads
    again = await stack.api("POST", f"/numbers/{NUMBER}/notifications", PROMO)
    assert again.status == 422 and stack.catalog.reads == reads
    assert await stack.templates_sent() == []


async def test_a_failed_start_read_is_tried_again_until_the_catalog_is_read(
    notify_factory: StackFactory,
) -> None:
    stack = await notify_factory(catalog_down=True, start_retry_s=0.05)
    await start_reads_failed(stack)
    stack.catalog_up()
    deadline = time.monotonic() + 10
    for number in (NUMBER, OTHER):  # nothing but the engine's own retries read them
        while True:
            r = await stack.api("GET", f"/numbers/{number}/templates/catalog")
            if r.body["synced_at"] is not None:
                break
            assert time.monotonic() < deadline, f"{number}'s start read was not tried again"
            await asyncio.sleep(0.05)
        assert len(r.body["templates"]) == 6
    reads = stack.catalog.reads  # both read: the count of pages stops here
    await asyncio.sleep(0.5)  # once every catalog was read, the retry stops
    assert stack.catalog.reads == reads
