"""What a member reads beside each input, by the input's name: the error summary at the
top of a form names every field with an error by its label, linked to it, in the member's
language — as the configuration tabs do (``views/configs.py``'s ``input_label``), never
by its path (``to``, ``members.1.email``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from aiohttp import web
from markupsafe import escape

from flow_engine.console.auth import LOCALE
from flow_engine.console.i18n import Translate, translator
from flow_engine.console.render import render_string

#: errors of a whole form, not of one input (a refusal, a rule across fields): the
#: summary gives their message alone
FORM_ERRORS = frozenset({"form", "(body)"})

Labels = Mapping[str, str]
"""An input's name → the message key of its label. In a name, ``{n}`` stands for the row
of a repeated group (``members.{n}.email``: the message gets the row's number, from 1)
and ``{key}`` for one part of it (``p.body.{key}``: the message gets that part)."""


@lru_cache(maxsize=256)
def _pattern(name: str) -> re.Pattern[str]:
    regex = re.escape(name).replace(r"\{n\}", r"(?P<n>\d+)")
    return re.compile(regex.replace(r"\{key\}", r"(?P<key>[^.]+)"))


def label_of(t: Translate, labels: Labels, name: str) -> str:
    """The label of the input ``name`` ("" for the form's own errors; the name itself for
    one the form does not label)."""
    if name in FORM_ERRORS:
        return ""
    if name in labels:
        return t(labels[name])
    for pattern, key in labels.items():
        found = _pattern(pattern).fullmatch(name) if "{" in pattern else None
        if found:
            parts = found.groupdict()
            return t(key, **{k: int(v) + 1 if k == "n" else v for k, v in parts.items()})
    return name


def error_labels(
    request: web.Request, errors: Mapping[str, str], labels: Labels
) -> dict[str, str]:
    """The label of each input with an error, for the template's ``error_summary``."""
    t = translator(request[LOCALE])
    return {name: label_of(t, labels, name) for name in errors}


def render_form(
    request: web.Request,
    page: str,
    labels: Labels,
    /,
    *,
    errors: Mapping[str, str],
    status: int = 200,
    **values: Any,
) -> web.Response:
    """A page with a form and its ``errors``, the summary naming each by its label,
    linked to its input (``id="f-<name>"``). An error of a field the page has no input
    for (the history's ``offset``, a parameter of the address) is named without a link:
    the page is rendered, and a link whose target is not in it is dropped."""
    named = error_labels(request, errors, labels)
    html = render_string(request, page, errors=errors, error_labels=named, **values)
    missing = {n for n, label in named.items() if label and f'id="f-{escape(n)}"' not in html}
    if missing:
        named = {n: NoInput(label) if n in missing else label for n, label in named.items()}
        html = render_string(request, page, errors=errors, error_labels=named, **values)
    response = web.Response(status=status, content_type="text/html", charset="utf-8")
    response.text = html
    return response


class NoInput(str):
    """The label of a field with an error and no input on the page: the summary names it
    without linking it (templates test it with ``is no_input``)."""

    __slots__ = ()
