"""structlog set-up: JSON lines off a TTY, phone numbers masked, secrets never logged.

:func:`mask_phone` is the one masking function: call sites mask what they know is a
phone number, and the log processor masks again whatever still looks like one — in a
phone field (``contact``, ``to``, ``wa_id``, ``recipient_id``, …), in any free text
(error messages, a profile name that is a number, a skill's exception) and in nested
values. Masking is idempotent, so a value masked twice shows no more than once. Only
fields that hold the engine's own identifiers (:data:`ID_KEYS`, e.g. the business
``phone_number_id``) are left as they are.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Hashable, MutableMapping
from typing import Any

import structlog

#: Digits of a phone number a log line may show (its last ones).
SHOWN_DIGITS = 4
#: Fields that hold a phone number (their whole value is masked).
PHONE_KEYS = frozenset(
    {"contact", "wa_id", "to", "from", "from_", "recipient", "recipient_id", "phone", "msisdn"}
)
#: Fields holding the engine's own identifiers, never a contact's number: left as they are.
ID_KEYS = frozenset(
    {
        "number",
        "phone_number_id",
        "display_phone_number",
        "message_id",
        "id",
        "entry",
        "partition",
        "owner",
        "timestamp",
        "level",
        "version",
        "ticket_id",
        "file",  # configuration files are named after the business number
        "directory",
    }
)
SECRET_HINTS = ("token", "secret", "password", "authorization", "signature", "cookie")
#: Seven or more digits, possibly written with spaces, dashes or parentheses between them
#: (``+54 9 261 483-7265``): what a phone number looks like inside free text. (Not dots:
#: addresses such as ``192.168.100.200`` stay readable.)
PHONE_LIKE = re.compile(r"\+?\d(?:[ \-()]{0,2}\d){6,}")
#: Digit runs of free text that are not a contact's number, read before :data:`PHONE_LIKE`
#: at each position and left as they are: ISO dates and times (``2026-12-06``,
#: ``2026-12-06T19:56:05``) and the business number of an API or console path
#: (``/numbers/100000000000101/config``).
_NOT_A_PHONE = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?!\d)|/numbers/\d+"
_DIGIT_RUNS = re.compile(f"(?P<keep>{_NOT_A_PHONE})|{PHONE_LIKE.pattern}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+")
_NON_DIGITS = re.compile(r"\D")


def mask_phone(value: str) -> str:
    """``5491100000001`` → ``*********0001``: the last :data:`SHOWN_DIGITS` digits only.

    Idempotent: a masked value (or anything with that few digits) comes back unchanged."""
    digits = _NON_DIGITS.sub("", value)
    if len(digits) <= SHOWN_DIGITS:
        return value
    return "*" * (len(digits) - SHOWN_DIGITS) + digits[-SHOWN_DIGITS:]


def mask_text(text: str) -> str:
    """``text`` with every phone-like run masked and bearer credentials redacted."""
    text = _DIGIT_RUNS.sub(lambda m: m.group() if m["keep"] else mask_phone(m.group()), text)
    return _BEARER.sub(lambda m: f"{m.group(1)} [redacted]", text)


def _masked(value: Any, *, phone: bool) -> Any:
    if isinstance(value, str):
        return mask_phone(value) if phone else mask_text(value)
    if isinstance(value, dict):
        return {k: _masked_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v, phone=phone) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and phone:
        return mask_phone(str(value))
    return value


def _masked_field(key: str, value: Any) -> Any:
    lowered = key.lower()
    if any(h in lowered for h in SECRET_HINTS):
        return "[redacted]"
    if lowered in ID_KEYS:
        return value
    return _masked(value, phone=lowered in PHONE_KEYS or lowered.endswith("_phone"))


def _mask_processor(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event):
        event[key] = _masked_field(key, event[key])
    return event


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """structlog and the standard library's loggers (aiohttp, asyncio) alike: one format,
    one level, every line through the same masking."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json  # colours only for a terminal: no ANSI codes in a file or a pipe
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    # a traceback is text to mask like any other: rendered before the masking
    masking: list[Any] = [structlog.processors.format_exc_info, _mask_processor]
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    threshold = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            *masking,
            stamp,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                *masking,
                stamp,
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(max(threshold, logging.INFO))  # libraries' debug chatter stays off


class LogThrottle:
    """One log line per kind of failure per interval, not one per occurrence: the first
    of a kind is let through at once, the next ones only once ``interval_s`` has passed,
    each time with how many were left out meanwhile (so an outage that fails a hundred
    requests a second logs a line every ``interval_s``, each saying how many it stands for)."""

    def __init__(
        self, interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self._next: dict[Hashable, float] = {}
        self._skipped: dict[Hashable, int] = {}

    def allow(self, key: Hashable) -> int | None:
        """None: leave this one out; else log it, saying this many were left out before."""
        now = self.clock()
        if now < self._next.get(key, float("-inf")):
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return None
        self._next[key] = now + self.interval_s
        return self._skipped.pop(key, 0)


def log_failure(throttle: LogThrottle, event: str, exc: BaseException, **fields: Any) -> None:
    """Log a failed round of a background loop with its traceback — once per kind of
    exception per interval of ``throttle``, since an outage of the store fails every round."""
    kind = type(exc).__name__
    left_out = throttle.allow((event, kind))
    if left_out is not None:
        structlog.get_logger().error(event, kind=kind, left_out=left_out, exc_info=exc, **fields)
