"""The access API over HTTP: profiles, members, links to numbers, tokens and the audit log,
as the super-admin and as members with part of the rights."""

from __future__ import annotations

from typing import Any

from flow_engine.admin.directory import Directory
from flow_engine.web.state import DIRECTORY
from tests.admin.conftest import ADMIN_TOKEN, NUMBERS, AdminClient

N0, N1, N2, N3, N4 = NUMBERS


async def profile(admin: AdminClient, name: str, modules: list[str], **kw: Any) -> str:
    reply = await admin.call(
        "POST", "/profiles", {"name": name, "modules": modules}, token=kw.get("token", "")
    )
    assert reply.status == 201, reply.body
    return str(reply.body["id"])


async def members(
    admin: AdminClient,
    people: list[dict[str, str]],
    profile_id: str | None = None,
    numbers: list[str] | None = None,
    token: str | None = "",
) -> list[dict[str, Any]]:
    reply = await admin.call(
        "POST",
        "/members",
        {"members": people, "profile_id": profile_id, "numbers": numbers or []},
        token=token,
    )
    assert reply.status == 200, reply.body
    return [item["member"] for item in reply.body["items"]]


async def token_of(admin: AdminClient, member_id: str, token: str | None = "") -> str:
    reply = await admin.call("POST", f"/members/{member_id}/tokens", {"name": "t"}, token=token)
    assert reply.status == 201, reply.body
    return str(reply.body["token"])


async def me(admin: AdminClient, token: str) -> dict[str, Any]:
    reply = await admin.call("GET", "/me", token=token)
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body


async def audit(admin: AdminClient, query: str = "", token: str | None = "") -> list[Any]:
    reply = await admin.call("GET", "/audit" + query, token=token)
    assert reply.status == 200, reply.body
    items: list[Any] = reply.body["items"]
    return items


def emails(items: list[dict[str, Any]]) -> list[str]:
    return sorted(m["email"] for m in items)


# ---------------------------------------------------------------- the admin story


async def test_a_member_given_two_of_five_numbers_sees_only_those(admin: AdminClient) -> None:
    regional = await profile(admin, "Regional admin", ["access", "numbers", "config"])
    attendant = await profile(admin, "Attendant", ["desk"])
    [lead] = await members(admin, [{"name": "Lea", "email": "lea@x.com"}], regional, [N0, N1])
    [near, far] = await members(
        admin,
        [{"name": "Near", "email": "near@x.com"}, {"name": "Far", "email": "far@x.com"}],
        attendant,
        [],
    )
    await admin.call("POST", "/links", {"member_ids": [near["id"]], "numbers": [N1, N2, N3]})
    await admin.call("POST", "/links", {"member_ids": [far["id"]], "numbers": [N3, N4]})
    lea = await token_of(admin, lead["id"])

    mine = await me(admin, lea)
    assert mine["numbers"] == [N0, N1] and mine["modules"] == ["access", "config", "numbers"]

    listed = await admin.call("GET", "/members", token=lea)
    assert listed.status == 200
    assert emails(listed.body["items"]) == ["lea@x.com", "near@x.com"]
    assert listed.body["total"] == 2
    by_email = {m["email"]: m for m in listed.body["items"]}
    assert by_email["near@x.com"]["numbers"] == [N1]  # not N2, N3: not theirs
    assert by_email["near@x.com"]["profile_name"] == "Attendant"
    assert by_email["near@x.com"]["modules"] == ["desk"]
    assert by_email["lea@x.com"]["numbers"] == [N0, N1]

    by_number = await admin.call("GET", f"/members?number={N1}", token=lea)
    assert emails(by_number.body["items"]) == ["lea@x.com", "near@x.com"]
    by_number = await admin.call("GET", f"/members?number={N0}&q=NEAR", token=lea)
    assert by_number.body == {"items": [], "total": 0}
    outside = await admin.call("GET", f"/members?number={N3}", token=lea)
    assert outside.status == 403 and outside.body["error"]["details"]["number"] == N3
    hidden = await admin.call("GET", f"/members/{far['id']}", token=lea)
    assert hidden.status == 404
    seen = await admin.call("GET", f"/members/{near['id']}", token=lea)
    assert seen.status == 200 and seen.body["numbers"] == [N1]

    everyone = await admin.call("GET", "/members?limit=2&offset=1")
    assert everyone.body["total"] == 3 and emails(everyone.body["items"]) == [
        "lea@x.com",
        "near@x.com",
    ]
    full = await admin.call("GET", f"/members/{near['id']}")
    assert full.body["numbers"] == [N1, N2, N3]


