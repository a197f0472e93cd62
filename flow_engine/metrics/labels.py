"""Metric label values that come from outside (a webhook, a gateway answer), mapped onto
fixed sets so a hostile or new value cannot grow the label cardinality: whatever is not
known is counted as ``other``. (Cloud API error codes: ``gateway/codes.py``.)"""

from __future__ import annotations

OTHER = "other"

#: Cloud API inbound message types (spec/WHATSAPP.md, "Webhooks").
MESSAGE_TYPES = frozenset(
    {
        "text",
        "interactive",
        "button",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "location",
        "contacts",
        "reaction",
        "order",
        "system",
        "request_welcome",
        "unsupported",
        "unknown",
    }
)
#: Cloud API delivery statuses.
STATUSES = frozenset({"sent", "delivered", "read", "failed", "deleted", "warning"})


def message_type(value: str) -> str:
    return value if value in MESSAGE_TYPES else OTHER


def status(value: str) -> str:
    return value if value in STATUSES else OTHER
