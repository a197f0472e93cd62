"""Active notifications (PRODUCT §6, R-NOTIFY-1/4): business-initiated template sends.

A notification moves forward only::

    pending ─► sent ─► delivered ─► read ─► replied
        └────► failed  (a later delivered/read/replied still wins: the furthest counts)

Status webhooks come late, twice and out of order: :func:`advance` keeps the furthest
status and fills the timestamps a skipped status implies (a ``read`` without a
``delivered`` counts as both). What a gateway error code does to a send is
:func:`action_for` (WHATSAPP.md, "Error codes for business-initiated sends").
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field

from flow_engine.domain.error_kinds import ErrorKind

#: how long a contact's message counts as the reply to a notification
REPLY_WINDOW_S = 7 * 24 * 3600
#: the messaging limit's window: distinct contacts reached by business-initiated sends
LIMIT_WINDOW_S = 24 * 3600
#: biz_opaque_callback_data is at most this long (Cloud API)
CALLBACK_DATA_MAX = 512


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    REPLIED = "replied"


#: how far each status is: a status never moves to a lower rank
RANK = {
    NotificationStatus.PENDING: 0,
    NotificationStatus.SENT: 1,
    NotificationStatus.FAILED: 2,
    NotificationStatus.DELIVERED: 3,
    NotificationStatus.READ: 4,
    NotificationStatus.REPLIED: 5,
}
STATUS_FIELDS = {
    NotificationStatus.SENT: "sent_at",
    NotificationStatus.DELIVERED: "delivered_at",
    NotificationStatus.READ: "read_at",
    NotificationStatus.FAILED: "failed_at",
    NotificationStatus.REPLIED: "replied_at",
}
#: statuses a webhook may carry (``played`` counts as read)
WEBHOOK_STATUSES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",
    "failed": "failed",
}


class Action(StrEnum):
    RETRY = "retry"  # back off and send the recipient again
    FAIL = "fail"  # that recipient failed, never retried
    PAUSE = "pause"  # the number is at risk: the campaign stops as needs_attention


RETRY_CODES = frozenset({130429, 131056, 131057, 131048, 80007, 4})
PAUSE_CODES = frozenset({132015, 132016, 368, 131031, 131042})
#: pause codes about the number's account, not the campaign's template (368 restricted for
#: policy, 131031 locked, 131042 payment): they hold every campaign of the number at once
ACCOUNT_CODES = frozenset({368, 131031, 131042})


def action_for(code: int | None, transient: bool) -> Action:
    """What a campaign does after a send failed with Cloud API ``code``."""
    if code in PAUSE_CODES:
        return Action.PAUSE
    if code in RETRY_CODES:
        return Action.RETRY
    if code is None and transient:  # network errors, timeouts, 5xx without a code
        return Action.RETRY
    return Action.FAIL


class NotificationError(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: int | None
    title: str


class TemplateRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(min_length=2, max_length=15, pattern=r"^[A-Za-z]{2,3}(_[A-Za-z0-9]+)?$")


class ReplyRoute(BaseModel):
    """Where the contact's reply goes: a ticket in ``queue`` (the number's attendants when
    call center is off). ``reply: null`` lets the base flow answer as usual."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: str = Field(min_length=1, max_length=24)


class Notification(BaseModel):
    """One individual notification, as stored and as ``GET /notifications/{id}`` shows."""

    model_config = ConfigDict(frozen=True)

    id: str
    number: str
    to: str
    template: TemplateRef
    status: NotificationStatus = NotificationStatus.PENDING
    wamid: str | None = None
    error: NotificationError | None = None
    created_at: float
    sent_at: float | None = None
    delivered_at: float | None = None
    read_at: float | None = None
    failed_at: float | None = None
    replied_at: float | None = None
    extras: dict[str, str] = Field(default_factory=dict)
    reply: ReplyRoute | None = None
    text: str = ""  # the template as the contact sees it (for the ticket transcript)
    components: list[dict[str, Any]] = Field(default_factory=list)
    created_by: str = ""
    replied_by: str | None = None  # the inbound message id that replied
    attempts: int = 0  # send attempts so far


def moves(old: NotificationStatus, new: NotificationStatus) -> bool:
    """Whether ``new`` is further than ``old``: a failure does not undo a delivery, and a
    failed notification is not replied to."""
    if new == NotificationStatus.FAILED and RANK[old] > RANK[NotificationStatus.FAILED]:
        return False
    if new == NotificationStatus.REPLIED and old == NotificationStatus.FAILED:
        return False
    return RANK[new] > RANK[old]


