"""The parameters every report shares, checked: numbers, period, interval. A bad one is
a 422 that names it; a number outside the caller's grant is a 403 that names it."""

from __future__ import annotations

import re
from datetime import date

from flow_engine.admin.permissions import Module, Principal
from flow_engine.data.service import DataService, Query
from flow_engine.domain.metrics import PERIOD_MAX_DAYS, Interval
from flow_engine.errors import Forbidden, Problems, UnprocessableEntity

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def invalid(field: str, message: str, kind: str = "value_error") -> UnprocessableEntity:
    """A 422 naming the query parameter ``field`` (``in``: ``"query"``, as every bad query
    parameter of the API is reported)."""
    return UnprocessableEntity(
        f"invalid {field}: {message}",
        details=[{"field": field, "in": "query", "message": message, "type": kind}],
    )


def parse_date(field: str, raw: str | None) -> date | None:
    if raw is None:
        return None
    if not DATE.match(raw):
        raise invalid(field, f"expected a date YYYY-MM-DD, got {raw!r}", "date_format")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid(field, f"{raw!r} is not a calendar date", "date_format") from None


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
        raise invalid("from", f"from ({first}) is after to ({last})", "period")
    return first, last


def parse_numbers(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    found: list[str] = []
    for part in raw.split(","):
        number = part.strip()
        if not number:
            continue
        if not number.isdigit() or len(number) > 32:
            raise invalid("numbers", f"{number!r} is not a phone number id", "number_format")
        if number not in found:
            found.append(number)
    if not found:
        raise invalid("numbers", "name at least one number (or leave numbers out)", "missing")
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
        raise invalid("from", f"from ({first}) is after to ({last})", "period")
    if (last - first).days + 1 > PERIOD_MAX_DAYS:
        raise invalid("to", f"a period covers at most {PERIOD_MAX_DAYS} days", "period")
    return Query(picked, first, last, interval)
