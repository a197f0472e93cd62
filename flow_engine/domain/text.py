"""Free text typed by people (names, descriptions): what it may not hold."""

from __future__ import annotations

import unicodedata

from pydantic import AfterValidator, ValidationInfo

from flow_engine.domain.error_kinds import ErrorKind

#: Unicode categories no name or description holds: control characters (NUL, ESC, DEL,
#: C1 …) and the line and paragraph separators U+2028, U+2029
CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
#: what a text written in a text area may hold besides: it has several lines
MULTILINE_LAYOUT = "\t\n\r"
CONTROL_CHARACTER = ErrorKind("control_character", "must not contain control characters ({char})")


#: the validation context key of a document written now (through the API or the
#: console): :func:`no_control_when_written` applies only then
WRITTEN = "written"


def _refuse_control(value: str, allowed: str) -> str:
    for char in value:
        if char not in allowed and unicodedata.category(char) in CONTROL_CATEGORIES:
            raise CONTROL_CHARACTER.error(char=f"U+{ord(char):04X}")
    return value


def no_control(allowed: str = "") -> AfterValidator:
    """A text validator: a control character (but those in ``allowed``) is a
    ``control_character`` error naming the first one."""
    return AfterValidator(lambda value: _refuse_control(value, allowed))


def no_control_when_written(allowed: str = "") -> AfterValidator:
    """:func:`no_control` for a document validated with ``context={WRITTEN: True}`` —
    a configuration written now — and nothing otherwise, so documents stored before the
    rule existed still load."""

    def check(value: str, info: ValidationInfo) -> str:
        if info.context and info.context.get(WRITTEN):
            return _refuse_control(value, allowed)
        return value

    return AfterValidator(check)