def advance(
    current: dict[str, Any], status: str, at: float, error: NotificationError | None = None
) -> dict[str, Any] | None:
    """The fields of a notification after a ``status`` at ``at``, or None when nothing
    changes (a repeat, or a status behind the current one). Timestamps are kept once set;
    a status that implies earlier ones fills them (read ⇒ delivered ⇒ sent)."""
    new = NotificationStatus(status)
    old = NotificationStatus(current.get("status", "pending"))
    changed: dict[str, Any] = {}
    if moves(old, new):
        changed["status"] = new.value
    implied = {
        NotificationStatus.SENT: [NotificationStatus.SENT],
        NotificationStatus.DELIVERED: [NotificationStatus.SENT, NotificationStatus.DELIVERED],
        NotificationStatus.READ: [
            NotificationStatus.SENT,
            NotificationStatus.DELIVERED,
            NotificationStatus.READ,
        ],
        NotificationStatus.FAILED: [NotificationStatus.FAILED],
        NotificationStatus.REPLIED: [NotificationStatus.REPLIED],
    }.get(new, [])
    if new == NotificationStatus.FAILED and "status" not in changed:
        implied = []  # a failure after a delivery leaves no trace (it did not fail)
    for s in implied:
        name = STATUS_FIELDS[s]
        if current.get(name) is None:
            changed[name] = at
    failing = new == NotificationStatus.FAILED and bool(implied)
    if failing and error is not None and current.get("error") is None:
        changed["error"] = error.model_dump()
    return changed or None


# -------------------------------------------------------------------------- phones

_DIGITS_ONLY = re.compile(r"[^0-9+]")
SCIENTIFIC = re.compile(r"^\s*[0-9]+([.,][0-9]+)?[eE][+]?[0-9]+\s*$")


#: what is wrong with a phone (``phone``: the type a send's error has, ``notify/``; the code
#: of a campaign's rejected row)
EMPTY_PHONE = ErrorKind("empty_phone", "empty phone", "phone")
SCIENTIFIC_PHONE = ErrorKind(
    "scientific_notation",
    "{value} is in scientific notation (Excel): format the column as text",
    "phone",
)
NOT_A_PHONE = ErrorKind("not_a_phone", "{value} is not a phone number", "phone")
IMPOSSIBLE_PHONE = ErrorKind("impossible_phone", "{value} is not a possible phone number", "phone")


class PhoneError(ValueError):
    """A phone a person typed that is not a possible WhatsApp number: an error of
    ``kind`` with ``values``."""

    def __init__(self, kind: ErrorKind, **values: object) -> None:
        super().__init__(kind.text(**values))
        self.kind = kind
        self.values = values


def region_of(display_phone_number: str) -> str | None:
    """The region (``AR``, ``BR``…) of a business number, the default for local phones."""
    try:
        parsed = phonenumbers.parse("+" + display_phone_number.lstrip("+"), None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    return None if region in (None, "ZZ", "001") else region


def normalize_phone(raw: str, region: str | None) -> str:
    """``raw`` as typed (``+54 9 11 1234-5678``, ``011 …`` …) → E.164 digits without the
    plus (``5491112345678``, the ``wa_id`` shape). Raises :class:`PhoneError`."""
    text = raw.strip()
    if not text:
        raise PhoneError(EMPTY_PHONE)
    if SCIENTIFIC.match(text):
        raise PhoneError(SCIENTIFIC_PHONE, value=repr(text))
    digits = _DIGITS_ONLY.sub("", text).lstrip("+")
    candidates = [text] if text.startswith("+") else [text, "+" + digits]
    if region is None and not text.startswith("+"):
        candidates = ["+" + digits]  # no region known: read it as international
    for candidate in candidates:
        # a local phone in the number's country first; else as written by WhatsApp and CRMs,
        # international digits without the plus (5491112345678)
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]
    if not digits:
        raise PhoneError(NOT_A_PHONE, value=repr(text))
    raise PhoneError(IMPOSSIBLE_PHONE, value=repr(text))


# --------------------------------------------------------------------- callback data


def callback_data(kind: Literal["n", "c"], *ids: str) -> str:
    """``biz_opaque_callback_data`` naming a notification (``n:<id>``) or a campaign
    recipient (``c:<campaign id>:<recipient index>``)."""
    data = ":".join(["fe", kind, *ids])
    if len(data) > CALLBACK_DATA_MAX:
        raise ValueError("callback data too long")
    return data


def parse_callback(data: str | None) -> tuple[str, list[str]] | None:
    if not data or not data.startswith("fe:"):
        return None
    parts = data.split(":")
    if len(parts) == 3 and parts[1] == "n":
        return "n", parts[2:]
    if len(parts) == 4 and parts[1] == "c" and parts[3].isascii() and parts[3].isdigit():
        return "c", parts[2:]
    return None


class ReplyTarget(BaseModel):
    """What a contact's reply to a notification leads to (given to the base flow)."""

    model_config = ConfigDict(frozen=True)

    ref: str  # "n:<id>" or "c:<campaign>:<index>"
    queue: str | None
    extras: dict[str, str] = Field(default_factory=dict)
    template: str = ""
    text: str = ""
    sent_at: float = 0.0


class NotificationRequest(BaseModel):
    """The body of ``POST /api/v1/numbers/{number}/notifications``."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=40, description="The phone, as a person types it.")
    template: TemplateRef
    parameters: dict[str, Any] | None = Field(
        None, description='{"header": [p], "body": [p…] or {name: p}, "buttons": {"0": [p]}}'
    )
    extras: dict[str, Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=dict, max_length=50, description="Shown to the attendant on a reply."
    )
    reply: ReplyRoute | None = None
