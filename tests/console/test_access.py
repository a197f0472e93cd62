"""Access pages: profiles, members (many at once), tokens shown once, numbers' owners and
members, removals with their summary first."""

from __future__ import annotations

import html
import re

from flow_engine.admin.directory import Directory
from flow_engine.web.state import CONFIG_ADMIN, DIRECTORY
from tests.admin.conftest import NUMBERS
from tests.console.conftest import Browser, Console


async def admin_of(console: Console, modules: list[str], numbers: list[str] = NUMBERS) -> Browser:
    await console.member("boss@example.com", modules, numbers, name="Boss")
    b = await console.browser()
    assert (await b.sign_in("boss@example.com")).status == 200
    return b


async def test_profiles_are_created_with_modules_and_deleted_after_a_summary(
    console: Console,
) -> None:
    b = await admin_of(console, ["access", "desk"])
    page = await b.get("/console/access/profiles")
    bad = await b.client.post(
        "/console/access/profiles", data=[("csrf", page.csrf), ("name", ""), ("modules", "desk")]
    )
    assert bad.status == 422 and 'id="err-name"' in await bad.text()
    made = await b.client.post(
        "/console/access/profiles",
        data=[("csrf", page.csrf), ("name", "Atención"), ("modules", "desk")],
    )
    assert made.status == 200
    d = await console.app[DIRECTORY].current()
    (p,) = [p for p in d.profiles.values() if p.name == "Atención"]
    assert [m.value for m in p.modules] == ["desk"]
    beyond = await b.client.post(
        "/console/access/profiles",
        data=[("csrf", page.csrf), ("name", "More"), ("modules", "config")],
    )
    assert beyond.status == 422  # a module the member lacks: refused by the directory
    summary = await b.post(f"/console/access/profiles/{p.id}/delete", {"csrf": page.csrf})
    assert summary.status == 200 and 'value="yes"' in summary.text
    assert p.id in (await console.app[DIRECTORY].current()).profiles
    await b.post(f"/console/access/profiles/{p.id}/delete", {"csrf": page.csrf, "confirm": "yes"})
    assert p.id not in (await console.app[DIRECTORY].current()).profiles


async def test_members_are_added_many_at_once_and_get_a_token_shown_once(
    console: Console,
) -> None:
    b = await admin_of(console, ["access", "desk"], NUMBERS[:2])
    page = await b.get("/console/access/members")
    form = [
        ("csrf", page.csrf),
        ("rows", "5"),
        ("members.0.name", "Caro"),
        ("members.0.email", "caro@example.com"),
        ("members.1.name", "Dani"),
        ("members.1.email", "dani@example.com"),
        ("numbers", NUMBERS[0]),
    ]
    async with b.client.post("/console/access/members", data=form) as resp:
        assert resp.status == 200, await resp.text()
    d = await console.app[DIRECTORY].current()
    caro = d.member_by_email("caro@example.com")
    assert caro is not None and caro.numbers == [NUMBERS[0]]
    assert d.member_by_email("dani@example.com") is not None
    outside = [*form[:4], ("numbers", NUMBERS[3])]
    async with b.client.post("/console/access/members", data=outside) as resp:
        assert resp.status == 422
    created = await b.post(
        f"/console/access/members/{caro.id}/tokens", {"csrf": page.csrf, "token_name": "crm"}
    )
    token = re.search(r'id="new-token" type="text" readonly value="(fe_[^"]+)"', created.text)
    assert token, created.text[-2000:]
    again = await b.get(f"/console/access/members/{caro.id}")
    assert token[1] not in again.text  # shown once
    assert (await console.app[DIRECTORY].authenticate(token[1])) is not None


