"""Issue 9, item 4: a contact silent during human service still gets their survey answer
recorded after the close (the restart window does not apply to a survey the engine asked).

The demo configuration with its defaults (``restart_after_minutes: 30``, tickets closed after
``ticket_inactivity_close_minutes: 1440``), driven through signed webhooks, the attendant API
and a movable clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from flow_engine.domain.config import NumberConfig
from flow_engine.web.state import STORAGE
from tests.flow.conftest import Chat, demo_config
from tests.flow.test_base_flow import ANA, CSAT, POST, api, open_ticket_id
from tests.support.clock import MovableClock
from tests.support.harness import DEMO_NUMBER, Harness

Stack = Callable[..., Awaitable[Harness]]
THANKS = "¡Gracias por su evaluación! 💙"
RETURN_GREETING = "¡Hola de nuevo, Ana!"


def test_the_demo_uses_the_defaults_this_defect_needs() -> None:
    flow = NumberConfig.model_validate(demo_config()).flow
    assert flow.restart_after_minutes == 30
    assert flow.ticket_inactivity_close_minutes == 24 * 60


async def into_service(h: Harness, chat: Chat) -> str:
    await chat.send("hola")
    await chat.tap("Hablar con un asistente")
    await chat.tap("Ventas")
    return await open_ticket_id(h, chat.contact)


async def surveys(h: Harness) -> list[dict[str, object]]:
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    return list(await storage.events.surveys(DEMO_NUMBER))


async def test_an_answer_after_the_inactivity_close_is_recorded(flow_stack: Stack) -> None:
    clock = MovableClock()
    h = await flow_stack(demo_config(), clock)
    chat = Chat(h, ANA, clock)
    ticket = await into_service(h, chat)
    await chat.send("¿hay alguien?")
    clock.advance(24 * 3600 + 60)  # silent past the inactivity close (and the restart window)
    got = await chat.received(quiet=1.2)
    assert got[0].startswith(POST) and got[1].startswith(CSAT)
    _, body = await api(h, "GET", f"/api/v1/tickets/{ticket}")
    assert body["status"] == "closed_by_inactivity"
    clock.advance(5 * 60)  # answered a few minutes after the survey was asked
    got = await chat.tap("5")
    assert got[0] == THANKS, got
    (answer,) = await surveys(h)
    assert answer["score"] == 5 and answer["ticket_id"] == ticket


async def test_an_answer_after_a_close_by_the_attendant_is_recorded(flow_stack: Stack) -> None:
    clock = MovableClock()
    h = await flow_stack(demo_config(), clock)
    chat = Chat(h, ANA, clock)
    ticket = await into_service(h, chat)
    clock.advance(2 * 3600)  # the contact waits two hours in the ticket, silent
    status, _ = await api(h, "POST", f"/api/v1/tickets/{ticket}/close", {})
    assert status == 200
    got = await chat.received(quiet=0.6)
    assert got[0].startswith(POST) and got[1].startswith(CSAT)
    got = await chat.send("4")  # typed, not tapped
    assert got[0] == THANKS, got
    assert [a["score"] for a in await surveys(h)] == [4]


async def test_a_late_survey_answer_is_still_taken(flow_stack: Stack) -> None:
    clock = MovableClock()
    h = await flow_stack(demo_config(), clock)
    chat = Chat(h, ANA, clock)
    ticket = await into_service(h, chat)
    assert (await api(h, "POST", f"/api/v1/tickets/{ticket}/close", {}))[0] == 200
    await chat.received(quiet=0.6)
    clock.advance(3 * 3600)  # the answer comes hours later: still the answer to the survey
    got = await chat.tap("3")
    assert got[0] == THANKS, got
    assert [a["score"] for a in await surveys(h)] == [3]


async def test_a_stale_survey_does_not_hold_a_returning_contact(flow_stack: Stack) -> None:
    clock = MovableClock()
    h = await flow_stack(demo_config(), clock)
    chat = Chat(h, ANA, clock)
    ticket = await into_service(h, chat)
    assert (await api(h, "POST", f"/api/v1/tickets/{ticket}/close", {}))[0] == 200
    await chat.received(quiet=0.6)
    clock.advance(2 * 24 * 3600)  # never answered; days later the contact writes anew
    got = await chat.send("hola, tengo otra consulta")
    assert got[0].startswith(RETURN_GREETING), got
    assert await surveys(h) == []


async def test_an_invalid_answer_soon_after_the_ask_is_asked_again(flow_stack: Stack) -> None:
    clock = MovableClock()
    h = await flow_stack(demo_config(), clock)
    chat = Chat(h, ANA, clock)
    ticket = await into_service(h, chat)
    clock.advance(3600)  # silent in the ticket for an hour, then closed
    assert (await api(h, "POST", f"/api/v1/tickets/{ticket}/close", {}))[0] == 200
    await chat.received(quiet=0.6)
    got = await chat.send("mmm")  # within the window after the survey was asked: re-ask
    assert got[0].startswith("No entendí su respuesta."), got
    assert (await chat.send("5"))[0] == THANKS


async def test_a_presurvey_skill_gets_the_answer_of_a_contact_silent_in_service(
    flow_stack: Stack,
) -> None:
    skill = {
        "serviceName": "PreSurvey",
        "parentServiceName": "NotaCerta",
        "kind": "python",
        "target": "tests.support.skills:AskTwice",
    }
    clock = MovableClock()
    h = await flow_stack(demo_config(skills=[skill]), clock)
    chat = Chat(h, ANA, clock)
    ticket = await into_service(h, chat)
    clock.advance(2 * 3600)
    assert (await api(h, "POST", f"/api/v1/tickets/{ticket}/close", {}))[0] == 200
    assert (await chat.received(quiet=0.6))[-1] == "Your name?"  # the skill asked at the close
    assert await chat.send("Ana") == ["Your city?"]  # its answer, not a restart
