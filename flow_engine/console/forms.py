"""Reading posted forms."""

from __future__ import annotations

import re
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


def one_input(errors: dict[str, str], name: str) -> dict[str, str]:
    """The errors of the items of a list (``modules.1``) as the error of the one input
    they were typed in (``modules``: checkboxes of one name, or one item a line)."""
    item = re.compile(rf"^{re.escape(name)}\.\d+$")
    return {item.sub(name, k): v for k, v in errors.items()}
