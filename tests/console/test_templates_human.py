"""Templates and human-service pages: one number, and many from a reference (summary first)."""

from __future__ import annotations

import html
import re

from flow_engine.admin.configs import etag_of
from flow_engine.domain import limits
from flow_engine.web.state import CONFIG_ADMIN
from tests.admin.conftest import NUMBERS
from tests.console.conftest import Console
from tests.console.test_error_summaries import summary_of


def hidden(text: str) -> list[tuple[str, str]]:
    return [
        (k, html.unescape(v))
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text)
    ]


async def test_templates_of_a_number_and_bulk_activation(console: Console) -> None:
    await console.member("t@example.com", ["templates"], NUMBERS[:3])
    b = await console.browser()
    await b.sign_in("t@example.com")
    page = await b.get(f"/console/templates/{NUMBERS[0]}")
    data = dict(hidden(page.text))
    bad = await b.post(f"/console/templates/{NUMBERS[0]}", {**data, "active": "Not Valid"})
    assert bad.status == 422 and 'id="err-active"' in bad.text
    ok = await b.post(f"/console/templates/{NUMBERS[0]}", {**data, "active": "promo_1\npromo_2"})
    assert ok.status == 200
    svc = console.app[CONFIG_ADMIN]
    assert (await svc.head(NUMBERS[0])).config["templates"]["active"] == ["promo_1", "promo_2"]
    listing = await b.get("/console/templates")
    assert NUMBERS[3] not in listing.text
    form = [("csrf", listing.csrf), ("reference", NUMBERS[0]), ("numbers", NUMBERS[1])]
    async with b.client.post("/console/templates/bulk", data=form) as resp:
        text = await resp.text()
        assert resp.status == 200 and "promo_1" in text
    assert (await svc.head(NUMBERS[1])).config["templates"]["active"] == []
    async with b.client.post("/console/templates/bulk/apply", data=hidden(text)) as resp:
        assert resp.status == 200
    assert (await svc.head(NUMBERS[1])).config["templates"]["active"] == ["promo_1", "promo_2"]
    denied = [("csrf", listing.csrf), ("reference", NUMBERS[0]), ("numbers", NUMBERS[4])]
    async with b.client.post("/console/templates/bulk", data=denied) as resp:
        assert resp.status == 403


def error_of(text: str, name: str) -> str:
    found = re.search(rf'<p class="error" id="err-{re.escape(name)}">(.*?)</p>', text, re.S)
    assert found, f"no error beside {name}"
    return html.unescape(found[1])


