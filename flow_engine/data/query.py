"""The parameters every report shares, checked: numbers, period, interval. A bad one is
a 422 that names it; a number outside the caller's grant is a 403 that names it."""

from __future__ import annotations

import re
from datetime import date

from flow_engine.admin.permissions import Module, Principal
from flow_engine.data.service import DataService, Query
from flow_engine.domain.config_base import PHONE_NUMBER_ID_PATTERN
from flow_engine.domain.error_kinds import ErrorKind
from flow_engine.domain.metrics import PERIOD_MAX_DAYS, Interval
from flow_engine.errors import Forbidden, Problems, UnprocessableEntity

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PHONE_NUMBER_ID = re.compile(PHONE_NUMBER_ID_PATTERN)
DATE_FORMAT = ErrorKind("date_format", "expected a date YYYY-MM-DD, got {value}")
NOT_A_DATE = ErrorKind("calendar_date", "{value} is not a calendar date", "date_format")
NOT_A_NUMBER = ErrorKind("number_format", "{value} is not a phone number id")
NO_NUMBER = ErrorKind("no_number", "name at least one number (or leave numbers out)", "missing")
PERIOD_ORDER = ErrorKind("period_order", "from ({start}) is after to ({end})", "period")
PERIOD_LENGTH = ErrorKind("period_length", "a period covers at most {days} days", "period")


def invalid(field: str, message: str, kind: str = "value_error") -> UnprocessableEntity:
    """A 422 naming the query parameter ``field`` (``in``: ``"query"``, as every bad query
    parameter of the API is reported)."""
    return UnprocessableEntity(
        f"invalid {field}: {message}",
        details=[{"field": field, "in": "query", "message": message, "type": kind}],
    )


def invalid_as(field: str, kind: ErrorKind, **values: object) -> UnprocessableEntity:
    """:func:`invalid` with an error of ``kind``."""
    return invalid(field, kind.text(**values), kind.type)


def parse_date(field: str, raw: str | None) -> date | None:
    if raw is None:
        return None
    if not DATE.match(raw):
        raise invalid_as(field, DATE_FORMAT, value=repr(raw))
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid_as(field, NOT_A_DATE, value=repr(raw)) from None


def parse_period(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """``from`` and ``to`` (either may be absent) as dates: one 422 naming each that is
    not a date; ``from`` after ``to`` is checked once both are dates."""
    found = Problems()
    first = last = None
    with found.check():
        first = parse_date("from", start)
    with found.check():
        last = parse_date("to", end)
    found.raise_any()
    if first is not None and last is not None and first > last:
        raise invalid_as("from", PERIOD_ORDER, start=first, end=last)
    return first, last


def parse_numbers(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    found: list[str] = []
    for part in raw.split(","):
        number = part.strip()
        if not number:
            continue
        if not PHONE_NUMBER_ID.fullmatch(number):
            raise invalid_as("numbers", NOT_A_NUMBER, value=repr(number))
        if number not in found:
            found.append(number)
    if not found:
        raise invalid_as("numbers", NO_NUMBER)
    return found


async def resolve(
    data: DataService,
    who: Principal,
    numbers: str | None,
    start: str | None,
    end: str | None,
    interval: Interval = "day",
) -> Query:
    """The query of a report: ``numbers`` (default: every number the caller may see in
    the data module), ``from``/``to`` (default: this month up to today, in the numbers'
    time zone)."""
    known = await data.numbers()
    asked = parse_numbers(numbers)
    if asked is None:
        chosen = known if who.is_super else [n for n in known if who.can(n, Module.DATA)]
    else:
        denied = who.denied(asked, Module.DATA)
        if denied:
            raise Forbidden(
                f"you have no access in the data module to: {', '.join(denied)}",
                details={"numbers": denied, "module": Module.DATA.value},
            )
        unknown = [n for n in asked if n not in known]
        if unknown:
            raise invalid("numbers", f"no such number: {', '.join(unknown)}", "unknown_number")
        chosen = asked
    picked = tuple(chosen)
    first, last = parse_date("from", start), parse_date("to", end)
    if last is None:
        last = await data.today(picked)
        if first is not None and first > last:
            last = first
    if first is None:
        first = last.replace(day=1)
    if first > last:
        raise invalid_as("from", PERIOD_ORDER, start=first, end=last)
    if (last - first).days + 1 > PERIOD_MAX_DAYS:
        raise invalid_as("to", PERIOD_LENGTH, days=PERIOD_MAX_DAYS)
    return Query(picked, first, last, interval)
