"""Declarative skills: messages, input with validation and re-ask, variables, an HTTP
action mapped with JSONPath (a real server on loopback), outputs, the transition cap,
and refusal at load (R-SKILL-5, R-SKILL-8)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from flow_engine.domain.skills import Validation
from flow_engine.engine import machine
from flow_engine.engine.skills.declarative import check_answer
from flow_engine.engine.skills.dispatch import SkillDispatcher
from flow_engine.engine.skills.loader import SkillLoader
from flow_engine.engine.skills.policy import SkillPolicy
from flow_engine.errors import ConfigurationError
from flow_engine.gateway.skill_http import SkillHttpClient
from flow_engine.metrics.registry import Metrics
from tests.conftest import ServerFactory
from tests.support.skills import Convo, attach, failures, fixed

ORDERS = {
    "123": {"order": {"status": "shipped", "eta_days": 2, "items": [{"name": "Mug"}]}},
    "5": {"order": {"status": "processing", "eta_days": 9, "items": []}},
}


class OrdersApi:
    def __init__(self) -> None:
        self.seen: list[web.Request] = []
        self.paths: list[str] = []

    async def order(self, request: web.Request) -> web.Response:
        self.seen.append(request)
        self.paths.append(request.raw_path)
        if request.match_info["id"] == "slow":
            await asyncio.sleep(2)
        found = ORDERS.get(request.match_info["id"])
        if found is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(found)


@pytest.fixture
async def orders(aiohttp_server: ServerFactory) -> AsyncIterator[tuple[OrdersApi, str]]:
    api = OrdersApi()
    app = web.Application()
    app.router.add_get("/orders/{id}", api.order)
    server: TestServer = await aiohttp_server(app)
    yield api, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def http() -> AsyncIterator[SkillHttpClient]:
    client = SkillHttpClient()
    yield client
    await client.close()


def order_flow(base_url: str) -> dict[str, Any]:
    return {
        "start": "ask",
        "states": {
            "ask": {
                "messages": ["Hi {{contact.name}}! What is your order number?"],
                "input": {
                    "variable": "order_id",
                    "validation": {"type": "integer"},
                    "reask": "An order number has only digits. Try again?",
                    "max_attempts": 3,
                },
                "actions": [
                    {"type": "set_variable", "variable": "typed", "value": "#{{input.content}}"},
                    {
                        "type": "http",
                        "url": base_url + "/orders/{{vars.order_id}}",
                        "headers": {"Authorization": "Bearer t-{{vars.order_id}}"},
                        "map": {
                            "status": "$.order.status",
                            "eta": "$.order.eta_days",
                            "item": "$.order.items[*].name",
                        },
                        "status_variable": "http_status",
                    },
                ],
                "outputs": [
                    {"condition": "$.vars.http_status == 404", "to": "not_found"},
                    {"condition": '$.vars.status == "shipped"', "to": "shipped"},
                    {"to": "other"},
                ],
            },
            "not_found": {
                "messages": ["No order {{vars.order_id}}."],
                "outputs": [{"to": "@return"}],
            },
            "shipped": {
                "messages": [
                    "Order {{vars.order_id}} ({{vars.item}}) arrives in {{vars.eta}} days.",
                    {
                        "type": "buttons",
                        "body": "Anything else, {{contact.name}}?",
                        "buttons": [{"id": "y", "title": "Yes"}, {"id": "n", "title": "No"}],
                    },
                ],
                "input": {"variable": "more"},
                "outputs": [
                    {"condition": "$.input.content =~ '(?i)^y'", "to": "ask"},
                    {"to": "@return"},
                ],
            },
            "other": {
                "messages": ["Order {{vars.order_id}}: {{vars.status}}."],
                "outputs": [{"to": "@return"}],
            },
        },
    }


def write(tmp_path: Path, flow: dict[str, Any], name: str = "order.yaml") -> str:
    text = json.dumps(flow) if name.endswith(".json") else yaml.safe_dump(flow, allow_unicode=True)
    (tmp_path / name).write_text(text, encoding="utf-8")
    return name


def convo_for(
    tmp_path: Path, flow: dict[str, Any], http: SkillHttpClient | None, metrics: Metrics
) -> Convo:
    skill = attach("PreFaq", "declarative", path=write(tmp_path, flow))
    loader = SkillLoader(SkillPolicy.local(tmp_path), http)
    return Convo(SkillDispatcher(loader, metrics, attachments=fixed([skill])))


# ---------------------------------------------------------------------------------
async def test_ask_validate_reask_call_http_map_and_return(
    tmp_path: Path, orders: tuple[OrdersApi, str], http: SkillHttpClient
) -> None:
    api, url = orders
    metrics = Metrics()
    convo = convo_for(tmp_path, order_flow(url), http, metrics)
    assert await convo.enter("PreFaq", "Olá") == (True, ["Hi Ana! What is your order number?"])
    assert convo.conversation.state == machine.SKILL
    assert convo.conversation.skill["state"] == "ask"
    assert await convo.send("my order") == ["An order number has only digits. Try again?"]
    assert convo.conversation.skill["attempts"] == 1
    assert await convo.send("123") == [
        "Order 123 (Mug) arrives in 2 days.",
        "Anything else, Ana? [Yes | No]",
    ]
    assert convo.skill_vars == {
        "skp_order_id": 123,
        "skp_typed": "#123",
        "skp_status": "shipped",
        "skp_eta": 2,
        "skp_item": "Mug",
        "skp_http_status": 200,
    }
    assert api.seen[-1].headers["Authorization"] == "Bearer t-123"
    assert convo.conversation.skill["state"] == "shipped"
    assert convo.conversation.skill["attempts"] == 0
    # "Yes" goes round again; an unknown order answers 404 and the outputs decide
    assert await convo.send("Yes") == ["Hi Ana! What is your order number?"]
    assert await convo.send("999") == ["No order 999.", "(base flow after PreFaq)"]
    assert convo.resumed == ["PreFaq"] and convo.conversation.skill == {}
    assert failures(metrics, "PreFaq", "action_failed") == 0


async def test_answers_spent_go_to_on_invalid(
    tmp_path: Path, orders: tuple[OrdersApi, str], http: SkillHttpClient
) -> None:
    api, url = orders
    convo = convo_for(tmp_path, order_flow(url), http, Metrics())
    await convo.enter("PreFaq")
    assert await convo.send("a") == ["An order number has only digits. Try again?"]
    assert await convo.send("b") == ["An order number has only digits. Try again?"]
    assert await convo.send("c") == ["(base flow after PreFaq)"]  # on_invalid: @return
    assert api.seen == []


async def test_without_reask_the_state_messages_are_sent_again(tmp_path: Path) -> None:
    flow = {
        "start": "a",
        "states": {
            "a": {
                "messages": ["Your e-mail?"],
                "input": {"variable": "mail", "validation": {"type": "email"}},
                "outputs": [{"to": "b"}],
            },
            "b": {"messages": ["Got {{vars.mail}}"], "outputs": [{"to": "@return"}]},
        },
    }
    convo = convo_for(tmp_path, flow, None, Metrics())
    await convo.enter("PreFaq")
    assert await convo.send("nope") == ["Your e-mail?"]
    assert await convo.send(" Ana@Example.COM ") == [
        "Got ana@example.com",
        "(base flow after PreFaq)",
    ]


async def test_placeholders_in_urls_are_encoded(
    tmp_path: Path, orders: tuple[OrdersApi, str], http: SkillHttpClient
) -> None:
    api, url = orders
    flow = order_flow(url)
    flow["states"]["ask"]["input"].pop("validation")
    convo = convo_for(tmp_path, flow, http, Metrics())
    await convo.enter("PreFaq")
    assert await convo.send("12/../admin?x=1") == [
        "No order 12/../admin?x=1.",
        "(base flow after PreFaq)",
    ]
    # no path traversal, no query smuggled in ("=" may stay as it is inside a path)
    assert api.paths[0].startswith("/orders/12%2F..%2Fadmin%3Fx")
    assert api.seen[0].query_string == ""


def fetch_flow(url: str, **action: Any) -> dict[str, Any]:
    return {
        "start": "a",
        "states": {
            "a": {
                "actions": [
                    {"type": "http", "url": url, "map": {"s": "$.order.status"}, **action}
                ],
                "outputs": [{"to": "b"}],
            },
            "b": {"messages": ["status {{vars.s}}"], "outputs": [{"to": "@return"}]},
        },
    }


async def test_a_failed_http_action_fails_the_skill_unless_outputs_handle_it(
    tmp_path: Path, orders: tuple[OrdersApi, str], http: SkillHttpClient
) -> None:
    _api, url = orders
    metrics = Metrics()
    convo = convo_for(tmp_path, fetch_flow(url + "/orders/404"), http, metrics)
    assert await convo.enter("PreFaq") == (False, [])
    assert failures(metrics, "PreFaq", "action_failed") == 1
    convo = convo_for(tmp_path, fetch_flow(url + "/orders/5"), http, metrics)
    assert await convo.enter("PreFaq") == (False, ["status processing"])  # returned at once
    flow = fetch_flow(url + "/orders/slow", timeout_s=0.2)
    convo = convo_for(tmp_path, flow, http, metrics)
    assert await convo.enter("PreFaq") == (False, [])
    assert failures(metrics, "PreFaq", "timeout") == 1
    flow = fetch_flow(url + "/orders/slow", timeout_s=0.2, status_variable="code")
    convo = convo_for(tmp_path, flow, http, metrics)
    assert await convo.enter("PreFaq") == (False, ["status"])  # code 0, the flow went on


async def test_the_transition_cap_stops_a_loop(tmp_path: Path) -> None:
    flow = {
        "start": "a",
        "max_transitions_per_input": 5,
        "states": {
            "a": {"messages": ["a"], "outputs": [{"to": "b"}]},
            "b": {"outputs": [{"condition": "$.vars.never", "to": "@return"}, {"to": "a"}]},
        },
    }
    metrics = Metrics()
    convo = convo_for(tmp_path, flow, None, metrics)
    assert await convo.enter("PreFaq") == (False, [])
    assert failures(metrics, "PreFaq", "transition_cap") == 1
    assert convo.conversation.skill == {} and convo.conversation.state == machine.IDLE


async def test_a_skill_cannot_set_base_flow_state(tmp_path: Path) -> None:
    flow = {
        "start": "a",
        "states": {
            "a": {
                "input": {"variable": "state"},
                "actions": [
                    {"type": "set_variable", "variable": "data", "value": {"ticket_id": "t"}}
                ],
                "outputs": [{"to": "a"}],
            }
        },
    }
    convo = convo_for(tmp_path, flow, None, Metrics())
    convo.conversation.data["visits"] = 2
    await convo.enter("PreFaq")
    assert await convo.send("service") == []
    assert convo.conversation.state == machine.SKILL
    assert convo.conversation.data == {"visits": 2}
    assert convo.skill_vars == {"skp_state": "service", "skp_data": {"ticket_id": "t"}}


# ------------------------------------------------------------------------ loading
async def test_a_flow_that_opens_human_service_is_refused_at_load(tmp_path: Path) -> None:
    flow = {"start": "a", "states": {"a": {"outputs": [{"to": "@desk"}]}}}
    skills = [
        attach("PreMain", "declarative", path=write(tmp_path, flow, "desk.yaml")),
        attach("PreFaq", "declarative", path="missing.yaml"),
        attach(
            "PreEnd",
            "declarative",
            path=write(
                tmp_path,
                {
                    "start": "a",
                    "states": {
                        "a": {"actions": [{"type": "open_ticket"}], "outputs": [{"to": "@return"}]}
                    },
                },
                "ticket.yaml",
            ),
        ),
    ]
    with pytest.raises(ConfigurationError) as exc:
        await SkillLoader(SkillPolicy.local(tmp_path)).check(skills)
    details = exc.value.details
    assert [d["field"] for d in details] == ["skills.0.path", "skills.1.path", "skills.2.path"]
    assert "may not open human service" in details[0]["message"]
    assert details[0]["details"][0]["field"] == "states.a.outputs.0.to"
    assert "cannot read" in details[1]["message"]
    assert details[2]["details"][0]["field"] == "states.a.actions.0.type"


def test_an_edited_flow_file_is_read_again(tmp_path: Path) -> None:
    flow: dict[str, Any] = {
        "start": "a",
        "states": {"a": {"messages": ["one"], "outputs": [{"to": "@return"}]}},
    }
    skill = attach("PreMain", "declarative", path=write(tmp_path, flow, "f.json"))
    loader = SkillLoader(SkillPolicy.local(tmp_path))
    first = loader.load(skill)
    assert loader.load(skill) is first
    flow["states"]["a"]["messages"] = ["one, edited"]
    write(tmp_path, flow, "f.json")
    assert loader.load(skill) is not first


@pytest.mark.parametrize(
    ("validation", "content", "expected"),
    [
        (None, " anything ", (True, "anything")),
        ({"type": "text"}, "  ", (False, None)),
        ({"type": "integer"}, "42", (True, 42)),
        ({"type": "integer"}, "4.2", (False, None)),
        ({"type": "number"}, "4,5", (True, 4.5)),
        ({"type": "number"}, "7", (True, 7)),
        ({"type": "number"}, "nan", (False, None)),
        ({"type": "email"}, "A@B.co", (True, "a@b.co")),
        ({"type": "email"}, "a@b", (False, None)),
        ({"type": "phone"}, "+55 (11) 99999-0000", (True, "5511999990000")),
        ({"type": "phone"}, "12", (False, None)),
        ({"regex": "^(sim|não)$"}, "não", (True, "não")),
        ({"regex": "^(sim|não)$"}, "talvez", (False, None)),
        ({"regex": "^[0-9]+$", "type": "integer"}, "007", (True, 7)),
    ],
)
def test_answer_validation(
    validation: dict[str, Any] | None, content: str, expected: tuple[bool, Any]
) -> None:
    spec = None if validation is None else Validation.model_validate(validation)
    assert check_answer(spec, content) == expected