async def test_without_a_valid_token_every_route_is_401(admin: AdminClient) -> None:
    for method, path in [
        ("GET", "/profiles"),
        ("POST", "/profiles"),
        ("GET", "/members"),
        ("POST", "/links"),
        ("GET", "/members/m_1/tokens"),
        ("GET", "/audit"),
    ]:
        for token in (None, "wrong", "fe_000000000000_nope", "fe_"):
            reply = await admin.call(method, path, {}, token=token)
            assert reply.status == 401, (method, path, token)
            assert reply.body["error"]["code"] == "unauthorized"
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    basic = await admin.call("GET", "/profiles", headers={"Authorization": "Basic x"}, token=None)
    assert basic.status == 401


async def test_outside_the_grant_is_403(admin: AdminClient) -> None:
    desk = await admin.member_token("desk@x.com", ["desk"], [N0])
    for method, path, body in [
        ("GET", "/profiles", None),
        ("POST", "/profiles", {"name": "x"}),
        ("GET", "/members", None),
        ("GET", "/audit", None),
        ("POST", "/links", {"member_ids": ["m_1"], "numbers": [N0]}),
        ("GET", f"/numbers/{N0}/members", None),
    ]:
        reply = await admin.call(method, path, body, token=desk)
        assert reply.status == 403, (method, path, reply.body)
        assert reply.body["error"]["code"] == "forbidden"

    lead = await admin.member_token("lead@x.com", ["numbers", "access"], [N0, N1])
    [ana] = await members(admin, [{"name": "Ana", "email": "ana@x.com"}])
    denied = await admin.call(
        "POST", "/links", {"member_ids": [ana["id"]], "numbers": [N1, N2, N3]}, token=lead
    )
    assert denied.status == 403
    assert denied.body["error"]["details"] == {"numbers": [N2, N3], "module": "numbers"}
    assert (await admin.call("GET", f"/numbers/{N2}/members", token=lead)).status == 403
    assert (await admin.call("GET", f"/audit?number={N2}", token=lead)).status == 403
    linked = await admin.call("GET", f"/members/{ana['id']}")
    assert linked.body["numbers"] == []  # nothing was linked


async def test_no_one_raises_their_own_rights(admin: AdminClient) -> None:
    lead = await admin.member_token("lead@x.com", ["access", "config"], [N0])
    lead_id = (await me(admin, lead))["member_id"]
    refused = await admin.call(
        "POST", "/profiles", {"name": "attendants", "modules": ["desk"]}, token=lead
    )
    assert refused.status == 403 and refused.body["error"]["details"] == {"modules": ["desk"]}
    desk = await profile(admin, "desk", ["desk"])
    assigned = await admin.call(
        "POST",
        "/members",
        {"members": [{"name": "Bo", "email": "bo@x.com"}], "profile_id": desk, "numbers": [N0]},
        token=lead,
    )
    assert assigned.status == 403
    self_upgrade = await admin.call(
        "PATCH", f"/members/{lead_id}", {"profile_id": desk}, token=lead
    )
    assert self_upgrade.status == 403
    boss = await admin.member_token("boss@x.com", ["access", "config", "desk"], [N0])
    boss_id = (await me(admin, boss))["member_id"]
    for method, path, body in [
        ("PATCH", f"/members/{boss_id}", {"name": "demoted"}),
        ("DELETE", f"/members/{boss_id}", None),
        ("POST", f"/members/{boss_id}/tokens", {"name": "mine now"}),
        ("GET", f"/members/{boss_id}/tokens", None),
    ]:
        reply = await admin.call(method, path, body, token=lead)
        assert reply.status == 403, (method, path, reply.body)
    assert (await admin.call("GET", "/me", token=boss)).status == 200
    # what they may do: a profile within their modules, a member on their number
    editors = await profile(admin, "editors", ["config"], token=lead)
    [bo] = await members(admin, [{"name": "Bo", "email": "bo@x.com"}], editors, [N0], token=lead)
    assert bo["modules"] == ["config"] and bo["numbers"] == [N0]


# ---------------------------------------------------------------- validation


