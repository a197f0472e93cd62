"""Issue 9, item 7: one masking function; a log line never shows more than four digits of
a contact's number, however many fields (or free texts) carry it."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest
import structlog

from flow_engine.gateway import whatsapp
from flow_engine.logging import SHOWN_DIGITS, _mask_processor, configure_logging, mask_phone

PHONE = "5492614837265"


def windows(number: str, size: int = 7) -> set[str]:
    return {number[i : i + size] for i in range(len(number) - size + 1)}


def leaks(text: str, number: str = PHONE) -> list[str]:
    """Seven-digit runs of ``number`` in ``text``, also when written with separators."""
    squeezed = re.sub(r"[ \-()+]", "", text)
    return sorted(w for w in windows(number) if w in text or w in squeezed)


def test_the_gateway_has_no_masking_of_its_own() -> None:
    assert not hasattr(whatsapp, "mask_phone") or whatsapp.mask_phone is mask_phone


def test_a_phone_shows_its_last_four_digits_and_masking_is_idempotent() -> None:
    masked = mask_phone(PHONE)
    assert masked == "*********7265"
    assert mask_phone(masked) == masked
    assert mask_phone("+54 9 261 483-7265") == masked
    assert len(re.sub(r"\D", "", masked)) == SHOWN_DIGITS


def test_two_fields_with_the_number_give_away_no_more_than_one() -> None:
    event = _mask_processor(
        None,
        "info",
        {"event": "x", "to": mask_phone(PHONE), "contact": PHONE, "wa_id": PHONE},
    )
    digits = {re.sub(r"\D", "", str(v)) for k, v in event.items() if k != "event"}
    assert digits == {"7265"}


@pytest.mark.parametrize(
    "field",
    ["error", "reason", "name", "contact_name", "exception", "detail"],
)
def test_free_text_of_any_field_is_masked(field: str) -> None:
    text = f"Recipient +54 9 261 483-7265 (wa_id {PHONE}) is not on the allowed list"
    event = _mask_processor(None, "warning", {"event": "x", field: text})
    assert leaks(json.dumps(event)) == []
    assert "7265" in event[field]  # still enough to tell contacts apart


def test_nested_values_and_numbers_as_integers_are_masked() -> None:
    event = _mask_processor(
        None,
        "info",
        {"event": "x", "details": {"recipient_id": int(PHONE), "rows": [{"phone": PHONE}]}},
    )
    assert leaks(json.dumps(event)) == []


def test_engine_identifiers_stay_readable() -> None:
    event = _mask_processor(
        None,
        "info",
        {
            "event": "x",
            "number": "100000000000001",
            "phone_number_id": "100000000000001",
            "entry": "1764625834000-0",
            "remote": "192.168.100.200",
        },
    )
    assert event["number"] == event["phone_number_id"] == "100000000000001"
    assert event["entry"] == "1764625834000-0" and event["remote"] == "192.168.100.200"


def test_dates_and_the_business_number_of_a_path_stay_readable() -> None:
    event = _mask_processor(
        None,
        "info",
        {
            "event": "x",
            "day": "2026-12-06",
            "path": "/api/v1/numbers/100000000000101/config",
            "error": f"at 2026-12-06T19:56:05.123 contact {PHONE} on 2026-12-06 was refused",
        },
    )
    assert event["day"] == "2026-12-06"
    assert event["path"] == "/api/v1/numbers/100000000000101/config"
    assert "at 2026-12-06T19:56:05.123 contact" in event["error"]
    assert "on 2026-12-06 was" in event["error"]
    assert leaks(json.dumps(event)) == []
    # a phone written with dashes in a date's places is still a phone
    assert (
        leaks(json.dumps(_mask_processor(None, "info", {"event": "x", "e": "54-92614837265"})))
        == []
    )


def test_bearer_credentials_in_text_are_redacted() -> None:
    event = _mask_processor(None, "info", {"event": "x", "error": "sent Bearer abc.DEF-123"})
    assert "abc.DEF-123" not in event["error"]


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    sink = io.StringIO()
    real = sys.stderr
    sys.stderr = sink
    try:
        configure_logging("debug", "json")
    finally:
        sys.stderr = real
    yield sink
    structlog.reset_defaults()
    root.handlers, root.level = handlers, level


def test_the_json_output_masks_context_fields_and_tracebacks(json_logs: io.StringIO) -> None:
    log = structlog.get_logger()
    structlog.contextvars.bind_contextvars(contact=PHONE)
    try:
        try:
            raise KeyError(f"no conversation for {PHONE}")
        except KeyError:
            log.exception("entry_failed", to=PHONE, name="+54 9 261 483-7265")
    finally:
        structlog.contextvars.unbind_contextvars("contact")
    (line,) = json_logs.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "entry_failed" and "Traceback" in record["exception"]
    assert leaks(line) == []


def test_standard_library_loggers_are_masked_too(json_logs: io.StringIO) -> None:
    try:
        raise ValueError(f"bad payload from {PHONE}")
    except ValueError:
        logging.getLogger("aiohttp.server").exception("Error handling request for %s", PHONE)
    (line,) = json_logs.getvalue().splitlines()
    record = json.loads(line)
    assert record["logger"] == "aiohttp.server" and record["level"] == "error"
    assert "ValueError" in record["exception"]
    assert leaks(line) == []
