from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.hours import HORIZON_DAYS, is_open, next_opening
from tests.domain.config_helpers import BASE

Days = dict[str, list[tuple[str, str]]]


def number(
    zone: str = "America/Sao_Paulo",
    days: Days | None = None,
    holidays: list[Any] | None = None,
    open_24h: bool = False,
) -> NumberConfig:
    weekdays = {d: [{"start": s, "end": e} for s, e in iv] for d, iv in (days or {}).items()}
    hours = {"open_24h": open_24h, "weekdays": weekdays, "holidays": holidays or []}
    return NumberConfig.model_validate({**BASE, "timezone": zone, "hours": hours})


def at(
    zone: str,
    y: int,
    mo: int,
    d: int,
    h: int = 0,
    mi: int = 0,
    s: int = 0,
    us: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=ZoneInfo(zone), fold=fold)


SP = "America/Sao_Paulo"
NY = "America/New_York"
MADRID = "Europe/Madrid"
OFFICE: Days = {
    d: [("09:00", "12:00"), ("13:00", "18:00")]
    for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
}

# -- examples ------------------------------------------------------------------------------


def test_24_hour_mode_is_always_open_and_ignores_holidays() -> None:
    c = number(open_24h=True, holidays=["25/12 - Navidad"])
    christmas = at(SP, 2024, 12, 25, 3, 0)
    assert is_open(c, christmas)
    assert next_opening(c, christmas) == christmas


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ((2024, 6, 3, 8, 59, 59), False),  # Monday, one second early
        ((2024, 6, 3, 9, 0), True),  # start is included
        ((2024, 6, 3, 11, 59, 59, 999999), True),
        ((2024, 6, 3, 12, 0), False),  # end is excluded
        ((2024, 6, 3, 12, 30), False),  # lunch
        ((2024, 6, 3, 13, 0), True),
        ((2024, 6, 3, 18, 0), False),
        ((2024, 6, 8, 10, 0), False),  # Saturday
    ],
)
def test_weekday_intervals_and_boundaries(when: tuple[int, ...], expected: bool) -> None:
    assert is_open(number(days=OFFICE), at(SP, *when)) is expected


def test_next_opening_examples() -> None:
    c = number(days=OFFICE)
    assert next_opening(c, at(SP, 2024, 6, 3, 12, 30)) == at(SP, 2024, 6, 3, 13, 0)
    assert next_opening(c, at(SP, 2024, 6, 3, 18, 0)) == at(SP, 2024, 6, 4, 9, 0)
    friday_night = at(SP, 2024, 6, 7, 19, 0)
    assert next_opening(c, friday_night) == at(SP, 2024, 6, 10, 9, 0)  # Monday
    inside = at(SP, 2024, 6, 3, 10, 0)
    assert next_opening(c, inside) == inside


def test_end_of_day_and_midnight() -> None:
    c = number(days={"monday": [("22:00", "24:00")], "tuesday": [("00:00", "02:00")]})
    assert is_open(c, at(SP, 2024, 6, 3, 23, 59, 59, 999999))
    assert is_open(c, at(SP, 2024, 6, 4, 0, 0))
    assert not is_open(c, at(SP, 2024, 6, 4, 2, 0))
    assert next_opening(c, at(SP, 2024, 6, 4, 2, 0)) == at(SP, 2024, 6, 10, 22, 0)


def test_holiday_without_hours_is_closed_all_day() -> None:
    c = number(days=OFFICE, holidays=["25/12 - Navidad"])
    assert not is_open(c, at(SP, 2024, 12, 25, 10, 0))  # a Wednesday
    assert is_open(c, at(SP, 2024, 12, 24, 10, 0))
    assert next_opening(c, at(SP, 2024, 12, 24, 18, 0)) == at(SP, 2024, 12, 26, 9, 0)


