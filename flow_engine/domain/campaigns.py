"""Campaigns (R-NOTIFY-2/3): one template sent to the recipients of a CSV, from one number
or from the sender each row names; their states and the CSV rules.

States::

    scheduled ──► running ⇄ paused ──► completed | cancelled
                    │  ▲
                    ▼  │ (by itself, when the 24 h window frees)
               waiting_limit          needs_attention (a code that puts the number at risk;
                                                       resume by hand)

The audience is frozen at creation: :func:`parse_csv` reads every row once, rejecting
(with row number, column and reason) empty phones, Excel's scientific notation and
impossible numbers; duplicates are sent once and counted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from flow_engine.domain.error_kinds import ErrorKind
from flow_engine.domain.notifications import PhoneError, ReplyRoute, TemplateRef, normalize_phone
from flow_engine.domain.templates import CatalogTemplate, is_column
from flow_engine.domain.text import no_control

#: rows of one campaign (the audience); more is refused before anything is stored
ROWS_MAX = 1_000_000
#: rejected rows listed in a report (all are counted)
REJECTED_LISTED = 1000
NAME_MAX = 100
ONE_SENDER = ErrorKind("one_sender", "give either number or sender_column", "value_error")
BATCH_TOGETHER = ErrorKind(
    "batch_together", "batch_size and batch_interval_min go together", "value_error"
)
#: why a row of the CSV is rejected, besides its phone (``domain/notifications.py``): the
#: ``code`` and ``reason`` of a report's rejected row
EMPTY_SENDER = ErrorKind("empty_sender", "empty sender")
UNKNOWN_SENDER = ErrorKind("unknown_sender", "{value} is not a configured number")
EMPTY_VALUE = ErrorKind("empty_value", "empty value")
#: why a campaign's CSV is refused whole (the ``csv`` type of the API's details, as ever)
NOT_UTF8 = ErrorKind("csv_not_utf8", "the CSV is not UTF-8 (byte {byte})", "csv")
EMPTY_CSV = ErrorKind("csv_empty", "the CSV is empty: it needs a header row", "csv")
NO_COLUMN = ErrorKind(
    "csv_no_column", "the CSV has no column {missing} (columns: {columns})", "csv"
)
COLUMN_TWICE = ErrorKind(
    "csv_column_twice",
    "the CSV header has column {twice} more than once: rename the copies so each column "
    "the campaign reads is one",
    "csv",
)


class CampaignState(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING_LIMIT = "waiting_limit"
    NEEDS_ATTENTION = "needs_attention"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({CampaignState.COMPLETED, CampaignState.CANCELLED})
#: states in which a driver works on the campaign
ACTIVE_STATES = frozenset(
    {CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.WAITING_LIMIT}
)
#: marks kept in ``Campaign.held_by`` (the newest)
HELD_BY_KEPT = 50
COUNT_NAMES = ("total", "pending", "sent", "delivered", "read", "failed", "replied", "skipped")

Extra = str | dict[str, str]


class CampaignSpec(BaseModel):
    """The ``spec`` of ``POST /api/v1/campaigns``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, no_control()] = Field(min_length=1, max_length=NAME_MAX, pattern=r"\S")
    number: str | None = Field(None, pattern=r"^[0-9]{1,32}$", description="The sender.")
    sender_column: str | None = Field(
        None, min_length=1, description="Or: the column naming each row's sending number."
    )
    phone_column: str = Field(min_length=1, description="The column of the recipients' phones.")
    separator: Literal[",", ";", "|"] = ","
    template: TemplateRef
    parameters: dict[str, Any] | None = None
    extras: dict[str, Extra] = Field(default_factory=dict, max_length=50)
    reply: ReplyRoute | None = None
    per_second: float | None = Field(
        None, gt=0, le=1000, description="Sends per second; null: the fastest the number may."
    )
    interval_s: float = Field(0, ge=0, le=3600, description="Seconds between two shots.")
    start_at: str | None = Field(
        None,
        description="ISO 8601 with an offset, or a local time in the sender's time zone; "
        "null: now.",
    )
    batch_size: int | None = Field(None, ge=1, le=1_000_000)
    batch_interval_min: float | None = Field(None, gt=0, le=7 * 24 * 60)
    dry_run: StrictBool = False

    @model_validator(mode="after")
    def _one_sender(self) -> CampaignSpec:
        if (self.number is None) == (self.sender_column is None):
            raise ValueError(ONE_SENDER.text())
        if (self.batch_size is None) != (self.batch_interval_min is None):
            raise ValueError(BATCH_TOGETHER.text())
        for key, value in self.extras.items():
            if isinstance(value, dict) and not is_column(value):
                raise ValueError(f"extras.{key}: a literal string or {{'column': …}}")
        return self


