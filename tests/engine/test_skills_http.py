"""HTTP skills against a real server on loopback: the protocol, stay and return, and
every way a skill can fail without stranding the contact (R-SKILL-4, R-SKILL-8)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from flow_engine.engine import machine
from flow_engine.engine.skills.dispatch import SkillDispatcher
from flow_engine.engine.skills.http import (
    HttpSkillReply,
    HttpSkillRequest,
    reply_json_schema,
    request_json_schema,
)
from flow_engine.engine.skills.loader import SkillLoader
from flow_engine.engine.skills.policy import SkillPolicy
from flow_engine.gateway.skill_http import SkillHttpClient
from flow_engine.metrics.registry import Metrics
from tests.conftest import ServerFactory
from tests.support.skills import Convo, attach, failures, fixed


class SurveyQuestion:
    """A custom question at PreSurvey: asks, re-asks once, returns."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def skill(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        HttpSkillRequest.model_validate(body)  # what we send follows our own schema
        variables = body["variables"]
        if body["context"]["first"]:
            return web.json_response(
                {
                    "messages": [
                        "Did the attendant solve it?",
                        {
                            "type": "buttons",
                            "body": "Choose",
                            "buttons": [{"id": "y", "title": "Yes"}, {"id": "n", "title": "No"}],
                        },
                    ],
                    "variables": {"asked": 1},
                    "action": "stay",
                }
            )
        answer = body["envelope"]["input"]["content"]
        if answer not in ("Yes", "No"):
            return web.json_response(
                {
                    "messages": ["Yes or No, please"],
                    "variables": {"asked": variables["asked"] + 1},
                    "action": "stay",
                }
            )
        return web.json_response(
            {
                "messages": [{"type": "text", "body": f"Noted: {answer}"}],
                "variables": {"solved": answer == "Yes", "asked": None},
                "action": "return",
                "envelope": body["envelope"],
            }
        )

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"action": "return"})

    async def not_json(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>oops</html>")

    async def bad_shape(self, request: web.Request) -> web.Response:
        return web.json_response({"messages": "hello", "action": "open_ticket"})

    async def broken(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "boom"}, status=500)

    async def wrong_var(self, request: web.Request) -> web.Response:
        return web.json_response({"variables": {"no spaces": 1}, "action": "stay"})


@pytest.fixture
async def skill_server(aiohttp_server: ServerFactory) -> AsyncIterator[tuple[SurveyQuestion, str]]:
    svc = SurveyQuestion()
    app = web.Application()
    app.router.add_post("/skill", svc.skill)
    app.router.add_post("/slow", svc.slow)
    app.router.add_post("/not-json", svc.not_json)
    app.router.add_post("/bad-shape", svc.bad_shape)
    app.router.add_post("/broken", svc.broken)
    app.router.add_post("/wrong-var", svc.wrong_var)
    server: TestServer = await aiohttp_server(app)
    yield svc, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def http() -> AsyncIterator[SkillHttpClient]:
    client = SkillHttpClient()
    yield client
    await client.close()


def convo_for(url: str, http: SkillHttpClient, metrics: Metrics, timeout_s: float = 2) -> Convo:
    skill = attach("PreSurvey", "http", url=url, timeout_s=timeout_s)
    return Convo(
        SkillDispatcher(
            SkillLoader(SkillPolicy.local(), http), metrics, attachments=fixed([skill])
        )
    )