async def test_a_refused_add_keeps_what_was_typed_and_names_the_row(console: Console) -> None:
    b = await admin_of(console, ["access", "desk"], NUMBERS[:2])
    page = await b.get("/console/access/members")
    form = [
        ("csrf", page.csrf),
        ("rows", "5"),
        ("members.1.name", "Eli"),
        ("members.1.email", "eli@example.com"),
        ("members.3.name", "<b>Fede</b>"),
        ("members.3.email", "not-an-email"),
        ("numbers", NUMBERS[1]),
    ]
    async with b.client.post("/console/access/members", data=form) as resp:
        assert resp.status == 422
        text = await resp.text()
    # the error is beside row 4's e-mail (the second member posted), not row 1's or 2's
    assert 'id="err-members.3.email"' in text
    assert 'id="err-members.0.email"' not in text and 'id="err-members.1.email"' not in text
    assert 'value="eli@example.com"' in text and 'value="not-an-email"' in text
    assert "&lt;b&gt;Fede&lt;/b&gt;" in text and "<b>Fede</b>" not in text
    assert (
        f'id="num-{NUMBERS[1]}" checked' in text and f'id="num-{NUMBERS[0]}" checked' not in text
    )
    assert (await console.app[DIRECTORY].current()).member_by_email("eli@example.com") is None
    for rows in ("abc", "-1", "100000"):  # a tampered row count: a 422, never a 500
        tampered = [("csrf", page.csrf), ("rows", rows), ("members.0.email", "x@example.com")]
        async with b.client.post("/console/access/members", data=tampered) as resp:
            assert resp.status == 422, rows
            assert "rows" in await resp.text()


async def test_a_number_without_configuration_is_refused_on_the_page(console: Console) -> None:
    """A link made before numbers had to be configured (written to the store as it was)
    offers the number; choosing it is refused with the reason, nothing added."""
    b = await admin_of(console, ["access", "numbers", "desk"], NUMBERS[:1])
    stale = "199999999999999"
    store = console.app[DIRECTORY].store
    version, raw = await store.load()
    doc = Directory.model_validate_json(raw or "{}")
    boss = doc.member_by_email("boss@example.com")
    assert boss is not None
    doc.members[boss.id] = boss.model_copy(update={"numbers": [NUMBERS[0], stale]})
    assert await store.swap(version, doc.model_dump_json(), []) is not None
    await console.member("eva@example.com", ["desk"], NUMBERS[:1])
    eva = (await console.app[DIRECTORY].current()).member_by_email("eva@example.com")
    assert eva is not None

    page = await b.get("/console/access/members")
    assert f'id="num-{stale}"' in page.text
    form = [
        ("csrf", page.csrf),
        ("rows", "1"),
        ("members.0.name", "Eli"),
        ("members.0.email", "eli@example.com"),
        ("numbers", stale),
    ]
    async with b.client.post("/console/access/members", data=form) as resp:
        assert resp.status == 422
        assert f"numbers without configuration: {stale}" in await resp.text()
    linked = await b.post(
        "/console/access/numbers/link",
        {"csrf": page.csrf, "member_ids": eva.id, "numbers": stale},
    )
    assert linked.status == 404 and f"numbers without configuration: {stale}" in linked.text
    d = await console.app[DIRECTORY].current()
    assert d.member_by_email("eli@example.com") is None
    assert d.members[eva.id].numbers == [NUMBERS[0]]


async def test_numbers_rename_owner_and_removal_with_its_summary(console: Console) -> None:
    b = await admin_of(console, ["numbers"], NUMBERS[:2])
    await console.member("eva@example.com", ["desk"], NUMBERS[:2])
    d = await console.app[DIRECTORY].current()
    eva = d.member_by_email("eva@example.com")
    assert eva is not None
    page = await b.get(f"/console/access/numbers/{NUMBERS[0]}")
    etag = re.search(r'name="etag" value="([^"]+)"', page.text)
    assert etag
    saved = await b.post(
        f"/console/access/numbers/{NUMBERS[0]}",
        {
            "csrf": page.csrf,
            "etag": html.unescape(etag[1]),
            "name": "Ventas",
            "owner_email": "nobody@example.com",
        },
    )
    assert saved.status == 422 and 'id="err-owner_email"' in saved.text
    saved = await b.post(
        f"/console/access/numbers/{NUMBERS[0]}",
        {
            "csrf": page.csrf,
            "etag": html.unescape(etag[1]),
            "name": "Ventas",
            "owner_email": "eva@example.com",
        },
    )
    assert saved.status == 200
    assert (await console.app[CONFIG_ADMIN].head(NUMBERS[0])).config["name"] == "Ventas"
    assert (await console.app[DIRECTORY].current()).owners[NUMBERS[0]] == "eva@example.com"
    form = [
        ("csrf", page.csrf),
        ("member_ids", eva.id),
        ("numbers", NUMBERS[0]),
        ("numbers", NUMBERS[1]),
    ]
    async with b.client.post("/console/access/numbers/unlink", data=form) as resp:
        text = await resp.text()
        assert resp.status == 200 and "eva@example.com" in text and 'value="yes"' in text
    assert (await console.app[DIRECTORY].current()).members[eva.id].numbers == NUMBERS[:2]
    async with b.client.post(
        "/console/access/numbers/unlink", data=[*form, ("confirm", "yes")]
    ) as resp:
        assert resp.status == 200
    assert (await console.app[DIRECTORY].current()).members[eva.id].numbers == []


