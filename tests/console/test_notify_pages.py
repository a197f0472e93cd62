"""The notification pages over HTTP: a campaign's progress and its pace."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from flow_engine.console.figures import Figures
from flow_engine.console.i18n import translator
from flow_engine.console.views.notifications import pace
from flow_engine.domain.campaigns import Campaign, CampaignState
from flow_engine.domain.notifications import TemplateRef
from flow_engine.web.state import STORAGE
from tests.admin.conftest import NUMBERS
from tests.console.conftest import Browser, Console
from tests.console.test_error_summaries import notifier, summary_of


async def test_a_campaign_shows_the_pace_it_was_given(console: Console) -> None:
    campaign = Campaign(
        id="cmp_pace",
        name="Recordatorios",
        state=CampaignState.PAUSED,
        number=NUMBERS[0],
        senders=[NUMBERS[0]],
        template=TemplateRef(name="recordatorio_cita", language="es"),
        per_second=2,
        created_at=1000.0,
        started_at=1000.0,
    )
    await console.app[STORAGE].notifications.create_campaign(campaign, {})
    await console.member("na@example.com", ["notifications"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("na@example.com")
    page = await b.get("/console/notifications/campaigns/cmp_pace")
    assert page.status == 200
    assert "· 2 por segundo</p>" in page.text


@pytest.mark.parametrize(
    ("given", "locale", "shown"),
    [
        ({"per_second": 2.0, "rate": 2.5}, "es", "2 por segundo"),  # 5 sent in 2 s
        ({"per_second": 0.5}, "en", "0.5 per second"),
        ({"interval_s": 1.5}, "es", "uno cada 1,5 s"),
        ({"batch_size": 1000, "batch_interval_min": 30.0}, "es", "1.000 cada 30 min"),
        (
            {"per_second": 2.0, "batch_size": 10, "batch_interval_min": 5.0},
            "pt-BR",
            "2 por segundo · 10 a cada 5 min",
        ),
        ({"rate": 2.5}, "es", "2,5 por segundo"),  # no pace given: the one measured
        ({"rate": None}, "es", ""),
    ],
)
def test_the_pace_is_the_one_given_in_the_members_language(
    given: dict[str, Any], locale: str, shown: str
) -> None:
    c = {"per_second": None, "interval_s": 0.0, "batch_size": None, "rate": None, **given}
    assert pace(c, translator(locale), Figures(locale)) == shown


async def test_a_notification_names_every_bad_field_at_once(console: Console) -> None:
    b = await notifier(console)
    page = await b.get(f"/console/notifications/send?number={NUMBERS[0]}&template=aviso|es")
    form = {"csrf": page.csrf, "number": NUMBERS[0], "template": "aviso|es", "key": "e" * 32}
    # the service's checks, each on its own: the phone and the template's parameter
    sent = await b.post("/console/notifications/send", {**form, "to": "no", "p.body.1": " "})
    assert sent.status == 422
    labels = [e.split(":")[0] for e in summary_of(sent.text)]
    assert labels == ["Teléfono del destinatario", "Texto"], summary_of(sent.text)
    assert 'id="err-to"' in sent.text and 'id="err-p.body.1"' in sent.text
    # the request model refuses the empty phone: the parameter is checked all the same
    empty = await b.post("/console/notifications/send", {**form, "to": "", "p.body.1": " "})
    assert empty.status == 422
    entries = summary_of(empty.text)
    assert [e.split(":")[0] for e in entries] == ["Teléfono del destinatario", "Texto"], entries
    # the model's (empty), in the member's language, not the service's on a stand-in
    assert "no puede quedar vacío" in entries[0], entries
    assert await console.app[STORAGE].notifications.list(NUMBERS[0]) == []


async def post_campaign(b: Browser, fields: dict[str, str], csv: str | None) -> tuple[int, str]:
    data = aiohttp.FormData()
    for key, value in fields.items():
        data.add_field(key, value)
    if csv is not None:
        data.add_field("file", csv.encode(), filename="c.csv", content_type="text/csv")
    async with b.client.post("/console/notifications/campaigns/new", data=data) as resp:
        return resp.status, await resp.text()


async def test_a_campaign_names_every_bad_field_at_once(console: Console) -> None:
    b = await notifier(console)
    page = await b.get(f"/console/notifications/campaigns/new?number={NUMBERS[0]}")
    form = {
        "csrf": page.csrf,
        "number": NUMBERS[0],
        "template": "aviso|es",
        "phone_column": "telefono",
        "action": "check",
    }
    # no file yet: the spec's errors and the template's parameter, the file's waits for it
    bad = {**form, "name": "", "per_second": "rápido", "p.body.1": " "}
    status, text = await post_campaign(b, bad, None)
    assert status == 422
    labels = [e.split(":")[0] for e in summary_of(text)]
    assert labels == ["Nombre de la campaña", "Envíos por segundo", "Archivo CSV", "Texto"]
    for name in ("name", "per_second", "file", "p.body.1"):
        assert f'id="err-{name}"' in text, name
    # the file's header, each column it lacks by the field naming it, beside a bad pace
    bad = {**form, "name": "Prueba", "per_second": "0", "p.body.1": "@nombre"}
    status, text = await post_campaign(b, bad, "celular;apellido\n5491123456701;Paz\n")
    assert status == 422
    entries = summary_of(text)
    labels = [e.split(":")[0] for e in entries]
    assert labels == ["Envíos por segundo", "Columna de los teléfonos", "Archivo CSV"], entries
    assert "'telefono'" in entries[1] and "'nombre'" in entries[2]
    assert 'id="err-file"' in text and 'href="#f-file"' in text
    assert (
        await console.app[STORAGE].notifications.campaigns(
            number=None, state=None, limit=10, offset=0
        )
        == []
    )