async def test_bad_bodies_name_the_field(admin: AdminClient) -> None:
    async def fields(method: str, path: str, body: Any) -> list[str]:
        reply = await admin.call(method, path, body)
        assert reply.status == 422, (path, body, reply.body)
        assert reply.body["error"]["code"] == "validation_error"
        return [d["field"] for d in reply.body["error"]["details"]]

    assert await fields("POST", "/profiles", {"name": "", "modules": ["config", "bogus"]}) == [
        "name",
        "modules.1",
    ]
    assert await fields("POST", "/profiles", {"name": "x" * 101}) == ["name"]
    assert await fields("POST", "/profiles", {"name": "ok", "description": "d" * 501}) == [
        "description"
    ]
    assert await fields("POST", "/profiles", {"name": "ok", "colour": "red"}) == ["colour"]
    assert await fields("POST", "/members", {"members": []}) == ["members"]
    assert await fields(
        "POST", "/members", {"members": [{"name": "A", "email": "not-an-email"}]}
    ) == ["members.0.email"]
    assert await fields(
        "POST",
        "/members",
        {"members": [{"name": "A", "email": "a@x.com"}, {"email": "b@x.com"}]},
    ) == ["members.1.name"]
    assert await fields(
        "POST",
        "/members",
        {"members": [{"name": "A", "email": "a@x.com"}, {"name": "B", "email": "A@x.com"}]},
    ) == ["members.1.email"]  # the repeated e-mail itself
    assert await fields(
        "POST", "/members", {"members": [{"name": "A", "email": "a@x.com"}], "profile_id": "p_no"}
    ) == ["profile_id"]
    assert await fields(
        "POST", "/members", {"members": [{"name": "A", "email": "a@x.com"}], "numbers": ["x1"]}
    ) == ["numbers.0"]
    assert await fields("POST", "/links", {"member_ids": ["m_nope"], "numbers": [N0]}) == [
        "member_ids.0"
    ]
    assert await fields("POST", "/links", {"member_ids": [], "numbers": []}) == [
        "member_ids",
        "numbers",
    ]
    assert await fields("POST", "/members/m_x/tokens", {"name": " "}) == ["name"]
    assert await fields("GET", "/members?limit=0", None) == ["limit"]
    assert (await admin.call("GET", "/members")).body["items"] == []  # nothing was added

    for raw in (b"{not json", b"[1, 2]"):
        reply = await admin.call("POST", "/profiles", raw=raw)
        assert reply.status == 400 and reply.body["error"]["code"] == "bad_request"


async def test_names_and_descriptions_refuse_control_characters(admin: AdminClient) -> None:
    p = await profile(admin, "Editors", [])
    [ana] = await members(admin, [{"name": "Ana", "email": "ana@x.com"}])
    for method, path, body, field in [
        ("POST", "/profiles", {"name": "Sales\nteam"}, "name"),
        ("POST", "/profiles", {"name": "ok", "description": "a\x00b"}, "description"),
        ("POST", "/profiles", {"name": "ok", "description": "a\x1b[2Jb"}, "description"),
        ("PATCH", f"/profiles/{p}", {"name": "Edit\x7fors"}, "name"),
        ("PATCH", f"/profiles/{p}", {"description": "a\u2028b"}, "description"),
        (
            "POST",
            "/members",
            {"members": [{"name": "A\tna", "email": "b@x.com"}]},
            "members.0.name",
        ),
        ("PATCH", f"/members/{ana['id']}", {"name": "Ana\u0085"}, "name"),
        ("POST", f"/members/{ana['id']}/tokens", {"name": "laptop\r"}, "name"),
    ]:
        reply = await admin.call(method, path, body)
        assert reply.status == 422, (path, body, reply.body)
        [detail] = reply.body["error"]["details"]
        assert detail["field"] == field and detail["type"] == "control_character", detail
        assert "U+" in detail["message"], detail
    unchanged = await admin.call("GET", f"/profiles/{p}")
    assert unchanged.body["name"] == "Editors" and unchanged.body["description"] == ""
    assert (await admin.call("GET", f"/members/{ana['id']}")).body["name"] == "Ana"
    assert emails((await admin.call("GET", "/members")).body["items"]) == ["ana@x.com"]

    # a description is written on several lines (the console's text area): kept as written
    text = "Edit configurations.\r\n\tAnd templates 👩‍💻"
    described = await admin.call("PATCH", f"/profiles/{p}", {"description": text})
    assert described.status == 200 and described.body["description"] == text
    named = await admin.call("PATCH", f"/members/{ana['id']}", {"name": "Ana María 👩‍💻"})
    assert named.status == 200 and named.body["name"] == "Ana María 👩‍💻"