async def test_an_http_skill_stays_then_returns(
    skill_server: tuple[SurveyQuestion, str], http: SkillHttpClient
) -> None:
    svc, url = skill_server
    convo = convo_for(url + "/skill", http, Metrics())
    took, replies = await convo.enter("PreSurvey", "Olá")
    assert took and replies == ["Did the attendant solve it?", "Choose [Yes | No]"]
    assert convo.conversation.state == machine.SKILL
    assert convo.skill_vars == {"skp_asked": 1}
    assert await convo.send("maybe") == ["Yes or No, please"]
    assert convo.skill_vars == {"skp_asked": 2}
    assert await convo.send("Yes") == ["Noted: Yes", "(base flow after PreSurvey)"]
    assert convo.resumed == ["PreSurvey"] and convo.conversation.skill == {}
    first, second, _third = svc.bodies
    assert first == {
        "envelope": {
            "origin": "NotaCerta",
            "flow": "PreSurvey",
            "input": {"content": "Olá", "type": "text/plain"},
        },
        "variables": {},
        "context": {
            "point": "PreSurvey",
            "origin": "NotaCerta",
            "first": True,
            "message_id": first["context"]["message_id"],
            "contact": {"name": "Ana", "phone": "5491100000001"},
            "number": {
                "phone_number_id": "100000000000001",
                "name": "Demo",
                "display_phone_number": "15550000001",
                "locale": "es",
            },
        },
    }
    assert second["variables"] == {"asked": 1}  # without the skp_ prefix
    assert second["context"]["first"] is False
    assert first["context"]["message_id"].startswith("wamid.")
    assert second["context"]["message_id"] != first["context"]["message_id"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/slow", "timeout"),
        ("/not-json", "bad_reply"),
        ("/bad-shape", "bad_reply"),
        ("/broken", "bad_reply"),
        ("/wrong-var", "bad_reply"),
        ("/missing", "bad_reply"),
    ],
)
async def test_a_failing_http_skill_does_not_strand_the_contact(
    skill_server: tuple[SurveyQuestion, str], http: SkillHttpClient, path: str, reason: str
) -> None:
    _svc, url = skill_server
    metrics = Metrics()
    # only the slow skill needs a short timeout: under load, a tight one would turn a
    # bad reply into a timeout
    convo = convo_for(url + path, http, metrics, timeout_s=0.3 if reason == "timeout" else 5)
    assert await convo.enter("PreSurvey") == (False, [])
    assert convo.conversation.skill == {} and convo.conversation.state == machine.IDLE
    assert failures(metrics, "PreSurvey", reason) == 1


async def test_a_timeout_mid_way_resumes_after_the_point(
    skill_server: tuple[SurveyQuestion, str], http: SkillHttpClient
) -> None:
    _svc, url = skill_server
    metrics = Metrics()
    convo = convo_for(url + "/skill", http, metrics, timeout_s=5)
    assert (await convo.enter("PreSurvey"))[0]
    skill = attach("PreSurvey", "http", url=url + "/slow", timeout_s=0.3)
    convo.dispatcher.attachments = fixed([skill])
    assert await convo.send("Yes") == ["(base flow after PreSurvey)"]
    assert failures(metrics, "PreSurvey", "timeout") == 1


async def test_an_unreachable_skill(http: SkillHttpClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    metrics = Metrics()
    convo = convo_for(f"http://127.0.0.1:{port}/skill", http, metrics)
    assert await convo.enter("PreSurvey") == (False, [])
    assert failures(metrics, "PreSurvey", "unavailable") == 1


def test_the_protocol_schemas_are_published() -> None:
    reply = reply_json_schema()
    assert reply["$id"] == "urn:flow-engine:schema:http-skill-reply:1"
    assert reply["properties"]["action"]["enum"] == ["stay", "return"]
    assert reply["additionalProperties"] is False
    request = request_json_schema()
    assert set(request["required"]) == {"envelope", "variables", "context"}


@pytest.mark.parametrize(
    "reply",
    [
        {
            "action": "stay",
            "envelope": {
                "origin": "Main",
                "flow": "PreMain",
                "input": {"content": "", "type": "text/plain"},
            },
        },
        {"action": "escalate_to_human"},
        {"action": "return", "extra": 1},
        {"messages": [""], "action": "stay"},
    ],
)
def test_replies_that_break_the_protocol(reply: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        HttpSkillReply.model_validate(reply)
