"""Outbound messages: what the engine may send, with every Cloud API limit enforced.

The same models validate number configuration (menus, buttons, absence
messages), so a title that is too long fails when the configuration is pushed,
never later at the Send API. :func:`to_cloud_payload` turns a message into the
exact body of ``POST /{phone_number_id}/messages``.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

TEXT_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
HEADER_FOOTER_MAX = 60
LIST_BUTTON_MAX = 20
LIST_ROWS_MAX = 10
LIST_SECTIONS_MAX = 10
ROW_ID_MAX = 200
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
SECTION_TITLE_MAX = 24
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
CTA_DISPLAY_TEXT_MAX = 20

InteractiveBody = Annotated[str, Field(min_length=1, max_length=INTERACTIVE_BODY_MAX)]
HeaderFooter = Annotated[str, Field(min_length=1, max_length=HEADER_FOOTER_MAX)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    type: Literal["text"] = "text"
    body: str = Field(min_length=1, max_length=TEXT_MAX)
    preview_url: bool = False


class ListRow(_Model):
    id: str = Field(min_length=1, max_length=ROW_ID_MAX)
    title: str = Field(min_length=1, max_length=ROW_TITLE_MAX)
    description: str | None = Field(default=None, min_length=1, max_length=ROW_DESCRIPTION_MAX)


class ListSection(_Model):
    title: str | None = Field(default=None, min_length=1, max_length=SECTION_TITLE_MAX)
    rows: list[ListRow] = Field(min_length=1, max_length=LIST_ROWS_MAX)


class InteractiveList(_Model):
    type: Literal["list"] = "list"
    body: InteractiveBody
    button: str = Field(min_length=1, max_length=LIST_BUTTON_MAX)
    sections: list[ListSection] = Field(min_length=1, max_length=LIST_SECTIONS_MAX)
    header: HeaderFooter | None = None
    footer: HeaderFooter | None = None

    @field_validator("sections")
    @classmethod
    def _check_sections(cls, sections: list[ListSection]) -> list[ListSection]:
        rows = [row for section in sections for row in section.rows]
        if len(rows) > LIST_ROWS_MAX:
            raise ValueError(f"at most {LIST_ROWS_MAX} rows in total, got {len(rows)}")
        if len(sections) > 1 and any(s.title is None for s in sections):
            raise ValueError("every section needs a title when there is more than one")
        _require_unique([row.id for row in rows], "row id")
        return sections


class Button(_Model):
    id: str = Field(min_length=1, max_length=BUTTON_ID_MAX)
    title: str = Field(min_length=1, max_length=BUTTON_TITLE_MAX)


class ReplyButtons(_Model):
    type: Literal["buttons"] = "buttons"
    body: InteractiveBody
    buttons: list[Button] = Field(min_length=1, max_length=BUTTONS_MAX)
    header: HeaderFooter | None = None
    footer: HeaderFooter | None = None

    @field_validator("buttons")
    @classmethod
    def _check_buttons(cls, buttons: list[Button]) -> list[Button]:
        _require_unique([b.title for b in buttons], "button title")
        _require_unique([b.id for b in buttons], "button id")
        return buttons


class CtaUrl(_Model):
    type: Literal["cta_url"] = "cta_url"
    body: InteractiveBody
    display_text: str = Field(min_length=1, max_length=CTA_DISPLAY_TEXT_MAX)
    url: str = Field(min_length=1, max_length=2000)
    header: HeaderFooter | None = None
    footer: HeaderFooter | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or url != url.strip():
            raise ValueError("must be an absolute http:// or https:// URL")
        return url


class Template(_Model):
    type: Literal["template"] = "template"
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15, pattern=r"^[A-Za-z]{2,3}(_[A-Za-z0-9]+)?$")
    components: list[dict[str, Any]] = Field(default_factory=list)
    #: ``biz_opaque_callback_data``: echoed back in the status webhooks of the message
    callback_data: str | None = Field(None, max_length=512)


class ContactCard(_Model):
    """A "contacts" message pointing the user to another WhatsApp number."""

    type: Literal["contacts"] = "contacts"
    name: str = Field(min_length=1, max_length=256)
    phone: str = Field(pattern=r"^\+?[0-9]{6,15}$")


OutboundMessage = Annotated[
    Text | InteractiveList | ReplyButtons | CtaUrl | Template | ContactCard,
    Field(discriminator="type"),
]
OUTBOUND_ADAPTER: TypeAdapter[OutboundMessage] = TypeAdapter(OutboundMessage)


def _require_unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)


def _frame(body: str, header: str | None, footer: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if header is not None:
        out["header"] = {"type": "text", "text": header}
    out["body"] = {"text": body}
    if footer is not None:
        out["footer"] = {"text": footer}
    return out


def _row(row: ListRow) -> dict[str, str]:
    out = {"id": row.id, "title": row.title}
    if row.description is not None:
        out["description"] = row.description
    return out


def _section(section: ListSection) -> dict[str, Any]:
    out: dict[str, Any] = {} if section.title is None else {"title": section.title}
    out["rows"] = [_row(r) for r in section.rows]
    return out


def _interactive(message: InteractiveList | ReplyButtons | CtaUrl) -> dict[str, Any]:
    frame = _frame(message.body, message.header, message.footer)
    if isinstance(message, InteractiveList):
        sections = [_section(s) for s in message.sections]
        return {
            "type": "list",
            **frame,
            "action": {"button": message.button, "sections": sections},
        }
    if isinstance(message, ReplyButtons):
        buttons = [
            {"type": "reply", "reply": {"id": b.id, "title": b.title}} for b in message.buttons
        ]
        return {"type": "button", **frame, "action": {"buttons": buttons}}
    parameters = {"display_text": message.display_text, "url": message.url}
    return {"type": "cta_url", **frame, "action": {"name": "cta_url", "parameters": parameters}}


def to_cloud_payload(message: OutboundMessage, to: str) -> dict[str, Any]:
    """The exact Cloud API body that sends ``message`` to ``to``."""
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
    }
    if isinstance(message, Text):
        payload["type"] = "text"
        payload["text"] = {"preview_url": message.preview_url, "body": message.body}
    elif isinstance(message, InteractiveList | ReplyButtons | CtaUrl):
        payload["type"] = "interactive"
        payload["interactive"] = _interactive(message)
    elif isinstance(message, Template):
        template: dict[str, Any] = {"name": message.name, "language": {"code": message.language}}
        if message.components:
            template["components"] = message.components
        payload["type"] = "template"
        payload["template"] = template
        if message.callback_data:
            payload["biz_opaque_callback_data"] = message.callback_data
    else:
        digits = message.phone.removeprefix("+")
        card = {
            "name": {"formatted_name": message.name, "first_name": message.name},
            "phones": [{"phone": "+" + digits, "type": "WORK", "wa_id": digits}],
        }
        payload["type"] = "contacts"
        payload["contacts"] = [card]
    return payload


_BREAKS = ("\n\n", "\n", " ")


def _keeps_together(before: str, after: str) -> bool:
    """True when cutting between ``before`` and ``after`` would split one visible character."""
    joiners = ("\u200d", "\ufe0f", "\ufe0e")
    return (
        unicodedata.combining(after) != 0
        or after in joiners
        or before == "\u200d"
        or 0x1F3FB <= ord(after) <= 0x1F3FF  # skin tone modifiers
    )


def _cut(text: str, limit: int) -> int:
    window = text[:limit]
    for sep in _BREAKS:
        # Cut just after the separator, so it stays with the earlier part.
        pos = window.rfind(sep)
        if pos > 0:
            return pos + len(sep)
    cut = limit
    while cut > 1 and _keeps_together(text[cut - 1], text[cut]):
        cut -= 1
    return limit if _keeps_together(text[cut - 1], text[cut]) else cut


def split_text(body: str, limit: int = TEXT_MAX) -> list[str]:
    """Split ``body`` into parts of at most ``limit`` characters.

    Cuts at a paragraph break, else a line break, else a space, else (one long
    word) at the limit; separators stay at the end of the earlier part, so
    ``"".join(split_text(s)) == s`` always holds. An empty body gives ``[]``.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    parts: list[str] = []
    rest = body
    while len(rest) > limit:
        cut = _cut(rest, limit)
        parts.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        parts.append(rest)
    return parts


def text_messages(body: str, *, preview_url: bool = False) -> list[Text]:
    """``body`` as one or more :class:`Text` messages, split at natural boundaries.

    Parts made only of whitespace (possible only around very long runs of it)
    are dropped: WhatsApp would show nothing for them.
    """
    parts = [part for part in split_text(body) if not part.isspace()]
    return [Text(body=part, preview_url=preview_url) for part in parts]
