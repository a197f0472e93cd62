"""Internal events for a conversation: attendant actions and timers enter the same
ordered queue as the contact's messages, so they never race a message being handled."""

from __future__ import annotations

import time
from typing import Any

from flow_engine.domain.inbound import InboundMessage
from flow_engine.storage.base import Storage
from flow_engine.storage.keys import partition_of

EVENT_TYPE = "event"

# events the base flow understands
TICKET_CLOSED = "ticket_closed"  # data: {"ticket_id"}; the ticket is already closed
TICKET_TRANSFERRED = "ticket_transferred"  # data: {"ticket_id", "new_ticket_id"}
DESK_MESSAGE = "desk_message"  # data: {"ticket_id", "text", "attendant"}
TICKET_INACTIVITY = "ticket_inactivity"  # data: {"ticket_id"}
NOTIFY_AVAILABLE = "notify_available"  # data: {}


def event_message(
    number: str, contact: str, event: str, data: dict[str, Any], event_id: str
) -> InboundMessage:
    """An event as a queue message; ``event_id`` makes posting it idempotent."""
    return InboundMessage(
        message_id=f"ev:{event_id}",
        number=number,
        contact=contact,
        type=EVENT_TYPE,
        event=event,
        data=data,
        received_at=time.time(),
    )


async def post_event(
    storage: Storage,
    partitions: int,
    number: str,
    contact: str,
    event: str,
    data: dict[str, Any],
    event_id: str,
) -> bool:
    """Queue an event for a conversation; False when ``event_id`` was posted before."""
    message = event_message(number, contact, event, data, event_id)
    return await storage.queue.enqueue(partition_of(number, contact, partitions), message)