def test_holiday_with_its_own_hours() -> None:
    eve = {"date": "24/12 - Nochebuena", "start": "08:00", "end": "10:00"}
    c = number(days=OFFICE, holidays=[eve])
    assert is_open(c, at(SP, 2024, 12, 24, 8, 0))
    assert not is_open(c, at(SP, 2024, 12, 24, 10, 0))
    assert not is_open(c, at(SP, 2024, 12, 24, 13, 30))  # weekday hours do not apply
    assert next_opening(c, at(SP, 2024, 12, 24, 6, 0)) == at(SP, 2024, 12, 24, 8, 0)
    # A holiday may open on a day that is otherwise closed (a Sunday).
    sunday = number(holidays=[{"date": "22/12 - Feria", "start": "10:00", "end": "11:00"}])
    assert is_open(sunday, at(SP, 2024, 12, 22, 10, 30))
    assert next_opening(sunday, at(SP, 2024, 12, 23, 0, 0)) == at(SP, 2025, 12, 22, 10, 0)


def test_leap_day_holiday_only_in_leap_years() -> None:
    c = number(days={d: [("00:00", "24:00")] for d in OFFICE}, holidays=["29/02 - Bisiesto"])
    assert not is_open(c, at(SP, 2024, 2, 29, 12, 0))  # Thursday, leap year
    assert is_open(c, at(SP, 2028, 2, 28, 12, 0))


def test_time_zone_of_the_number_decides() -> None:
    c = number(zone=MADRID, days={"monday": [("09:00", "10:00")]})
    instant = datetime(2024, 6, 3, 7, 30, tzinfo=UTC)  # 09:30 in Madrid (CEST)
    assert is_open(c, instant)
    assert is_open(c, instant.astimezone(ZoneInfo("Asia/Tokyo")))
    assert not is_open(number(zone=SP, days={"monday": [("09:00", "10:00")]}), instant)
    opening = next_opening(c, datetime(2024, 6, 3, 0, 0, tzinfo=UTC))
    assert opening == datetime(2024, 6, 3, 7, 0, tzinfo=UTC)
    assert opening is not None and opening.tzinfo is UTC


def test_holiday_is_today_in_the_number_zone() -> None:
    c = number(zone=SP, days={d: [("00:00", "24:00")] for d in OFFICE}, holidays=["25/12 - N"])
    # 01:00 UTC on the 26th is still the 25th (22:00) in São Paulo.
    assert not is_open(c, datetime(2024, 12, 26, 1, 0, tzinfo=UTC))
    assert is_open(c, datetime(2024, 12, 26, 3, 0, tzinfo=UTC))


