"""Validation messages in the member's language.

The services (the API's, which the console calls) say what is wrong with a field in
English: ``details[]`` with the field, the ``message`` and its ``type`` — pydantic's
(``string_too_short``…) or the domain's own (an ``ErrorKind`` of
``domain/error_kinds.py``). The API keeps them so. The console looks among the kinds it
knows of that type for the one whose English template gives exactly that message, reads
the values back out of it (a length, a limit, the values allowed) and writes the
member's text, key ``valid.<code>`` of ``console/messages.py``. A message no known kind
gives — a service's own words, a type without a translation — stays as the service
wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from flow_engine.console.figures import Figures
from flow_engine.console.i18n import Translate, translator
from flow_engine.console.messages import MESSAGES
from flow_engine.data import query
from flow_engine.domain import (
    activation,
    campaigns,
    config,
    config_base,
    config_hours,
    config_menus,
    config_service,
    notifications,
    skills,
    templates,
    text,
)
from flow_engine.domain.error_kinds import ErrorKind

#: pydantic's own errors the console's forms meet, in pydantic's words (the JSON form
#: of a message too, where it differs: a config tab is validated as JSON)
PYDANTIC: tuple[ErrorKind, ...] = (
    ErrorKind("missing", "Field required"),
    ErrorKind("extra_forbidden", "Extra inputs are not permitted"),
    ErrorKind("string_type", "Input should be a valid string"),
    ErrorKind(
        "string_too_short", "String should have at least {min_length} character{expected_plural}"
    ),
    ErrorKind(
        "string_too_long", "String should have at most {max_length} character{expected_plural}"
    ),
    ErrorKind("string_pattern_mismatch", "String should match pattern '{pattern}'"),
    ErrorKind("int", "Input should be a valid integer", "int_type"),
    ErrorKind(
        "int",
        "Input should be a valid integer, unable to parse string as an integer",
        "int_parsing",
    ),
    ErrorKind(
        "int_from_float", "Input should be a valid integer, got a number with a fractional part"
    ),
    ErrorKind("float", "Input should be a valid number", "float_type"),
    ErrorKind(
        "float",
        "Input should be a valid number, unable to parse string as a number",
        "float_parsing",
    ),
    ErrorKind("bool", "Input should be a valid boolean", "bool_type"),
    ErrorKind(
        "bool", "Input should be a valid boolean, unable to interpret input", "bool_parsing"
    ),
    ErrorKind("greater_than", "Input should be greater than {gt}"),
    ErrorKind("greater_than_equal", "Input should be greater than or equal to {ge}"),
    ErrorKind("less_than", "Input should be less than {lt}"),
    ErrorKind("less_than_equal", "Input should be less than or equal to {le}"),
    ErrorKind(
        "too_short",
        "{field_type} should have at least {min_length} item{expected_plural} after validation, "
        "not {actual_length}",
    ),
    ErrorKind(
        "too_long",
        "{field_type} should have at most {max_length} item{expected_plural} after validation, "
        "not {actual_length}",
    ),
    ErrorKind("literal_error", "Input should be {expected}"),
    ErrorKind("enum", "Input should be {expected}"),
    ErrorKind("list_type", "Input should be a valid list"),
    ErrorKind("list_type", "Input should be a valid array"),
    ErrorKind("dict_type", "Input should be a valid dictionary"),
    ErrorKind("dict_type", "Input should be an object"),
    ErrorKind(
        "date", "Input should be a valid date in the format YYYY-MM-DD, {error}", "date_parsing"
    ),
    ErrorKind(
        "date", "Input should be a valid date or datetime, {error}", "date_from_datetime_parsing"
    ),
    ErrorKind("datetime", "Input should be a valid datetime, {error}", "datetime_parsing"),
    ErrorKind(
        "datetime",
        "Input should be a valid datetime or date, {error}",
        "datetime_from_date_parsing",
    ),
    ErrorKind("url_parsing", "Input should be a valid URL, {error}"),
    ErrorKind("json_invalid", "Invalid JSON: {error}"),
)

#: the domain's own errors the console's forms meet most (their English words stay the
#: API's; an error of the domain not here stays in English)
DOMAIN: tuple[ErrorKind, ...] = (
    text.CONTROL_CHARACTER,
    config_base.NOT_AN_EMAIL,
    config_base.LISTED_TWICE,
    config_menus.QUESTION_TWICE,
    config_menus.QUEUE_TWICE,
    config_menus.DEFAULT_QUEUE_NAME,
    config.UNKNOWN_TIME_ZONE,
    config_service.NOT_A_LINK,
    config_service.NOT_THE_NETWORK,
    config_service.NO_SOCIAL_LINK,
    config_hours.OPENING_TIME,
    config_hours.CLOSING_TIME,
    config_hours.END_BEFORE_START,
    config_hours.OVERLAP,
    config_hours.HOLIDAY_FORMAT,
    config_hours.NOT_A_DAY,
    config_hours.START_AND_END,
    config_hours.HOLIDAY_TWICE,
    skills.SKILL_NEEDS,
    skills.SKILL_SUFFIX,
    skills.SKILL_URL,
    skills.SKILL_TARGET,
    campaigns.ONE_SENDER,
    campaigns.BATCH_TOGETHER,
    campaigns.NOT_UTF8,
    campaigns.EMPTY_CSV,
    campaigns.NO_COLUMN,
    campaigns.COLUMN_TWICE,
    notifications.EMPTY_PHONE,
    notifications.SCIENTIFIC_PHONE,
    notifications.NOT_A_PHONE,
    notifications.IMPOSSIBLE_PHONE,
    templates.EMPTY_PARAMETER,
    templates.LONG_PARAMETER,
    templates.PARAMETER_LAYOUT,
    activation.PIN_FORMAT,
    query.DATE_FORMAT,
    query.NOT_A_DATE,
    query.NOT_A_NUMBER,
    query.NO_NUMBER,
    query.PERIOD_ORDER,
    query.PERIOD_LENGTH,
)
#: why a campaign's CSV rejects a row, by the ``code`` of the report's rejected row
REASONS: dict[str, ErrorKind] = {
    k.code: k
    for k in (
        notifications.EMPTY_PHONE,
        notifications.SCIENTIFIC_PHONE,
        notifications.NOT_A_PHONE,
        notifications.IMPOSSIBLE_PHONE,
        campaigns.EMPTY_SENDER,
        campaigns.UNKNOWN_SENDER,
        campaigns.EMPTY_VALUE,
    )
}
#: every kind of error the console says in the member's language
KINDS: tuple[ErrorKind, ...] = PYDANTIC + DOMAIN + tuple(REASONS.values())
_BY_TYPE: dict[str, list[ErrorKind]] = {}
for _kind in KINDS:
    _BY_TYPE.setdefault(_kind.type, []).append(_kind)


def key_of(kind: ErrorKind) -> str:
    return f"valid.{kind.code}"


def _either(t: Translate, figures: Figures, expected: str) -> str:
    """pydantic's list of the values allowed (``'a', 'b' or 'c'``), with the member's "or"."""
    head, sep, last = expected.rpartition(" or ")
    return f"{head} {t('valid.or')} {last}" if sep else expected


def _figure(t: Translate, figures: Figures, text: str) -> str:
    """A limit or a length as the member writes numbers (``4.096``, ``0,5``)."""
    if re.fullmatch(r"-?\d+", text):
        return figures.count(int(text))
    try:
        return figures.number(float(text))
    except ValueError:
        return text


#: values the member's text shows otherwise than pydantic's words hold them
_VALUES: dict[str, Callable[[Translate, Figures, str], str]] = {
    "expected": _either,
    **dict.fromkeys(
        ("min_length", "max_length", "actual_length", "gt", "ge", "lt", "le", "max", "days"),
        _figure,
    ),
}


def said(locale: str, kind: ErrorKind, values: Mapping[str, str]) -> str | None:
    """An error of ``kind`` with ``values`` in the member's words; None when there are none. A
    count of one (pydantic's ``expected_plural`` empty) takes the ``.one`` text if any."""
    key = key_of(kind)
    if values.get("expected_plural") == "" and key + ".one" in MESSAGES:
        key += ".one"
    if key not in MESSAGES:
        return None
    t, figures = translator(locale), Figures(locale)
    shown = {k: _VALUES[k](t, figures, v) if k in _VALUES else v for k, v in values.items()}
    return t(key, **shown)


def field_message(locale: str, detail: Mapping[str, Any]) -> str:
    """The message of one ``details[]`` entry of a service in the member's language; its
    English words when the console knows no translation of them."""
    message = str(detail.get("message", ""))
    for kind in _BY_TYPE.get(str(detail.get("type", "")), ()):
        values = kind.values_of(message)
        if values is not None:
            text = said(locale, kind, values)
            if text is not None:
                return text
    return message


def row_reason(locale: str, row: Mapping[str, Any]) -> str:
    """Why a campaign's CSV rejects ``row`` (one of a report's ``rejected``) in the
    member's language; the report's English ``reason`` when the console does not know its
    ``code`` (or the row has none)."""
    reason = str(row.get("reason", ""))
    kind = REASONS.get(str(row.get("code", "")))
    values = kind.values_of(reason) if kind is not None else None
    text = said(locale, kind, values) if kind is not None and values is not None else None
    return reason if text is None else text
