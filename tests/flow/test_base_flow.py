"""The base flow, one conversation per R-FLOW step and per switch that changes the path.

Driven through signed webhooks, the development gateway and the attendant API:
what the contact sends, what the contact receives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from flow_engine.web.state import STORAGE
from tests.flow.conftest import ADMIN, Chat, demo_config
from tests.support.clock import MovableClock
from tests.support.harness import Harness

Stack = Callable[..., Awaitable[Harness]]
ANA = "5491100000001"
PRE = "*En un tiempo* estaré disponible para hablar contigo."
POST = "Gracias por comunicarse."
CSAT = "¿Cómo calificaría la atención que recibió?"
NPS = "En una escala de 0 a 10"
INVALID = "No entendí su respuesta."
# a Monday, 10:00 in São Paulo (UTC-3)
MONDAY_10 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
WEEK_HOURS = {
    day: [{"start": "09:00", "end": "18:00"}]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}


async def api(
    h: Harness, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    """Call the attendant API; a single ticket in the answer is returned unwrapped."""
    async with h.session.request(method, h.engine_url + path, json=body, headers=ADMIN) as r:
        answer = await r.json()
    if isinstance(answer, dict) and set(answer) == {"ticket"}:
        answer = answer["ticket"]
    return r.status, answer


async def open_ticket_id(h: Harness, contact: str = ANA) -> str:
    status, body = await api(h, "GET", "/api/v1/tickets?number=100000000000001")
    assert status == 200
    (ticket,) = [
        t
        for t in body["tickets"]
        if t["contact"] == contact and t["status"] in ("waiting", "assigned")
    ]
    return str(ticket["id"])


async def test_full_journey_faq_queue_service_survey_social(flow_stack: Stack) -> None:
    h = await flow_stack(demo_config())
    chat = Chat(h, ANA, MovableClock())
    got = await chat.send("hola")
    assert got[0].startswith("Hola Ana, ¡espero que estés bien! 😃 Soy Demo")  # R-FLOW-2
    assert "Estas son las preguntas más frecuentes" in got[1]  # R-FLOW-4
    assert "Formas de pago" in got[1] and "Hablar con un asistente" in got[1]
    got = await chat.tap("Formas de pago")
    assert got[0].startswith("Aceptamos tarjeta")  # the answer, then the menu again
    assert "Formas de pago" in got[1]
    got = await chat.send("3")  # typed number: Plazo de entrega
    assert got[0].startswith("Las entregas tardan")
    got = await chat.send("hablar con un ASISTENTE")  # typed title, loosely
    assert got[0].startswith("Para dirigir su servicio correctamente")  # R-FLOW-7
    assert "Ventas" in got[0] and "Otros asuntos" in got[0]
    got = await chat.tap("Ventas")
    assert got == [got[0]] and got[0].startswith(PRE)  # R-FLOW-8
    ticket = await open_ticket_id(h)
    status, body = await api(h, "GET", f"/api/v1/tickets/{ticket}")
    assert status == 200 and body["queue"] == "Ventas" and body["status"] == "waiting"
    assert await chat.send("quiero comprar") == []  # R-FLOW-1/9: to the ticket, not the bot
    assert (
        await api(h, "POST", f"/api/v1/tickets/{ticket}/take", {"attendant": "ana@example.com"})
    )[0] == 200
    assert (
        await api(
            h,
            "POST",
            f"/api/v1/tickets/{ticket}/messages",
            {"text": "¡Hola! ¿Qué modelo busca?", "attendant": "ana@example.com"},
        )
    )[0] in (200, 201, 202)
    assert await chat.received(quiet=0.5) == ["¡Hola! ¿Qué modelo busca?"]
    await chat.send("el azul")
    status, body = await api(h, "GET", f"/api/v1/tickets/{ticket}")
    texts = [m["text"] for m in body["transcript"]]
    assert texts == ["quiero comprar", "¡Hola! ¿Qué modelo busca?", "el azul"]
    assert (
        await api(h, "POST", f"/api/v1/tickets/{ticket}/close", {"attendant": "ana@example.com"})
    )[0] == 200
    got = await chat.received(quiet=0.5)
    assert got[0].startswith(POST)  # R-FLOW-10
    assert got[1].startswith(CSAT)  # R-FLOW-11: the first service always gets the survey
    got = await chat.tap(chat.option_titles()[-1])  # the best score
    assert got[0] == "¡Gracias por su evaluación! 💙"
    assert got[1].startswith("¡Síganos en nuestras redes sociales!")  # R-FLOW-12
    assert "https://www.instagram.com/flowengine.demo" in got[1]
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    (answer,) = await storage.events.surveys("100000000000001")
    assert answer["score"] == 5 and answer["kind"] == "csat" and answer["ticket_id"] == ticket
    got = await chat.send("hola otra vez")  # R-FLOW-13: back to the top, return greeting
    assert got[0].startswith("¡Hola de nuevo, Ana!")


async def test_greetings_off_and_faq_off_go_straight_to_the_queues(flow_stack: Stack) -> None:
    h = await flow_stack(
        demo_config(**{"flow.initial_greeting": {"enabled": False}, "faq.enabled": False})
    )
    got = await Chat(h, ANA, MovableClock()).send("hola")
    assert len(got) == 1 and got[0].startswith("Para dirigir su servicio")


async def test_call_center_off_opens_a_ticket_for_the_number_attendants(flow_stack: Stack) -> None:
    config = demo_config(
        **{
            "faq.enabled": False,
            "flow.call_center": False,
            "queue.attendants": ["equipo@example.com"],
        }
    )
    h = await flow_stack(config)
    got = await Chat(h, ANA, MovableClock()).send("hola")
    assert got[0].startswith("Hola Ana") and got[1].startswith(PRE) and len(got) == 2
    _status, body = await api(h, "GET", f"/api/v1/tickets/{await open_ticket_id(h)}")
    assert body["attendants"] == ["equipo@example.com"]


async def test_absence_on_answers_every_message_and_stops(flow_stack: Stack) -> None:
    config = demo_config(
        **{
            "service.absence": {
                "enabled": True,
                "text": "Estamos de vacaciones.",
                "contact_card": {"name": "Soporte", "phone": "5491199999999"},
            }
        }
    )
    h = await flow_stack(config)
    chat = Chat(h, ANA, MovableClock())
    got = await chat.send("hola")
    assert got[1:] == ["Estamos de vacaciones.", "[contact Soporte: +5491199999999]"]
    got = await chat.send("¿hay alguien?")
    assert got[0].startswith("¡Hola de nuevo, Ana!") and got[1] == "Estamos de vacaciones."
    assert len(got) == 3
    _status, body = await api(h, "GET", "/api/v1/tickets?number=100000000000001")
    assert body["tickets"] == []


async def test_out_of_hours_yes_notifies_at_the_next_opening_once(flow_stack: Stack) -> None:
    clock = MovableClock()
    clock.set(datetime(2026, 11, 23, 23, 0, tzinfo=UTC))  # Monday 20:00 in São Paulo
    h = await flow_stack(
        demo_config(
            **{"hours": {"open_24h": False, "weekdays": WEEK_HOURS}, "faq.enabled": False}
        ),
        clock,
    )
    chat = Chat(h, ANA, clock)
    got = await chat.send("hola")
    assert got[1].startswith("En este momento estamos fuera del horario")  # R-FLOW-6
    got = await chat.tap("Sí")
    assert got == [
        "¡Perfecto! Le avisaremos por aquí cuando el servicio vuelva a estar disponible. 🔔"
    ]
    clock.set(datetime(2026, 11, 24, 11, 59, tzinfo=UTC))  # Tuesday 08:59: not yet
    assert await chat.received(quiet=1.2) == []
    clock.set(datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC))  # Tuesday 09:00:30
    got = await chat.received(quiet=1.2)
    assert got == ["[template atendimento_esta_disponivel (es)]"]
    clock.advance(3600)
    assert await chat.received(quiet=1.2) == []  # exactly once


async def test_out_of_hours_no_ends_the_conversation(flow_stack: Stack) -> None:
    clock = MovableClock()
    clock.set(datetime(2026, 11, 29, 15, 0, tzinfo=UTC))  # Sunday
    h = await flow_stack(
        demo_config(
            **{"hours": {"open_24h": False, "weekdays": WEEK_HOURS}, "faq.enabled": False}
        ),
        clock,
    )
    chat = Chat(h, ANA, clock)
    await chat.send("hola")
    assert await chat.tap("No") == ["Entendido. Puede escribirnos de nuevo cuando quiera. 👋"]
    clock.advance(8 * 24 * 3600)
    assert await chat.received(quiet=1.2) == []
    assert (await chat.send("hola"))[0].startswith("¡Hola de nuevo")


async def test_holiday_without_own_hours_is_closed(flow_stack: Stack) -> None:
    clock = MovableClock()
    clock.set(MONDAY_10)
    hours = {"open_24h": False, "weekdays": WEEK_HOURS, "holidays": ["23/11 - Feriado"]}
    h = await flow_stack(demo_config(**{"hours": hours, "faq.enabled": False}), clock)
    got = await Chat(h, ANA, clock).send("hola")
    assert got[1].startswith("En este momento estamos fuera del horario")


async def test_holiday_with_own_hours_is_open_inside_them(flow_stack: Stack) -> None:
    clock = MovableClock()
    clock.set(MONDAY_10)
    hours = {
        "open_24h": False,
        "weekdays": WEEK_HOURS,
        "holidays": [{"date": "23/11 - Feriado", "start": "09:30", "end": "11:00"}],
    }
    h = await flow_stack(demo_config(**{"hours": hours, "faq.enabled": False}), clock)
    got = await Chat(h, ANA, clock).send("hola")
    assert got[1].startswith("Para dirigir su servicio")


async def serve_and_close(h: Harness, chat: Chat) -> list[str]:
    await chat.send("hola")
    await chat.tap("Hablar con un asistente")
    await chat.tap("Otros asuntos")
    ticket = await open_ticket_id(h, chat.contact)
    assert (await api(h, "POST", f"/api/v1/tickets/{ticket}/close", {}))[0] == 200
    return await chat.received(quiet=0.5)


async def test_nps_survey_reasks_an_invalid_answer_then_records_zero(flow_stack: Stack) -> None:
    h = await flow_stack(demo_config(**{"flow.survey": {"enabled": True, "kind": "nps"}}))
    chat = Chat(h, ANA, MovableClock())
    got = await serve_and_close(h, chat)
    assert got[1].startswith(NPS)
    titles = chat.option_titles()
    assert titles == [str(n) for n in range(11)]  # every score answerable
    got = await chat.send("excelente")
    assert got[0].startswith(INVALID)
    got = await chat.send("0")
    assert got[0] == "¡Gracias por su evaluación! 💙"
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    assert [s["score"] for s in await storage.events.surveys("100000000000001")] == [0]
    got = await serve_and_close(h, chat)  # min_days_between default 0, every service
    assert got[1].startswith(NPS)
    assert (await chat.tap("10"))[0].startswith("¡Gracias")


async def test_csat_invalid_answers_are_bounded_then_the_flow_goes_on(flow_stack: Stack) -> None:
    h = await flow_stack(demo_config(**{"flow.max_invalid_retries": 1}))
    chat = Chat(h, ANA, MovableClock())
    got = await serve_and_close(h, chat)
    assert got[1].startswith(CSAT)
    assert (await chat.send("mmm"))[0].startswith(INVALID)
    got = await chat.send("no sé")  # re-asks spent: no score, social links, end
    assert got[0].startswith("¡Síganos")
    storage = h.app[STORAGE]  # type: ignore[attr-defined]
    assert await storage.events.surveys("100000000000001") == []


async def test_survey_frequency_skips_a_later_service(flow_stack: Stack) -> None:
    h = await flow_stack(demo_config())  # every_n_services 1, min_days_between 7
    chat = Chat(h, ANA, MovableClock())
    got = await serve_and_close(h, chat)
    assert got[1].startswith(CSAT)
    await chat.tap("5 ⭐") if "5 ⭐" in chat.option_titles() else await chat.send("5")
    got = await serve_and_close(h, chat)  # a day later than 0 days: not yet 7 days
    assert got[0].startswith(POST) and got[1].startswith("¡Síganos")


async def test_transfer_closes_and_reopens_in_the_other_queue(flow_stack: Stack) -> None:
    h = await flow_stack(demo_config())
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    await chat.tap("Hablar con un asistente")
    await chat.tap("Ventas")
    old = await open_ticket_id(h)
    status, _body = await api(
        h, "POST", f"/api/v1/tickets/{old}/transfer", {"queue": "Soporte técnico"}
    )
    assert status == 200
    new = await open_ticket_id(h)
    assert new != old
    _, old_body = await api(h, "GET", f"/api/v1/tickets/{old}")
    _, new_body = await api(h, "GET", f"/api/v1/tickets/{new}")
    assert old_body["status"] == "transferred" and new_body["queue"] == "Soporte técnico"
    assert new_body["priority"] == old_body["priority"]
    assert await chat.send("sigo aquí") == []
    _, new_body = await api(h, "GET", f"/api/v1/tickets/{new}")
    assert [m["text"] for m in new_body["transcript"]] == ["sigo aquí"]
    await api(h, "POST", f"/api/v1/tickets/{new}/close", {})
    assert (await chat.received(quiet=0.5))[0].startswith(POST)


async def test_ticket_inactivity_closes_it(flow_stack: Stack) -> None:
    clock = MovableClock()
    h = await flow_stack(demo_config(**{"flow.ticket_inactivity_close_minutes": 30}), clock)
    chat = Chat(h, ANA, clock)
    await chat.send("hola")
    await chat.tap("Hablar con un asistente")
    await chat.tap("Ventas")
    ticket = await open_ticket_id(h)
    clock.advance(20 * 60)
    await chat.send("¿hola?")  # activity: the close moves to 30 minutes after this
    clock.advance(15 * 60)
    assert await chat.received(quiet=1.2) == []
    _, body = await api(h, "GET", f"/api/v1/tickets/{ticket}")
    assert body["status"] == "waiting"
    clock.advance(20 * 60)
    got = await chat.received(quiet=1.2)
    assert got[0].startswith(POST)
    _, body = await api(h, "GET", f"/api/v1/tickets/{ticket}")
    assert body["status"] == "closed_by_inactivity"


async def test_a_silent_contact_starts_again_with_the_return_greeting(flow_stack: Stack) -> None:
    clock = MovableClock()
    h = await flow_stack(demo_config(), clock)
    chat = Chat(h, ANA, clock)
    await chat.send("hola")
    clock.advance(31 * 60)  # restart_after_minutes: 30
    got = await chat.send("Formas de pago")
    assert got[0].startswith("¡Hola de nuevo, Ana!")


async def test_faq_invalid_answers_lead_to_a_person(flow_stack: Stack) -> None:
    h = await flow_stack(demo_config(**{"flow.max_invalid_retries": 2}))
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    assert (await chat.send("pizza"))[0].startswith(INVALID)
    assert (await chat.send("pizza"))[0].startswith(INVALID)
    got = await chat.send("pizza")
    assert got[0].startswith("Para dirigir su servicio")


async def test_a_service_ended_by_the_contact_is_closed_by_contact(flow_stack: Stack) -> None:
    h = await flow_stack(demo_config(**{"flow.survey": {"enabled": False}}))
    chat = Chat(h, ANA, MovableClock())
    await chat.send("hola")
    await chat.tap("Hablar con un asistente")
    await chat.tap("Otros asuntos")
    ticket = await open_ticket_id(h)
    await chat.send("ya está, gracias, chau")
    status, body = await api(
        h, "POST", f"/api/v1/tickets/{ticket}/close", {"closed_by": "contact"}
    )
    assert status == 200 and body["status"] == "closed_by_contact"
    got = await chat.received(quiet=0.5)
    assert got[0].startswith(POST) and got[1].startswith("¡Síganos")  # survey off
