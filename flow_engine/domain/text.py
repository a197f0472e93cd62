"""Free text typed by people (names, descriptions): what it may not hold."""

from __future__ import annotations

import unicodedata

from pydantic import AfterValidator

from flow_engine.domain.error_kinds import ErrorKind

#: Unicode categories no name or description holds: control characters (NUL, ESC, DEL,
#: C1 …) and the line and paragraph separators U+2028, U+2029
CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
#: what a text written in a text area may hold besides: it has several lines
MULTILINE_LAYOUT = "\t\n\r"
CONTROL_CHARACTER = ErrorKind("control_character", "must not contain control characters ({char})")


def no_control(allowed: str = "") -> AfterValidator:
    """A text validator: a control character (but those in ``allowed``) is a
    ``control_character`` error naming the first one."""

    def check(value: str) -> str:
        for char in value:
            if char not in allowed and unicodedata.category(char) in CONTROL_CATEGORIES:
                raise CONTROL_CHARACTER.error(char=f"U+{ord(char):04X}")
        return value

    return AfterValidator(check)
