"""The contract between the runtime and a flow, and the first flow: the greeting.

The runtime gives a flow one :class:`Turn` per inbound message; the flow changes
``turn.conversation`` and appends replies. The runtime saves the conversation and
its replies together, then sends them. The base flow (``machine.py``) replaces
:class:`GreetingFlow` as the default flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.conversation import Conversation
from flow_engine.domain.inbound import InboundMessage
from flow_engine.domain.outbound import OutboundMessage, text_messages
from flow_engine.domain.templating import render


@dataclass
class Turn:
    """One inbound message being handled."""

    config: NumberConfig
    conversation: Conversation
    message: InboundMessage
    now: datetime
    replies: list[OutboundMessage] = field(default_factory=list)

    def say(self, *messages: OutboundMessage) -> None:
        self.replies.extend(messages)

    def say_text(self, body: str) -> None:
        """Send a text, split into several messages when longer than WhatsApp allows."""
        self.replies.extend(text_messages(body))

    @property
    def context(self) -> dict[str, object]:
        """What placeholders such as ``{{contact.name}}`` may name."""
        return {
            "contact": {
                "name": self.conversation.contact_name,
                "phone": self.conversation.contact,
            },
            "number": {
                "name": self.config.name,
                "phone": self.config.display_phone_number,
            },
        }


class Flow(Protocol):
    async def handle(self, turn: Turn) -> None: ...


class GreetingFlow:
    """Answers every message with the number's initial greeting."""

    async def handle(self, turn: Turn) -> None:
        text = turn.config.greeting(returning=False)
        if text:
            turn.say_text(render(text, turn.context))
