"""Issue 10, item 7: the error shapes of /api/v1. A bad query parameter is a 422 naming
the parameter (never a 400 about a body); booleans are JSON booleans in bodies and
``true``/``false`` in queries — ``0``, ``"true"``, ``"no"`` are 422s, never taken as false."""

from __future__ import annotations

import re
import typing
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.types import Strict

from flow_engine.web.api import all_operations
from flow_engine.web.api.registry import QUERY_BOOL_VALUES, READ_ONLY_METHODS
from tests.admin.conftest import NUMBERS, AdminClient

A, B, C, D, E = NUMBERS


@pytest.mark.parametrize(
    ("query", "field"),
    [("=x", ""), ("colour=red", "colour"), ("limit=9999", "limit"), ("limit=1&limit=2", "limit")],
)
async def test_a_bad_query_parameter_is_a_422_naming_it(
    admin: AdminClient, query: str, field: str
) -> None:
    for path in ("/tickets", "/numbers", "/audit"):
        r = await admin.call("GET", f"{path}?{query}")
        assert r.status == 422, (path, r.body)
        assert r.body["error"]["code"] == "validation_error"
        details = r.body["error"]["details"]
        assert [d["field"] for d in details] == [field], (path, details)
        assert details[0]["in"] == "query"
        assert "(body)" not in r.body["error"]["message"]


async def test_a_parameter_without_a_name_says_so(admin: AdminClient) -> None:
    r = await admin.call("GET", "/tickets?=x")
    assert "without a name" in r.body["error"]["details"][0]["message"]


async def test_replicate_with_dry_run_0_is_a_422_and_applies_nothing(admin: AdminClient) -> None:
    ref = await admin.call("GET", f"/numbers/{A}/config")
    config = {**ref.body["config"], "desk": {"tags": ["vip"]}}
    assert (
        await admin.call("PUT", f"/numbers/{A}/config", config, headers={"If-Match": ref.etag})
    ).status == 200
    for value in (0, 1, "false", "true", None, "no"):
        r = await admin.call(
            "POST", f"/numbers/{A}/config/replicate", {"targets": [B], "dry_run": value}
        )
        assert r.status == 422, (value, r.body)
        assert r.body["error"]["details"][0]["field"] == "dry_run"
        r = await admin.call(
            "POST", f"/numbers/{A}/config/replicate", {"targets": [B], "force": value}
        )
        assert r.status == 422, (value, r.body)
    assert (await admin.storage.configs.heads([B]))[B].version == 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/config/bulk", {"numbers": [B], "change": {"locale": "en"}, "dry_run": 0}, "dry_run"),
        ("/templates/bulk", {"numbers": [B], "active": [], "dry_run": "true"}, "dry_run"),
        ("/links/remove", {"member_ids": ["m_x"], "numbers": [B], "dry_run": 0}, "dry_run"),
        ("/config/bulk", {"numbers": [B], "change": {"faq": {"enabled": 1}}, "force": True}, None),
    ],
)
async def test_booleans_in_bodies_are_json_booleans(
    admin: AdminClient, path: str, body: dict[str, Any], field: str | None
) -> None:
    r = await admin.call("POST", path, body)
    assert r.status == 422, r.body
    fields = [d["field"] for d in r.body["error"]["details"]]
    assert fields == [field or "faq.enabled"]


async def test_a_configuration_boolean_is_a_json_boolean(admin: AdminClient) -> None:
    current = await admin.call("GET", f"/numbers/{A}/config")
    config = {**current.body["config"], "hours": {"open_24h": "yes"}}
    r = await admin.call("PUT", f"/numbers/{A}/config", config, headers={"If-Match": current.etag})
    assert r.status == 422, r.body
    assert [d["field"] for d in r.body["error"]["details"]] == ["hours.open_24h"]


