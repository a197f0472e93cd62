"""structlog set-up: JSON lines off a TTY, phone numbers masked, secrets never logged."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

PHONE_KEYS = frozenset({"contact", "wa_id", "to", "from", "recipient", "phone"})
_DIGITS = re.compile(r"\d{7,}")
SECRET_HINTS = ("token", "secret", "password", "authorization", "signature")


def mask_phone(value: str) -> str:
    """Keep the first 4 and last 2 digits: ``5511*****99``."""
    if len(value) <= 6:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 6) + value[-2:]


def _mask_processor(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event):
        value = event[key]
        lowered = key.lower()
        if any(h in lowered for h in SECRET_HINTS):
            event[key] = "[redacted]"
        elif lowered in PHONE_KEYS and isinstance(value, str) and _DIGITS.fullmatch(value):
            event[key] = mask_phone(value)
    return event


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_processor,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
