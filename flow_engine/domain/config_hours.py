"""The "Horarios" tab: 24-hour mode, weekly intervals and holidays (R-FLOW-5).

Times are ``"HH:MM"`` strings from ``"00:00"`` to ``"24:00"`` (``"24:00"`` only as
an end: the end of the day), in the number's time zone. An interval includes its
start and excludes its end. In YAML, quote times: an unquoted ``12:30`` is read
as the number 750 and refused.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from flow_engine.domain import limits
from flow_engine.domain.config_base import ConfigModel, field_errors
from flow_engine.domain.error_kinds import ErrorKind

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
OPENING_TIME = ErrorKind(
    "opening_time", "write an opening time as HH:MM, from 00:00 to 23:59", "time_format"
)
CLOSING_TIME = ErrorKind(
    "closing_time", "write a closing time as HH:MM, from 00:01 to 24:00", "time_format"
)
END_BEFORE_START = ErrorKind("interval_order", "end must be after start")
OVERLAP = ErrorKind("interval_overlap", "overlaps the interval {interval}")
HOLIDAY_FORMAT = ErrorKind(
    "holiday_format", "write a holiday as 'DD/MM - Name', e.g. '25/12 - Navidad'", "value_error"
)
NOT_A_DAY = ErrorKind("not_a_day", "{date} is not a day of the year", "value_error")
START_AND_END = ErrorKind("start_and_end", "give both start and end, or neither", "missing")
HOLIDAY_TWICE = ErrorKind("holiday_twice", "the same date as holiday {index}", "duplicate")


def _reject_numbers(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise PydanticCustomError(
            "time_format",
            "write times as quoted 'HH:MM' strings (unquoted, YAML reads 12:30 as a number)",
        )
    return value


_HH_MM = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
_START = rf"^{_HH_MM}$"
_END = rf"^(?:{_HH_MM}|24:00)$"


def _clock(pattern: str, kind: ErrorKind) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.match(value) is None:
            raise kind.error()
        return value

    return AfterValidator(check)


#: An opening time, ``"00:00"`` to ``"23:59"``.
StartClock = Annotated[
    str,
    BeforeValidator(_reject_numbers),
    _clock(_START, OPENING_TIME),
    Field(json_schema_extra={"pattern": _START}, examples=["08:00"]),
]
#: A closing time, ``"00:01"`` to ``"24:00"`` (the end of the day).
EndClock = Annotated[
    str,
    BeforeValidator(_reject_numbers),
    _clock(_END, CLOSING_TIME),
    Field(json_schema_extra={"pattern": _END}, examples=["18:00", "24:00"]),
]


def minutes(clock: str) -> int:
    """Minutes since midnight of an ``"HH:MM"`` time (``"24:00"`` → 1440)."""
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


class Interval(ConfigModel):
    """An opening interval: from start (included) to end (excluded)."""

    start: StartClock = Field(description="Opening time, HH:MM (00:00 to 23:59).")
    end: EndClock = Field(description="Closing time, HH:MM (00:01 to 24:00), after start.")

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.start_minute >= self.end_minute:
            order = END_BEFORE_START.type, END_BEFORE_START.text()
            field_errors("Interval", [(("end",), *order)])
        return self

    @property
    def start_minute(self) -> int:
        return minutes(self.start)

    @property
    def end_minute(self) -> int:
        return minutes(self.end)


def _no_overlaps(intervals: list[Interval]) -> list[Interval]:
    order = sorted(range(len(intervals)), key=lambda i: intervals[i].start_minute)
    problems: list[tuple[tuple[str | int, ...], str, str]] = []
    for before, after in itertools.pairwise(order):
        if intervals[after].start_minute < intervals[before].end_minute:
            interval = f"{intervals[before].start}-{intervals[before].end}"
            problems.append(((after, "start"), OVERLAP.type, OVERLAP.text(interval=interval)))
    field_errors("DayIntervals", problems)
    return intervals


DayIntervals = Annotated[
    list[Interval],
    Field(
        max_length=limits.INTERVALS_PER_DAY_MAX,
        description="Up to 3 non-overlapping intervals; empty = closed that day.",
    ),
    AfterValidator(_no_overlaps),
]


class WeekSchedule(ConfigModel):
    """Opening intervals for each day of the week (an empty day is closed)."""

    monday: DayIntervals = Field([])
    tuesday: DayIntervals = Field([])
    wednesday: DayIntervals = Field([])
    thursday: DayIntervals = Field([])
    friday: DayIntervals = Field([])
    saturday: DayIntervals = Field([])
    sunday: DayIntervals = Field([])

    def day(self, weekday: int) -> list[Interval]:
        """Intervals of ``weekday`` (0 = Monday, as :meth:`datetime.date.weekday`)."""
        intervals: list[Interval] = getattr(self, WEEKDAYS[weekday])
        return intervals


_HOLIDAY = re.compile(r"^(\d{1,2})\s*/\s*(\d{1,2})\s+-\s+(\S.*)$")


def _holiday_from_text(value: Any) -> Any:
    return {"date": value} if isinstance(value, str) else value


class Holiday(ConfigModel):
    """A yearly holiday: closed all day, or open only between its own hours.

    Written either as the manual's text "25/12 - Navidad" or as an object
    {"date": "24/12 - Nochebuena", "start": "08:00", "end": "12:00"}; it is
    always stored as the object.
    """

    date: str = Field(
        max_length=120,
        description="'DD/MM - Name', e.g. '25/12 - Navidad' (29/02 counts in leap years only).",
        examples=["25/12 - Navidad"],
    )
    start: StartClock | None = Field(None, description="Opening time that day (with end).")
    end: EndClock | None = Field(None, description="Closing time that day (with start).")

    @field_validator("date")
    @classmethod
    def _valid_date(cls, text: str) -> str:
        match = _HOLIDAY.match(text)
        if match is None:
            raise ValueError(HOLIDAY_FORMAT.text())
        day, month, name = int(match[1]), int(match[2]), match[3].strip()
        try:
            dt.date(2000, month, day)  # a leap year, so 29/02 is valid
        except ValueError:
            raise ValueError(NOT_A_DAY.text(date=f"{match[1]}/{match[2]}")) from None
        return f"{day:02d}/{month:02d} - {name}"

    @model_validator(mode="after")
    def _hours(self) -> Holiday:
        if (self.start is None) != (self.end is None):
            missing = "end" if self.end is None else "start"
            field_errors("Holiday", [((missing,), START_AND_END.type, START_AND_END.text())])
        if (
            self.start is not None
            and self.end is not None
            and minutes(self.start) >= minutes(self.end)
        ):
            order = END_BEFORE_START.type, END_BEFORE_START.text()
            field_errors("Holiday", [(("end",), *order)])
        return self

    @property
    def day(self) -> int:
        return int(self.date[:2])

    @property
    def month(self) -> int:
        return int(self.date[3:5])

    @property
    def name(self) -> str:
        return self.date[8:]

    @property
    def interval(self) -> Interval | None:
        """The holiday's own opening hours, or ``None`` when closed all day."""
        if self.start is None or self.end is None:
            return None
        return Interval(start=self.start, end=self.end)


