"""The configuration pages: tabs with errors beside their fields, the diff before saving,
versions and restore, the bulk edit's summary before applying."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import pytest

from flow_engine.gateway.recording import RecordingGateway
from flow_engine.storage.memory import memory_storage
from flow_engine.web.app import create_app
from flow_engine.web.state import CONFIG_ADMIN
from tests.admin.conftest import NUMBERS, AdminClient, ClientFactory, number_config
from tests.console.conftest import Browser, Console, Page, console_settings


async def supervisor(console: Console, numbers: list[str] = NUMBERS) -> Browser:
    await console.member("sup@example.com", ["config"], numbers, name="Sup")
    b = await console.browser()
    assert (await b.sign_in("sup@example.com")).status == 200
    return b


def form_of(page: Page) -> dict[str, str]:
    """The inputs of the page's configuration form, as a browser would post them."""
    data: dict[str, str] = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text):
        if 'type="checkbox"' not in name:
            data.setdefault(name, value)
    for tag in re.findall(r"<input[^>]*>", page.text):
        name = re.search(r'name="([^"]+)"', tag)
        if name and 'type="checkbox"' in tag:
            if " checked" in tag:
                data[name[1]] = "on"
            else:
                data.pop(name[1], None)
    for name, value in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', page.text
    ):
        data[name] = value
    for name, body in re.findall(
        r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page.text, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        first = re.search(r'<option value="([^"]*)"', body)
        data[name] = chosen[1] if chosen else (first[1] if first else "")
    return {k: html.unescape(v) for k, v in data.items()}


async def test_a_tab_shows_the_configuration_and_the_list_searches(console: Console) -> None:
    b = await supervisor(console, NUMBERS[:2])
    page = await b.get("/console/numbers?q=" + NUMBERS[1][-3:])
    assert NUMBERS[1] in page.text and NUMBERS[0] not in page.text
    tab = await b.get(f"/console/numbers/{NUMBERS[0]}/config/flow")
    assert tab.status == 200
    assert 'for="f-flow.call_center"' in tab.text and 'id="f-flow.call_center"' in tab.text
    assert (await b.get(f"/console/numbers/{NUMBERS[2]}/config/flow")).status == 403
    assert (await b.get(f"/console/numbers/{NUMBERS[0]}/config/nope")).status == 404


async def test_an_invalid_field_shows_its_error_beside_it_and_saves_nothing(
    console: Console,
) -> None:
    b = await supervisor(console)
    number = NUMBERS[0]
    page = await b.get(f"/console/numbers/{number}/config/faq")
    data = form_of(page)
    data.update(
        {
            "faq.enabled": "on",
            "faq.questions.0.question": "x" * 30,
            "faq.questions.0.answer": "an answer",
            "action": "save",
        }
    )
    before = await console.app[CONFIG_ADMIN].head(number)
    bad = await b.post(f"/console/numbers/{number}/config/faq", data)
    assert bad.status == 422
    assert 'id="err-faq.questions.0.question"' in bad.text
    assert 'aria-describedby="err-faq.questions.0.question"' in bad.text
    assert 'value="' + "x" * 30 + '"' in bad.text  # what was typed is kept
    assert (await console.app[CONFIG_ADMIN].head(number)).version == before.version


async def test_review_shows_the_diff_and_save_stores_a_version(console: Console) -> None:
    b = await supervisor(console)
    number = NUMBERS[0]
    page = await b.get(f"/console/numbers/{number}/config/flow")
    data = form_of(page)
    data["flow.initial_greeting.text"] = "¡Bienvenido, {{contact.name}}!"
    data["action"] = "review"
    review = await b.post(f"/console/numbers/{number}/config/flow", data)
    assert review.status == 200
    assert "flow.initial_greeting.text" in review.text and 'value="save"' in review.text
    head = await console.app[CONFIG_ADMIN].head(number)
    assert head.config["flow"]["initial_greeting"]["text"] is None  # reviewing saves nothing
    data["action"] = "save"
    saved = await b.post(f"/console/numbers/{number}/config/flow", data)
    assert saved.status == 200 and "saved=1" in saved.url
    new = await console.app[CONFIG_ADMIN].head(number)
    assert new.version == head.version + 1
    assert new.config["flow"]["initial_greeting"]["text"] == "¡Bienvenido, {{contact.name}}!"
    # the same form again, from the old version: refused as stale, nothing written
    stale = await b.post(
        f"/console/numbers/{number}/config/flow", {**data, "flow.initial_greeting.text": "other"}
    )
    assert stale.status == 412
    assert (await console.app[CONFIG_ADMIN].head(number)).version == new.version
    versions = await b.get(f"/console/numbers/{number}/versions")
    assert f"/console/numbers/{number}/versions/{new.version}" in versions.text
    old = await b.get(f"/console/numbers/{number}/versions/{head.version}")
    restored = await b.post(
        f"/console/numbers/{number}/versions/{head.version}/restore",
        {"csrf": old.csrf, "etag": form_of(old)["etag"]},
    )
    assert restored.status == 200
    last = await console.app[CONFIG_ADMIN].head(number)
    assert (
        last.version == new.version + 1 and last.config["flow"]["initial_greeting"]["text"] is None
    )


async def test_every_tab_posts_back_unchanged(console: Console) -> None:
    b = await supervisor(console)
    for tab in ["flow", "faq", "queue", "service", "social", "hours", "skills"]:
        page = await b.get(f"/console/numbers/{NUMBERS[0]}/config/{tab}")
        data = {**form_of(page), "action": "review"}
        review = await b.post(f"/console/numbers/{NUMBERS[0]}/config/{tab}", data)
        assert review.status == 200, (tab, review.text[:2000])
        assert "No change" in review.text or "Sin cambios" in review.text, tab


async def test_bulk_edit_shows_the_summary_before_applying(console: Console) -> None:
    b = await supervisor(console)
    svc = console.app[CONFIG_ADMIN]
    ref = NUMBERS[0]
    await svc.update(
        ref,
        lambda c: {**c, "locale": "en"},
        if_match=None
        or '"'
        + str((await svc.head(ref)).version)
        + "-"
        + (await svc.head(ref)).digest[:16]
        + '"',
        author="admin",
        source="api",
        action="x",
    )
    page = await b.get("/console/numbers")
    data = {"csrf": page.csrf, "reference": ref}
    review = await b.client.post(
        "/console/numbers/bulk",
        data=[
            ("csrf", page.csrf),
            ("reference", ref),
            ("numbers", NUMBERS[1]),
            ("numbers", NUMBERS[2]),
        ],
    )
    text = await review.text()
    assert review.status == 200
    assert "locale" in text and NUMBERS[1] in text and NUMBERS[2] in text
    assert (await svc.head(NUMBERS[1])).config["locale"] == "es"  # nothing applied yet
    fields = [
        (k, html.unescape(v))
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text)
    ]
    applied = await b.client.post("/console/numbers/bulk/apply", data=fields)
    assert applied.status == 200
    assert (await svc.head(NUMBERS[1])).config["locale"] == "en"
    assert (await svc.head(NUMBERS[2])).config["locale"] == "en"
    del data


