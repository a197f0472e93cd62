"""Cloud API webhook payloads built and signed like Meta does (pure, no I/O).

Shared by the fake gateway, the tests and the benchmark. Shapes follow
``spec/whatsapp-examples.md``; the signature is ``X-Hub-Signature-256:
sha256=<hex HMAC-SHA256 of the raw body bytes with the app secret>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

SIGNATURE_HEADER = "X-Hub-Signature-256"
DEV_WABA_ID = "100000000000000"
DEV_PHONE_NUMBER_ID = "100000000000001"
DEV_DISPLAY_PHONE_NUMBER = "15550000001"


def sign_body(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signed_request(payload: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """Raw body and headers of a webhook POST, ready to send."""
    body = encode(payload)
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign_body(body, secret)}


def new_message_id() -> str:
    """A fresh id shaped like Meta's (``wamid.`` + base64)."""
    return "wamid." + base64.b64encode(b"\x15\x02\x00\x12" + secrets.token_bytes(20)).decode()


def _envelope(
    value: dict[str, Any], phone_number_id: str, display_phone_number: str, waba_id: str
) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_phone_number,
            "phone_number_id": phone_number_id,
        },
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}],
    }


def build_message_webhook(
    *,
    wa_id: str,
    name: str,
    content: dict[str, Any],
    phone_number_id: str = DEV_PHONE_NUMBER_ID,
    display_phone_number: str = DEV_DISPLAY_PHONE_NUMBER,
    message_id: str | None = None,
    timestamp: int | None = None,
    context_id: str | None = None,
    waba_id: str = DEV_WABA_ID,
) -> dict[str, Any]:
    """A ``messages`` webhook carrying one inbound message whose ``type``/body is ``content``.

    ``context_id`` marks the message as a reply to a business message (as Meta
    does for button and list replies).
    """
    message: dict[str, Any] = {}
    if context_id is not None:
        message["context"] = {"from": display_phone_number, "id": context_id}
    message.update(
        {
            "from": wa_id,
            "id": message_id or new_message_id(),
            "timestamp": str(int(time.time()) if timestamp is None else timestamp),
            **content,
        }
    )
    value = {"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]}
    return _envelope(value, phone_number_id, display_phone_number, waba_id)


def build_text_webhook(*, wa_id: str, name: str, text: str, **kwargs: Any) -> dict[str, Any]:
    """An inbound text message (see :func:`build_message_webhook` for the other arguments)."""
    return build_message_webhook(
        wa_id=wa_id, name=name, content={"type": "text", "text": {"body": text}}, **kwargs
    )


def build_button_reply_webhook(
    *, wa_id: str, name: str, reply_id: str, title: str, **kwargs: Any
) -> dict[str, Any]:
    content = {
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
    }
    return build_message_webhook(wa_id=wa_id, name=name, content=content, **kwargs)


def build_list_reply_webhook(
    *,
    wa_id: str,
    name: str,
    reply_id: str,
    title: str,
    description: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    reply = {"id": reply_id, "title": title}
    if description is not None:
        reply["description"] = description
    content = {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": reply}}
    return build_message_webhook(wa_id=wa_id, name=name, content=content, **kwargs)


def build_status_webhook(
    *,
    message_id: str,
    recipient_id: str,
    status: str = "delivered",
    phone_number_id: str = DEV_PHONE_NUMBER_ID,
    display_phone_number: str = DEV_DISPLAY_PHONE_NUMBER,
    timestamp: int | None = None,
    errors: list[dict[str, Any]] | None = None,
    waba_id: str = DEV_WABA_ID,
    callback_data: str | None = None,
) -> dict[str, Any]:
    """A ``statuses`` webhook (``sent``/``delivered``/``read``/``failed``) for one message;
    ``callback_data``: the send's ``biz_opaque_callback_data``, echoed as Meta does."""
    item: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "recipient_id": recipient_id,
    }
    if errors:
        item["errors"] = errors
    if callback_data:
        item["biz_opaque_callback_data"] = callback_data
    return _envelope({"statuses": [item]}, phone_number_id, display_phone_number, waba_id)


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)


class InboundSpec(BaseModel):
    """A user message in short form (the body of the fake gateway's ``/_fake/inbound``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    phone_number_id: str = DEV_PHONE_NUMBER_ID
    display_phone_number: str = DEV_DISPLAY_PHONE_NUMBER
    from_: str = Field(alias="from", pattern=r"^[0-9]{6,15}$")
    name: str = ""
    text: str | None = None
    button_reply: Reply | None = None
    list_reply: Reply | None = None
    id: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_content(self) -> InboundSpec:
        if sum(x is not None for x in (self.text, self.button_reply, self.list_reply)) != 1:
            raise ValueError("give exactly one of text, button_reply, list_reply")
        return self

    def to_webhook(self, *, message_id: str, context_id: str | None = None) -> dict[str, Any]:
        common: dict[str, Any] = {
            "wa_id": self.from_,
            "name": self.name,
            "phone_number_id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
            "message_id": message_id,
            "context_id": context_id,
        }
        if self.text is not None:
            return build_text_webhook(text=self.text, **common)
        if self.button_reply is not None:
            reply = self.button_reply
            return build_button_reply_webhook(reply_id=reply.id, title=reply.title, **common)
        assert self.list_reply is not None
        reply = self.list_reply
        return build_list_reply_webhook(reply_id=reply.id, title=reply.title, **common)


def options_of(payload: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(kind, id, title)`` of each choice in a sent interactive payload, in display order.

    ``kind`` is ``button_reply`` or ``list_reply``: the inbound type a tap produces.
    """
    interactive = payload.get("interactive") or {}
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        return [
            ("button_reply", b["reply"]["id"], b["reply"]["title"])
            for b in action.get("buttons", [])
        ]
    if interactive.get("type") == "list":
        return [
            ("list_reply", row["id"], row["title"])
            for section in action.get("sections", [])
            for row in section.get("rows", [])
        ]
    return []


def describe_payload(payload: dict[str, Any]) -> list[str]:
    """A sent Cloud API payload as readable lines: the text, then numbered options."""
    kind = payload.get("type")
    if kind == "text":
        return str(payload.get("text", {}).get("body", "")).splitlines() or [""]
    if kind == "interactive":
        interactive = payload.get("interactive") or {}
        lines: list[str] = []
        if "header" in interactive:
            lines.append(f"*{interactive['header'].get('text', '')}*")
        lines.extend(str(interactive.get("body", {}).get("text", "")).splitlines())
        lines.extend(f"  {n}. {title}" for n, (_, _, title) in enumerate(options_of(payload), 1))
        action = interactive.get("action") or {}
        if interactive.get("type") == "cta_url":
            params = action.get("parameters", {})
            lines.append(f"  [{params.get('display_text')}] {params.get('url')}")
        if "footer" in interactive:
            lines.append(f"_{interactive['footer'].get('text', '')}_")
        return lines
    if kind == "template":
        template = payload.get("template", {})
        return [f"[template {template.get('name')} ({template.get('language', {}).get('code')})]"]
    if kind == "contacts":
        card = (payload.get("contacts") or [{}])[0]
        phones = ", ".join(p.get("phone", "") for p in card.get("phones", []))
        return [f"[contact {card.get('name', {}).get('formatted_name')}: {phones}]"]
    return [f"[{kind}]"]


def one_line(payload: dict[str, Any], width: int = 100) -> str:
    """:func:`describe_payload` squeezed onto one line of at most ``width`` characters."""
    text = " / ".join(line.strip() for line in describe_payload(payload) if line.strip())
    return text if len(text) <= width else text[: width - 1] + "…"
