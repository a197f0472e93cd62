"""The OpenAPI document of /api/v1: valid, complete, generated from the declarations, and
a bounded schemathesis run against a real server finds no 5xx on any operation."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
from collections.abc import Callable
from typing import Any

import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from pydantic import BaseModel

from flow_engine.admin.permissions import Module
from flow_engine.domain.tickets import Ticket
from flow_engine.web.api import PREFIX, all_operations, api_app
from flow_engine.web.api.openapi import document_of
from flow_engine.web.api.registry import Api, Input, Permission
from flow_engine.web.state import TICKETS
from tests.admin.conftest import ADMIN_TOKEN, NUMBERS, AdminClient
from tests.admin.test_authorization import notification_and_campaign

PATH_PARAM = re.compile(r"\{([^{}:]+)(?::[^{}]+)?\}")
#: examples per operation (10 in all): generated ids, real ids, invalid input
#: examples per operation and kind; FLOW_ENGINE_FUZZ_SCALE=20 makes a longer run by hand
SCALE = int(os.environ.get("FLOW_ENGINE_FUZZ_SCALE", "1"))
EXAMPLES = {"generated": 3 * SCALE, "real": 5 * SCALE, "negative": 2 * SCALE}


def full_path(path: str) -> str:
    """A declared path as the document shows it (regexes of parameters dropped)."""
    return PREFIX + PATH_PARAM.sub(lambda m: "{" + m[1] + "}", path)


async def openapi(admin: AdminClient) -> dict[str, Any]:
    reply = await admin.call("GET", "/openapi.json", token=None)
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    doc: dict[str, Any] = reply.body
    return doc


async def test_the_document_is_public_and_valid_openapi_3_1(admin: AdminClient) -> None:
    doc = await openapi(admin)
    validate(doc)  # raises on any violation of the OpenAPI 3.1 specification
    assert doc["openapi"].startswith("3.1")
    assert doc["security"] == [{"bearer": []}]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_every_declared_route_is_in_the_document(admin: AdminClient) -> None:
    doc = await openapi(admin)
    documented = {
        (method.upper(), path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    declared = {(op.method, full_path(op.path)): op for op in all_operations()}
    assert set(documented) == set(declared)
    ids = [op["operationId"] for op in documented.values()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for key, op in declared.items():
        entry = documented[key]
        assert entry["operationId"] == op.handler.__name__
        assert entry["summary"] == op.summary and entry["tags"] == [op.tag]
        assert op.permission.describe() in entry["description"]
        assert str(op.status) in entry["responses"]
        params = {(p["in"], p["name"]) for p in entry["parameters"]}
        for name in PATH_PARAM.findall(op.path):
            assert ("path", name) in params, (key, name)
        if op.query is not None:
            for name, field in op.query.model_fields.items():
                assert ("query", field.alias or name) in params, (key, name)
        if op.body is not None:
            assert "application/json" in entry["requestBody"]["content"], key
        if op.if_match:
            assert {("header", "If-Match"), ("header", "If-None-Match")} <= params
            assert {"412", "428"} <= set(entry["responses"]), key
        for status in op.errors:
            assert str(status) in entry["responses"], (key, status)
        if op.permission.public:
            assert entry["security"] == []
        else:
            assert "security" not in entry  # the global bearer requirement
            for status in ("401", "403", "422"):
                ref = entry["responses"][status]["$ref"]
                response = doc["components"]["responses"][ref.rsplit("/", 1)[1]]
                schema = response["content"]["application/json"]["schema"]
                assert schema["$ref"].startswith("#/components/schemas/")


async def test_errors_share_one_schema(admin: AdminClient) -> None:
    doc = await openapi(admin)
    responses = doc["components"]["responses"]
    refs = {r["content"]["application/json"]["schema"]["$ref"] for r in responses.values()}
    assert len(refs) == 1
    error = doc["components"]["schemas"][refs.pop().rsplit("/", 1)[1]]
    info = doc["components"]["schemas"][error["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    assert set(info["required"]) == {"code", "message", "details"}
    assert "WWW-Authenticate" in responses["Unauthorized"]["headers"]
    # what the API really answers has that shape
    reply = await admin.call("GET", "/me", token=None)
    assert reply.status == 401 and set(reply.body["error"]) == {"code", "message", "details"}


async def test_the_document_is_built_once_per_app(admin: AdminClient) -> None:
    first = await admin.call("GET", "/openapi.json", token=None)
    second = await admin.call("GET", "/openapi.json", token=ADMIN_TOKEN)
    assert first.body == second.body
    (sub,) = [
        r._app  # type: ignore[attr-defined]
        for r in admin.app.router.resources()
        if hasattr(r, "_app") and r.canonical == "/api/v1"
    ]
    assert document_of(sub) is document_of(sub)


class WidgetQuery(Input):
    colour: str | None = None
    limit: int = 10


class WidgetBody(Input):
    name: str


class WidgetOut(BaseModel):
    name: str
    colour: str | None


async def test_a_route_declared_later_is_documented_without_touching_openapi() -> None:
    extra = Api()

    @extra.route(
        "POST",
        "/widgets/{number}",
        permission=Permission(module=Module.CONFIG, number="number"),
        summary="Make a widget",
        tag="widgets",
        body=WidgetBody,
        query=WidgetQuery,
        response=WidgetOut,
        status=201,
        if_match=True,
        errors=(404, 409),
    )
    async def make_widget(request: web.Request) -> web.Response:
        """Makes a widget."""
        return web.json_response({})

    app = api_app()
    extra.add_to(app)
    parent = web.Application()
    parent.add_subapp(PREFIX, app)
    doc = json.loads(document_of(app))
    validate(doc)
    op = doc["paths"][PREFIX + "/widgets/{number}"]["post"]
    assert op["operationId"] == "make_widget" and op["tags"] == ["widgets"]
    assert op["description"].startswith("Makes a widget.")
    assert "module `config` on the number `{number}`" in op["description"]
    assert {(p["in"], p["name"]) for p in op["parameters"]} == {
        ("path", "number"),
        ("query", "colour"),
        ("query", "limit"),
        ("header", "If-Match"),
        ("header", "If-None-Match"),
    }
    colour = next(p for p in op["parameters"] if p["name"] == "colour")
    assert colour["schema"]["type"] == "string" and colour["required"] is False
    assert op["requestBody"]["required"] is True
    assert set(op["responses"]) == {"201", "400", "401", "403", "404", "409", "412", "422", "428"}
    assert "WidgetBody" in doc["components"]["schemas"]
    assert "WidgetOut" in doc["components"]["schemas"]
    assert "WidgetQuery" not in doc["components"]["schemas"]  # it became parameters


# --- fuzzing ---------------------------------------------------------------------------


def current_etag(session: requests.Session, url: str, auth: dict[str, str]) -> str | None:
    """The ETag of the resource at ``url`` or of the nearest parent that has one."""
    while url.count("/") > 4:  # http://host/api/v1/x
        reply = session.get(url, headers=auth, timeout=10)
        if reply.status_code == 200:
            if "ETag" in reply.headers:
                return reply.headers["ETag"]
            body = reply.json()
            if isinstance(body, dict) and isinstance(body.get("etag"), str):
                return str(body["etag"])
        url = url.rsplit("/", 1)[0]
    return None


def run(strategy: Any, examples: int, check: Callable[[schemathesis.Case], None]) -> None:
    """``check`` on ``examples`` cases of ``strategy``, the same ones on every run."""

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def each(case: schemathesis.Case) -> None:
        check(case)

    each()


def fuzz(doc: dict[str, Any], base_url: str, real: dict[str, str]) -> tuple[list[str], int]:
    """Call every operation with a few generated requests as the super-admin: with
    generated path parameters, with real ids, and with invalid input. Returns the 5xx
    answers (as reproducible curl commands) and how many requests were made."""
    schema = schemathesis.openapi.from_dict(doc)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    failures: list[str] = []
    calls = 0
    session = requests.Session()

    def send(case: schemathesis.Case, *, fresh_etag: bool) -> None:
        nonlocal calls
        calls += 1
        if fresh_etag:  # a current ETag, so that the change itself is exercised too
            etag = current_etag(session, base_url + case.formatted_path, auth)
            if etag is not None:
                case.headers.pop("If-None-Match", None)
                case.headers["If-Match"] = etag
        response = case.call(base_url=base_url, session=session, headers=auth, timeout=10)
        if response.status_code >= 500:
            failures.append(
                f"{case.operation.label} -> {response.status_code} {response.text[:200]}\n"
                + case.as_curl_command(headers=auth)
            )

    for result in schema.get_all_operations():
        operation = result.ok()
        names = PATH_PARAM.findall(operation.path)
        missing = [n for n in names if n not in real]
        assert not missing, f"{operation.label}: give a real id for {missing} in the test"
        real_ids = {n: real[n] for n in names}
        conditional = any(
            p.get("name") == "If-Match"
            for p in doc["paths"][operation.path][operation.method.lower()]["parameters"]
        )
        strategies = {
            "generated": operation.as_strategy(),
            "real": operation.as_strategy(path_parameters=real_ids),
            "negative": operation.as_strategy(
                generation_mode=schemathesis.GenerationMode.NEGATIVE, path_parameters=real_ids
            ),
        }
        if not names:  # the same cases twice
            del strategies["generated"]
        for kind, strategy in strategies.items():
            check = functools.partial(send, fresh_etag=kind == "real" and conditional)
            try:
                run(strategy, EXAMPLES[kind], check)
            except Unsatisfiable:
                # nothing of this operation can be made invalid (no parameter, no body)
                assert kind == "negative", operation.label
    session.close()
    return failures, calls


async def test_schemathesis_finds_no_server_error(admin: AdminClient) -> None:
    ticket = await admin.app[TICKETS].create(
        Ticket.open(
            id="t_fuzz",
            number=NUMBERS[0],
            contact="5491100000001",
            contact_name="Ana",
            queue="Otros asuntos",
            attendants=["ana@example.com"],
            priority=0,
            now=1000.0,
        )
    )
    token = await admin.member_token("fuzz@example.com", ["config"], NUMBERS[:1])
    me = await admin.call("GET", "/me", token=token)
    notification, campaign = await notification_and_campaign(admin)
    real = {
        "notification_id": notification,
        "campaign_id": campaign,
        "number": NUMBERS[0],
        "ticket_id": ticket.id,
        "member_id": me.body["member_id"],
        "profile_id": me.body["profile_id"],
        "token_id": token.split("_")[1],  # fe_<token id>_<secret>
        "version": "1",
        "media_id": "media.demo-image",
    }
    doc = await openapi(admin)
    base_url = str(admin.client.make_url("")).rstrip("/")
    failures, calls = await asyncio.to_thread(fuzz, doc, base_url, real)
    assert not failures, "\n\n".join(failures)
    assert calls >= len(all_operations()) * 5


async def test_creation_and_email_fields_are_described(admin: AdminClient) -> None:
    doc = await openapi(admin)
    put = doc["paths"][PREFIX + "/numbers/{number}/config"]["put"]
    assert {"200", "201"} <= set(put["responses"])
    take = doc["components"]["schemas"]["TakeBody"]["properties"]["attendant"]
    assert any(s.get("format") == "email" for s in take.get("anyOf", [take]))
