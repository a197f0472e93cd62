"""The contract between the runtime and a flow.

The runtime gives a flow one :class:`Turn` per inbound message; the flow changes
``turn.conversation`` and appends replies. The runtime saves the conversation and
its replies together, then sends them. The default flow is the base flow
(``base_flow.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.conversation import Conversation
from flow_engine.domain.facts import Facts
from flow_engine.domain.inbound import InboundMessage
from flow_engine.domain.notifications import ReplyTarget
from flow_engine.domain.outbound import OutboundMessage, text_messages
from flow_engine.engine.events import event_message
from flow_engine.storage.queue import ScheduledEvent


@dataclass
class Turn:
    """One inbound message being handled."""

    config: NumberConfig
    conversation: Conversation
    message: InboundMessage
    now: datetime
    replies: list[OutboundMessage] = field(default_factory=list)
    #: when the contact wrote before this message (0 for a new contact)
    previous_seen: float = 0.0
    #: timers saved with the conversation (see ScheduledEvent)
    scheduled: list[ScheduledEvent] = field(default_factory=list)
    #: set when this message is the contact's reply to an active notification
    notification: ReplyTarget | None = None
    #: data facts of this turn (R-DATA), saved with the conversation: counted once
    facts: list[Facts] = field(default_factory=list)

    def say(self, *messages: OutboundMessage) -> None:
        self.replies.extend(messages)

    def schedule(self, job_id: str, due: datetime, event: str, data: dict[str, Any]) -> None:
        """Post ``event`` to this conversation at ``due``; the same ``job_id`` again moves it."""
        due_ts = due.timestamp()
        message = event_message(
            self.conversation.number,
            self.conversation.contact,
            event,
            data,
            f"{job_id}@{int(due_ts * 1000)}",
        )
        self.scheduled.append(ScheduledEvent(job_id, due_ts, message))

    def cancel(self, job_id: str) -> None:
        self.scheduled.append(ScheduledEvent(job_id, None))

    def record(self, facts: Facts) -> None:
        """Count ``facts`` with this turn's commit (``domain/facts.py``)."""
        self.facts.append(facts)

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
