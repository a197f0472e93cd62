"""What the local tools print besides replies: skill failures inline, and logs that
carry no ANSI codes unless they go to a terminal."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from flow_engine.engine.skills.dispatch import FailureReport
from flow_engine.logging import configure_logging

#: events the tools show in their own output, so they are not logged a second time
SHOWN_INLINE = frozenset({"skill_failed"})
RED = "\x1b[31m"
RESET = "\x1b[0m"


def failure_lines(failure: FailureReport) -> list[str]:
    """A skill failure as the tools print it: one line, then the traceback's last frames."""
    head = f"skill failed at {failure.point} ({failure.kind}, {failure.reason}): "
    lines = [head + failure.message]
    lines += [f"  {line}" for line in failure.traceback.splitlines()]
    return lines


def paint(text: str, stream: TextIO, color: str = RED) -> str:
    """``text`` in ``color`` when ``stream`` is a terminal; as it is otherwise."""
    isatty = getattr(stream, "isatty", None)
    return f"{color}{text}{RESET}" if isatty is not None and isatty() else text


def _drop_shown(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    if event.get("event") in SHOWN_INLINE:
        raise structlog.DropEvent
    return event


def configure_tool_logging(level: str = "warning") -> None:
    """Readable log lines on stderr (colours only on a terminal), without the events
    the tool prints itself."""
    configure_logging(level, "console")
    processors = list(structlog.get_config()["processors"])
    structlog.configure(processors=[_drop_shown, *processors])
