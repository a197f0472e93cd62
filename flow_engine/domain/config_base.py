"""Building blocks shared by the tabs of a number's configuration."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from flow_engine.domain import limits
from flow_engine.domain.error_kinds import ErrorKind
from flow_engine.domain.text import no_control_when_written

NOT_AN_EMAIL = ErrorKind("email", "not a valid e-mail address")
LISTED_TWICE = ErrorKind("listed_twice", "{value} is listed twice", "duplicate")


class ConfigModel(BaseModel):
    """Base of every configuration model: unknown fields are refused, values are
    immutable once validated, and surrounding whitespace is trimmed from strings."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


#: A one-line name people read (the number's, a queue's, a menu option's, a card's): a
#: configuration written now may not put control characters in it (domain/text.py)
Name = Annotated[str, no_control_when_written()]

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
_EMAIL = re.compile(rf"^(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?:{_LABEL}\.)+{_TLD}$")


def _check_email(value: str) -> str:
    match = _EMAIL.match(value)
    if match is None or len(value) > limits.EMAIL_MAX or len(match["local"]) > 64:
        raise NOT_AN_EMAIL.error()
    return value.lower()


#: An e-mail address (``name@example.com``), stored in lower case.
Email = Annotated[
    str,
    Field(
        min_length=3,
        max_length=limits.EMAIL_MAX,
        examples=["ana@example.com"],
        json_schema_extra={"format": "email"},
    ),
    AfterValidator(_check_email),
]


def field_errors(title: str, errors: Sequence[tuple[tuple[str | int, ...], str, str]]) -> None:
    """Raise one :class:`ValidationError` with an error per ``(loc, type, message)``.

    Inside a validator, ``loc`` is relative to the value being validated, so a
    list validator can point at ``(3, "name")`` and the client sees
    ``queue.queues.3.name``.
    """
    if errors:
        raise ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=None)
                for loc, kind, message in errors
            ],
        )


def duplicates(values: Iterable[str]) -> list[int]:
    """Positions of values that repeat an earlier one, ignoring case."""
    seen: set[str] = set()
    repeated: list[int] = []
    for index, value in enumerate(values):
        key = value.casefold()
        if key in seen:
            repeated.append(index)
        seen.add(key)
    return repeated


def distinct(title: str, key: Callable[[Any], str] = str, *loc: str | int) -> AfterValidator:
    """A list validator: every item after the first with the same ``key`` (ignoring case)
    is a ``duplicate`` error at its index (and ``loc`` inside the item)."""

    def check(values: list[Any]) -> list[Any]:
        keys = [key(v) for v in values]
        field_errors(
            title,
            [
                ((i, *loc), LISTED_TWICE.type, LISTED_TWICE.text(value=repr(keys[i])))
                for i in duplicates(keys)
            ],
        )
        return values

    return AfterValidator(check)


#: A list of distinct attendant e-mails.
EmailList = Annotated[list[Email], Field(max_length=limits.ATTENDANTS_MAX), distinct("EmailList")]

#: The form of a phone number id: 1 to 32 ASCII digits (not ``str.isdigit``, which also
#: takes other scripts' digits and superscripts).
PHONE_NUMBER_ID_PATTERN = r"^[0-9]{1,32}$"

#: A Cloud API phone number id: the key of a number everywhere (digits).
PhoneNumberId = Annotated[
    str,
    Field(
        pattern=PHONE_NUMBER_ID_PATTERN,
        description="A Cloud API phone number id (digits).",
        examples=["100000000000001"],
    ),
]


class Message(ConfigModel):
    """A message the flow may send, with its on/off switch.

    A null (or absent) text uses the default text of the number's locale.
    """

    enabled: StrictBool = Field(True, description="Whether the flow sends this message at all.")
    text: str | None = Field(
        None,
        min_length=1,
        max_length=limits.TEXT_MAX,
        description=(
            "The message, a template that may name placeholders such as {{contact.name}}. "
            "Null uses the default text of the number's locale."
        ),
    )


class ButtonsMessage(Message):
    """A message sent as the body of an interactive message (≤ 1024 characters)."""

    text: str | None = Field(
        None,
        min_length=1,
        max_length=limits.INTERACTIVE_BODY_MAX,
        description=(
            "The message (body of an interactive WhatsApp message, so at most 1024 "
            "characters). Null uses the default text of the number's locale."
        ),
    )
