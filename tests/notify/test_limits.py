"""The messaging limit a campaign keeps under (issue 13 item 1 → issue 11): the tier the
gateway gave when it is known and fresh, else the number's configuration; the number's own
``desk.active_messaging.daily_limit`` caps both. On memory and on Redis."""

from __future__ import annotations

from tests.notify.conftest import NUMBER, OTHER, NotifyStack, StackFactory
from tests.notify.test_campaigns import csv_of, phones, spec
from tests.notify.test_holds import settled, state_is


async def test_the_gateways_tier_sets_how_many_contacts_a_campaign_reaches(
    stack: NotifyStack,
) -> None:
    # both numbers have the configuration's default, 250 contacts per 24 h
    assert (await stack.refresh(NUMBER, whatsapp_business_manager_messaging_limit="TIER_2K"))[
        "messaging_limit"
    ] == "TIER_2K"
    await stack.refresh(OTHER, whatsapp_business_manager_messaging_limit="TIER_250")
    big, small = phones(300), phones(260, 1000)
    a = (await stack.create_campaign(csv_of(big), **spec())).body["campaign"]["id"]
    b = (await stack.create_campaign(csv_of(small), **spec(number=OTHER))).body["campaign"]["id"]
    c = await stack.wait_campaign(a, state_is("completed"), within=30)
    assert c["state"] == "completed" and await stack.sent_from(NUMBER) == 300
    c = await stack.wait_campaign(b, state_is("waiting_limit"), within=30)
    assert c["state"] == "waiting_limit" and "messaging limit" in c["reason"]
    assert await settled(stack, OTHER) == 250
    # an individual notification from the TIER_250 number to a new contact is a 429 now
    body = {
        "to": "+5511911119999",
        "template": {"name": "recordatorio_cita", "language": "es"},
        "parameters": {"body": {"nombre": "Ana", "fecha": "mañana"}},
    }
    r = await stack.api("POST", f"/numbers/{OTHER}/notifications", body)
    assert r.status == 429, r.body
    assert r.body["error"]["details"]["limit"] == 250
    assert r.body["error"]["details"]["field"] == "gateway.messaging_limit"


async def test_unlimited_means_no_wait_and_the_own_daily_limit_still_caps(
    notify_factory: StackFactory,
) -> None:
    stack = await notify_factory(
        {
            NUMBER: {"notifications": {"messaging_limit": 3}},
            OTHER: {"desk": {"active_messaging": {"enabled": True, "daily_limit": 4}}},
        }
    )
    await stack.refresh(NUMBER, whatsapp_business_manager_messaging_limit="UNLIMITED")
    await stack.refresh(OTHER, whatsapp_business_manager_messaging_limit="TIER_2K")
    contacts = phones(12)
    a = (await stack.create_campaign(csv_of(contacts), **spec())).body["campaign"]["id"]
    b = (await stack.create_campaign(csv_of(phones(8, 100)), **spec(number=OTHER))).body
    c = await stack.wait_campaign(a, state_is("completed", "waiting_limit"))
    assert c["state"] == "completed" and await stack.sent_from(NUMBER) == 12
    c = await stack.wait_campaign(b["campaign"]["id"], state_is("waiting_limit", "completed"))
    assert c["state"] == "waiting_limit" and await settled(stack, OTHER) == 4


async def test_a_tier_read_too_long_ago_gives_way_to_the_configuration(
    notify_factory: StackFactory,
) -> None:
    stack = await notify_factory({NUMBER: {"notifications": {"messaging_limit": 3}}})
    await stack.refresh(NUMBER, whatsapp_business_manager_messaging_limit="TIER_2K")
    stack.clock.advance(49 * 3600)  # no read for two days: the tier may have changed
    cid = (await stack.create_campaign(csv_of(phones(6)), **spec())).body["campaign"]["id"]
    c = await stack.wait_campaign(cid, state_is("waiting_limit", "completed"))
    assert c["state"] == "waiting_limit" and await settled(stack, NUMBER) == 3
    await stack.refresh(NUMBER)  # read again: the tier applies, at the lane's next look
    stack.clock.advance(61)  # a waiting lane looks again every minute
    c = await stack.wait_campaign(cid, state_is("completed"), within=15)
    assert c["state"] == "completed" and await stack.sent_from(NUMBER) == 6