def test_naive_now_is_refused() -> None:
    c = number(open_24h=True)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(c, datetime(2024, 1, 1, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_opening(c, datetime(2024, 1, 1, 12, 0))


def test_never_opens() -> None:
    assert next_opening(number(), at(SP, 2024, 1, 1)) is None
    only_holiday_closed = number(days={"monday": [("09:00", "10:00")]})
    assert next_opening(only_holiday_closed, at(SP, 2024, 1, 1, 10, 0)) == at(SP, 2024, 1, 8, 9)


def test_horizon() -> None:
    # Open only on a holiday a year away: found; past the horizon: None.
    c = number(holidays=[{"date": "02/01 - Único", "start": "10:00", "end": "11:00"}])
    assert next_opening(c, at(SP, 2024, 1, 3)) == at(SP, 2025, 1, 2, 10, 0)
    assert HORIZON_DAYS >= 366


# -- daylight saving -----------------------------------------------------------------------


def test_new_york_spring_forward_start_in_the_gap() -> None:
    # 2024-03-10 (Sunday): 02:00 EST → 03:00 EDT. 02:30 does not exist.
    c = number(zone=NY, days={"sunday": [("02:30", "05:00")]})
    assert next_opening(c, at(NY, 2024, 3, 10, 1, 0)) == datetime(2024, 3, 10, 7, 0, tzinfo=UTC)
    assert not is_open(c, datetime(2024, 3, 10, 6, 59, 59, tzinfo=UTC))  # 01:59:59 EST
    assert is_open(c, datetime(2024, 3, 10, 7, 0, tzinfo=UTC))  # 03:00 EDT
    assert not is_open(c, datetime(2024, 3, 10, 9, 0, tzinfo=UTC))  # 05:00 EDT


def test_new_york_interval_inside_the_gap_never_opens_that_day() -> None:
    c = number(zone=NY, days={"sunday": [("02:00", "02:30")]})
    assert next_opening(c, at(NY, 2024, 3, 10, 0, 0)) == at(NY, 2024, 3, 17, 2, 0)


def test_new_york_fall_back_repeated_hour_is_open_twice() -> None:
    # 2024-11-03 (Sunday): 02:00 EDT → 01:00 EST; 01:00–01:59 happens twice.
    c = number(zone=NY, days={"sunday": [("01:00", "01:30")]})
    assert is_open(c, datetime(2024, 11, 3, 5, 15, tzinfo=UTC))  # 01:15 EDT
    assert not is_open(c, datetime(2024, 11, 3, 5, 45, tzinfo=UTC))  # 01:45 EDT
    assert is_open(c, datetime(2024, 11, 3, 6, 15, tzinfo=UTC))  # 01:15 EST
    assert next_opening(c, datetime(2024, 11, 3, 5, 45, tzinfo=UTC)) == datetime(
        2024, 11, 3, 6, 0, tzinfo=UTC
    )
    late = at(NY, 2024, 11, 3, 1, 45, fold=1)  # 01:45 EST, after both
    assert next_opening(c, late) == at(NY, 2024, 11, 10, 1, 0)
    # A start inside the repeated hour opens again at its second occurrence.
    quarter = number(zone=NY, days={"sunday": [("01:15", "01:30")]})
    assert next_opening(quarter, datetime(2024, 11, 3, 5, 45, tzinfo=UTC)) == datetime(
        2024, 11, 3, 6, 15, tzinfo=UTC
    )


def test_new_york_fall_back_reopens_when_clocks_go_back() -> None:
    c = number(zone=NY, days={"sunday": [("00:30", "01:30")]})
    # 01:45 EDT: closed; at 02:00 EDT clocks go back to 01:00 EST, inside the interval.
    assert next_opening(c, datetime(2024, 11, 3, 5, 45, tzinfo=UTC)) == datetime(
        2024, 11, 3, 6, 0, tzinfo=UTC
    )


def test_madrid_dst_days() -> None:
    c = number(zone=MADRID, days={"sunday": [("02:15", "04:00")]})
    # 2024-03-31: 02:00 CET → 03:00 CEST.
    assert next_opening(c, at(MADRID, 2024, 3, 31, 0, 0)) == datetime(
        2024, 3, 31, 1, 0, tzinfo=UTC
    )
    # 2024-10-27: 03:00 CEST → 02:00 CET, so 02:15–04:00 lasts 2 h 45 min.
    assert is_open(c, datetime(2024, 10, 27, 0, 15, tzinfo=UTC))  # 02:15 CEST
    assert is_open(c, datetime(2024, 10, 27, 2, 59, tzinfo=UTC))  # 03:59 CET
    assert not is_open(c, datetime(2024, 10, 27, 3, 0, tzinfo=UTC))


def test_sao_paulo_historical_dst_at_midnight() -> None:
    # 2018-11-04: 00:00 -03 → 01:00 -02, so that Sunday begins at 01:00.
    c = number(zone=SP, days={"sunday": [("00:00", "02:00")]})
    assert next_opening(c, datetime(2018, 11, 4, 2, 30, tzinfo=UTC)) == datetime(
        2018, 11, 4, 3, 0, tzinfo=UTC
    )
    # 2019-02-17: 00:00 -02 → 23:00 -03 of the 16th; Saturday 23:00–24:00 happens twice.
    sat = number(zone=SP, days={"saturday": [("23:00", "24:00")]})
    assert is_open(sat, datetime(2019, 2, 17, 1, 30, tzinfo=UTC))  # 23:30 -02
    assert is_open(sat, datetime(2019, 2, 17, 2, 30, tzinfo=UTC))  # 23:30 -03
    assert not is_open(sat, datetime(2019, 2, 17, 3, 0, tzinfo=UTC))  # Sunday 00:00 -03


# -- properties ----------------------------------------------------------------------------

ZONES = [SP, NY, MADRID, "UTC", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago"]
WEEKDAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@st.composite
def day_intervals(draw: st.DrawFn) -> list[tuple[str, str]]:
    cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
    pairs = list(zip(cuts[::2], cuts[1::2], strict=False))[:3]
    return [(_clock(a * 15), _clock(b * 15)) for a, b in pairs]


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def schedules(draw: st.DrawFn) -> NumberConfig:
    days = {d: draw(day_intervals()) for d in draw(st.sets(st.sampled_from(WEEKDAY_NAMES)))}
    holidays: list[Any] = []
    for day, month in draw(st.sets(st.tuples(st.integers(1, 28), st.integers(1, 12)), max_size=4)):
        name = f"{day:02d}/{month:02d} - H"
        own = draw(day_intervals())
        holidays.append(name if not own else {"date": name, "start": own[0][0], "end": own[0][1]})
    return number(draw(st.sampled_from(ZONES)), days, holidays)


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(config=schedules(), now=instants)
def test_next_opening_is_the_first_open_instant(config: NumberConfig, now: datetime) -> None:
    opening = next_opening(config, now)
    if is_open(config, now):
        assert opening == now
        return
    if opening is None:
        return
    assert opening >= now
    assert is_open(config, opening)
    assert opening.tzinfo is UTC
    just_before = opening - timedelta(microseconds=1)
    assert just_before < now or not is_open(config, just_before)


@PROPERTY
@given(config=schedules(), now=instants, fraction=st.floats(0, 1))
def test_closed_until_next_opening(config: NumberConfig, now: datetime, fraction: float) -> None:
    opening = next_opening(config, now)
    if opening is None or opening == now:
        return
    between = now + (opening - now) * fraction
    assert between == opening or not is_open(config, between)


@PROPERTY
@given(config=schedules(), now=instants, other=st.sampled_from(ZONES))
def test_is_open_does_not_depend_on_the_zone_of_now(
    config: NumberConfig, now: datetime, other: str
) -> None:
    assert is_open(config, now) == is_open(config, now.astimezone(ZoneInfo(other)))
    fixed = now.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert is_open(config, now) == is_open(config, fixed)


@PROPERTY
@given(days=st.fixed_dictionaries({d: day_intervals() for d in WEEKDAY_NAMES}), now=instants)
def test_is_open_matches_a_direct_reading_in_utc(days: Days, now: datetime) -> None:
    config = number("UTC", days)
    minute = now.hour * 60 + now.minute
    expected = any(
        int(s[:2]) * 60 + int(s[3:]) <= minute < int(e[:2]) * 60 + int(e[3:])
        for s, e in days[WEEKDAY_NAMES[now.weekday()]]
    )
    assert is_open(config, now) is expected


def _transitions(zone: str, years: range) -> list[datetime]:
    """UTC hours at which ``zone`` changes its offset (found by sampling, then by hour)."""
    tz = ZoneInfo(zone)
    found = []
    t = datetime(years.start, 1, 1, tzinfo=UTC)
    end = datetime(years.stop, 1, 1, tzinfo=UTC)
    while t < end:
        nxt = t + timedelta(days=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            hour = t
            while hour.astimezone(tz).utcoffset() == t.astimezone(tz).utcoffset():
                hour += timedelta(minutes=30)
            found.append(hour)
        t = nxt
    return found


TRANSITIONS = [(z, t) for z in ZONES for t in _transitions(z, range(2018, 2021))]


@st.composite
def around_transitions(draw: st.DrawFn) -> tuple[NumberConfig, datetime]:
    zone, transition = draw(st.sampled_from(TRANSITIONS))
    days = {d: draw(day_intervals()) for d in WEEKDAY_NAMES}
    config = number(zone, days)
    return config, transition + timedelta(seconds=draw(st.integers(-2 * 86400, 2 * 86400)))


def _brute_force_opening(config: NumberConfig, now: datetime, limit: timedelta) -> datetime | None:
    """First open instant found by stepping whole UTC minutes (every boundary is one)."""
    if is_open(config, now):
        return now
    t = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t - now <= limit:
        if is_open(config, t):
            return t
        t += timedelta(minutes=1)
    return None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=around_transitions())
def test_next_opening_across_dst_matches_brute_force(case: tuple[NumberConfig, datetime]) -> None:
    config, now = case
    assert TRANSITIONS  # the zone data has transitions in these years
    opening = next_opening(config, now)
    expected = _brute_force_opening(config, now, timedelta(days=3))
    if expected is not None:
        assert opening == expected
    else:
        assert opening is None or opening - now > timedelta(days=3)
