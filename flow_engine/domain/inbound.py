"""Inbound webhook payloads of the WhatsApp Cloud API, and their normalized form.

Gateway models use ``extra="ignore"``: a field Meta adds tomorrow must not break
us. :func:`parse_webhook` reads every entry, change, message and status of a
payload (never only ``[0]``) and returns normalized updates.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from flow_engine.domain import limits

MAX_UPDATES_PER_POST = 1000

# Every id and string the engine keys or stores on is bounded (docs/api.md#limits), and an
# id may not be empty: a hostile (but signed) webhook gets a 400 naming the field.
_PRINTABLE = r"^[!-~]+$"  # ASCII without spaces or control characters
Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.WEBHOOK_ID_MAX, pattern=_PRINTABLE),
]
ContactId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.WEBHOOK_CONTACT_MAX, pattern=_PRINTABLE),
]
NumberId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=limits.WEBHOOK_LABEL_MAX)]
Name = Annotated[str, StringConstraints(max_length=limits.WEBHOOK_NAME_MAX)]
Body = Annotated[str, StringConstraints(max_length=limits.WEBHOOK_TEXT_MAX)]
Title = Annotated[str, StringConstraints(max_length=limits.WEBHOOK_TITLE_MAX)]
Stamp = Annotated[str, StringConstraints(max_length=20)]
ErrorCode = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


def _check_size(value: Any, limit: int) -> Any:
    if isinstance(value, BaseModel):
        size = len(value.model_dump_json(exclude_unset=True))
    elif isinstance(value, dict | list):
        size = len(json.dumps(value, ensure_ascii=False, default=str))
    else:
        return value
    if size > limit:
        raise PydanticCustomError(
            "too_large",
            "{size} characters of JSON, over the limit of {limit}",
            {"size": size, "limit": limit},
        )
    return value


#: one content object of a message (media, location, order…), bounded as a whole — after
#: its own fields, so a field over its limit is the one named
Sized = AfterValidator(lambda v: _check_size(v, limits.WEBHOOK_CONTENT_MAX))


class _Gw(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Open(BaseModel):
    """A content object: the fields the engine reads are typed and bounded, the others are
    kept as they came (the whole object is bounded by :data:`Sized`)."""

    model_config = ConfigDict(extra="allow")

    def raw(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class TextContent(_Open):
    body: Body = ""


class ReplyContent(_Open):
    id: Id | None = None
    title: Title = ""
    description: Title = ""


class InteractiveContent(_Open):
    type: Annotated[str, StringConstraints(max_length=limits.WEBHOOK_LABEL_MAX)] = ""
    button_reply: ReplyContent | None = None
    list_reply: ReplyContent | None = None


class ButtonContent(_Open):
    payload: Title = ""
    text: Title = ""


class MediaContent(_Open):
    id: Id | None = None
    caption: Body = ""


class ReactionContent(_Open):
    message_id: Id | None = None
    emoji: Annotated[str, StringConstraints(max_length=limits.WEBHOOK_LABEL_MAX)] = ""


class SystemContent(_Open):
    body: Title = ""


class Profile(_Gw):
    name: Name = ""


class WaContact(_Gw):
    wa_id: ContactId
    profile: Profile = Field(default_factory=Profile)


class Metadata(_Gw):
    display_phone_number: Annotated[str, StringConstraints(max_length=32)] = ""
    phone_number_id: NumberId


class StatusError(_Gw):
    code: ErrorCode | None = None
    title: Title = ""
    message: Title = ""
    error_data: Annotated[dict[str, Any] | None, Sized] = None


class WaStatus(_Gw):
    id: Id
    status: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    timestamp: Stamp = ""
    recipient_id: Annotated[
        str, StringConstraints(max_length=limits.WEBHOOK_CONTACT_MAX, pattern=r"^[!-~]*$")
    ] = ""
    errors: list[StatusError] = Field(default_factory=list, max_length=16)
    biz_opaque_callback_data: Annotated[str, StringConstraints(max_length=512)] | None = None


class WaMessage(_Gw):
    id: Id
    from_: ContactId = Field(alias="from")
    timestamp: Stamp = ""
    type: Label = "unknown"
    text: Annotated[TextContent | None, Sized] = None
    interactive: Annotated[InteractiveContent | None, Sized] = None
    button: Annotated[ButtonContent | None, Sized] = None
    image: Annotated[MediaContent | None, Sized] = None
    audio: Annotated[MediaContent | None, Sized] = None
    video: Annotated[MediaContent | None, Sized] = None
    document: Annotated[MediaContent | None, Sized] = None
    sticker: Annotated[MediaContent | None, Sized] = None
    location: Annotated[dict[str, Any] | None, Sized] = None
    contacts: Annotated[list[dict[str, Any]] | None, Sized] = None
    reaction: Annotated[ReactionContent | None, Sized] = None
    order: Annotated[dict[str, Any] | None, Sized] = None
    system: Annotated[SystemContent | None, Sized] = None
    context: Annotated[dict[str, Any] | None, Sized] = None


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
    field: Label
    value: ChangeValue

    @field_validator("value", mode="before")
    @classmethod
    def _bounded_event(cls, value: Any, info: ValidationInfo) -> Any:
        """A non-message change is kept whole (an account event): bounded as a whole."""
        if info.data.get("field") != "messages":
            _check_size(value, limits.WEBHOOK_EVENT_MAX)
        return value


class Entry(_Gw):
    id: Annotated[str, StringConstraints(max_length=limits.WEBHOOK_ID_MAX)] = ""
    time: float | None = None
    changes: list[Change] = Field(default_factory=list)


class WebhookPayload(_Gw):
    object: Label
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
    #: ``biz_opaque_callback_data`` of the message, when we gave one (notifications)
    callback: str | None = None


class AccountEvent(BaseModel):
    """A non-message change (quality update, account update, template status...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    waba_id: str
    value: dict[str, Any]
    time: float | None = None  # the entry's time (unix seconds), when Meta gave one


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


def _reply_of(content: InteractiveContent) -> tuple[str | None, str]:
    """The reply id and title of an interactive answer (list, button, or a kind Meta adds)."""
    kind = content.type
    reply: Any = getattr(content, kind, None) if kind in ("button_reply", "list_reply") else None
    if isinstance(reply, ReplyContent):
        return reply.id, reply.title
    other = (content.model_extra or {}).get(kind)
    if isinstance(other, dict):
        return (str(other["id"]) if "id" in other else None), str(other.get("title", ""))
    return None, ""


def normalize_message(
    msg: WaMessage, number: str, names: dict[str, str], received_at: float = 0.0
) -> InboundMessage:
    text = ""
    reply_id: str | None = None
    media: dict[str, Any] | None = None
    if msg.type == "text" and msg.text:
        text = msg.text.body
    elif msg.type == "interactive" and msg.interactive:
        reply_id, text = _reply_of(msg.interactive)
    elif msg.type == "button" and msg.button:
        reply_id = msg.button.payload or None
        text = msg.button.text
    elif msg.type in MEDIA_TYPES:
        content: MediaContent | None = getattr(msg, msg.type)
        if content:
            media = content.raw()
            text = content.caption
    elif msg.type == "location" and msg.location:
        media = msg.location
    elif msg.type == "contacts" and msg.contacts:
        media = {"contacts": msg.contacts}
    elif msg.type == "reaction" and msg.reaction:
        media = msg.reaction.raw()
        text = msg.reaction.emoji
    elif msg.type == "order" and msg.order:
        media = msg.order
    elif msg.type == "system" and msg.system:
        media = msg.system.raw()
        text = msg.system.body
    # every value comes from the validated payload: built without validating it again
    return InboundMessage.model_construct(
        message_id=msg.id,
        number=number,
        contact=msg.from_,
        contact_name=names.get(msg.from_, ""),
        timestamp=_int(msg.timestamp),
        type=msg.type,
        text=text,
        reply_id=reply_id,
        media=media,
        received_at=received_at,
        event=None,
        data=None,
    )


def parse_webhook(payload: WebhookPayload, received_at: float = 0.0) -> ParsedWebhook:
    """Read every entry, change, message and status of a validated payload; its messages
    carry ``received_at`` (when the webhook accepted them)."""
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
                        time=entry.time,
                    )
                )
                continue
            number = value.metadata.phone_number_id
            names = {c.wa_id: c.profile.name for c in value.contacts}
            for msg in value.messages:
                out.messages.append(normalize_message(msg, number, names, received_at))
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
                        callback=st.biz_opaque_callback_data,
                    )
                )
    return out
