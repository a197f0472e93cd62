"""Reading posted forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from multidict import MultiMapping
from pydantic import BaseModel, ValidationError

from flow_engine.console.i18n import translator
from flow_engine.console.validation import field_message

Form = MultiMapping[Any]
M = TypeVar("M", bound=BaseModel)


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


def items_of(text: str) -> tuple[list[str], list[int]]:
    """The items typed in a textarea of one item a line (spaces, commas and semicolons
    part them too) and the line each is on, from 1."""
    items: list[str] = []
    lines: list[int] = []
    for n, line in enumerate(text.splitlines(), 1):
        for item in re.split(r"[\s,;]+", line):
            if item:
                items.append(item)
                lines.append(n)
    return items, lines


def by_line(locale: str, details: Any, name: str, lines: list[int]) -> str:
    """The errors of the list ``name`` typed one item a line, as the member reads them:
    each once, after the line of the item it is about ("line 3: …"); an error of the
    whole list, alone. ``lines``: the line of each item (:func:`items_of`)."""
    t = translator(locale)
    shown: list[str] = []
    for d in details if isinstance(details, list) else []:
        message = field_message(locale, d)
        index = str(d.get("field", "")).removeprefix(f"{name}.")
        if index.isascii() and index.isdigit() and int(index) < len(lines):
            message = t("tpl.line", n=lines[int(index)], message=message)
        if message not in shown:
            shown.append(message)
    return "; ".join(shown)


def refused(exc: ValidationError) -> set[str]:
    """The top-level fields a request model refused."""
    return {str(e["loc"][0]) for e in exc.errors(include_url=False) if e["loc"]}


def readable(
    model: type[M], raw: Mapping[str, Any], exc: ValidationError, stand_ins: Mapping[str, Any]
) -> M | None:
    """``raw`` as ``model`` once more, each field it refused replaced by its stand-in (a
    value the model accepts) or else left out (for its default): the request a service
    checks all the same, so that one submission shows the model's errors *and* the
    service's on the other fields. The service's errors on a stood-in field are not
    shown: the form keeps the model's, which come first. None when the model refuses it
    still (a required field without a stand-in, a rule across fields)."""
    bad = refused(exc)
    fixed = {k: v for k, v in raw.items() if k not in bad}
    fixed.update({k: v for k, v in stand_ins.items() if k in bad})
    try:
        return model.model_validate(fixed)
    except ValidationError:
        return None
