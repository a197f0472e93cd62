"""Issue 9, defect 2: writes to many numbers (bulk edit, replication, bulk templates) carry
the version they were computed from, exactly like a single-number PUT: without
``if_match`` naming every number they are refused with 428 and nothing is written, unless
the caller says ``"force": true`` — which the audit log records."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.conftest import NUMBERS, AdminClient

A, B, C, D, E = NUMBERS

#: (route, body of a write to B and C) for each write to many numbers
WRITES = {
    "bulk": ("/config/bulk", {"numbers": [B, C], "change": {"locale": "en"}}),
    "replicate": (f"/numbers/{A}/config/replicate", {"targets": [B, C]}),
    "templates": ("/templates/bulk", {"numbers": [B, C], "active": ["promo_navidad"]}),
}
ACTIONS = {"bulk": "config.bulk", "replicate": "config.replicate", "templates": "templates.bulk"}


async def make_replication_change_something(admin: AdminClient) -> None:
    ref = await admin.call("GET", f"/numbers/{A}/config")
    config = {**ref.body["config"], "desk": {"tags": ["vip"]}}
    r = await admin.call("PUT", f"/numbers/{A}/config", config, headers={"If-Match": ref.etag})
    assert r.status == 200, r.body


async def versions(admin: AdminClient) -> dict[str, int]:
    heads = await admin.storage.configs.heads([B, C])
    return {n: h.version for n, h in heads.items()}


async def dry_run_etags(admin: AdminClient, path: str, body: dict[str, Any]) -> dict[str, str]:
    dry = await admin.call("POST", path, {**body, "dry_run": True})
    assert dry.status == 200, dry.body
    assert dry.body["changed"] == 2
    return {n["number"]: n["etag"] for n in dry.body["numbers"]}


@pytest.mark.parametrize("kind", sorted(WRITES))
async def test_a_write_to_many_numbers_without_if_match_is_428_like_put(
    admin: AdminClient, kind: str
) -> None:
    await make_replication_change_something(admin)
    path, body = WRITES[kind]
    before = await versions(admin)
    for sent in (body, {**body, "dry_run": False}, {**body, "dry_run": False, "force": False}):
        r = await admin.call("POST", path, sent)
        assert r.status == 428, (sent, r.body)
        assert r.body["error"]["code"] == "precondition_required"
        assert r.body["error"]["details"]["field"] == "if_match"
        assert r.body["error"]["details"]["missing"] == [B, C]
    assert await versions(admin) == before
    single = await admin.call("PUT", f"/numbers/{B}/config", {"phone_number_id": B})
    assert single.status == 428  # the same answer as a PUT without If-Match


@pytest.mark.parametrize("kind", sorted(WRITES))
async def test_if_match_must_name_every_number(admin: AdminClient, kind: str) -> None:
    await make_replication_change_something(admin)
    path, body = WRITES[kind]
    etags = await dry_run_etags(admin, path, body)
    partial = await admin.call("POST", path, {**body, "dry_run": False, "if_match": {B: etags[B]}})
    assert partial.status == 428, partial.body
    assert partial.body["error"]["details"]["missing"] == [C]
    stray = await admin.call(
        "POST", path, {**body, "dry_run": False, "if_match": {**etags, D: etags[B]}}
    )
    assert stray.status == 422, stray.body
    assert stray.body["error"]["details"][0]["field"] == f"if_match.{D}"
    assert await versions(admin) == {B: 1, C: 1}
    applied = await admin.call("POST", path, {**body, "dry_run": False, "if_match": etags})
    assert applied.status == 200, applied.body
    assert applied.body["applied"] is True
    assert await versions(admin) == {B: 2, C: 2}
    entries = await admin.storage.audit.entries(limit=10)
    mine = [e for e in entries if e.action == ACTIONS[kind]]
    assert {e.number for e in mine} == {B, C}
    assert all("force" not in e.details for e in mine)


@pytest.mark.parametrize("kind", sorted(WRITES))
async def test_force_applies_without_if_match_and_the_audit_says_so(
    admin: AdminClient, kind: str
) -> None:
    await make_replication_change_something(admin)
    path, body = WRITES[kind]
    r = await admin.call("POST", path, {**body, "force": True})
    assert r.status == 200, r.body
    assert r.body["applied"] is True and r.body["changed"] == 2
    assert await versions(admin) == {B: 2, C: 2}
    entries = await admin.storage.audit.entries(limit=10)
    mine = [e for e in entries if e.action == ACTIONS[kind]]
    assert {e.number for e in mine} == {B, C}
    assert all(e.details.get("force") is True for e in mine)


async def test_force_still_checks_the_etags_it_is_given(admin: AdminClient) -> None:
    path, body = WRITES["bulk"]
    etags = await dry_run_etags(admin, path, body)
    current = await admin.call("GET", f"/numbers/{C}/config")
    moved = {**current.body["config"], "name": "moved"}
    r = await admin.call("PUT", f"/numbers/{C}/config", moved, headers={"If-Match": current.etag})
    assert r.status == 200
    stale = await admin.call("POST", path, {**body, "force": True, "if_match": etags})
    assert stale.status == 412, stale.body
    assert (await admin.storage.configs.heads([B]))[B].version == 1


async def test_a_dry_run_needs_no_if_match(admin: AdminClient) -> None:
    await make_replication_change_something(admin)
    for path, body in WRITES.values():
        r = await admin.call("POST", path, {**body, "dry_run": True})
        assert r.status == 200, r.body
    assert await versions(admin) == {B: 1, C: 1}
