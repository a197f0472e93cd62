"""Configuration routes: read, replace with If-Match, 422 by field path, versions, restore,
flow upgrade, bulk from a reference with a dry run, replicate, templates, human service."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest

from flow_engine.domain.config import NumberConfig
from flow_engine.web.api.registry import OFFSET_MAX
from tests.admin.conftest import ADMIN_TOKEN, NUMBERS, AdminClient, number_config

A, B, C, D, E = NUMBERS


async def put(admin: AdminClient, number: str, config: dict[str, Any], etag: str) -> Any:
    return await admin.call("PUT", f"/numbers/{number}/config", config, headers={"If-Match": etag})


async def test_get_config_has_version_and_etag(admin: AdminClient) -> None:
    r = await admin.call("GET", f"/numbers/{A}/config")
    assert r.status == 200
    assert r.body["version"] == 1
    assert r.body["config"]["phone_number_id"] == A
    assert r.etag == r.body["etag"]


async def test_put_with_etag_makes_a_new_version_that_the_store_serves(admin: AdminClient) -> None:
    current = await admin.call("GET", f"/numbers/{A}/config")
    config = {**current.body["config"], "name": "Ana Ventas"}
    r = await put(admin, A, config, current.etag)
    assert r.status == 200, r.body
    assert r.body["version"] == 2
    assert r.body["summary"] == "changed name"
    assert r.etag != current.etag
    assert (await admin.storage.configs.get(A))["name"] == "Ana Ventas"  # type: ignore[index]


async def test_missing_if_match_is_428_and_stale_is_412(admin: AdminClient) -> None:
    current = await admin.call("GET", f"/numbers/{A}/config")
    config = current.body["config"]
    missing = await admin.call("PUT", f"/numbers/{A}/config", config)
    assert missing.status == 428
    assert missing.body["error"]["details"]["header"] == "If-Match"
    first = await put(admin, A, {**config, "name": "first"}, current.etag)
    assert first.status == 200
    second = await put(admin, A, {**config, "name": "second"}, current.etag)
    assert second.status == 412
    assert second.body["error"]["code"] == "precondition_failed"
    assert (await admin.storage.configs.get(A))["name"] == "first"  # type: ignore[index]


async def test_two_admins_racing_on_one_number_one_wins(admin_any: AdminClient) -> None:
    admin = admin_any
    current = await admin.call("GET", f"/numbers/{A}/config")
    config = current.body["config"]
    results = await asyncio.gather(
        *(put(admin, A, {**config, "name": f"admin {i}"}, current.etag) for i in range(8))
    )
    statuses = sorted(r.status for r in results)
    assert statuses == [200] + [412] * 7
    winner = next(r for r in results if r.status == 200)
    stored = await admin.storage.configs.get(A)
    assert stored is not None and stored["name"] == winner.body["config"]["name"]
    versions = await admin.call("GET", f"/numbers/{A}/config/versions")
    assert versions.body["total"] == 2


async def test_invalid_configuration_lists_every_bad_field(admin: AdminClient) -> None:
    current = await admin.call("GET", f"/numbers/{A}/config")
    config = {
        **current.body["config"],
        "faq": {"enabled": True, "questions": [{"question": "x" * 30, "answer": ""}] * 11},
        "timezone": "Mars/Olympus",
        "surprise": 1,
    }
    r = await put(admin, A, config, current.etag)
    assert r.status == 422
    fields = {d["field"] for d in r.body["error"]["details"]}
    assert {"timezone", "surprise", "faq.questions"} <= fields
    (zone,) = [d for d in r.body["error"]["details"] if d["field"] == "timezone"]
    assert zone["message"] == "unknown IANA time zone 'Mars/Olympus'"  # no "Value error, "
    assert all(d["number"] == A for d in r.body["error"]["details"])
    versions = await admin.call("GET", f"/numbers/{A}/config/versions")
    assert versions.body["total"] == 1  # nothing written


async def test_the_domains_errors_keep_their_english_words_and_types(admin: AdminClient) -> None:
    """The console says them in the member's language; the API's words are a contract."""
    current = await admin.call("GET", f"/numbers/{A}/config")
    config = current.body["config"]
    config["queue"] = {
        **config["queue"],
        "attendants": ["a@b.co", "A@b.co"],
        "default_queue": {"attendants": ["nope"]},
    }
    config["hours"] = {
        **config["hours"],
        "weekdays": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "11:00"}]},
        "holidays": ["31/02 - X", {"date": "25/12 - X", "start": "09:00"}],
    }
    config["service"]["social_networks"] = {"enabled": True, "instagram": "https://x.com/a"}
    r = await put(admin, A, config, current.etag)
    assert r.status == 422
    got = {(d["field"], d["type"], d["message"]) for d in r.body["error"]["details"]}
    assert got == {
        ("queue.attendants.1", "duplicate", "'a@b.co' is listed twice"),
        ("queue.default_queue.attendants.0", "email", "not a valid e-mail address"),
        ("hours.weekdays.monday.1.end", "missing", "Field required"),
        ("hours.holidays.0.date", "value_error", "31/02 is not a day of the year"),
        ("hours.holidays.1.end", "missing", "give both start and end, or neither"),
        (
            "service.social_networks.instagram",
            "url_host",
            "must be a link to instagram (instagram.com, instagr.am)",
        ),
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("send_rate_per_second", True),
        ("send_rate_per_second", "3"),
        ("desk.active_messaging.daily_limit", True),
        ("desk.active_messaging.daily_limit", "3"),
        ("faq.enabled", "yes"),
    ],
)
async def test_a_value_of_the_wrong_json_type_is_refused_not_coerced(
    admin: AdminClient, field: str, value: Any
) -> None:
    current = await admin.call("GET", f"/numbers/{A}/config")
    config = copy.deepcopy(current.body["config"])
    *parents, leaf = field.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    r = await put(admin, A, config, current.etag)
    assert r.status == 422, r.body
    assert [d["field"] for d in r.body["error"]["details"]] == [field]
    versions = await admin.call("GET", f"/numbers/{A}/config/versions")
    assert versions.body["total"] == 1  # nothing written


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Bot\x1b[31m"),
        ("faq.questions.0.question", "Hora\x00rio"),
        ("queue.queues.0.name", "Ven\u2028tas"),
    ],
)
async def test_a_name_written_with_a_control_character_is_refused(
    admin: AdminClient, field: str, value: str
) -> None:
    current = await admin.call("GET", f"/numbers/{A}/config")
    config = copy.deepcopy(current.body["config"])
    config["faq"] = {"enabled": True, "questions": [{"question": "Horario", "answer": "24 h"}]}
    config["queue"] = {"queues": [{"name": "Ventas", "attendants": []}]}
    node: Any = config
    *parents, leaf = field.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[leaf] = value
    r = await put(admin, A, config, current.etag)
    assert r.status == 422, r.body
    [detail] = r.body["error"]["details"]
    assert (detail["field"], detail["type"]) == (field, "control_character")
    versions = await admin.call("GET", f"/numbers/{A}/config/versions")
    assert versions.body["total"] == 1  # nothing written


def test_a_stored_name_with_a_control_character_still_loads() -> None:
    """The rule is for what is written now: a configuration stored before it loads."""
    doc = {**number_config(A), "name": "Bot\x1b"}
    assert NumberConfig.model_validate(doc).name == "Bot\x1b"
    assert NumberConfig.model_validate_json(json.dumps(doc)).name == "Bot\x1b"


async def test_the_number_written_as_a_json_number_is_its_digits(admin: AdminClient) -> None:
    """What an unquoted YAML number pushed by ``admin push`` becomes: still accepted."""
    current = await admin.call("GET", f"/numbers/{A}/config")
    config = {**current.body["config"], "phone_number_id": int(A), "name": "Digits"}
    r = await put(admin, A, config, current.etag)
    assert r.status == 200, r.body
    assert r.body["config"]["phone_number_id"] == A


async def test_a_write_that_changes_nothing_is_no_new_version(admin: AdminClient) -> None:
    """As a bulk edit skips the numbers it does not change: the same configuration again
    answers the version in force, with no version and no audit entry added."""
    current = await admin.call("GET", f"/numbers/{A}/config")
    audited = len((await admin.call("GET", f"/audit?number={A}")).body["items"])
    again = await put(admin, A, current.body["config"], current.etag)
    assert again.status == 200, again.body
    assert (again.body["version"], again.etag) == (current.body["version"], current.etag)
    flow = current.body["config"].get("flow_version", 1)
    same_flow = await admin.call(
        "POST",
        f"/numbers/{A}/flow-version",
        {"version": flow},
        headers={"If-Match": current.etag},
    )
    assert same_flow.status == 200 and same_flow.body["version"] == current.body["version"]
    versions = await admin.call("GET", f"/numbers/{A}/config/versions")
    assert versions.body["total"] == 1
    assert len((await admin.call("GET", f"/audit?number={A}")).body["items"]) == audited


async def test_identity_cannot_be_changed_through_another_number(admin: AdminClient) -> None:
    current = await admin.call("GET", f"/numbers/{A}/config")
    r = await put(admin, A, {**current.body["config"], "phone_number_id": B}, current.etag)
    assert r.status == 422
    assert r.body["error"]["details"][0]["field"] == "phone_number_id"


async def test_malformed_body_is_400(admin: AdminClient) -> None:
    current = await admin.call("GET", f"/numbers/{A}/config")
    r = await admin.call(
        "PUT", f"/numbers/{A}/config", raw=b"{nope", headers={"If-Match": current.etag}
    )
    assert r.status == 400
    r = await admin.call("PUT", f"/numbers/{A}/config", [1], headers={"If-Match": current.etag})
    assert r.status == 400


async def test_create_a_number_with_if_none_match(admin: AdminClient) -> None:
    new = "100000000000999"
    r = await admin.call(
        "PUT", f"/numbers/{new}/config", number_config(new), headers={"If-None-Match": "*"}
    )
    assert r.status == 201, r.body
    again = await admin.call(
        "PUT", f"/numbers/{new}/config", number_config(new), headers={"If-None-Match": "*"}
    )
    assert again.status == 412
    assert again.body["error"]["details"]["header"] == "If-None-Match"
    assert "already has a configuration" in again.body["error"]["message"]
    listed = await admin.call("GET", "/numbers")
    assert new in [n["number"] for n in listed.body["items"]]


async def test_if_match_star_replaces_whatever_version_is_in_force(admin: AdminClient) -> None:
    """RFC 9110: ``If-Match: *`` holds when the number has a configuration, fails when not."""
    config = {**number_config(A), "name": "Forced"}
    r = await admin.call("PUT", f"/numbers/{A}/config", config, headers={"If-Match": "*"})
    assert r.status == 200, r.body
    assert (await admin.call("GET", f"/numbers/{A}/config")).body["config"]["name"] == "Forced"

    new = "100000000000998"
    r = await admin.call(
        "PUT", f"/numbers/{new}/config", number_config(new), headers={"If-Match": "*"}
    )
    assert r.status == 412, r.body
    assert "If-None-Match: *" in r.body["error"]["message"]
    assert (await admin.call("GET", f"/numbers/{new}/config")).status == 404


async def test_versions_and_restore(admin: AdminClient) -> None:
    etag = (await admin.call("GET", f"/numbers/{A}/config")).etag
    for name in ("two", "three"):
        config = {**number_config(A), "name": name}
        r = await put(admin, A, config, etag)
        etag = r.etag
    versions = await admin.call("GET", f"/numbers/{A}/config/versions")
    assert [v["version"] for v in versions.body["items"]] == [3, 2, 1]
    assert versions.body["items"][0]["author"] == "admin"
    old = await admin.call("GET", f"/numbers/{A}/config/versions/2")
    assert old.body["config"]["name"] == "two"
    stale = await admin.call(
        "POST", f"/numbers/{A}/config/versions/2/restore", headers={"If-Match": '"1-x"'}
    )
    assert stale.status == 412
    restored = await admin.call(
        "POST", f"/numbers/{A}/config/versions/2/restore", headers={"If-Match": etag}
    )
    assert restored.status == 200, restored.body
    assert restored.body["version"] == 4
    assert restored.body["summary"] == "restored version 2"
    assert (await admin.storage.configs.get(A))["name"] == "two"  # type: ignore[index]
    missing = await admin.call(
        "POST", f"/numbers/{A}/config/versions/9/restore", headers={"If-Match": restored.etag}
    )
    assert missing.status == 404
    bad = await admin.call("GET", f"/numbers/{A}/config/versions/zero")
    assert bad.status == 422


async def test_flow_version_upgrade(admin: AdminClient) -> None:
    versions = await admin.call("GET", "/flow-versions")
    latest = versions.body["latest"]
    assert latest >= 2
    current = await admin.call("GET", f"/numbers/{A}/config")
    assert current.body["flow_version"] == 1
    r = await admin.call(
        "POST",
        f"/numbers/{A}/flow-version",
        {"version": latest},
        headers={"If-Match": current.etag},
    )
    assert r.status == 200, r.body
    assert r.body["flow_version"] == latest
    assert r.body["summary"] == f"flow upgraded from version 1 to {latest}"
    unknown = await admin.call(
        "POST", f"/numbers/{A}/flow-version", {"version": 99}, headers={"If-Match": r.etag}
    )
    assert unknown.status == 422
    assert unknown.body["error"]["details"][0]["field"] == "version"
    # a body's number is a JSON number: true (which pydantic would take as 1, a
    # downgrade) and "1" are refused, and nothing changes
    for version in (True, "1", 1.5):
        odd = await admin.call(
            "POST",
            f"/numbers/{A}/flow-version",
            {"version": version},
            headers={"If-Match": r.etag},
        )
        assert odd.status == 422, (version, odd.body)
        assert odd.body["error"]["details"][0]["field"] == "version"
    assert (await admin.call("GET", f"/numbers/{A}/config")).body["flow_version"] == latest


async def test_bulk_from_a_reference_dry_run_then_apply(admin_any: AdminClient) -> None:
    admin = admin_any
    ref = await admin.call("GET", f"/numbers/{A}/config")
    reference = {
        **ref.body["config"],
        "faq": {"enabled": True, "questions": [{"question": "Horario", "answer": "9 a 18"}]},
        "desk": {"tags": ["vip"], "active_messaging": {"enabled": False}},
    }
    assert (await put(admin, A, reference, ref.etag)).status == 200
    body = {"numbers": [B, C, D], "reference": A, "dry_run": True}
    dry = await admin.call("POST", "/config/bulk", body)
    assert dry.status == 200, dry.body
    assert dry.body["dry_run"] is True and dry.body["changed"] == 3
    paths = {c["path"] for c in dry.body["numbers"][0]["changes"]}
    assert "faq.questions" in paths and "desk.tags" in paths
    assert "name" not in paths and "desk.active_messaging.enabled" not in paths
    assert (await admin.storage.configs.get(B))["faq"]["questions"] == []  # type: ignore[index]
    if_match = {n["number"]: n["etag"] for n in dry.body["numbers"]}
    applied = await admin.call(
        "POST", "/config/bulk", {**body, "dry_run": False, "if_match": if_match}
    )
    assert applied.status == 200, applied.body
    assert applied.body["applied"] is True
    for n in (B, C, D):
        stored = await admin.storage.configs.get(n)
        assert stored is not None
        assert stored["faq"]["questions"][0]["question"] == "Horario"
        assert stored["phone_number_id"] == n
        assert stored["desk"]["active_messaging"]["enabled"] is True
    again = await admin.call(
        "POST", "/config/bulk", {**body, "dry_run": False, "if_match": if_match}
    )
    assert again.status == 412  # the etags of the dry run are gone


async def test_bulk_is_all_or_nothing_when_one_number_is_invalid(admin_any: AdminClient) -> None:
    admin = admin_any
    current = await admin.call("GET", f"/numbers/{C}/config")
    broken = {**current.body["config"], "faq": {"service_button_label": "Horario"}}
    assert (await put(admin, C, broken, current.etag)).status == 200
    change = {"faq": {"questions": [{"question": "Horario", "answer": "9 a 18"}]}}
    r = await admin.call(
        "POST", "/config/bulk", {"numbers": [A, B, C], "change": change, "force": True}
    )
    assert r.status == 422, r.body
    assert {d["number"] for d in r.body["error"]["details"]} == {C}
    for n in (A, B):
        assert (await admin.storage.configs.get(n))["faq"]["questions"] == []  # type: ignore[index]


async def test_bulk_refuses_a_number_that_moved_since_the_dry_run(admin_any: AdminClient) -> None:
    admin = admin_any
    body = {"numbers": [A, B], "change": {"locale": "en"}, "dry_run": True}
    dry = await admin.call("POST", "/config/bulk", body)
    if_match = {n["number"]: n["etag"] for n in dry.body["numbers"]}
    current = await admin.call("GET", f"/numbers/{B}/config")
    await put(admin, B, {**current.body["config"], "name": "moved"}, current.etag)
    r = await admin.call("POST", "/config/bulk", {**body, "dry_run": False, "if_match": if_match})
    assert r.status == 412
    assert list(r.body["error"]["details"]["current"]) == [B]
    assert (await admin.storage.configs.get(A))["locale"] == "es"  # type: ignore[index]


async def test_bulk_forty_numbers(admin_any: AdminClient) -> None:
    admin = admin_any
    many = [f"2000000000{i:05d}" for i in range(40)]
    for n in many:
        await admin.storage.configs.put(n, number_config(n))
    body = {"numbers": many, "reference": A, "dry_run": True}
    dry = await admin.call("POST", "/config/bulk", body)
    assert dry.status == 200
    change = {"numbers": many, "change": {"locale": "pt-BR"}}
    dry = await admin.call("POST", "/config/bulk", {**change, "dry_run": True})
    if_match = {n["number"]: n["etag"] for n in dry.body["numbers"]}
    r = await admin.call("POST", "/config/bulk", {**change, "if_match": if_match})
    assert r.status == 200 and r.body["changed"] == 40
    heads = await admin.storage.configs.heads(many)
    assert all(h.config["locale"] == "pt-BR" and h.version == 2 for h in heads.values())


async def test_bulk_needs_a_reference_or_a_change(admin: AdminClient) -> None:
    r = await admin.call("POST", "/config/bulk", {"numbers": [A]})
    assert r.status == 422
    r = await admin.call("POST", "/config/bulk", {"numbers": ["x1"], "change": {}})
    assert r.status == 422 and r.body["error"]["details"][0]["field"] == "numbers.0"
    r = await admin.call("POST", "/config/bulk", {"numbers": ["123"], "change": {"locale": "en"}})
    assert r.status == 404


async def test_replicate_copies_human_service_but_never_active_messaging(
    admin_any: AdminClient,
) -> None:
    admin = admin_any
    src = await admin.call("GET", f"/numbers/{A}/config")
    source = {
        **src.body["config"],
        "flow": {**src.body["config"]["flow"], "call_center": True},
        "queue": {"queues": [{"name": "Ventas", "attendants": ["ana@example.com"]}]},
        "desk": {"tags": ["vip", "reclamo"], "active_messaging": {"enabled": False}},
        "faq": {"intro": "only on A"},
    }
    assert (await put(admin, A, source, src.etag)).status == 200
    dry = await admin.call(
        "POST", f"/numbers/{A}/config/replicate", {"targets": [B, C], "dry_run": True}
    )
    assert dry.status == 200, dry.body
    assert dry.body["changed"] == 2
    if_match = {n["number"]: n["etag"] for n in dry.body["numbers"]}
    r = await admin.call(
        "POST", f"/numbers/{A}/config/replicate", {"targets": [B, C], "if_match": if_match}
    )
    assert r.status == 200
    for n in (B, C):
        stored = await admin.storage.configs.get(n)
        assert stored is not None
        assert stored["flow"]["call_center"] is True
        assert stored["queue"]["queues"][0]["name"] == "Ventas"
        assert stored["desk"]["tags"] == ["vip", "reclamo"]
        assert stored["desk"]["active_messaging"]["enabled"] is True  # never replicated
        assert stored["faq"]["intro"] is None  # not a human-service setting
        assert stored["name"] == number_config(n)["name"]


async def test_human_service_settings(admin: AdminClient) -> None:
    r = await admin.call("GET", f"/numbers/{A}/human-service")
    assert r.status == 200
    settings = r.body["settings"]
    settings["desk"] = {"tags": ["urgente"]}
    put_r = await admin.call(
        "PUT", f"/numbers/{A}/human-service", {"settings": settings}, headers={"If-Match": r.etag}
    )
    assert put_r.status == 200, put_r.body
    assert put_r.body["settings"]["desk"]["tags"] == ["urgente"]
    outside = await admin.call(
        "PUT",
        f"/numbers/{A}/human-service",
        {"settings": {"faq": {"intro": "x"}}},
        headers={"If-Match": put_r.etag},
    )
    assert outside.status == 422
    assert outside.body["error"]["details"][0]["field"] == "settings.faq"


async def test_templates_one_number_and_bulk_from_reference(admin_any: AdminClient) -> None:
    admin = admin_any
    t = await admin.call("GET", f"/numbers/{A}/templates")
    assert t.body["count"] == 0
    active = ["atendimento_esta_disponivel", "promo_navidad"]
    r = await admin.call(
        "PUT", f"/numbers/{A}/templates", {"active": active}, headers={"If-Match": t.etag}
    )
    assert r.status == 200, r.body
    assert r.body["count"] == 2 and r.body["updated_at"] > t.body["updated_at"]
    bad = await admin.call(
        "PUT", f"/numbers/{A}/templates", {"active": ["Bad Name"]}, headers={"If-Match": r.etag}
    )
    assert bad.status == 422 and bad.body["error"]["details"][0]["field"] == "active.0"
    dry = await admin.call(
        "POST", "/templates/bulk", {"numbers": [B, C], "reference": A, "dry_run": True}
    )
    assert dry.body["changed"] == 2
    assert (await admin.call("GET", f"/numbers/{B}/templates")).body["count"] == 0
    if_match = {n["number"]: n["etag"] for n in dry.body["numbers"]}
    applied = await admin.call(
        "POST", "/templates/bulk", {"numbers": [B, C], "reference": A, "if_match": if_match}
    )
    assert applied.status == 200
    listing = await admin.call("GET", "/templates")
    counts = {row["number"]: row["count"] for row in listing.body["items"]}
    assert counts[A] == counts[B] == counts[C] == 2 and counts[D] == 0
    search = await admin.call("GET", "/templates", None, headers={})
    assert search.status == 200


async def test_audit_lists_who_changed_what(admin: AdminClient) -> None:
    current = await admin.call("GET", f"/numbers/{A}/config")
    await put(admin, A, {**current.body["config"], "name": "audited"}, current.etag)
    bulk = {"numbers": [B], "change": {"locale": "en"}, "force": True}
    assert (await admin.call("POST", "/config/bulk", bulk)).status == 200
    entries = [
        e for e in (await admin.storage.audit.entries(limit=20)) if e.action.startswith("config.")
    ]
    assert [(e.action, e.number, e.actor) for e in entries] == [
        ("config.bulk", B, "admin"),
        ("config.put", A, "admin"),
    ]


async def test_numbers_list_search_and_rename(admin: AdminClient) -> None:
    listed = await admin.call("GET", "/numbers", None)
    assert listed.body["total"] == 5
    page = await admin.call("GET", "/numbers?limit=2&offset=1")
    assert [n["number"] for n in page.body["items"]] == [B, C]
    found = await admin.call("GET", f"/numbers?q={E[-3:]}")
    assert [n["number"] for n in found.body["items"]] == [E]
    one = await admin.call("GET", f"/numbers/{A}")
    renamed = await admin.call(
        "PATCH", f"/numbers/{A}", {"name": "Bruno"}, headers={"If-Match": one.etag}
    )
    assert renamed.status == 200 and renamed.body["name"] == "Bruno"
    no_member = await admin.call("PATCH", f"/numbers/{A}", {"owner_email": "zed@example.com"})
    assert no_member.status == 422
    assert no_member.body["error"]["details"][0]["field"] == "owner_email"


async def test_super_admin_token_is_required(admin: AdminClient) -> None:
    r = await admin.call("GET", f"/numbers/{A}/config", token=None)
    assert r.status == 401
    r = await admin.call("GET", f"/numbers/{A}/config", token=ADMIN_TOKEN + "x")
    assert r.status == 401


@pytest.mark.parametrize(
    "path",
    [
        "/tickets",
        f"/numbers/{NUMBERS[0]}/config/versions",
        f"/numbers/{NUMBERS[0]}/notifications",
        f"/numbers/{NUMBERS[0]}/tickets/history",
        "/numbers",
        "/members",
        "/audit",
        "/templates",
        "/campaigns",
    ],
)
async def test_an_offset_past_any_list_is_a_422_on_every_store(
    admin_any: AdminClient, path: str
) -> None:
    """Redis takes list offsets as 64-bit integers: a larger one used to be a 500."""
    for offset in ("99999999999999999999", str(2**63 - 1), str(OFFSET_MAX + 1)):
        r = await admin_any.call("GET", f"{path}?offset={offset}")
        assert r.status == 422, (path, offset, r.body)
        assert r.body["error"]["details"][0]["field"] == "offset"
    r = await admin_any.call("GET", f"{path}?offset={OFFSET_MAX}")
    assert r.status == 200, (path, r.body)


@pytest.mark.parametrize("version", ["0", "abc", "1234567890", "-1", "²", "١"])
async def test_a_malformed_version_in_the_path_is_a_422_naming_it(
    admin: AdminClient, version: str
) -> None:
    r = await admin.call("GET", f"/numbers/{A}/config/versions/{version}")
    assert r.status == 422, r.body
    [detail] = r.body["error"]["details"]
    assert (detail["field"], detail["in"]) == ("version", "path")