def held_by_after(held_by: list[str], marks: list[str]) -> list[str] | None:
    """``held_by`` with ``marks`` added, or None when every mark is in it already (the
    transition they guard has happened once)."""
    new = [m for m in dict.fromkeys(marks) if m not in held_by]
    if marks and not new:
        return None
    return [*held_by, *new][-HELD_BY_KEPT:]


def start_time(value: str | None, zone: str, now: float) -> float:
    """When a lane starts: ``value`` (ISO 8601; without an offset, in ``zone``) or now."""
    if value is None:
        return now
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    return parsed.timestamp()


# ------------------------------------------------------------------------------ CSV


class CsvError(ValueError):
    """A CSV refused whole (before anything is stored): ``field`` names what is wrong;
    ``problems`` every (field, message) found, when the header has more than one."""

    def __init__(
        self, message: str, field: str = "csv", problems: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.problems = problems or [(field, message)]

    @classmethod
    def of(cls, problems: list[tuple[str, str]]) -> CsvError:
        return cls("; ".join(m for _f, m in problems), problems[0][0], problems)


@dataclass(frozen=True)
class Row:
    """One accepted recipient: its CSV row, sender, E.164 phone and the values of the
    columns the spec names."""

    row: int
    sender: str
    phone: str
    values: tuple[str, ...]


@dataclass
class Report:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_total: int = 0
    senders: dict[str, int] = field(default_factory=dict)
    #: header columns the spec does not name: read by nobody (a typo shows here)
    unused_columns: list[str] = field(default_factory=list)

    def reject(self, row: int, column: str, kind: ErrorKind, **values: object) -> None:
        """Row ``row`` is rejected for an error of ``kind`` in ``column``: listed with its
        ``reason`` in English and the kind's ``code`` (by which a face words it)."""
        self.rejected_total += 1
        if len(self.rejected) < REJECTED_LISTED:
            reason = kind.text(**values)
            self.rejected.append(
                {"row": row, "column": column, "reason": reason, "code": kind.code}
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejected_total": self.rejected_total,
            "senders": self.senders,
            "unused_columns": self.unused_columns,
        }


def decode_csv(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(NOT_UTF8.text(byte=exc.start)) from None


def header_of(text: str, separator: str) -> list[str]:
    reader = csv.reader(io.StringIO(text), delimiter=separator)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvError(EMPTY_CSV.text()) from None
    except csv.Error as exc:
        raise CsvError(f"row 1: {exc}") from None
    return [h.strip() for h in header]


def parse_csv(
    data: bytes | str,
    *,
    separator: str,
    phone_column: str,
    columns: list[str],
    sender_column: str | None,
    sender_of: Callable[[str], str | None],
    region_of: Callable[[str], str | None],
    default_sender: str | None = None,
) -> tuple[list[Row], Report]:
    """Every row of the CSV: accepted recipients (first occurrence of each (sender, phone))
    and the report. Row numbers count the header as row 1, as a spreadsheet shows them.

    ``columns`` are the columns the parameters and extras name (their values are kept per
    row; an empty one rejects the row); ``sender_of`` maps a sender cell to a configured
    number (None: unknown); ``region_of`` gives a sender's default region for local phones.
    A missing column raises :class:`CsvError` before any row is read."""
    text = decode_csv(data)
    header = header_of(text, separator)
    wanted = [phone_column, *([sender_column] if sender_column else []), *columns]
    problems: list[tuple[str, str]] = []
    # each problem of the header at once, named by the spec's field that names the
    # column (the parameters' and extras' columns: ``columns``)
    groups = [
        ("phone_column", [phone_column]),
        ("sender_column", [sender_column] if sender_column else []),
        ("columns", [c for c in columns if c not in (phone_column, sender_column)]),
    ]
    for field_name, names in groups:
        missing = [c for c in dict.fromkeys(names) if c not in header]
        if missing:
            quoted = ", ".join(repr(c) for c in missing)
            problems.append(
                (field_name, NO_COLUMN.text(missing=quoted, columns=", ".join(header)))
            )
    for field_name, names in groups:
        twice = [c for c in dict.fromkeys(names) if header.count(c) > 1]
        if twice:
            quoted = ", ".join(repr(c) for c in twice)
            problems.append((field_name, COLUMN_TWICE.text(twice=quoted)))
    if problems:
        raise CsvError.of(problems)
    at = {name: header.index(name) for name in header}
    phone_i = at[phone_column]
    sender_i = at[sender_column] if sender_column else None
    value_i = [at[c] for c in columns]
    report = Report(unused_columns=[c for c in dict.fromkeys(header) if c and c not in wanted])
    seen: set[tuple[str, str]] = set()
    out: list[Row] = []
    regions: dict[str, str | None] = {}
    for number, cells in _rows(text, separator):
        if not any(c.strip() for c in cells):
            continue  # a blank line (Excel leaves them at the end)
        report.rows += 1
        if report.rows > ROWS_MAX:
            raise CsvError(f"more than {ROWS_MAX} rows")
        if sender_i is not None:
            cell = _cell(cells, sender_i)
            sender = sender_of(cell) if cell else None
            if sender is None:
                column = sender_column or ""
                if cell:
                    report.reject(number, column, UNKNOWN_SENDER, value=repr(cell))
                else:
                    report.reject(number, column, EMPTY_SENDER)
                continue
        else:
            sender = default_sender or ""
        if sender not in regions:
            regions[sender] = region_of(sender)
        try:
            phone = normalize_phone(_cell(cells, phone_i), regions[sender])
        except PhoneError as exc:
            report.reject(number, phone_column, exc.kind, **exc.values)
            continue
        values = tuple(_cell(cells, i) for i in value_i)
        empty = next((c for c, v in zip(columns, values, strict=True) if not v.strip()), None)
        if empty is not None:
            report.reject(number, empty, EMPTY_VALUE)
            continue
        key = (sender, phone)
        if key in seen:
            report.duplicates += 1
            continue
        seen.add(key)
        out.append(Row(number, sender, phone, values))
        report.senders[sender] = report.senders.get(sender, 0) + 1
    report.accepted = len(out)
    return out, report


def _cell(cells: list[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


def _rows(text: str, separator: str) -> Iterator[tuple[int, list[str]]]:
    """Data rows with their spreadsheet row number (a quoted field may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        next(reader)
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as exc:
        raise CsvError(f"row {reader.line_num}: {exc}") from None


class Campaign(BaseModel):
    """A campaign as stored (its document; the recipients and counts live beside it)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: str
    state: CampaignState
    number: str | None = None
    sender_column: str | None = None
    senders: list[str] = Field(default_factory=list)
    template: TemplateRef
    parameters: dict[str, Any] | None = None
    extras: dict[str, Extra] = Field(default_factory=dict)
    reply: ReplyRoute | None = None
    #: the CSV columns whose values each recipient keeps (named by parameters and extras)
    columns: list[str] = Field(default_factory=list)
    per_second: float | None = None
    interval_s: float = 0.0
    batch_size: int | None = None
    batch_interval_min: float | None = None
    start_at: str | None = None
    #: the catalog template of each sender, as it was when the campaign was created
    templates: dict[str, CatalogTemplate] = Field(default_factory=dict)
    total: int = 0
    report: dict[str, Any] = Field(default_factory=dict)
    created_at: float
    created_by: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    reason: str | None = None
    #: what already held the campaign (the id of a number's change to bad): the same one
    #: never holds it again, so an admin's resume is not undone by a repeat of it
    held_by: list[str] = Field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def row_of(self, values: tuple[str, ...]) -> dict[str, str]:
        return dict(zip(self.columns, values, strict=False))