async def test_each_error_of_the_templates_is_shown_once_with_its_line(console: Console) -> None:
    await console.member("t@example.com", ["templates"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("t@example.com")
    page = await b.get(f"/console/templates/{NUMBERS[0]}")
    data = dict(hidden(page.text))
    bad = await b.post(f"/console/templates/{NUMBERS[0]}", {**data, "active": "ok_1\nNot Valid"})
    assert bad.status == 422
    assert error_of(bad.text, "active") == "línea 2: El formato no es válido."
    twice = "promo_1\npromo_2\n\npromo_1, x-y"
    bad = await b.post(f"/console/templates/{NUMBERS[0]}", {**data, "active": twice})
    assert error_of(bad.text, "active") == "línea 4: El formato no es válido."
    bad = await b.post(f"/console/templates/{NUMBERS[0]}", {**data, "active": twice[:-5]})
    assert error_of(bad.text, "active") == "línea 4: 'promo_1' está dos veces en la lista."


async def test_human_service_settings_and_replication(console: Console) -> None:
    await console.member("h@example.com", ["human_service"], NUMBERS[:2])
    b = await console.browser()
    await b.sign_in("h@example.com")
    page = await b.get(f"/console/human-service/{NUMBERS[0]}")
    data = dict(hidden(page.text))
    base = {**data, "flow.ticket_inactivity_close_minutes": "60", "timezone": "America/Sao_Paulo"}
    bad = await b.post(f"/console/human-service/{NUMBERS[0]}", {**base, "desk.tags": "vip\nVIP"})
    assert bad.status == 422 and 'id="err-desk.tags"' in bad.text
    ok = await b.post(f"/console/human-service/{NUMBERS[0]}", {**base, "desk.tags": "vip\nnew"})
    assert ok.status == 200
    svc = console.app[CONFIG_ADMIN]
    assert (await svc.head(NUMBERS[0])).config["desk"]["tags"] == ["vip", "new"]
    listing = await b.get("/console/human-service")
    form = [("csrf", listing.csrf), ("reference", NUMBERS[0]), ("numbers", NUMBERS[1])]
    async with b.client.post("/console/human-service/replicate", data=form) as resp:
        text = await resp.text()
        assert resp.status == 200 and "desk.tags" in text
    async with b.client.post("/console/human-service/replicate/apply", data=hidden(text)) as r:
        assert r.status == 200
    assert (await svc.head(NUMBERS[1])).config["desk"]["tags"] == ["vip", "new"]


async def changed_meanwhile(console: Console, number: str) -> None:
    """Another member's save after the page was read."""
    svc = console.app[CONFIG_ADMIN]
    await svc.update(
        number,
        lambda current: {**current, "name": "Renamed meanwhile"},
        if_match=etag_of(await svc.head(number)),
        author="other@example.com",
        source="api",
        action="config.put",
    )


async def test_human_service_saved_from_an_older_version_is_refused_as_stale(
    console: Console,
) -> None:
    await console.member("h@example.com", ["human_service"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("h@example.com")
    page = await b.get(f"/console/human-service/{NUMBERS[0]}")
    await changed_meanwhile(console, NUMBERS[0])
    typed = {
        **dict(hidden(page.text)),
        "flow.ticket_inactivity_close_minutes": "60",
        "timezone": "America/Lima",
        "desk.tags": "vip",
    }
    stale = await b.post(f"/console/human-service/{NUMBERS[0]}", typed)
    assert stale.status == 412
    assert "Alguien cambió este número desde que lo abrió" in stale.text
    assert 'value="America/Lima"' in stale.text and ">vip</textarea>" in stale.text
    head = await console.app[CONFIG_ADMIN].head(NUMBERS[0])
    assert head.config["name"] == "Renamed meanwhile" and head.config["timezone"] != "America/Lima"
    assert dict(hidden(stale.text))["etag"] != typed["etag"]  # saved again, it is written
    again = {**typed, "etag": dict(hidden(stale.text))["etag"]}
    assert (await b.post(f"/console/human-service/{NUMBERS[0]}", again)).status == 200
    assert (await console.app[CONFIG_ADMIN].head(NUMBERS[0])).config["timezone"] == "America/Lima"


async def test_templates_saved_from_an_older_version_are_refused_as_stale(
    console: Console,
) -> None:
    await console.member("t@example.com", ["templates"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("t@example.com")
    page = await b.get(f"/console/templates/{NUMBERS[0]}")
    await changed_meanwhile(console, NUMBERS[0])
    typed = {**dict(hidden(page.text)), "active": "promo_1\npromo_2"}
    stale = await b.post(f"/console/templates/{NUMBERS[0]}", typed)
    assert stale.status == 412
    assert "Alguien cambió este número desde que lo abrió" in stale.text
    assert "promo_1\npromo_2</textarea>" in stale.text
    head = await console.app[CONFIG_ADMIN].head(NUMBERS[0])
    assert head.config["templates"]["active"] == []
    assert dict(hidden(stale.text))["etag"] != typed["etag"]


async def test_each_error_of_the_tags_is_shown_once_with_its_line(console: Console) -> None:
    # as the templates: every error of the tags, each after the line of its tag
    await console.member("h@example.com", ["human_service"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("h@example.com")
    page = await b.get(f"/console/human-service/{NUMBERS[0]}")
    data = dict(hidden(page.text))
    base = {**data, "flow.ticket_inactivity_close_minutes": "60", "timezone": "America/Sao_Paulo"}
    long = "x" * (limits.TAG_MAX + 1)
    too_long = f"Escriba como máximo {limits.TAG_MAX} caracteres."
    tags = f"vip\n{long}\n\nnew, {long}y"
    bad = await b.post(f"/console/human-service/{NUMBERS[0]}", {**base, "desk.tags": tags})
    assert bad.status == 422
    assert error_of(bad.text, "desk.tags") == f"línea 2: {too_long}; línea 4: {too_long}"
    assert f"línea 2: {too_long}; línea 4: {too_long}" in summary_of(bad.text)[0]
    tags = "vip\nold\n\nnew, vip\nnew"
    bad = await b.post(f"/console/human-service/{NUMBERS[0]}", {**base, "desk.tags": tags})
    assert error_of(bad.text, "desk.tags") == (
        "línea 4: 'vip' está dos veces en la lista.; línea 5: 'new' está dos veces en la lista."
    )
