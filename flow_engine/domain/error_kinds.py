"""Kinds of validation errors with a stable identity (:class:`ErrorKind`): the domain's
rules raise them in English, as the API answers them, and the console finds them again in
a service's ``details`` to say them in the member's language
(``console/validation.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pydantic_core import PydanticCustomError

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class ErrorKind:
    """One kind of validation error, with a stable identity so that a face can say it in
    its own words (the console, in the member's language): ``code`` names it, ``type`` is
    the pydantic error type a validator raises it as (the API's ``details[].type``; the
    code when not given) and ``template`` its English words, ``{name}`` for each value
    (the API's ``details[].message``, filled). The API keeps the English words; the console
    finds a kind again by its type and words (:meth:`values_of`).

    Templates hold plain ``{name}`` placeholders only (no format spec, no ``{{``): pydantic
    fills a :class:`PydanticCustomError`'s template by replacing them, as ``str.format``
    does."""

    code: str
    template: str
    type: str = ""

    def __post_init__(self) -> None:
        if not self.type:
            object.__setattr__(self, "type", self.code)

    def text(self, **values: object) -> str:
        """The English words, filled with ``values``."""
        return self.template.format(**values)

    def error(self, **values: object) -> PydanticCustomError:
        """The error as a validator raises it: an error of ``type`` with these words."""
        return PydanticCustomError(self.type, self.template, values or None)

    def values_of(self, message: str) -> dict[str, str] | None:
        """The values that fill the template into ``message`` (as texts), or None when
        ``message`` is not in this kind's words."""
        found = _template_pattern(self.template).fullmatch(message)
        return found.groupdict() if found else None


@lru_cache(maxsize=512)
def _template_pattern(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    named: set[str] = set()
    at = 0
    for placeholder in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[at : placeholder.start()]))
        name = placeholder[1]
        parts.append(f"(?P={name})" if name in named else f"(?P<{name}>.*?)")
        named.add(name)
        at = placeholder.end()
    parts.append(re.escape(template[at:]))
    return re.compile("".join(parts), re.S)