async def test_a_boolean_query_parameter_is_true_or_false(admin: AdminClient) -> None:
    made = await admin.call(
        "POST", "/profiles", {"name": "temporary", "description": "", "modules": ["desk"]}
    )
    assert made.status == 201, made.body
    profile = made.body["id"]
    for value in ("0", "no", "off", "False", "1", ""):
        r = await admin.call("DELETE", f"/profiles/{profile}?dry_run={value}")
        assert r.status == 422, (value, r.body)
        assert r.body["error"]["details"][0]["field"] == "dry_run"
    dry = await admin.call("DELETE", f"/profiles/{profile}?dry_run=true")
    assert dry.status == 200 and dry.body["deleted"] is False
    assert (await admin.call("GET", "/profiles")).body["items"][0]["id"] == profile
    gone = await admin.call("DELETE", f"/profiles/{profile}?dry_run=false")
    assert gone.status == 200 and gone.body["deleted"] is True


# --- every model ----------------------------------------------------------------------------


def bool_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, FieldInfo]]:
    """Every field of ``model`` (and of the models inside it) that holds a bool."""
    found: list[tuple[str, FieldInfo]] = []
    for name, info in model.model_fields.items():
        stack: list[Any] = [info.annotation]
        while stack:
            tp = stack.pop()
            if tp is bool:
                found.append((prefix + name, info))
            elif isinstance(tp, type) and issubclass(tp, BaseModel):
                found.extend(bool_fields(tp, f"{prefix}{name}."))
            else:
                stack.extend(typing.get_args(tp))
    return found


def is_strict(info: FieldInfo) -> bool:
    return any(isinstance(m, Strict) and m.strict for m in info.metadata) or bool(info.strict)


def test_every_boolean_of_every_body_and_query_is_strict() -> None:
    loose: list[str] = []
    seen = 0
    for op in all_operations():
        for kind, model in (("body", op.body), ("query", op.query)):
            if model is None:
                continue
            for path, info in bool_fields(model):
                seen += 1
                if not is_strict(info):
                    loose.append(f"{op.method} {op.path} {kind}: {path}")
    assert seen >= 20  # the configuration's switches, dry_run and force flags
    assert not loose, "\n".join(loose)
    assert QUERY_BOOL_VALUES == {"true": True, "false": False}


def _bodiless() -> list[tuple[str, str]]:
    """Every route declared without a body that a body could be sent to, its path
    parameters filled in."""
    fill = {"number": A, "version": "1"}
    return [
        (op.method, re.sub(r"\{([^{}:]+)[^{}]*\}", lambda m: fill.get(m[1], "x_1"), op.path))
        for op in all_operations()
        if op.body is None and op.method not in READ_ONLY_METHODS
    ]


async def test_a_route_without_a_body_refuses_one_and_does_nothing(admin: AdminClient) -> None:
    routes = _bodiless()
    assert ("POST", f"/numbers/{A}/config/versions/1/restore") in routes
    assert ("POST", "/campaigns/x_1/pause") in routes
    for method, path in routes:
        given = await admin.call(method, path, {"version": 2, "force": True})
        assert given.status == 422, (method, path, given.body)
        assert given.body["error"]["message"] == "this route takes no body: send none, or {}"
        assert [d["field"] for d in given.body["error"]["details"]] == ["version", "force"]
        for raw in (b"[1]", b"null", b"not json"):
            malformed = await admin.call(method, path, raw=raw)
            assert malformed.status == 400, (method, path, raw, malformed.body)
    assert (await admin.storage.configs.get(A)) is not None
    assert [v.version for v in await admin.storage.configs.versions(A)] == [1]

    etag = (await admin.call("GET", f"/numbers/{A}/config")).etag
    restore = f"/numbers/{A}/config/versions/1/restore"
    ignored = await admin.call("POST", restore, {"version": 1}, headers={"If-Match": etag})
    assert ignored.status == 422 and len(await admin.storage.configs.versions(A)) == 1
    for raw in (b"", b"{}", b" { } "):
        done = await admin.call("POST", restore, raw=raw, headers={"If-Match": etag})
        assert done.status == 200, (raw, done.body)
        etag = done.etag