async def test_conflicts_and_unknowns(admin: AdminClient) -> None:
    await profile(admin, "Editors", ["config"])
    dup = await admin.call("POST", "/profiles", {"name": "editors"})
    assert dup.status == 409
    [a, b] = await members(
        admin, [{"name": "A", "email": "a@x.com"}, {"name": "B", "email": "b@x.com"}]
    )
    taken = await admin.call("PATCH", f"/members/{b['id']}", {"email": "a@x.com"})
    assert taken.status == 409 and taken.body["error"]["details"] == {"field": "email"}
    for path in ("/profiles/p_nope", "/members/m_nope", "/members/m_nope/tokens"):
        assert (await admin.call("GET", path)).status == 404, path
    assert (await admin.call("DELETE", f"/members/{a['id']}/tokens/nope")).status == 404


# ---------------------------------------------------------------- bulk links


async def test_bulk_add_and_the_removal_summary(admin: AdminClient) -> None:
    lead = await admin.member_token("lead@x.com", ["numbers", "access"], [N0, N1, N2])
    people = [{"name": n, "email": f"{n}@x.com"} for n in ("ana", "bo", "cy")]
    ids = [m["id"] for m in await members(admin, people)]

    added = await admin.call(
        "POST", "/links", {"member_ids": ids, "numbers": [N0, N1, N2]}, token=lead
    )
    assert added.status == 200
    assert len(added.body["added"]) == 9
    assert {"member_id": ids[0], "email": "ana@x.com", "number": N0} in added.body["added"]
    again = await admin.call("POST", "/links", {"member_ids": ids, "numbers": [N0]}, token=lead)
    assert again.body == {"added": []}
    on_n1 = await admin.call("GET", f"/numbers/{N1}/members", token=lead)
    assert emails(on_n1.body["items"]) == ["ana@x.com", "bo@x.com", "cy@x.com", "lead@x.com"]

    body = {"member_ids": ids[:2], "numbers": [N0, N1], "dry_run": True}
    summary = await admin.call("POST", "/links/remove", body, token=lead)
    assert summary.status == 200 and summary.body["dry_run"] is True
    expected = [
        {"member_id": i, "email": e, "number": n}
        for i, e in zip(ids[:2], ["ana@x.com", "bo@x.com"], strict=True)
        for n in (N0, N1)
    ]
    assert summary.body["removed"] == expected
    unchanged = await admin.call("GET", f"/numbers/{N1}/members", token=lead)
    assert unchanged.body == on_n1.body
    assert not await audit(admin, "?action=member.unlink")

    done = await admin.call("POST", "/links/remove", {**body, "dry_run": False}, token=lead)
    assert done.body == {"removed": expected, "dry_run": False}
    on_n1 = await admin.call("GET", f"/numbers/{N1}/members", token=lead)
    assert emails(on_n1.body["items"]) == ["cy@x.com", "lead@x.com"]
    ana = await admin.call("GET", f"/members/{ids[0]}", token=lead)
    assert ana.body["numbers"] == [N2]

    entries = await audit(admin, "?action=member.*")
    unlinks = [e for e in entries if e["action"] == "member.unlink"]
    assert sorted(e["number"] for e in unlinks) == [N0, N1]
    lead_actor = (await me(admin, lead))["actor"]
    assert all(e["actor"] == lead_actor for e in unlinks)
    assert [m["email"] for m in unlinks[0]["details"]["members"]] == ["ana@x.com", "bo@x.com"]
    links = [e for e in entries if e["action"] == "member.link" and e["actor"] == lead_actor]
    assert sorted(e["number"] for e in links) == [N0, N1, N2]  # one per number
    assert all(len(e["details"]["members"]) == 3 for e in links)


async def test_members_of_one_number(admin: AdminClient) -> None:
    lead = await admin.member_token("lead@x.com", ["numbers"], [N0])
    [ana] = await members(admin, [{"name": "Ana", "email": "ana@x.com"}])
    added = await admin.call(
        "POST", f"/numbers/{N0}/members", {"member_ids": [ana["id"]]}, token=lead
    )
    assert added.body == {"added": [{"member_id": ana["id"], "email": "ana@x.com", "number": N0}]}
    assert (
        await admin.call("POST", f"/numbers/{N1}/members", {"member_ids": [ana["id"]]}, token=lead)
    ).status == 403
    removed = await admin.call("DELETE", f"/numbers/{N0}/members/{ana['id']}", token=lead)
    assert removed.body == {
        "removed": [{"member_id": ana["id"], "email": "ana@x.com", "number": N0}]
    }
    again = await admin.call("DELETE", f"/numbers/{N0}/members/{ana['id']}", token=lead)
    assert again.body == {"removed": []}
    missing = await admin.call("DELETE", f"/numbers/{N0}/members/m_nope", token=lead)
    assert missing.status == 404


