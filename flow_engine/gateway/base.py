"""The Gateway interface: every outbound call to WhatsApp goes through it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from flow_engine.domain.outbound import OutboundMessage
from flow_engine.errors import NotFound, PermanentGatewayError
from flow_engine.gateway.phone_numbers import PhoneNumberApi

if TYPE_CHECKING:
    from flow_engine.gateway.media import Media


class Gateway(PhoneNumberApi, ABC):
    """Sends messages for a business number (and reads and activates the number:
    :class:`~flow_engine.gateway.phone_numbers.PhoneNumberApi`).

    Implementations make exactly one attempt per call and raise
    :class:`~flow_engine.errors.TransientGatewayError` or
    :class:`~flow_engine.errors.PermanentGatewayError`; retries, rate limits and
    idempotency are the caller's job (``engine/outbox.py``).
    """

    @abstractmethod
    async def send(self, phone_number_id: str, to: str, message: OutboundMessage) -> str:
        """Send ``message`` from ``phone_number_id`` to ``to``; return the gateway message id."""

    @abstractmethod
    async def mark_read(self, phone_number_id: str, message_id: str) -> None:
        """Mark an inbound message as read."""

    async def list_templates(
        self, waba_id: str, after: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the WABA's message templates and the cursor of the next page (None
        on the last page)."""
        raise PermanentGatewayError("this gateway has no template catalog")

    def open_media(
        self, phone_number_id: str, media_id: str
    ) -> AbstractAsyncContextManager[Media]:
        """The media ``media_id`` of a conversation of ``phone_number_id``, to stream
        (``async with``). A gateway without media raises NotFound."""
        raise NotFound(
            f"no media {media_id} on number {phone_number_id}",
            details={"number": phone_number_id, "media_id": media_id},
        )

    async def close(self) -> None:
        """Release connections."""
