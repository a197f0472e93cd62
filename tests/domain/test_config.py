from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from flow_engine.domain import limits
from flow_engine.domain.config import NumberConfig, SurveySettings, config_json_schema
from flow_engine.domain.locales import MESSAGE_KEYS, default_message
from tests.domain.config_helpers import BASE, config, only_error, text

# -- top level -------------------------------------------------------------------------------


def test_minimal_config_takes_every_default() -> None:
    c = config()
    assert c.name == ""
    assert c.locale == "es"
    assert c.timezone == "America/Sao_Paulo"
    assert c.send_rate_per_second is None
    assert c.hours.open_24h is True
    assert c.faq.enabled is False
    assert c.flow.call_center is False
    assert c.flow.max_invalid_retries == 2
    assert c.queue.default_queue.name == limits.DEFAULT_QUEUE_NAME


@pytest.mark.parametrize("missing", ["phone_number_id", "display_phone_number"])
def test_required_fields(missing: str) -> None:
    data = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ValidationError) as info:
        NumberConfig.model_validate(data)
    assert [e["loc"] for e in info.value.errors()] == [(missing,)]


@pytest.mark.parametrize("value", ["", "12a4", "+155500", " ", "1" * 33])
def test_phone_number_id_is_digits(value: str) -> None:
    assert only_error(phone_number_id=value)[0] == "phone_number_id"


def test_numbers_written_without_quotes_are_accepted_as_digits() -> None:
    c = config(phone_number_id=100000000000009, display_phone_number=15550000009)
    assert c.phone_number_id == "100000000000009"
    assert c.display_phone_number == "15550000009"


@pytest.mark.parametrize(
    ("value", "ok"),
    [("1" * 6, True), ("1" * 15, True), ("1" * 5, False), ("1" * 16, False), ("+1555000", False)],
)
def test_display_phone_number_length(value: str, ok: bool) -> None:
    if ok:
        assert config(display_phone_number=value).display_phone_number == value
    else:
        assert only_error(display_phone_number=value)[0] == "display_phone_number"


def test_name_limit() -> None:
    assert config(name=text(limits.NAME_MAX)).name == text(limits.NAME_MAX)
    assert only_error(name=text(limits.NAME_MAX + 1))[0] == "name"


@pytest.mark.parametrize("locale", ["es", "pt-BR", "en"])
def test_locales_accepted(locale: str) -> None:
    assert config(locale=locale).locale == locale


@pytest.mark.parametrize("locale", ["fr", "pt", "ES", ""])
def test_unknown_locale_refused(locale: str) -> None:
    assert only_error(locale=locale)[0] == "locale"


@pytest.mark.parametrize("zone", ["America/Sao_Paulo", "Europe/Madrid", "UTC", "Asia/Kolkata"])
def test_time_zone_accepted(zone: str) -> None:
    assert config(timezone=zone).zone.key == zone


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "GMT+25"])
def test_unknown_time_zone_refused(zone: str) -> None:
    assert only_error(timezone=zone)[0] == "timezone"


@pytest.mark.parametrize(
    ("rate", "ok"), [(0.5, True), (1000, True), (0, False), (-1, False), (1000.5, False)]
)
def test_send_rate_bounds(rate: float, ok: bool) -> None:
    if ok:
        assert config(send_rate_per_second=rate).send_rate_per_second == rate
    else:
        assert only_error(send_rate_per_second=rate)[0] == "send_rate_per_second"


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"colour": "red"}, "colour"),
        ({"faq": {"enabled": True, "colour": "red"}}, "faq.colour"),
        ({"flow": {"survey": {"kind": "csat", "scale": 5}}}, "flow.survey.scale"),
        ({"queue": {"queues": [{"name": "Ventas", "mail": "x"}]}}, "queue.queues.0.mail"),
        ({"hours": {"weekdays": {"mon": []}}}, "hours.weekdays.mon"),
        ({"service": {"absence": {"card": {}}}}, "service.absence.card"),
    ],
)
def test_unknown_fields_refused(fields: dict[str, Any], path: str) -> None:
    found, message = only_error(**fields)
    assert found == path
    assert "not permitted" in message


def test_config_is_immutable() -> None:
    c = config()
    with pytest.raises(ValidationError):
        c.name = "other"  # type: ignore[misc]


def test_round_trip_through_json() -> None:
    c = config(
        faq={"enabled": True, "questions": [{"question": "Q", "answer": "A"}]},
        hours={"open_24h": False, "holidays": ["1/5 - Trabajo"]},
    )
    again = NumberConfig.model_validate(json.loads(json.dumps(c.model_dump(mode="json"))))
    assert again == c
    assert again.hours.holidays[0].date == "01/05 - Trabajo"


# -- flow tab ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("max_invalid_retries", 0, limits.MAX_INVALID_RETRIES_MAX),
        ("restart_after_minutes", 1, 7 * 24 * 60),
        ("ticket_inactivity_close_minutes", 5, 7 * 24 * 60),
    ],
)
def test_flow_number_bounds(field: str, low: int, high: int) -> None:
    assert getattr(config(flow={field: low}).flow, field) == low
    assert getattr(config(flow={field: high}).flow, field) == high
    assert only_error(flow={field: low - 1})[0] == f"flow.{field}"
    assert only_error(flow={field: high + 1})[0] == f"flow.{field}"


