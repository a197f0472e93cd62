"""The error summary at the top of a form names each field by its label, in the member's
language, as the configuration tabs do — never by its path (``to``, ``members.1.email``)."""

from __future__ import annotations

import html
import re

import aiohttp

from flow_engine.admin.configs import etag_of
from flow_engine.domain.templates import CatalogTemplate
from flow_engine.web.state import CONFIG_ADMIN, STORAGE
from tests.admin.conftest import NUMBERS
from tests.console.conftest import Browser, Console


def summary_of(text: str) -> list[str]:
    """The error summary's entries as read: "label: message" (a form's own, the message)."""
    found = re.search(r'<div class="summary" role="alert"[^>]*>(.*?)</div>', text, re.S)
    assert found, "no error summary"
    items = re.findall(r"<li>(.*?)</li>", found[1], re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", i)) for i in items]


async def notifier(console: Console) -> Browser:
    svc = console.app[CONFIG_ADMIN]
    await svc.update(
        NUMBERS[0],
        lambda current: {**current, "templates": {"active": ["aviso"]}},
        if_match=etag_of(await svc.head(NUMBERS[0])),
        author="admin",
        source="api",
        action="templates.put",
    )
    aviso = CatalogTemplate(
        name="aviso",
        language="es",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Hola {{1}}"}],
    )
    await console.app[STORAGE].notifications.save_catalog(NUMBERS[0], [aviso], 1000.0)
    await console.member("na@example.com", ["notifications"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("na@example.com")
    return b


async def check_campaign_csv(b: Browser, csv: str) -> tuple[int, str]:
    """The console's "check" of a campaign of the template ``aviso`` reading ``csv``
    (``;``-separated, phones in ``telefono``, the parameter in ``nombre``): its status
    and page."""
    page = await b.get(f"/console/notifications/campaigns/new?number={NUMBERS[0]}")
    data = aiohttp.FormData()
    fields = {
        "csrf": page.csrf,
        "number": NUMBERS[0],
        "template": "aviso|es",
        "name": "Prueba",
        "phone_column": "telefono",
        "separator": ";",
        "p.body.1": "@nombre",
        "action": "check",
    }
    for key, value in fields.items():
        data.add_field(key, value)
    data.add_field("file", csv.encode(), filename="c.csv", content_type="text/csv")
    async with b.client.post("/console/notifications/campaigns/new", data=data) as resp:
        return resp.status, await resp.text()


async def test_the_error_summaries_name_the_fields_by_their_labels(console: Console) -> None:
    b = await notifier(console)
    page = await b.get(f"/console/notifications/send?number={NUMBERS[0]}&template=aviso|es")
    form = {
        "csrf": page.csrf,
        "number": NUMBERS[0],
        "template": "aviso|es",
        "key": "d" * 32,
        "to": "not a phone",
        "p.body.1": "Ana",
    }
    sent = await b.post("/console/notifications/send", form)
    assert sent.status == 422
    (entry,) = summary_of(sent.text)
    assert entry.startswith("Teléfono del destinatario: "), entry
    campaign = await b.post(
        "/console/notifications/campaigns/new",
        {**form, "name": "Prueba", "phone_column": "telefono", "action": "check"},
    )
    assert [e.split(":")[0] for e in summary_of(campaign.text)] == ["Archivo CSV"]


async def test_a_members_row_and_a_history_field_are_named_by_their_labels(
    console: Console,
) -> None:
    await console.member("boss@example.com", ["access", "desk"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("boss@example.com")
    page = await b.get("/console/access/members")
    form = {"csrf": page.csrf, "rows": "5", "members.1.email": "not-an-email"}
    added = await b.post("/console/access/members", form)
    assert added.status == 422
    assert [e.split(":")[0] for e in summary_of(added.text)] == ["Correo electrónico 2"]
    found = await b.get(f"/console/desk/history/{NUMBERS[0]}?offset=-1")
    assert found.status == 422
    assert [e.split(":")[0] for e in summary_of(found.text)] == ["Páginas"]


async def test_the_campaign_report_names_the_columns_it_does_not_use(console: Console) -> None:
    b = await notifier(console)
    status, text = await check_campaign_csv(b, "telefono;nombre;notas\n5491123456701;Ana;x\n")
    assert status == 200, text[-2000:]
    assert "Columnas que no se usan (no se envían): notas." in text