async def test_links_only_to_well_formed_numbers_with_a_configuration(
    admin_any: AdminClient,
) -> None:
    admin = admin_any
    [ana] = await members(admin, [{"name": "Ana", "email": "ana@x.com"}])
    one = {"member_ids": [ana["id"]]}
    for method, path, body in [
        ("POST", "/numbers/abc/members", one),
        ("GET", "/numbers/1%0A2/members", None),
    ]:
        bad = await admin.call(method, path, body)
        assert bad.status == 422, (path, bad.body)
        [detail] = bad.body["error"]["details"]
        assert detail["field"] == "number" and detail["in"] == "path", detail

    unknown = "199999999999999"  # well formed, never configured
    alone = await admin.call("POST", f"/numbers/{unknown}/members", one)
    assert alone.status == 404 and alone.body["error"]["code"] == "not_found"
    assert alone.body["error"]["details"] == {"number": unknown}
    for path, body in [
        ("/links", {**one, "numbers": [N0, unknown]}),
        ("/members", {"members": [{"email": "ana@x.com"}], "numbers": [unknown, N1]}),
        ("/members", {"members": [{"name": "Bo", "email": "bo@x.com"}], "numbers": [unknown]}),
    ]:
        refused = await admin.call("POST", path, body)
        assert refused.status == 404, (path, refused.body)
        assert refused.body["error"]["details"] == {"numbers": [unknown]}
    assert (await admin.call("GET", f"/members/{ana['id']}")).body["numbers"] == []
    assert emails((await admin.call("GET", "/members")).body["items"]) == ["ana@x.com"]
    assert not await audit(admin, "?action=member.link")

    linked = await admin.call("POST", "/links", {**one, "numbers": [N0]})
    assert linked.status == 200 and len(linked.body["added"]) == 1
    listed = await admin.call("GET", f"/numbers/{unknown}/members")
    assert listed.status == 200 and listed.body == {"items": []}  # no link to see, nor to undo

    # a malformed link stored by an earlier version can still be undone
    store = admin.app[DIRECTORY].store
    version, raw = await store.load()
    doc = Directory.model_validate_json(raw or "{}")
    doc.members[ana["id"]] = doc.members[ana["id"]].model_copy(update={"numbers": [N0, "abc"]})
    assert await store.swap(version, doc.model_dump_json(), []) is not None
    undone = await admin.call("DELETE", f"/numbers/abc/members/{ana['id']}")
    assert undone.status == 200, undone.body
    assert [link["number"] for link in undone.body["removed"]] == ["abc"]
    assert (await admin.call("GET", f"/members/{ana['id']}")).body["numbers"] == [N0]


# ---------------------------------------------------------------- profiles


async def test_deleting_a_profile_removes_its_permissions(admin: AdminClient) -> None:
    admins = await profile(admin, "Admins", ["access", "config"])
    [ana] = await members(admin, [{"name": "Ana", "email": "ana@x.com"}], admins, [N0])
    ana_token = await token_of(admin, ana["id"])
    assert (await admin.call("GET", "/profiles", token=ana_token)).status == 200

    listed = await admin.call("GET", f"/profiles/{admins}")
    assert listed.body["member_count"] == 1 and listed.body["modules"] == ["access", "config"]
    holders = await admin.call("GET", f"/profiles/{admins}/members")
    assert emails(holders.body["items"]) == ["ana@x.com"]

    dry = await admin.call("DELETE", f"/profiles/{admins}?dry_run=true")
    assert dry.status == 200
    assert (dry.body["dry_run"], dry.body["deleted"]) == (True, False)
    assert dry.body["profile"]["id"] == admins
    assert [m["email"] for m in dry.body["members_affected"]] == ["ana@x.com"]
    assert dry.body["members_affected"][0]["modules"] == ["access", "config"]
    assert (await admin.call("GET", "/profiles", token=ana_token)).status == 200

    done = await admin.call("DELETE", f"/profiles/{admins}")
    assert (done.body["dry_run"], done.body["deleted"]) == (False, True)
    assert done.body["members_affected"] == dry.body["members_affected"]
    after = await admin.call("GET", "/profiles", token=ana_token)
    assert after.status == 403
    assert (await admin.call("GET", f"/profiles/{admins}")).status == 404
    still = await admin.call("GET", f"/members/{ana['id']}")
    assert (still.body["profile_id"], still.body["modules"], still.body["numbers"]) == (
        None,
        [],
        [N0],
    )