def test_survey_fields() -> None:
    c = config(flow={"survey": {"enabled": True, "kind": "nps", "every_n_services": 3}})
    assert (c.flow.survey.kind, c.flow.survey.every_n_services) == ("nps", 3)
    assert only_error(flow={"survey": {"kind": "ces"}})[0] == "flow.survey.kind"
    assert only_error(flow={"survey": {"every_n_services": 0}})[0] == (
        "flow.survey.every_n_services"
    )
    assert only_error(flow={"survey": {"min_days_between": 366}})[0] == (
        "flow.survey.min_days_between"
    )


NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rule", "since", "last", "due"),
    [
        ({}, None, None, True),  # first service always
        ({"every_n_services": 5, "min_days_between": 30}, None, None, True),
        ({}, 1, NOW - timedelta(minutes=1), True),  # default: every service
        ({"every_n_services": 3}, 2, NOW - timedelta(days=99), False),
        ({"every_n_services": 3}, 3, NOW - timedelta(days=99), True),
        ({"min_days_between": 7}, 5, NOW - timedelta(days=6, hours=23), False),
        ({"min_days_between": 7}, 1, NOW - timedelta(days=7), True),
        ({"every_n_services": 2, "min_days_between": 7}, 2, NOW - timedelta(days=1), False),
        ({"every_n_services": 2, "min_days_between": 7}, 1, NOW - timedelta(days=8), False),
    ],
)
def test_survey_frequency_rule(
    rule: dict[str, int], since: int | None, last: datetime | None, due: bool
) -> None:
    survey = SurveySettings(enabled=True, **rule)
    assert survey.is_due(services_since_survey=since, last_survey_at=last, now=NOW) is due


def test_disabled_survey_is_never_due() -> None:
    survey = SurveySettings(enabled=False)
    assert not survey.is_due(services_since_survey=None, last_survey_at=None, now=NOW)


# -- messages and greetings ----------------------------------------------------------------


def test_greeting_defaults_to_the_locale_text() -> None:
    assert config().greeting(returning=False) == (
        "Hola {{contact.name}}, ¡espero que estés bien! 😃"
    )
    assert config(locale="en").greeting(returning=True) == default_message("en", "return_greeting")


def test_greeting_uses_the_admin_text_and_the_switch() -> None:
    c = config(
        flow={
            "initial_greeting": {"text": "Bienvenido {{contact.name}}"},
            "return_greeting": {"enabled": False, "text": "De vuelta"},
        }
    )
    assert c.greeting(returning=False) == "Bienvenido {{contact.name}}"
    assert c.greeting(returning=True) is None
    assert c.text("return_greeting") == "De vuelta"


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_message_text_refused(blank: str) -> None:
    path, _ = only_error(flow={"initial_greeting": {"text": blank}})
    assert path == "flow.initial_greeting.text"


def test_message_text_limits() -> None:
    long = text(limits.TEXT_MAX)
    assert config(service={"pre_service": {"text": long}}).text("pre_service") == long
    path, _ = only_error(service={"post_service": {"text": long + "a"}})
    assert path == "service.post_service.text"


def test_every_key_resolves_and_switches_apply() -> None:
    c = config(locale="pt-BR", service={"pre_service": {"enabled": False}})
    for key in MESSAGE_KEYS:
        assert c.text(key) == default_message("pt-BR", key)  # type: ignore[arg-type]
    assert c.message("pre_service") is None
    assert c.message("post_service") == default_message("pt-BR", "post_service")
    assert c.message("absence") is None  # off by default
    assert c.message("list_button") == "Ver opções"  # no switch of its own


def test_admin_texts_replace_defaults() -> None:
    c = config(
        faq={"intro": "Menú:", "service_button_label": "Humano"},
        queue={"message": "¿Con quién?"},
        service={"unavailable": {"text": "Cerrado. ¿Aviso?"}},
    )
    assert c.text("faq_intro") == "Menú:"
    assert c.text("service_button") == "Humano"
    assert c.text("queue_message") == "¿Con quién?"
    assert c.message("unavailable") == "Cerrado. ¿Aviso?"


# -- JSON Schema ---------------------------------------------------------------------------


def _objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append(node)
        for value in node.values():
            found.extend(_objects(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_objects(value))
    return found


def test_json_schema_is_published_and_self_explaining() -> None:
    schema = config_json_schema()
    assert schema["$id"].startswith("urn:flow-engine:")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] and schema["description"]
    assert set(schema["required"]) == {"phone_number_id", "display_phone_number"}
    assert {"flow", "faq", "queue", "service", "hours"} <= set(schema["properties"])
    objects = _objects(schema)
    assert len(objects) > 10
    for obj in objects:
        assert obj.get("additionalProperties") is False, obj.get("title")
        for name, prop in obj["properties"].items():
            assert prop.get("description"), f"{obj.get('title')}.{name} has no description"
    json.dumps(schema)  # serializable as is


def test_json_schema_carries_the_limits() -> None:
    defs = config_json_schema()["$defs"]
    assert defs["FaqItem"]["properties"]["question"]["maxLength"] == 24
    assert defs["FaqTab"]["properties"]["questions"]["maxItems"] == 10
    assert defs["QueueTab"]["properties"]["queues"]["maxItems"] == 10
    assert defs["DefaultQueue"]["properties"]["name"]["const"] == "Otros asuntos"
    holiday_forms = defs["HoursTab"]["properties"]["holidays"]["items"]["anyOf"]
    assert {"type": "string"}.items() <= holiday_forms[0].items()
