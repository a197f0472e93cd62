"""Conditions of declarative skills: JSONPath over ``{input, contact, vars, config}``.

A condition is one of::

    $.vars.order_id                 true when the path finds at least one truthy value
    ! $.vars.order_id               true when it finds none
    $.vars.consent == "yes"         compare: ==  !=  <  <=  >  >=
    $.input.content =~ "(?i)^y"     regular expression search (Python syntax)

The operator needs a space on each side; the path may use filters
(``$.vars.items[?(@.price > 10)]``) since only an operator outside brackets and
quotes splits the condition. The value is JSON (``"text"``, ``10``, ``true``,
``null``); anything else is taken as a bare string, so ``$.vars.consent == yes``
works too. With several matches the condition holds when any of them satisfies it
(``!=`` holds when none equals). Numbers and numeric strings compare as numbers
(``$.input.content == 2`` holds for the text ``"2"``). Truthy follows Python:
``""``, ``0``, ``false``, ``null``, ``[]`` and ``{}`` are false.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse as _jsonpath_parse

OPERATORS = ("==", "!=", "<=", ">=", "=~", "<", ">")


@lru_cache(maxsize=1024)
def parse_path(text: str) -> Any:
    """The compiled JSONPath ``text``; ``ValueError`` when it does not parse."""
    try:
        return _jsonpath_parse(text.strip())
    except JSONPathError as exc:
        raise ValueError(f"invalid JSONPath {text!r}: {exc}") from None


def find(path: str, document: Any) -> list[Any]:
    """The values ``path`` finds in ``document``."""
    return [match.value for match in parse_path(path).find(document)]


@dataclass(frozen=True)
class Condition:
    path: str
    negated: bool = False
    op: str | None = None
    value: Any = None

    def holds(self, document: Any) -> bool:
        values = find(self.path, document)
        if self.op is None:
            result = any(bool(v) for v in values)
        elif self.op == "!=":
            result = not any(_equal(v, self.value) for v in values)
        else:
            result = any(_compare(self.op, v, self.value) for v in values)
        return result != self.negated


def _split(text: str) -> tuple[str, str, str] | None:
    depth = 0
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif depth == 0 and ch.isspace():
            rest = text[i:].lstrip()
            for op in OPERATORS:
                after = rest[len(op) : len(op) + 1]
                if rest.startswith(op) and (after == "" or after.isspace()):
                    return text[:i], op, rest[len(op) :].strip()
    return None


def _literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


@lru_cache(maxsize=1024)
def parse_condition(text: str) -> Condition:
    """Parse ``text`` (see the module docstring); ``ValueError`` when it is malformed."""
    body = text.strip()
    negated = body.startswith("!") and not body.startswith("!=")
    if negated:
        body = body[1:].lstrip()
    parts = _split(body)
    if parts is None:
        parse_path(body)
        return Condition(body, negated)
    path, op, raw = parts
    if not raw:
        raise ValueError(f"condition {text!r}: nothing after {op}")
    parse_path(path)
    value = _literal(raw)
    if op == "=~":
        if not isinstance(value, str):
            raise ValueError(f"condition {text!r}: =~ needs a regular expression string")
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"condition {text!r}: invalid regular expression: {exc}") from None
    return Condition(path.strip(), negated, op, value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", "."))
        except ValueError:
            return None
    return None


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    numbers = (isinstance(left, int | float), isinstance(right, int | float))
    if any(numbers):
        a, b = _number(left), _number(right)
        return a is not None and a == b
    return bool(left == right)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return _equal(left, right)
    if op == "=~":
        if isinstance(left, bool) or not isinstance(left, str | int | float):
            return False
        return re.search(str(right), str(left)) is not None
    a, b = _number(left), _number(right)
    if a is None or b is None:
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