async def test_profile_updates(admin: AdminClient) -> None:
    pid = await profile(admin, "Editors", ["config"])
    reply = await admin.call(
        "PATCH",
        f"/profiles/{pid}",
        {"description": "they edit", "modules": ["templates", "config"]},
    )
    assert reply.status == 200
    assert (reply.body["name"], reply.body["description"], reply.body["modules"]) == (
        "Editors",
        "they edit",
        ["config", "templates"],
    )
    listed = await admin.call("GET", "/profiles")
    assert [p["name"] for p in listed.body["items"]] == ["Editors"]
    [entry] = await audit(admin, "?action=profile.update")
    assert entry["target"] == pid and entry["details"]["changed"] == ["description", "modules"]


async def test_a_patch_must_change_something_and_the_same_values_change_nothing(
    admin_any: AdminClient,
) -> None:
    admin = admin_any
    pid = await profile(admin, "Editors", ["config"])
    [ana] = await members(admin, [{"name": "Ana", "email": "ana@x.com"}], pid)
    created = await admin.call("GET", f"/profiles/{pid}")
    for path in (f"/profiles/{pid}", f"/members/{ana['id']}"):
        for raw in (b"{}", b""):
            empty = await admin.call("PATCH", path, raw=raw)
            assert empty.status == 422, (path, raw, empty.body)
            [detail] = empty.body["error"]["details"]
            assert detail["field"] == "(body)" and detail["type"] == "empty_patch", detail
            assert detail["message"].startswith("nothing to change"), detail
        null = await admin.call("PATCH", path, {"name": None})
        assert null.status == 422, (path, null.body)
        assert null.body["error"]["details"] == [
            {"field": "name", "message": "may not be null", "type": "null"}
        ]
    null_description = await admin.call(
        "PATCH", f"/profiles/{pid}", {"name": "Sales", "description": None}
    )
    assert [d["field"] for d in null_description.body["error"]["details"]] == ["description"]
    assert (await admin.call("GET", f"/profiles/{pid}")).body == created.body
    version = await admin.app[DIRECTORY].store.current_version()

    same = await admin.call(
        "PATCH",
        f"/profiles/{pid}",
        {"name": " Editors ", "description": "", "modules": ["config"]},
    )
    assert same.status == 200 and same.body == created.body  # updated_at too
    again = await admin.call(
        "PATCH", f"/members/{ana['id']}", {"name": "Ana", "email": "ANA@x.com", "profile_id": pid}
    )
    assert again.status == 200 and again.body["name"] == "Ana"
    assert not await audit(admin, "?action=profile.update")
    assert not await audit(admin, "?action=member.update")
    assert await admin.app[DIRECTORY].store.current_version() == version  # nothing written

    renamed = await admin.call(
        "PATCH", f"/profiles/{pid}", {"name": "editors", "modules": ["config"]}
    )
    assert renamed.status == 200 and renamed.body["updated_at"] >= created.body["updated_at"]
    [entry] = await audit(admin, "?action=profile.update")
    assert entry["details"]["changed"] == ["name"]  # the modules given were the same
    unassigned = await admin.call("PATCH", f"/members/{ana['id']}", {"profile_id": None})
    assert unassigned.status == 200 and unassigned.body["profile_id"] is None
    [entry] = await audit(admin, "?action=member.update")
    assert entry["details"]["changed"] == ["profile_id"]


# ---------------------------------------------------------------- members


async def test_add_update_and_delete_members(admin: AdminClient) -> None:
    editors = await profile(admin, "Editors", ["config"])
    first = await admin.call(
        "POST",
        "/members",
        {"members": [{"name": "Ana", "email": "Ana@X.com"}], "numbers": [N0]},
    )
    assert first.body["items"][0]["created"] is True
    ana = first.body["items"][0]["member"]
    assert ana["email"] == "ana@x.com" and ana["profile_id"] is None
    again = await admin.call(
        "POST",
        "/members",
        {"members": [{"email": "ana@x.com"}], "profile_id": editors, "numbers": [N1]},
    )
    item = again.body["items"][0]
    assert item["created"] is False and item["member"]["id"] == ana["id"]
    assert item["member"]["numbers"] == [N0, N1] and item["member"]["profile_name"] == "Editors"

    patched = await admin.call(
        "PATCH", f"/members/{ana['id']}", {"name": "Ana B", "profile_id": None}
    )
    assert (patched.body["name"], patched.body["profile_id"]) == ("Ana B", None)
    kept = await admin.call("PATCH", f"/members/{ana['id']}", {"name": "Ana C"})
    assert kept.body["profile_id"] is None and kept.body["name"] == "Ana C"

    ana_token = await token_of(admin, ana["id"])
    await token_of(admin, ana["id"])
    deleted = await admin.call("DELETE", f"/members/{ana['id']}")
    assert deleted.status == 200
    assert deleted.body["tokens_revoked"] == 2 and deleted.body["member"]["id"] == ana["id"]
    assert (await admin.call("GET", "/me", token=ana_token)).status == 401
    assert (await admin.call("GET", f"/members/{ana['id']}")).status == 404


