"""Inbound webhook payloads of the WhatsApp Cloud API, and their normalized form.

Gateway models use ``extra="ignore"``: a field Meta adds tomorrow must not break
us. :func:`parse_webhook` reads every entry, change, message and status of a
payload (never only ``[0]``) and returns normalized updates.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_UPDATES_PER_POST = 1000


class _Gw(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Profile(_Gw):
    name: str = ""


class WaContact(_Gw):
    wa_id: str
    profile: Profile = Field(default_factory=Profile)


class Metadata(_Gw):
    display_phone_number: str = ""
    phone_number_id: str


class StatusError(_Gw):
    code: int | None = None
    title: str = ""
    message: str = ""
    error_data: dict[str, Any] | None = None


class WaStatus(_Gw):
    id: str
    status: str
    timestamp: str = ""
    recipient_id: str = ""
    errors: list[StatusError] = Field(default_factory=list)


class WaMessage(_Gw):
    id: str
    from_: str = Field(alias="from")
    timestamp: str = ""
    type: str = "unknown"
    text: dict[str, Any] | None = None
    interactive: dict[str, Any] | None = None
    button: dict[str, Any] | None = None
    image: dict[str, Any] | None = None
    audio: dict[str, Any] | None = None
    video: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    sticker: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] | None = None
    reaction: dict[str, Any] | None = None
    order: dict[str, Any] | None = None
    system: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


class ChangeValue(_Gw):
    # extra="allow": non-message changes (account_update...) keep every field for the record
    model_config = ConfigDict(extra="allow")

    messaging_product: str | None = None
    metadata: Metadata | None = None
    contacts: list[WaContact] = Field(default_factory=list)
    messages: list[WaMessage] = Field(default_factory=list)
    statuses: list[WaStatus] = Field(default_factory=list)
    # phone_number_quality_update / account_update fields
    event: str | None = None
    display_phone_number: str | None = None
    current_limit: str | None = None


class Change(_Gw):
    field: str
    value: ChangeValue


class Entry(_Gw):
    id: str = ""
    changes: list[Change] = Field(default_factory=list)


class WebhookPayload(_Gw):
    object: str
    entry: list[Entry]


MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")


class InboundMessage(BaseModel):
    """One contact message, normalized; what the inbound queue carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str
    number: str  # phone_number_id of the business number
    contact: str  # wa_id
    contact_name: str = ""
    timestamp: int = 0
    type: str  # text, interactive, button, image, ..., unsupported, or an unknown type
    text: str = ""  # text body, reply title, or media caption
    reply_id: str | None = None  # list/button reply id, or template button payload
    media: dict[str, Any] | None = None  # media object, location, contacts, reaction, order
    received_at: float = 0.0  # when our webhook accepted it (unix seconds)
    # internal events (type "event"): attendant actions, timers; never from the gateway
    event: str | None = None
    data: dict[str, Any] | None = None


class StatusUpdate(BaseModel):
    """A delivery status of a message we sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str
    number: str
    recipient: str
    status: str
    timestamp: int = 0
    error_code: int | None = None
    error_title: str = ""


class AccountEvent(BaseModel):
    """A non-message change (quality update, account update, template status...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    waba_id: str
    value: dict[str, Any]


class ParsedWebhook(BaseModel):
    messages: list[InboundMessage] = Field(default_factory=list)
    statuses: list[StatusUpdate] = Field(default_factory=list)
    events: list[AccountEvent] = Field(default_factory=list)

    @property
    def update_count(self) -> int:
        return len(self.messages) + len(self.statuses) + len(self.events)


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def normalize_message(msg: WaMessage, number: str, names: dict[str, str]) -> InboundMessage:
    text = ""
    reply_id: str | None = None
    media: dict[str, Any] | None = None
    if msg.type == "text" and msg.text:
        text = str(msg.text.get("body", ""))
    elif msg.type == "interactive" and msg.interactive:
        kind = str(msg.interactive.get("type", ""))
        reply = msg.interactive.get(kind) or {}
        if isinstance(reply, dict):
            reply_id = str(reply["id"]) if "id" in reply else None
            text = str(reply.get("title", ""))
    elif msg.type == "button" and msg.button:
        reply_id = str(msg.button.get("payload", "")) or None
        text = str(msg.button.get("text", ""))
    elif msg.type in MEDIA_TYPES:
        media = getattr(msg, msg.type)
        if media:
            text = str(media.get("caption", ""))
    elif msg.type == "location" and msg.location:
        media = msg.location
    elif msg.type == "contacts" and msg.contacts:
        media = {"contacts": msg.contacts}
    elif msg.type == "reaction" and msg.reaction:
        media = msg.reaction
        text = str(msg.reaction.get("emoji", ""))
    elif msg.type == "order" and msg.order:
        media = msg.order
    elif msg.type == "system" and msg.system:
        media = msg.system
        text = str(msg.system.get("body", ""))
    return InboundMessage(
        message_id=msg.id,
        number=number,
        contact=msg.from_,
        contact_name=names.get(msg.from_, ""),
        timestamp=_int(msg.timestamp),
        type=msg.type,
        text=text,
        reply_id=reply_id,
        media=media,
    )


def parse_webhook(payload: WebhookPayload) -> ParsedWebhook:
    """Read every entry, change, message and status of a validated payload."""
    out = ParsedWebhook()
    for entry in payload.entry:
        for change in entry.changes:
            value = change.value
            if change.field != "messages" or value.metadata is None:
                out.events.append(
                    AccountEvent(
                        field=change.field,
                        waba_id=entry.id,
                        value=value.model_dump(exclude_none=True, exclude_defaults=True),
                    )
                )
                continue
            number = value.metadata.phone_number_id
            names = {c.wa_id: c.profile.name for c in value.contacts}
            for msg in value.messages:
                out.messages.append(normalize_message(msg, number, names))
            for st in value.statuses:
                err = st.errors[0] if st.errors else None
                out.statuses.append(
                    StatusUpdate(
                        message_id=st.id,
                        number=number,
                        recipient=st.recipient_id,
                        status=st.status,
                        timestamp=_int(st.timestamp),
                        error_code=err.code if err else None,
                        error_title=(err.title or err.message) if err else "",
                    )
                )
    return out