async def test_skills_need_the_skills_module_and_say_so_on_the_tab(console: Console) -> None:
    b = await supervisor(console)  # config, not skills
    number = NUMBERS[0]
    page = await b.get(f"/console/numbers/{number}/config/skills")
    data = {
        **form_of(page),
        "skills.PreMain.kind": "http",
        "skills.PreMain.location": "https://skills.example.com/hello",
        "action": "save",
    }
    before = (await console.app[CONFIG_ADMIN].head(number)).version
    refused = await b.post(f"/console/numbers/{number}/config/skills", data)
    assert refused.status == 403
    assert "skills module" in refused.text and 'id="error-summary"' in refused.text
    assert "cfg.form" not in refused.text  # the form's own error: no field, the message alone
    assert (await console.app[CONFIG_ADMIN].head(number)).version == before


@pytest.fixture
async def skills_console(aiohttp_client: ClientFactory) -> AsyncIterator[Console]:
    """The console with an HTTP skills host allowed (``FLOW_ENGINE_SKILL_URL_ALLOW``)."""
    storage = memory_storage()
    await storage.configs.put(NUMBERS[0], number_config(NUMBERS[0]))
    settings = console_settings(skill_url_allow="127.0.0.1")
    app = create_app(settings, storage=storage, gateway=RecordingGateway())
    client = await aiohttp_client(app)
    c = Console(
        AdminClient(client, app, storage),
        aiohttp_client,
        str(client.make_url("/")).rstrip("/"),
        [],
    )
    yield c
    for session in c.sessions:
        await session.close()