# ---------------------------------------------------------------- tokens


async def test_tokens_create_list_revoke(admin: AdminClient) -> None:
    editors = await profile(admin, "Editors", ["config"])
    [ana] = await members(admin, [{"name": "Ana", "email": "ana@x.com"}], editors, [N0])
    created = await admin.call("POST", f"/members/{ana['id']}/tokens", {"name": "laptop"})
    assert created.status == 201
    token = created.body["token"]
    assert token.startswith(f"fe_{created.body['id']}_")
    assert created.body["prefix"] == f"fe_{created.body['id']}"
    assert created.body["revoked_at"] is None and "hash" not in created.body
    assert (await me(admin, token))["actor"] == f"member:{ana['id']}"

    listed = await admin.call("GET", f"/members/{ana['id']}/tokens")
    [out] = listed.body["items"]
    assert set(out) == {"id", "name", "created_at", "revoked_at", "prefix"}
    assert token not in str(listed.body)

    revoked = await admin.call("DELETE", f"/members/{ana['id']}/tokens/{out['id']}")
    assert revoked.status == 200 and revoked.body["revoked_at"] is not None
    reply = await admin.call("GET", "/me", token=token)
    assert reply.status == 401 and reply.body["error"]["code"] == "unauthorized"


async def test_members_manage_their_own_tokens_without_the_access_module(
    admin: AdminClient,
) -> None:
    first = await admin.member_token("desk@x.com", ["desk"], [N0])
    mine = (await me(admin, first))["member_id"]
    other = await admin.member_token("other@x.com", ["desk"], [N0])
    other_id = (await me(admin, other))["member_id"]

    second = await admin.call("POST", f"/members/{mine}/tokens", {"name": "phone"}, token=first)
    assert second.status == 201
    listed = await admin.call("GET", f"/members/{mine}/tokens", token=first)
    assert [t["name"] for t in listed.body["items"]] == ["tests", "phone"]
    own = await admin.call("GET", f"/members/{mine}", token=first)
    assert own.status == 200 and own.body["numbers"] == [N0]

    first_id = listed.body["items"][0]["id"]
    gone = await admin.call(
        "DELETE", f"/members/{mine}/tokens/{first_id}", token=second.body["token"]
    )
    assert gone.status == 200
    assert (await admin.call("GET", "/me", token=first)).status == 401
    assert (await admin.call("GET", "/me", token=second.body["token"])).status == 200

    for method, path in [
        ("GET", f"/members/{other_id}/tokens"),
        ("POST", f"/members/{other_id}/tokens"),
        ("GET", f"/members/{other_id}"),
    ]:
        reply = await admin.call(method, path, {"name": "x"}, token=second.body["token"])
        assert reply.status == 403, (method, path)


# ---------------------------------------------------------------- audit


async def test_every_change_is_audited(admin: AdminClient) -> None:
    pid = await profile(admin, "Editors", ["config", "access"])
    await admin.call("PATCH", f"/profiles/{pid}", {"name": "Editors 2"})
    [ana, bo] = await members(
        admin,
        [{"name": "Ana", "email": "ana@x.com"}, {"name": "Bo", "email": "bo@x.com"}],
        pid,
        [N0],
    )
    await admin.call("PATCH", f"/members/{bo['id']}", {"name": "Bob"})
    created = await admin.call("POST", f"/members/{ana['id']}/tokens", {"name": "t"})
    await admin.call("DELETE", f"/members/{ana['id']}/tokens/{created.body['id']}")
    await admin.call("POST", "/links", {"member_ids": [ana["id"]], "numbers": [N1]})
    await admin.call("POST", "/links/remove", {"member_ids": [ana["id"]], "numbers": [N1]})
    await admin.call("DELETE", f"/members/{bo['id']}")
    await admin.call("DELETE", f"/profiles/{pid}")

    entries = await audit(admin)
    assert [e["action"] for e in reversed(entries)] == [
        "profile.create",
        "profile.update",
        "member.create",
        "member.create",
        "member.link",
        "member.update",
        "token.create",
        "token.revoke",
        "member.link",
        "member.unlink",
        "member.delete",
        "profile.delete",
    ]
    assert all(e["actor"] == "admin" for e in entries)
    assert {e["number"] for e in entries if e["action"].startswith("member.l")} == {N0, N1}
    assert {e["number"] for e in entries if not e["action"].startswith("member.")} == {None}
    token_entry = next(e for e in entries if e["action"] == "token.create")
    assert token_entry["target"] == created.body["id"]
    assert created.body["token"] not in str(entries)
    page = await audit(admin, "?limit=2&offset=1&action=member.*")
    assert [e["action"] for e in page] == ["member.unlink", "member.link"]
    assert len(await audit(admin, "?actor=admin&action=token.create")) == 1