HolidayInput = Annotated[
    Holiday,
    BeforeValidator(
        _holiday_from_text,
        json_schema_input_type=Annotated[str, Field(examples=["25/12 - Navidad"])] | Holiday,
    ),
]


class HoursTab(ConfigModel):
    """When human service is open (R-FLOW-5), in the number's time zone."""

    open_24h: StrictBool = Field(
        True,
        description="On: service is always open and weekdays and holidays are not used.",
    )
    weekdays: WeekSchedule = Field(
        WeekSchedule(), description="Weekly intervals, used when open_24h is off."
    )
    holidays: list[HolidayInput] = Field(
        [],
        max_length=limits.HOLIDAYS_MAX,
        description=(
            "Yearly holidays, replacing that day's weekly intervals: closed all day, or open "
            "only between the holiday's own start and end. One entry per date."
        ),
    )

    @field_validator("holidays")
    @classmethod
    def _one_per_date(cls, holidays: list[Holiday]) -> list[Holiday]:
        seen: dict[tuple[int, int], int] = {}
        problems: list[tuple[tuple[str | int, ...], str, str]] = []
        for i, holiday in enumerate(holidays):
            key = (holiday.day, holiday.month)
            if key in seen:
                message = HOLIDAY_TWICE.text(index=seen[key])
                problems.append(((i, "date"), HOLIDAY_TWICE.type, message))
            seen.setdefault(key, i)
        field_errors("HoursTab", problems)
        return holidays

    def holiday_on(self, date: dt.date) -> Holiday | None:
        """The holiday falling on ``date``, if any."""
        for holiday in self.holidays:
            if holiday.day == date.day and holiday.month == date.month:
                return holiday
        return None
