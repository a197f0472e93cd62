"""A bad value shows its message beside its field in the member's language; the API says
the same in English, as it always has."""

from __future__ import annotations

import html
import re

from tests.admin.conftest import NUMBERS
from tests.console.conftest import Console, Page
from tests.console.test_configs import form_of, supervisor
from tests.console.test_error_summaries import check_campaign_csv, notifier, summary_of


def error_beside(page: Page, name: str) -> str:
    found = re.search(rf'<p class="error" id="err-{re.escape(name)}">(.*?)</p>', page.text, re.S)
    assert found, f"no error beside {name}"
    return html.unescape(found[1])


async def test_a_spanish_console_says_a_bad_field_in_spanish(console: Console) -> None:
    b = await supervisor(console)
    number = NUMBERS[0]
    data = form_of(await b.get(f"/console/numbers/{number}/config/faq"))
    data.update(
        {
            "faq.enabled": "on",
            "faq.questions.0.question": "x" * 30,
            "faq.questions.0.answer": "una respuesta",
            "action": "review",
        }
    )
    bad = await b.post(f"/console/numbers/{number}/config/faq", data)
    assert bad.status == 422
    said = "Escriba como máximo 24 caracteres."
    assert error_beside(bad, "faq.questions.0.question") == said
    assert summary_of(bad.text) == [f"Pregunta 1: {said}"]

    data = form_of(await b.get(f"/console/numbers/{number}/config/flow"))
    data.update({"flow.max_invalid_retries": "tres", "flow.restart_after_minutes": "0"})
    bad = await b.post(f"/console/numbers/{number}/config/flow", {**data, "action": "review"})
    assert bad.status == 422
    assert error_beside(bad, "flow.max_invalid_retries") == "Debe ser un número entero."
    assert error_beside(bad, "flow.restart_after_minutes") == "Debe ser 1 o más."

    # the API, given the same, says it in pydantic's English words
    current = await console.admin.call("GET", f"/numbers/{number}/config")
    config = current.body["config"]
    config["flow"]["restart_after_minutes"] = 0
    reply = await console.admin.call(
        "PUT", f"/numbers/{number}/config", config, headers={"If-Match": current.etag}
    )
    assert reply.status == 422
    assert reply.body["error"]["details"] == [
        {
            "number": number,
            "field": "flow.restart_after_minutes",
            "message": "Input should be greater than or equal to 1",
            "type": "greater_than_equal",
        }
    ]


async def test_a_member_reading_portuguese_or_english_gets_it_in_their_language(
    console: Console,
) -> None:
    await console.member("boss@example.com", ["access", "desk"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("boss@example.com")
    pt = {"Accept-Language": "pt-BR,pt;q=0.9"}
    found = await b.get(f"/console/desk/history/{NUMBERS[0]}?status=solved", headers=pt)
    assert found.status == 422
    assert error_beside(found, "status") == (
        "Deve ser 'waiting', 'assigned', 'closed_by_attendant', 'closed_by_contact', "
        "'closed_by_inactivity' ou 'transferred'."
    )
    page = await b.get("/console/access/profiles")
    en = {"Accept-Language": "en"}
    made = await b.post(
        "/console/access/profiles",
        {"csrf": page.csrf, "name": "", "description": ""},
        headers=en,
    )
    assert made.status == 422
    assert error_beside(made, "name") == "This field can't be empty."


async def test_the_domains_own_errors_are_said_in_the_members_language(
    console: Console,
) -> None:
    b = await supervisor(console)
    number = NUMBERS[0]
    data = form_of(await b.get(f"/console/numbers/{number}/config/hours"))
    data.update(
        {
            "timezone": "America/Atlantis",
            "hours.weekdays.monday.rows": "2",
            "hours.weekdays.monday.0.start": "09:00",
            "hours.weekdays.monday.0.end": "12:00",
            "hours.weekdays.monday.1.start": "11:00",
            "hours.weekdays.monday.1.end": "13:00",
            "action": "review",
        }
    )
    bad = await b.post(f"/console/numbers/{number}/config/hours", data)
    assert bad.status == 422
    assert error_beside(bad, "timezone") == (
        "Zona horaria IANA desconocida: 'America/Atlantis' "
        "(p. ej. America/Argentina/Buenos_Aires)."
    )
    overlap = error_beside(bad, "hours.weekdays.monday.1.start")
    assert overlap == "Se superpone con el intervalo 09:00-12:00."

    await console.member("desk@example.com", ["desk"], NUMBERS[:1])
    d = await console.browser()
    await d.sign_in("desk@example.com")
    found = await d.get(
        f"/console/desk/history/{NUMBERS[0]}?from=2026-03-10&to=2026-03-01",
        headers={"Accept-Language": "pt-BR"},
    )
    assert found.status == 422
    assert error_beside(found, "from") == "O início (2026-03-10) é posterior ao fim (2026-03-01)."


async def test_the_campaign_report_gives_the_rejected_rows_reasons_in_the_members_language(
    console: Console,
) -> None:
    b = await notifier(console)
    status, text = await check_campaign_csv(
        b, "telefono;nombre\n5491123456701;Ana\n5.49112E+12;Bea\n;Caro\n5491123456704;\n"
    )
    assert status == 200, text[-2000:]
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", text)
    assert [(r, c, html.unescape(why)) for r, c, why in rows] == [
        (
            "3",
            "telefono",
            "'5.49112E+12' está en notación científica (Excel): dé a la columna formato de texto.",
        ),
        ("4", "telefono", "Teléfono vacío."),
        ("5", "nombre", "Valor vacío."),
    ]


async def test_a_csv_refused_whole_is_said_in_the_members_language(console: Console) -> None:
    b = await notifier(console)
    status, text = await check_campaign_csv(b, "phone;nombre;nombre\n5491123456701;Ana;Bea\n")
    assert status == 422, text[-2000:]
    assert summary_of(text) == [
        "Columna de los teléfonos: Faltan columnas en el CSV: 'telefono' "
        "(sus columnas: phone, nombre, nombre).",
        "Archivo CSV: Columnas repetidas en el encabezado del CSV: 'nombre'. Cambie el "
        "nombre de las copias para que cada columna que lee la campaña aparezca una sola vez.",
    ]
