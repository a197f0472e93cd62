"""Reading posted forms."""

from __future__ import annotations

from typing import Any

from multidict import MultiMapping

Form = MultiMapping[Any]


def field(form: Form, name: str) -> str:
    """A text field of the form ("" when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def fields(form: Form, name: str) -> list[str]:
    """Every value of a repeated field (checkboxes of one name)."""
    return [v for v in form.getall(name, []) if isinstance(v, str)]
