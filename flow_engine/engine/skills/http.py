"""HTTP skills: the engine POSTs each message to the skill's URL (R-SKILL-8).

Request body (:class:`HttpSkillRequest`)::

    {"envelope": {"origin": "Main", "flow": "PreFaq",
                  "input": {"content": "Olá", "type": "text/plain"}},
     "variables": {"order_id": "123"},
     "context": {"point": "PreFaq", "origin": "Main", "first": false, "message_id": "wamid…",
                 "contact": {"name": "Ana", "phone": "5511…"},
                 "number": {"phone_number_id": "…", "name": "Demo", …}}}

Reply (:class:`HttpSkillReply`, HTTP 2xx, JSON)::

    {"messages": ["A text", {"type": "buttons", …}],
     "variables": {"order_id": "123"},
     "action": "stay"}                       # wait for the contact's next message
    {"messages": [], "action": "return",
     "envelope": {"origin": "Main", "flow": "PreFaq", "input": {…}}}   # give control back

``variables`` are merged into the skill's variables (``null`` removes one);
``envelope`` is optional on return (the received one is given back). A timeout,
an unreachable URL, a non-2xx status or a reply that breaks this shape fails the
skill: the base flow goes on after the extension point. The JSON Schemas are
:func:`request_json_schema` and :func:`reply_json_schema`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from flow_engine.domain.outbound import OutboundMessage, text_messages
from flow_engine.domain.skills import Envelope, VarName, opens_human_service
from flow_engine.engine.skills.base import Skill, SkillContext, SkillFailure, SkillResult
from flow_engine.gateway.skill_http import SkillHttpClient, SkillHttpError

REQUEST_SCHEMA_ID = "urn:flow-engine:schema:http-skill-request:1"
REPLY_SCHEMA_ID = "urn:flow-engine:schema:http-skill-reply:1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestContext(_Strict):
    point: str = Field(description="The extension point (PreMain, PreFaq, …).")
    origin: str = Field(description="The calling base-flow service (Main, Desk, NotaCerta).")
    first: bool = Field(description="True on the message that entered the skill.")
    message_id: str = Field(
        description="The inbound message; the same one may come twice after a crash."
    )
    contact: dict[str, str] = Field(description="name and phone of the contact.")
    number: dict[str, str] = Field(description="The business number: id, name, phone, locale.")


class HttpSkillRequest(_Strict):
    """What the engine POSTs to an HTTP skill for each message."""

    envelope: Envelope
    variables: dict[str, JsonValue]
    context: RequestContext


class HttpSkillReply(_Strict):
    """What an HTTP skill answers: messages, variables, and stay or return."""

    messages: list[Annotated[str, Field(min_length=1)] | OutboundMessage] = Field(
        default_factory=list, description="Texts, or outbound messages (text, buttons, list…)."
    )
    variables: dict[VarName, JsonValue] = Field(
        default_factory=dict, description="Merged into the skill's variables; null removes."
    )
    action: Literal["stay", "return"] = Field(
        description="stay: wait for the next message; return: back to the base flow."
    )
    envelope: Envelope | None = Field(None, description="On return; defaults to the one sent.")

    @field_validator("action", mode="before")
    @classmethod
    def _no_human_service(cls, value: Any) -> Any:
        known = value in ("stay", "return")
        if isinstance(value, str) and not known and opens_human_service(value):
            raise ValueError("a skill may not open human service (R-SKILL-5)")
        return value

    @field_validator("envelope")
    @classmethod
    def _only_on_return(cls, value: Envelope | None, info: ValidationInfo) -> Envelope | None:
        if value is not None and info.data.get("action") == "stay":
            raise ValueError("an envelope is given only with action return")
        return value

    def to_result(self) -> SkillResult:
        messages: list[OutboundMessage] = []
        for message in self.messages:
            messages.extend(text_messages(message) if isinstance(message, str) else [message])
        return SkillResult(
            messages=messages,
            variables=dict(self.variables),
            stay=self.action == "stay",
            envelope=self.envelope,
        )


def _schema(model: type[BaseModel], schema_id: str, title: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        **model.model_json_schema(),
        "title": title,
    }


def request_json_schema() -> dict[str, Any]:
    """JSON Schema of the body the engine POSTs to an HTTP skill."""
    return _schema(HttpSkillRequest, REQUEST_SCHEMA_ID, "flow-engine HTTP skill request")


def reply_json_schema() -> dict[str, Any]:
    """JSON Schema of an HTTP skill's reply."""
    return _schema(HttpSkillReply, REPLY_SCHEMA_ID, "flow-engine HTTP skill reply")


class HttpSkill(Skill):
    """A skill served over HTTP at ``url``."""

    def __init__(self, url: str, timeout_s: float, http: SkillHttpClient) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.http = http

    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        body = {
            "envelope": envelope.model_dump(),
            "variables": variables,
            "context": context.as_json(),
        }
        try:
            answer = await self.http.request(
                "POST", self.url, json_body=body, timeout_s=self.timeout_s
            )
        except SkillHttpError as exc:
            raise SkillFailure("timeout" if exc.timeout else "unavailable", str(exc)) from None
        if not answer.ok:
            raise SkillFailure(
                "bad_reply", f"HTTP {answer.status} from the skill", details=answer.text[:500]
            )
        if answer.json is None:
            raise SkillFailure("bad_reply", "the skill's answer is not JSON")
        try:
            reply = HttpSkillReply.model_validate(answer.json)
        except ValidationError as exc:
            problems = [
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ]
            raise SkillFailure(
                "bad_reply",
                f"the skill's answer breaks the protocol: {problems}",
                details=problems,
            ) from None
        return reply.to_result()
