"""A gateway that records instead of sending: unit tests and the terminal chat use it."""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

from flow_engine.domain.outbound import OutboundMessage, Text, to_cloud_payload
from flow_engine.errors import GatewayError
from flow_engine.gateway.base import Gateway
from flow_engine.gateway.recording_numbers import RecordingPhoneNumbers


class SentMessage(NamedTuple):
    phone_number_id: str
    to: str
    message: OutboundMessage


class ReadMark(NamedTuple):
    phone_number_id: str
    message_id: str


class RecordingGateway(RecordingPhoneNumbers, Gateway):
    """Records every send in order and answers fake ids (``wamid.fake.<n>``).

    ``fail_next(error, times)`` makes the next ``times`` sends raise ``error``
    (nothing is recorded for them), to script gateway failures in tests.
    """

    def __init__(self) -> None:
        self.sent: list[SentMessage] = []
        self.read: list[ReadMark] = []
        self.closed = False
        self._failures: deque[GatewayError] = deque()
        self._count = 0
        #: template catalogs by WABA id, served by list_templates two per page
        self.templates: dict[str, list[dict[str, Any]]] = {}

    def fail_next(self, error: GatewayError, times: int = 1) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        self._failures.extend([error] * times)

    async def send(self, phone_number_id: str, to: str, message: OutboundMessage) -> str:
        to_cloud_payload(message, to)  # a message the real gateway could not encode fails here too
        if self._failures:
            raise self._failures.popleft()
        self.sent.append(SentMessage(phone_number_id, to, message))
        self._count += 1
        return f"wamid.fake.{self._count}"

    async def list_templates(
        self, waba_id: str, after: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        start = int(after or 0)
        found = self.templates.get(waba_id, [])
        page = found[start : start + 2]
        return page, str(start + 2) if start + 2 < len(found) else None

    async def mark_read(self, phone_number_id: str, message_id: str) -> None:
        self.read.append(ReadMark(phone_number_id, message_id))

    async def close(self) -> None:
        self.closed = True

    def messages_to(self, to: str) -> list[OutboundMessage]:
        return [s.message for s in self.sent if s.to == to]

    def texts(self, to: str | None = None) -> list[str]:
        """Bodies of the text messages sent (to ``to`` only, when given)."""
        return [
            s.message.body
            for s in self.sent
            if isinstance(s.message, Text) and (to is None or s.to == to)
        ]

    def clear(self) -> None:
        self.sent.clear()
        self.read.clear()
        self._failures.clear()
