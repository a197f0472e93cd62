"""Whether human service is open, and when it opens next (R-FLOW-5).

Rules, in the number's time zone (``config.timezone``):

- 24-hour mode (``hours.open_24h``): always open; weekdays and holidays unused.
- Today is a holiday: open only inside the holiday's own hours when it has
  them, else closed all day. "Today" is the local date of ``now``.
- Otherwise: open when the local wall-clock time falls in one of today's
  intervals, start included, end excluded (``24:00`` is the end of the day).

Wall-clock semantics make daylight-saving changes come out right: an interval
start that falls in a spring-forward gap opens at the first instant after the
gap (02:30 on a day clocks jump from 02:00 to 03:00 opens at 03:00), and on a
fall-back day a repeated wall time is open both times it occurs.

Both functions reject a naive ``now`` with :class:`ValueError`.
:func:`next_opening` returns an aware datetime in UTC (convert it with
``.astimezone(config.zone)`` to show it): Python's ``==`` between datetimes of
different zones is always false when one of them falls in a repeated
(fall-back) hour, so UTC is the only safe form to compare and store.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.config_hours import Holiday, HoursTab

#: How far ahead :func:`next_opening` looks before answering ``None``.
HORIZON_DAYS = 400

_MINUTE_US = 60_000_000
_HOUR = timedelta(hours=1)

Window = tuple[int, int]  # minutes since local midnight, [start, end)
Holidays = dict[tuple[int, int], Holiday]


def is_open(config: NumberConfig, now: datetime) -> bool:
    """Whether human service is open at the instant ``now``."""
    _require_aware(now)
    hours = config.hours
    if hours.open_24h:
        return True
    return _open_at(hours, _holidays(hours), now.astimezone(config.zone))


def next_opening(config: NumberConfig, now: datetime) -> datetime | None:
    """The first instant at or after ``now`` when service is open, in UTC.

    ``now`` itself (in UTC) when already open; ``None`` when service does not open
    within :data:`HORIZON_DAYS` days (e.g. no intervals at all).
    """
    _require_aware(now)
    zone = config.zone
    if is_open(config, now):
        return now.astimezone(UTC)
    hours = config.hours
    holidays = _holidays(hours)
    start_utc = now.astimezone(UTC)
    today = now.astimezone(zone).date()
    best: datetime | None = None
    last_day: date | None = None
    # Start a day early and look one day past the first hit: local dates are not
    # monotonic across a fall-back transition.
    for offset in range(-1, HORIZON_DAYS + 1):
        day = today + timedelta(days=offset)
        if last_day is not None and day > last_day:
            break
        windows = _windows(hours, holidays, day)
        if not windows:
            continue
        for candidate in _candidates(day, windows, zone):
            if candidate < start_utc or (best is not None and candidate >= best):
                continue
            if _open_at(hours, holidays, candidate.astimezone(zone)):
                best = candidate
                last_day = day + timedelta(days=1)
    return best


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def _open_at(hours: HoursTab, holidays: Holidays, local: datetime) -> bool:
    return _inside(_windows(hours, holidays, local.date()), local)


def _holidays(hours: HoursTab) -> Holidays:
    return {(h.day, h.month): h for h in hours.holidays}


def _windows(hours: HoursTab, holidays: Holidays, day: date) -> list[Window]:
    holiday = holidays.get((day.day, day.month))
    if holiday is not None:
        own = holiday.interval
        return [] if own is None else [(own.start_minute, own.end_minute)]
    return [(i.start_minute, i.end_minute) for i in hours.weekdays.day(day.weekday())]


def _inside(windows: list[Window], local: datetime) -> bool:
    clock = local.time()
    us = ((clock.hour * 60 + clock.minute) * 60 + clock.second) * 1_000_000 + clock.microsecond
    return any(start * _MINUTE_US <= us < end * _MINUTE_US for start, end in windows)


def _candidates(day: date, windows: list[Window], zone: ZoneInfo) -> list[datetime]:
    """UTC instants of ``day`` at which service may start being open: each window
    start (both occurrences of a repeated wall time) and each offset change."""
    out: list[datetime] = []
    for start, _end in windows:
        wall = datetime.combine(day, time(start // 60, start % 60), tzinfo=zone)
        for fold in (0, 1):
            instant = wall.replace(fold=fold).astimezone(UTC)
            if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
                out.append(instant)  # skipped when the wall time falls in a gap
    out.extend(_transitions(day, zone))
    return out


def _transitions(day: date, zone: ZoneInfo) -> list[datetime]:
    """UTC instants around local ``day`` at which the zone's UTC offset changes."""
    lo = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC) - 3 * _HOUR
    hi = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    found: list[datetime] = []
    t = lo
    while t < hi + 3 * _HOUR:
        nxt = t + _HOUR
        if t.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            found.append(_first_with_offset_of(nxt, t, zone))
        t = nxt
    return found


def _first_with_offset_of(after: datetime, before: datetime, zone: ZoneInfo) -> datetime:
    """Binary search, to the second, of the instant the offset of ``after`` begins."""
    target = after.astimezone(zone).utcoffset()
    lo, hi = int(before.timestamp()), int(after.timestamp())  # offset(lo) != target == offset(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)
