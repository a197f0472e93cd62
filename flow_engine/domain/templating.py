"""Placeholders in configured messages: ``Hola {{contact.name}}``.

A placeholder is a dotted path between double braces, with optional spaces
inside the braces (``{{ contact.name }}``). Each part of the path is looked up
in a mapping; the value is rendered with ``str()``.

Missing values (an unknown path, a part that is not a mapping, ``None`` or an
empty string) render as nothing, and the space the placeholder leaves behind is
tidied so the sentence still reads well: ``"Hola {{contact.name}}, ¡hola!"`` with
no name gives ``"Hola, ¡hola!"``, and ``"Hola {{contact.name}} y bienvenido"``
gives ``"Hola y bienvenido"``. Only spaces next to an empty placeholder are
touched; spacing the author wrote elsewhere is kept. Text that is not a
well-formed placeholder (``{{ }}``, ``{{a..b}}``, single braces) is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")

# After an empty value, a space before one of these is dropped: "Hola , x" → "Hola, x".
_CLOSING = frozenset(",.;:!?)]}…")
_SPACES = frozenset(" \t")


def lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at the dotted ``path`` in ``context``, or ``None`` when absent."""
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def placeholders(text: str) -> list[str]:
    """The dotted paths named in ``text``, in order of appearance."""
    return [m.group(1) for m in PLACEHOLDER.finditer(text)]


def render(text: str, context: Mapping[str, Any]) -> str:
    """``text`` with every placeholder replaced by its value in ``context``."""
    out = ""
    pos = 0
    drop_next_space = False
    for match in PLACEHOLDER.finditer(text):
        literal = text[pos : match.start()]
        if drop_next_space and literal[:1] in _SPACES:
            literal = literal[1:]
        out += literal
        value = lookup(context, match.group(1))
        rendered = "" if value is None else str(value)
        drop_next_space = False
        if rendered:
            out += rendered
        elif out[-1:] in _SPACES and _ends_phrase(text[match.end() : match.end() + 1]):
            out = out[:-1]  # "Hola {{x}}, y" → "Hola, y"; "Hola {{x}} y" → "Hola y"
        elif out == "" or out.endswith("\n"):
            drop_next_space = True  # "{{x}} Hola" → "Hola"
        pos = match.end()
    rest = text[pos:]
    if drop_next_space and rest[:1] in _SPACES:
        rest = rest[1:]
    return out + rest


def _ends_phrase(following: str) -> bool:
    return following in ("", "\n") or following in _SPACES or following in _CLOSING
