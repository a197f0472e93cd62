"""The contract every kind of skill follows (R-SKILL-8).

Per message the dispatcher calls :meth:`Skill.run` with the envelope of that
message, the skill's variables (its own namespace, without the ``skp_`` prefix)
and a :class:`SkillContext`. The skill answers with a :class:`SkillResult`:
messages to send, variables to merge (a ``None`` value removes one), and either
``stay=True`` (wait for the contact's next message) or the return envelope.
A skill that cannot go on raises :class:`SkillFailure` with a short reason; any
other exception counts as reason ``error``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.outbound import OutboundMessage
from flow_engine.domain.skills import Envelope
from flow_engine.errors import FlowEngineError

#: reasons of :class:`SkillFailure`, the ``reason`` label of ``skill_failures``
REASONS = (
    "error",  # the skill raised, or could not be loaded
    "timeout",  # no answer within the attachment's timeout_s
    "unavailable",  # an HTTP skill could not be reached
    "bad_reply",  # an answer that breaks the contract (shape, size, variables)
    "action_failed",  # a declarative HTTP action failed and no status_variable handles it
    "transition_cap",  # a declarative skill moved too often on one message
    "missing",  # the skill was detached while a conversation was inside it
)


class SkillFailure(FlowEngineError):
    """A skill could not handle a message; the base flow goes on after its point."""

    code = "skill_failed"

    def __init__(self, reason: str, message: str, *, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.reason = reason


@dataclass(frozen=True)
class SkillContext:
    """What a skill may know besides the envelope and its variables."""

    point: str
    origin: str
    #: True on the message that entered the skill
    first: bool
    #: where the skill waits (a declarative state name; opaque to the engine)
    state: str = ""
    #: invalid answers so far at ``state``
    attempts: int = 0
    contact: dict[str, str] = field(default_factory=dict)
    number: dict[str, str] = field(default_factory=dict)
    config: NumberConfig | None = None
    #: the inbound message id: the same message may be handled twice after a crash
    message_id: str = ""

    def as_json(self) -> dict[str, Any]:
        """The context as an HTTP skill receives it (the configuration stays private)."""
        return {
            "point": self.point,
            "origin": self.origin,
            "first": self.first,
            "message_id": self.message_id,
            "contact": dict(self.contact),
            "number": dict(self.number),
        }


class SkillResult(BaseModel):
    """A skill's answer to one message."""

    model_config = ConfigDict(extra="forbid")

    messages: list[OutboundMessage] = Field(default_factory=list)
    variables: dict[str, JsonValue] = Field(default_factory=dict)
    stay: bool = False
    envelope: Envelope | None = None
    state: str = ""
    attempts: int = 0

    @field_validator("messages", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"type": "text", "body": m} if isinstance(m, str) else m for m in value]
        return value


class Skill(ABC):
    """One kind of skill; instances are shared by every conversation that enters it."""

    @abstractmethod
    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        """Handle one message: reply, update the variables, stay or return."""