async def test_an_unknown_module_is_a_field_error_with_what_was_typed_kept(
    console: Console,
) -> None:
    b = await admin_of(console, ["access", "desk"])
    page = await b.get("/console/access/profiles")
    form = [("csrf", page.csrf), ("name", "Turno noche"), ("description", "De 22 a 6")]
    bad = await b.client.post(
        "/console/access/profiles", data=[*form, ("modules", "desk"), ("modules", "bogus")]
    )
    text = await bad.text()
    assert bad.status == 422
    assert re.search(
        r'<fieldset id="f-modules">\s*<legend>[^<]*</legend>\s*<p class="error">', text
    )
    assert 'value="Turno noche"' in text and "De 22 a 6</textarea>" in text
    assert 'value="desk" id="mod-desk" checked' in text
    d = await console.app[DIRECTORY].current()
    assert [p for p in d.profiles.values() if p.name == "Turno noche"] == []
    p = next(iter(d.profiles.values()))  # editing one refuses it the same way
    edit = await b.client.post(f"/console/access/profiles/{p.id}", data=[*form, ("modules", "x")])
    edited = await edit.text()
    assert edit.status == 422 and 'value="Turno noche"' in edited
    assert re.search(
        r'<fieldset id="f-modules">\s*<legend>[^<]*</legend>\s*<p class="error">', edited
    )
    assert p.name != "Turno noche" and (await console.app[DIRECTORY].current()).profile(p.id) == p


async def test_saving_a_profile_or_member_unchanged_audits_nothing(console: Console) -> None:
    """As the API's PATCH: a save that changes nothing writes no audit entry; a change
    writes one naming what changed."""
    b = await admin_of(console, ["access", "desk"])
    page = await b.get("/console/access/profiles")
    form = [("csrf", page.csrf), ("name", "Turno"), ("description", "noche"), ("modules", "desk")]
    assert (await b.client.post("/console/access/profiles", data=form)).status == 200
    d = await console.app[DIRECTORY].current()
    (p,) = [p for p in d.profiles.values() if p.name == "Turno"]

    async def updates(action: str) -> list[dict[str, object]]:
        reply = await console.admin.call("GET", f"/audit?action={action}")
        return list(reply.body["items"])

    assert (await b.client.post(f"/console/access/profiles/{p.id}", data=form)).status == 200
    assert await updates("profile.update") == []
    renamed = [(k, "Turno tarde" if k == "name" else v) for k, v in form]
    assert (await b.client.post(f"/console/access/profiles/{p.id}", data=renamed)).status == 200
    (entry,) = await updates("profile.update")
    assert entry["details"]["changed"] == ["name"]

    boss = d.member_by_email("boss@example.com")
    assert boss is not None
    same = [("csrf", page.csrf), ("name", boss.name), ("profile_id", boss.profile_id or "")]
    assert (await b.client.post(f"/console/access/members/{boss.id}", data=same)).status == 200
    assert await updates("member.update") == []
    other = [("csrf", page.csrf), ("name", "Jefa"), ("profile_id", boss.profile_id or "")]
    assert (await b.client.post(f"/console/access/members/{boss.id}", data=other)).status == 200
    (entry,) = await updates("member.update")
    assert entry["details"]["changed"] == ["name"]


async def test_a_new_member_without_a_name_is_named_beside_its_row(console: Console) -> None:
    b = await admin_of(console, ["access", "desk"], NUMBERS[:1])
    page = await b.get("/console/access/members")
    form = [
        ("csrf", page.csrf),
        ("rows", "5"),
        ("members.2.email", "eve@example.com"),
        ("numbers", NUMBERS[0]),
    ]
    async with b.client.post("/console/access/members", data=form) as resp:
        assert resp.status == 422
        text = await resp.text()
    assert 'id="err-members.2.name"' in text
    assert (await console.app[DIRECTORY].current()).member_by_email("eve@example.com") is None