async def test_members_see_the_audit_of_their_numbers_and_global_entries(
    admin: AdminClient,
) -> None:
    lead = await admin.member_token("lead@x.com", ["access", "numbers"], [N0])
    lead_actor = (await me(admin, lead))["actor"]
    [ana] = await members(admin, [{"name": "Ana", "email": "ana@x.com"}])
    await admin.call("POST", "/links", {"member_ids": [ana["id"]], "numbers": [N0, N3]})
    await admin.call("POST", "/links", {"member_ids": [ana["id"]], "numbers": [N4]}, token=lead)

    seen = await audit(admin, token=lead)
    assert {e["number"] for e in seen} == {None, N0}
    assert len([e for e in seen if e["number"] is None]) == 4  # 2 members, profile, token
    on_n0 = await audit(admin, f"?number={N0}", token=lead)
    assert [e["action"] for e in on_n0] == ["member.link", "member.link"]  # lead, ana
    assert len(await audit(admin, f"?number={N3}")) == 1
    assert await audit(admin, f"?actor={lead_actor}", token=lead) == []  # the 403 changed nothing


# ---------------------------------------------------------------- on Redis too


async def test_the_access_story_on_every_store(admin_any: AdminClient) -> None:
    admin = admin_any
    lead = await admin.member_token("lead@x.com", ["access", "numbers", "config"], [N0, N1])
    editors = await profile(admin, "Editors", ["config"], token=lead)
    [ana, bo] = await members(
        admin,
        [{"name": "Ana", "email": "ana@x.com"}, {"name": "Bo", "email": "bo@x.com"}],
        editors,
        [N0],
        token=lead,
    )
    added = await admin.call(
        "POST", "/links", {"member_ids": [ana["id"], bo["id"]], "numbers": [N1]}, token=lead
    )
    assert len(added.body["added"]) == 2
    ana_token = await token_of(admin, ana["id"], token=lead)
    assert (await me(admin, ana_token))["numbers"] == [N0, N1]

    summary = await admin.call(
        "POST",
        "/links/remove",
        {"member_ids": [bo["id"]], "numbers": [N0, N1], "dry_run": True},
        token=lead,
    )
    assert len(summary.body["removed"]) == 2
    await admin.call(
        "POST", "/links/remove", {"member_ids": [bo["id"]], "numbers": [N0, N1]}, token=lead
    )
    assert (await admin.call("GET", f"/members/{bo['id']}")).body["numbers"] == []

    listed = await admin.call("GET", f"/members/{ana['id']}/tokens", token=lead)
    await admin.call(
        "DELETE", f"/members/{ana['id']}/tokens/{listed.body['items'][0]['id']}", token=lead
    )
    assert (await admin.call("GET", "/me", token=ana_token)).status == 401

    await admin.call("DELETE", f"/profiles/{editors}", token=lead)
    assert (await admin.call("GET", f"/members/{ana['id']}")).body["modules"] == []
    actions = [e["action"] for e in await audit(admin, token=ADMIN_TOKEN)]
    assert actions[:3] == ["profile.delete", "token.revoke", "member.unlink"]
    assert actions.count("member.link") == 4  # lead: N0, N1; ana and bo: N0, then N1


async def test_adding_a_hidden_member_without_a_number_reveals_nothing(
    admin: AdminClient,
) -> None:
    await admin.member_token("zoe@example.com", ["desk"], NUMBERS[3:], name="Zoe Hidden")
    manager = admin.as_token(
        await admin.member_token("max@example.com", ["access", "numbers", "desk"], NUMBERS[:2])
    )
    peek = await manager.call("POST", "/members", {"members": [{"email": "zoe@example.com"}]})
    assert peek.status == 409
    assert "Zoe Hidden" not in str(peek.body) and "profile of" not in str(peek.body)
    added = await manager.call(
        "POST",
        "/members",
        {"members": [{"email": "zoe@example.com"}], "numbers": [NUMBERS[0]]},
    )
    assert added.status == 200, added.body
    assert added.body["items"][0]["member"]["numbers"] == [NUMBERS[0]]  # only what they share
