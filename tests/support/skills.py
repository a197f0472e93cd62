"""Driving skills in unit tests: a conversation through a SkillDispatcher, with the
real Turn, Conversation, machine and (for wiring tests) the real BaseFlow."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.conversation import Conversation
from flow_engine.domain.inbound import InboundMessage
from flow_engine.domain.outbound import InteractiveList, OutboundMessage, ReplyButtons, Text
from flow_engine.domain.skills import Envelope, SkillAttachment
from flow_engine.engine import events, machine
from flow_engine.engine.base_flow import BaseFlow, FlowServices, Step
from flow_engine.engine.flow import Turn
from flow_engine.engine.skills.base import Skill, SkillContext, SkillResult
from flow_engine.engine.skills.dispatch import SkillDispatcher, resume_after
from flow_engine.metrics.registry import Metrics
from flow_engine.storage.memory import memory_storage

NUMBER = "100000000000001"
CONTACT = "5491100000001"
CONFIG = NumberConfig(phone_number_id=NUMBER, display_phone_number="15550000001", name="Demo")


def attach(point: str, kind: str, **source: Any) -> SkillAttachment:
    parent = {"PreDesk": "Desk", "PreSurvey": "NotaCerta", "PosSurvey": "NotaCerta"}
    return SkillAttachment.model_validate(
        {
            "serviceName": point,
            "parentServiceName": parent.get(point, "Main"),
            "kind": kind,
            **source,
        }
    )


def describe(message: OutboundMessage) -> str:
    if isinstance(message, Text):
        return message.body
    if isinstance(message, ReplyButtons):
        return f"{message.body} [{' | '.join(b.title for b in message.buttons)}]"
    if isinstance(message, InteractiveList):
        titles = [r.title for s in message.sections for r in s.rows]
        return f"{message.body} [{' | '.join(titles)}]"
    return message.type


_ids = iter(range(1, 1_000_000))


def inbound(text: str = "", type: str = "text", **extra: Any) -> InboundMessage:
    return InboundMessage(
        message_id=f"wamid.{next(_ids)}",
        number=NUMBER,
        contact=CONTACT,
        contact_name="Ana",
        type=type,
        text=text,
        **extra,
    )


def event(name: str) -> InboundMessage:
    return events.event_message(NUMBER, CONTACT, name, {}, f"e{next(_ids)}")


def failures(metrics: Metrics, point: str, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "flow_engine_skill_failures_total", {"point": point, "reason": reason}
    )
    return value or 0.0


class Convo:
    """One conversation driven straight through a dispatcher; ``resume`` is recorded."""

    def __init__(
        self, dispatcher: SkillDispatcher, config: NumberConfig = CONFIG, state: str = "idle"
    ) -> None:
        self.dispatcher = dispatcher
        self.config = config
        self.conversation = Conversation(
            number=NUMBER, contact=CONTACT, contact_name="Ana", state=state
        )
        self.resumed: list[str] = []
        dispatcher.resume = self._resume

    async def _resume(self, step: Step, point: str) -> None:
        self.resumed.append(point)
        step.turn.say_text(f"(base flow after {point})")
        await step.model.end()

    def _turn(self, message: InboundMessage) -> Turn:
        return Turn(self.config, self.conversation, message, datetime.now(UTC))

    async def enter(
        self, point: str, message: InboundMessage | str = "Olá"
    ) -> tuple[bool, list[str]]:
        """The base flow reaches ``point`` on this message: did the skill take it over?"""
        msg = inbound(message) if isinstance(message, str) else message
        turn = self._turn(msg)
        with machine.bound(self.conversation.state) as model:
            took = await self.dispatcher(Step(turn, model, None), point)  # type: ignore[arg-type]
            self.conversation.state = model.state
        return took, [describe(m) for m in turn.replies]

    async def send(self, message: InboundMessage | str) -> list[str]:
        """A contact message while the skill (maybe) holds the conversation."""
        msg = inbound(message) if isinstance(message, str) else message
        turn = self._turn(msg)
        with machine.bound(self.conversation.state) as model:
            handled = await self.dispatcher.on_message(Step(turn, model, None))  # type: ignore[arg-type]
            self.conversation.state = model.state
        assert handled, "no skill held the conversation"
        return [describe(m) for m in turn.replies]

    @property
    def skill_vars(self) -> dict[str, Any]:
        return dict(self.conversation.skill.get("vars", {}))


class FlowChat:
    """A conversation through the real base flow with skills wired in."""

    def __init__(self, dispatcher: SkillDispatcher, config: NumberConfig = CONFIG) -> None:
        storage = memory_storage()
        self.flow = BaseFlow(
            FlowServices(storage.tickets, storage.events),
            hook=dispatcher,
            on_skill=dispatcher.on_message,
        )
        dispatcher.resume = resume_after(self.flow)
        self.config = config
        self.conversation = Conversation(number=NUMBER, contact=CONTACT, contact_name="Ana")

    async def send(self, message: InboundMessage | str) -> list[str]:
        msg = inbound(message) if isinstance(message, str) else message
        turn = Turn(self.config, self.conversation, msg, datetime.now(UTC))
        await self.flow.handle(turn)
        return [describe(m) for m in turn.replies]


# ---------------------------------------------------------------- Python skills
class AskTwice(Skill):
    """Asks for a name, then a city, then returns (stays two turns)."""

    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        if context.first:
            return SkillResult(messages=["Your name?"], stay=True, state="name")
        if context.state == "name":
            return SkillResult(
                messages=["Your city?"],
                variables={"name": envelope.input.content},
                stay=True,
                state="city",
            )
        return SkillResult(
            messages=[f"Thanks {variables['name']} from {envelope.input.content}"],
            variables={"city": envelope.input.content},
            envelope=envelope,
        )


class Clobber(Skill):
    """Tries to reach base-flow state through its variables (it cannot)."""

    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        variables["leak"] = True  # a copy: must not be saved
        return SkillResult(
            variables={"state": "service", "data": {"ticket_id": "x"}, "skp_state": "idle"},
            stay=True,
        )


class Boom(Skill):
    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        raise RuntimeError("kaboom")


class Sleepy(Skill):
    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        await asyncio.sleep(5)
        return SkillResult()


class Garbage:
    """Not a Skill subclass; answers something that is not a result."""

    async def run(self, envelope: Envelope, variables: dict[str, Any], context: Any) -> Any:
        return ["not", "a", "result"]


class DuckReturn:
    """Not a Skill subclass; answers with the HTTP reply shape."""

    async def run(self, envelope: Envelope, variables: dict[str, Any], context: Any) -> Any:
        return {"messages": ["duck says hi"], "action": "return"}


class Heavy(Skill):
    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        return SkillResult(variables={"blob": "x" * 20_000}, stay=True)


class NotAsync:
    def run(self, envelope: Envelope, variables: dict[str, Any], context: Any) -> None:
        return None


class Recorder(Skill):
    """Returns at once; keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[Envelope, dict[str, Any], SkillContext]] = []

    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        self.calls.append((envelope, variables, context))
        return SkillResult(envelope=envelope)


class FixedLoader:
    """A loader that hands out given skill instances, by point; counts loads."""

    def __init__(self, skills: dict[str, Skill]) -> None:
        self.skills = skills
        self.loads = 0

    def load(self, attachment: SkillAttachment) -> Skill:
        self.loads += 1
        return self.skills[attachment.service_name]


def fixed(attachments: Sequence[SkillAttachment]) -> Any:
    return lambda config: attachments


class BoomWithPhone(Skill):
    """Fails with the contact's number in its message (as a careless skill would)."""

    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        raise LookupError(f"no customer record for {context.contact.get('phone')}")
