"""The pure rules of number health: classes, limits, changes, the table, the schedule."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from flow_engine.domain.health import (
    HealthClass,
    HealthRow,
    NumberHealth,
    check_time_on,
    class_of,
    counts,
    daily_due,
    health_csv,
    limit_contacts,
    limit_tier,
    next_check,
    parse_check_time,
)


@pytest.mark.parametrize(
    ("rating", "klass"),
    [
        ("GREEN", "good"),
        ("YELLOW", "medium"),
        ("RED", "bad"),
        ("green", "good"),
        ("NA", "unknown"),
        ("UNKNOWN", "unknown"),
        (None, "unknown"),
        ("PURPLE", "unknown"),
    ],
)
def test_the_class_follows_the_quality_rating(rating: object, klass: str) -> None:
    assert class_of(rating) == klass


def test_messaging_limit_tiers() -> None:
    assert limit_tier("TIER_2K") == "TIER_2K"
    assert limit_tier({"max_daily_conversations_per_business": "tier_10k"}) == "TIER_10K"
    assert limit_tier("") is None and limit_tier(None) is None
    assert limit_contacts("TIER_250") == 250
    assert limit_contacts("TIER_100K") == 100_000
    assert limit_contacts("TIER_UNLIMITED") is None
    with pytest.raises(KeyError):
        limit_contacts("TIER_ODD")


def test_a_read_changes_the_class_and_numbers_the_change() -> None:
    h = NumberHealth(number="1")
    h, change = h.after_read({"quality_rating": "GREEN", "status": "CONNECTED"}, at=10, cause="x")
    assert change is not None and change.id == "1:1" and change.after == "good"
    h, none = h.after_read({"status": "FLAGGED"}, at=20, cause="x")
    assert none is None and h.health == "good"  # a read without the rating keeps it
    assert h.facts["quality_rating"].read_at == 10 and h.facts["status"].read_at == 20
    h, change = h.after_read({"quality_rating": "RED"}, at=30, cause="webhook", day="2025-01-01")
    assert change is not None and (change.id, change.before, change.after) == (
        "1:2",
        "good",
        "bad",
    )
    assert change.status == "FLAGGED" and change.cause == "webhook"
    assert h.changed_at == 30 and h.daily_on == "2025-01-01"
    failed = h.after_error(at=40, code=100, message="nope")
    assert failed.health == "bad" and failed.facts == h.facts and failed.error is not None
    assert failed.after_read({}, at=50, cause="x")[0].error is None


def rows() -> list[HealthRow]:
    def row(number: str, display: str, name: str, rating: str | None) -> HealthRow:
        h = NumberHealth(number=number)
        if rating:
            h, _ = h.after_read({"quality_rating": rating}, at=1, cause="x")
        return HealthRow.of(number, {"display_phone_number": display, "name": name}, h)

    return [
        row("11", "5511900000001", "Loja Centro", "GREEN"),
        row("12", "5511900000002", "=cmd|' /C calc'!A0", "RED"),
        row("13", "5511900000003", "Farmácia", None),
    ]


def test_search_matches_number_display_number_and_name() -> None:
    found = rows()
    assert [r.number for r in found if r.matches("loja")] == ["11"]
    assert [r.number for r in found if r.matches("FARMÁCIA")] == ["13"]
    assert [r.number for r in found if r.matches("+55 11 90000-0002")] == ["12"]
    assert [r.number for r in found if r.matches("13")] == ["13"]
    assert [r.number for r in found if r.matches("")] == ["11", "12", "13"]
    assert [r.number for r in found if r.matches("nothing")] == []
    assert counts(found) == {"good": 1, "medium": 0, "bad": 1, "unknown": 1}


def test_the_csv_holds_the_table_and_defuses_formulas() -> None:
    parsed = list(csv.DictReader(io.StringIO(health_csv(rows()))))
    assert [r["number"] for r in parsed] == ["11", "12", "13"]
    assert [r["class"] for r in parsed] == ["good", "bad", "unknown"]
    assert parsed[0]["checked_at"] == "1970-01-01T00:00:01Z"
    assert parsed[2]["checked_at"] == "" and parsed[2]["quality_rating"] == ""
    assert parsed[1]["name"].startswith("'=")


def test_the_daily_check_time_in_a_time_zone() -> None:
    zone = ZoneInfo("America/Sao_Paulo")
    at = parse_check_time("06:00")
    six = check_time_on(date(2025, 3, 10), at, zone)
    assert datetime.fromtimestamp(six, zone).hour == 6
    assert daily_due(six - 1, at, zone) is None
    assert daily_due(six, at, zone) == "2025-03-10"
    assert daily_due(six + 20 * 3600, at, zone) is None  # 02:00 the next day
    assert daily_due(six + 24 * 3600, at, zone) == "2025-03-11"
    assert next_check(six - 1, at, zone) == six
    assert next_check(six, at, zone) == check_time_on(date(2025, 3, 11), at, zone)
    for bad in ("6:00", "24:00", "06:60", "0600", "ab:cd"):
        with pytest.raises(ValueError):
            parse_check_time(bad)


def test_a_day_with_a_daylight_saving_jump_still_has_its_check() -> None:
    zone = ZoneInfo("America/New_York")
    at = parse_check_time("02:30")  # skipped on 2025-03-09
    due = check_time_on(date(2025, 3, 9), at, zone)
    assert datetime.fromtimestamp(due, zone).date() == date(2025, 3, 9)
    assert daily_due(due, at, zone) == "2025-03-09"
    assert HealthClass("bad") is HealthClass.BAD