#: values for the other path parameters of a route whose ``{number}`` is malformed
OTHER_PATH_VALUES = {"version": "1", "media_id": "m1", "member_id": "m_nobody"}
#: routes that take the number as it comes (a malformed link can still be removed)
UNCHECKED = {("DELETE", "/numbers/{number}/members/{member_id}")}
MALFORMED_NUMBERS = ["abc", "12a", "1%0A2", "1" * 33]


def number_routes() -> list[tuple[str, str]]:
    found = sorted(
        {(op.method, op.path) for op in all_operations() if "{number}" in op.path} - UNCHECKED
    )
    assert len(found) > 20  # every module's routes on a number, not a handful
    return found


def with_number(path: str, number: str) -> str:
    out = path.replace("{number}", number)
    for name, value in OTHER_PATH_VALUES.items():
        out = out.replace("{" + name + "}", value)
    assert "{" not in out, f"give {path}'s parameters a value in OTHER_PATH_VALUES"
    return out


@pytest.mark.parametrize(("method", "path"), number_routes())
async def test_a_malformed_number_in_any_path_is_a_422_naming_it(
    admin: AdminClient, method: str, path: str
) -> None:
    """Not a 404 "no configuration", nor a 200 with nothing: the number cannot exist."""
    lead = admin.as_token(await admin.member_token("lead@x.com", ["config"], [A]))
    for number in MALFORMED_NUMBERS:
        for caller in (admin, lead):  # a member too: not a 403 about a number that cannot be
            r = await caller.call(method, with_number(path, number))
            assert r.status == 422, (method, path, number, r.body)
            assert r.body["error"]["code"] == "validation_error"
            details = r.body["error"]["details"]
            assert [(d["field"], d["in"]) for d in details] == [("number", "path")], details
    # without a token it is still a 401 first; a well-formed number is not refused
    assert (await admin.call(method, with_number(path, "abc"), token=None)).status == 401
    fine = await admin.call(method, with_number(path, "199999999999999"))
    assert fine.status != 422 or all(
        d.get("field") != "number" for d in fine.body["error"]["details"]
    ), fine.body


async def test_a_well_formed_unconfigured_number_is_still_a_404(admin: AdminClient) -> None:
    for path in ("/config", "/config/versions", "/templates", "/human-service"):
        r = await admin.call("GET", f"/numbers/199999999999999{path}")
        assert r.status == 404, (path, r.body)
        assert r.body["error"]["code"] == "not_found"


@pytest.mark.parametrize("number", ["abc", "", "12 3", "1" * 33])
async def test_a_malformed_number_filter_of_a_list_is_a_422_naming_it(
    admin: AdminClient, number: str
) -> None:
    for path in ("/tickets", "/campaigns", "/members", "/audit"):
        r = await admin.call("GET", f"{path}?number={number}")
        assert r.status == 422, (path, r.body)
        details = r.body["error"]["details"]
        assert [(d["field"], d["in"]) for d in details] == [("number", "query")], details
    unknown = await admin.call("GET", "/tickets?number=199999999999999")
    assert unknown.status == 200 and unknown.body == {"tickets": []}


async def test_the_document_gives_the_number_of_every_path_its_pattern(
    admin: AdminClient,
) -> None:
    doc = (await admin.call("GET", "/openapi.json", token=None)).body
    for path, item in doc["paths"].items():
        for method, op in item.items():
            number = next((p for p in op["parameters"] if p["name"] == "number"), None)
            if number is None or number["in"] != "path":
                continue
            if (method.upper(), path.removeprefix("/api/v1")) in UNCHECKED:
                assert "pattern" not in number["schema"], (method, path)
            else:
                assert number["schema"]["pattern"] == "^[0-9]{1,32}$", (method, path)
                assert number["description"], (method, path)