async def test_a_skill_is_attached_per_extension_point_and_detached(
    skills_console: Console,
) -> None:
    console = skills_console
    await console.member("sk@example.com", ["config", "skills"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("sk@example.com")
    number = NUMBERS[0]
    page = await b.get(f"/console/numbers/{number}/config/skills")
    assert 'for="f-skills.PreMain.kind"' in page.text  # one labelled row per point
    data = {
        **form_of(page),
        "skills.PreMain.kind": "http",
        "skills.PreMain.location": "http://127.0.0.1:9/hello",
        "skills.PreMain.timeout_s": "2",
        "skills.PreEnd.kind": "http",  # no timeout: the default
        "skills.PreEnd.location": "http://127.0.0.1:9/bye",
        "action": "save",
    }
    saved = await b.post(f"/console/numbers/{number}/config/skills", data)
    assert saved.status == 200 and "saved=1" in saved.url, saved.text[:400]
    skills = (await console.app[CONFIG_ADMIN].head(number)).config["skills"]
    assert [(s["service_name"], s["kind"], s["url"]) for s in skills] == [
        ("PreMain", "http", "http://127.0.0.1:9/hello"),
        ("PreEnd", "http", "http://127.0.0.1:9/bye"),
    ]
    again = await b.get(f"/console/numbers/{number}/config/skills")
    shown = form_of(again)  # the tab shows what is attached, and posts it back unchanged
    assert shown["skills.PreMain.location"] == "http://127.0.0.1:9/hello"
    assert shown["skills.PreMain.timeout_s"] == "2.0"
    assert shown["skills.PreEnd.timeout_s"] == str(skills[1]["timeout_s"])  # the default
    before = (await console.app[CONFIG_ADMIN].head(number)).version
    same = await b.post(f"/console/numbers/{number}/config/skills", {**shown, "action": "save"})
    assert same.status == 200
    detached = {**shown, "skills.PreMain.kind": "", "action": "save"}
    assert (await b.post(f"/console/numbers/{number}/config/skills", detached)).status == 200
    head = await console.app[CONFIG_ADMIN].head(number)
    assert [s["service_name"] for s in head.config["skills"]] == ["PreEnd"]
    assert head.version > before


async def test_a_form_read_before_another_save_never_undoes_it(console: Console) -> None:
    """Two members on one tab: the second one's review and save, from the page read
    before the first one saved, are refused as stale; the first one's change stays."""
    b = await supervisor(console)
    number = NUMBERS[0]
    svc = console.app[CONFIG_ADMIN]
    page = await b.get(f"/console/numbers/{number}/config/flow")
    data = form_of(page)
    before = await svc.head(number)
    minutes = before.config["flow"]["restart_after_minutes"]
    await svc.update(
        number,
        lambda c: {**c, "flow": {**c["flow"], "restart_after_minutes": minutes + 5}},
        if_match=data["etag"],
        author="other@example.com",
        source="api",
        action="config.put",
    )
    saved = await svc.head(number)
    data["flow.max_invalid_retries"] = "3"
    for action in ("review", "save"):
        stale = await b.post(f"/console/numbers/{number}/config/flow", {**data, "action": action})
        assert stale.status == 412, action
        assert "Someone changed this number" in stale.text or "Alguien cambió" in stale.text
        head = await svc.head(number)
        assert head.version == saved.version
        assert head.config["flow"]["restart_after_minutes"] == minutes + 5
    # the page it answers carries the new version: reviewed again, it saves
    again = form_of(stale)
    assert again["etag"] != data["etag"]
    again["flow.restart_after_minutes"] = str(minutes + 5)
    ok = await b.post(f"/console/numbers/{number}/config/flow", {**again, "action": "save"})
    assert ok.status == 200 and "saved=1" in ok.url
    last = await svc.head(number)
    assert last.config["flow"]["restart_after_minutes"] == minutes + 5
    assert last.config["flow"]["max_invalid_retries"] == 3
