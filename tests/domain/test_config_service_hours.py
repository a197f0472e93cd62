"""Service, social networks and hours tabs: every limit at its edge and one past it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from flow_engine.domain import limits
from tests.domain.config_helpers import config, errors, only_error, text

# -- service -------------------------------------------------------------------------------


def test_service_defaults() -> None:
    s = config().service
    assert (s.pre_service.enabled, s.post_service.enabled) == (True, True)
    assert (s.absence.enabled, s.social_networks.enabled, s.unavailable.enabled) == (
        False,
        False,
        True,
    )


def test_unavailable_message_is_an_interactive_body() -> None:
    assert config(service={"unavailable": {"text": text(1024)}}).text("unavailable") == text(1024)
    assert only_error(service={"unavailable": {"text": text(1025)}})[0] == (
        "service.unavailable.text"
    )


def test_absence_with_contact_card() -> None:
    card = {"name": "Sam", "phone": "5511999998888"}
    c = config(service={"absence": {"enabled": True, "contact_card": card}})
    assert (
        c.message("absence")
        == "En este momento no estoy disponible. Le responderé lo antes posible. 🙏"
    )
    assert c.service.absence.contact_card is not None
    assert c.service.absence.contact_card.phone == "5511999998888"


@pytest.mark.parametrize(
    ("phone", "ok"),
    [
        ("1" * limits.PHONE_DIGITS_MIN, True),
        ("1" * limits.PHONE_DIGITS_MAX, True),
        ("1" * (limits.PHONE_DIGITS_MIN - 1), False),
        ("1" * (limits.PHONE_DIGITS_MAX + 1), False),
        ("+5511999998888", False),
        ("55 11 99999-8888", False),
    ],
)
def test_contact_card_phone_is_digits(phone: str, ok: bool) -> None:
    absence = {"contact_card": {"name": "Sam", "phone": phone}}
    if ok:
        assert config(service={"absence": absence}).service.absence.contact_card is not None
    else:
        assert only_error(service={"absence": absence})[0] == (
            "service.absence.contact_card.phone"
        )


def test_contact_card_needs_a_name() -> None:
    absence = {"contact_card": {"name": "", "phone": "5511999998888"}}
    assert only_error(service={"absence": absence})[0] == "service.absence.contact_card.name"


@pytest.mark.parametrize(
    ("network", "url"),
    [
        ("instagram", "https://www.instagram.com/acme"),
        ("instagram", "https://instagram.com/acme?hl=es"),
        ("facebook", "https://m.facebook.com/acme"),
        ("facebook", "https://fb.me/acme"),
        ("linkedin", "https://www.linkedin.com/company/acme"),
        ("linkedin", "http://lnkd.in/abc"),
        ("youtube", "https://www.youtube.com/@acme"),
        ("youtube", "https://youtu.be/dQw4w9WgXcQ"),
    ],
)
def test_social_links_accepted(network: str, url: str) -> None:
    c = config(service={"social_networks": {"enabled": True, network: url}})
    assert c.service.social_networks.links() == {network: url}


@pytest.mark.parametrize(
    ("network", "url"),
    [
        ("instagram", "https://www.facebook.com/acme"),  # wrong network
        ("instagram", "https://notinstagram.com/acme"),
        ("instagram", "https://instagram.com.evil.example/acme"),
        ("instagram", "https://user@instagram.com/acme"),
        ("instagram", "instagram.com/acme"),  # no scheme
        ("facebook", "ftp://facebook.com/acme"),
        ("linkedin", "https://linkedin.com/in/a b"),
        ("youtube", "https://"),
        ("youtube", "https://youtube.com/" + "x" * limits.URL_MAX),
    ],
)
def test_social_links_refused(network: str, url: str) -> None:
    assert only_error(service={"social_networks": {network: url}})[0] == (
        f"service.social_networks.{network}"
    )


def test_social_networks_on_need_a_link() -> None:
    path, message = only_error(service={"social_networks": {"enabled": True}})
    assert path == "service.social_networks"
    assert "at least one link" in message
    assert (
        config(service={"social_networks": {"enabled": False}}).message("social_networks") is None
    )


def test_social_links_keep_network_order() -> None:
    links = {"youtube": "https://youtu.be/x", "instagram": "https://instagram.com/x"}
    c = config(service={"social_networks": {"enabled": True, **links}})
    assert list(c.service.social_networks.links()) == ["instagram", "youtube"]


# -- hours ---------------------------------------------------------------------------------


def week(**days: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "open_24h": False,
        "weekdays": {d: [{"start": s, "end": e} for s, e in iv] for d, iv in days.items()},
    }


def test_three_intervals_a_day() -> None:
    three = [("08:00", "10:00"), ("11:00", "12:00"), ("13:00", "24:00")]
    c = config(hours=week(monday=three))
    assert [(i.start_minute, i.end_minute) for i in c.hours.weekdays.day(0)] == [
        (480, 600),
        (660, 720),
        (780, 1440),
    ]
    four = [*three[:2], ("13:00", "14:00"), ("15:00", "16:00")]
    path, message = only_error(hours=week(friday=four))
    assert path == "hours.weekdays.friday"
    assert "at most 3" in message


def test_whole_day_and_touching_intervals() -> None:
    assert config(hours=week(sunday=[("00:00", "24:00")])).hours.weekdays.sunday[0].end == "24:00"
    touching = [("08:00", "12:00"), ("12:00", "18:00")]
    assert len(config(hours=week(sunday=touching)).hours.weekdays.sunday) == 2


@pytest.mark.parametrize(
    ("start", "end", "path"),
    [
        ("10:00", "10:00", "end"),
        ("10:00", "09:59", "end"),
        ("24:00", "24:00", "start"),
        ("25:00", "24:00", "start"),
        ("10:60", "11:00", "start"),
        ("9:00", "10:00", "start"),
        ("09:00", "24:01", "end"),
        ("0900", "10:00", "start"),
    ],
)
def test_bad_interval(start: str, end: str, path: str) -> None:
    found = errors(hours=week(wednesday=[("01:00", "02:00"), (start, end)]))
    assert list(found) == [f"hours.weekdays.wednesday.1.{path}"]


def test_overlapping_intervals_refused_in_any_order() -> None:
    path, message = only_error(hours=week(tuesday=[("13:00", "18:00"), ("08:00", "13:30")]))
    assert path == "hours.weekdays.tuesday.0.start"
    assert "overlaps the interval 08:00-13:30" in message


def test_unquoted_yaml_time_gets_a_helpful_error() -> None:
    hours = yaml.safe_load("open_24h: false\nweekdays:\n  monday: [{start: 12:30, end: '18:00'}]")
    assert hours["weekdays"]["monday"][0]["start"] == 750  # YAML 1.1 sexagesimal
    path, message = only_error(hours=hours)
    assert path == "hours.weekdays.monday.0.start"
    assert "quoted" in message


@pytest.mark.parametrize(
    ("written", "stored", "day", "month", "name"),
    [
        ("25/12 - Navidad", "25/12 - Navidad", 25, 12, "Navidad"),
        ("1/5 - Día del Trabajo", "01/05 - Día del Trabajo", 1, 5, "Día del Trabajo"),
        ("29/02 - Bisiesto", "29/02 - Bisiesto", 29, 2, "Bisiesto"),
        ("31/01  -  Fin de mes ", "31/01 - Fin de mes", 31, 1, "Fin de mes"),
    ],
)
def test_holiday_text_form(written: str, stored: str, day: int, month: int, name: str) -> None:
    holiday = config(hours={"holidays": [written]}).hours.holidays[0]
    assert (holiday.date, holiday.day, holiday.month, holiday.name) == (stored, day, month, name)
    assert holiday.interval is None


@pytest.mark.parametrize(
    "written",
    ["30/02 - x", "31/04 - x", "32/01 - x", "00/01 - x", "12/13 - x", "25/12", "25/12 -", "x"],
)
def test_bad_holiday_date(written: str) -> None:
    holidays = ["01/01 - Año Nuevo", written]
    assert only_error(hours={"holidays": holidays})[0] == "hours.holidays.1.date"
    assert only_error(hours={"holidays": [{"date": written}]})[0] == "hours.holidays.0.date"


def test_holiday_with_its_own_hours() -> None:
    holiday = {"date": "24/12 - Nochebuena", "start": "08:00", "end": "12:00"}
    parsed = config(hours={"holidays": [holiday]}).hours.holidays[0]
    assert parsed.interval is not None
    assert (parsed.interval.start_minute, parsed.interval.end_minute) == (480, 720)


@pytest.mark.parametrize(
    ("hours", "path"),
    [
        ({"start": "08:00"}, "end"),
        ({"end": "12:00"}, "start"),
        ({"start": "12:00", "end": "08:00"}, "end"),
        ({"start": "12:00", "end": "12:00"}, "end"),
        ({"start": "8", "end": "12:00"}, "start"),
    ],
)
def test_holiday_hours_need_start_before_end(hours: dict[str, str], path: str) -> None:
    holiday = {"date": "24/12 - Nochebuena", **hours}
    assert only_error(hours={"holidays": [holiday]})[0] == f"hours.holidays.0.{path}"


def test_one_holiday_per_date() -> None:
    holidays = ["25/12 - Navidad", "01/01 - Año Nuevo", {"date": "25/12 - Otra"}]
    path, message = only_error(hours={"holidays": holidays})
    assert path == "hours.holidays.2.date"
    assert "holiday 0" in message
