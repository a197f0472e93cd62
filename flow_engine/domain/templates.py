"""WhatsApp message templates of a WABA (the catalog) and the parameters of a send.

A :class:`CatalogTemplate` is what ``GET /{waba_id}/message_templates`` lists. A send
gives ``parameters`` shaped like the template's parts::

    {"header": [p], "body": [p, …] (POSITIONAL) or {"name": p, …} (NAMED),
     "buttons": {"0": [p]}}

where ``p`` is a string or a typed value (``{"currency": {…}}``, ``{"date_time": {…}}``,
``{"image": {"link": …}}``, …); in a campaign any ``p`` may be ``{"column": "…"}``.
:func:`check_parameters` finds every mismatch before anything is sent (what spares the
gateway's 132000/132001/132012 errors); :func:`components` builds the Cloud API
``components`` of the send; :func:`render` writes the text the contact sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flow_engine.domain.error_kinds import ErrorKind

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MEDIA_FORMATS = {"IMAGE": "image", "VIDEO": "video", "DOCUMENT": "document"}
TYPED = ("currency", "date_time", "image", "video", "document", "location")
TEXT_PARAM_MAX = 1024
HEADER_TEXT_PARAM_MAX = 60
BUTTON_PARAM_MAX = 2000

#: an error found in a send's parameters: (field path under ``parameters``, message)
ParamError = tuple[str, str]


class CatalogTemplate(BaseModel):
    """One template of the WABA as the gateway lists it (fields we do not know kept)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = ""
    name: str
    language: str
    status: str = "PENDING"
    category: str = ""
    parameter_format: str = "POSITIONAL"
    components: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True)
class ButtonSlot:
    index: int
    kind: str  # QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, …
    needs: int  # parameters required (URL with {{1}}, COPY_CODE: 1)
    allows: int  # parameters allowed (QUICK_REPLY: 1 optional payload)


@dataclass(frozen=True)
class TemplateShape:
    """What a send of the template must give."""

    named: bool
    header_format: str | None  # TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION or None
    header_params: list[str] = field(default_factory=list)  # placeholders of a TEXT header
    body_params: list[str] = field(default_factory=list)  # "1", "2", … or the names
    buttons: list[ButtonSlot] = field(default_factory=list)
    header_text: str = ""
    body_text: str = ""


def placeholders(text: str) -> list[str]:
    """Distinct placeholders in order of first appearance."""
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(text or "")))


_SHAPES: dict[int, tuple[CatalogTemplate, TemplateShape]] = {}
_SHAPES_KEPT = 256


def shape_of(template: CatalogTemplate) -> TemplateShape:
    """What ``template`` needs (kept for the templates seen last: a campaign builds the
    same template's components for every recipient)."""
    held = _SHAPES.get(id(template))
    if held is not None and held[0] is template:
        return held[1]
    shape = _shape_of(template)
    if len(_SHAPES) >= _SHAPES_KEPT:
        _SHAPES.clear()
    _SHAPES[id(template)] = (template, shape)
    return shape


def _shape_of(template: CatalogTemplate) -> TemplateShape:
    named = template.parameter_format.upper() == "NAMED"
    header_format: str | None = None
    header_params: list[str] = []
    body_params: list[str] = []
    buttons: list[ButtonSlot] = []
    header_text = body_text = ""
    for comp in template.components:
        kind = str(comp.get("type", "")).upper()
        if kind == "HEADER":
            header_format = str(comp.get("format", "TEXT")).upper()
            if header_format == "TEXT":
                header_text = str(comp.get("text", ""))
                header_params = placeholders(header_text)
        elif kind == "BODY":
            body_text = str(comp.get("text", ""))
            body_params = placeholders(body_text)
        elif kind == "BUTTONS":
            for index, button in enumerate(comp.get("buttons") or []):
                b_kind = str(button.get("type", "")).upper()
                if (
                    b_kind == "URL" and placeholders(str(button.get("url", "")))
                ) or b_kind == "COPY_CODE":
                    buttons.append(ButtonSlot(index, b_kind, 1, 1))
                elif b_kind == "QUICK_REPLY":
                    buttons.append(ButtonSlot(index, b_kind, 0, 1))
                else:
                    buttons.append(ButtonSlot(index, b_kind, 0, 0))
    if not named:  # positional: {{1}}…{{n}}, n the highest index
        body_params = _positional(body_params)
        header_params = _positional(header_params)
    return TemplateShape(
        named, header_format, header_params, body_params, buttons, header_text, body_text
    )


def _positional(found: list[str]) -> list[str]:
    numbers = [int(p) for p in found if p.isascii() and p.isdigit()]
    return [str(i) for i in range(1, max(numbers, default=0) + 1)]


# ---------------------------------------------------------------------------- values


def is_column(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"column"}


def check_value(value: Any, path: str, *, allow_column: bool, text_max: int) -> list[ParamError]:
    """A parameter value: a string, a typed value, or (in campaigns) a column."""
    if isinstance(value, str):
        return check_text(value, path, text_max)
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind == "column":
            if not allow_column:
                return [(path, "a column reference is only allowed in a campaign")]
            if not isinstance(inner, str) or not inner:
                return [(path, "column must name a column of the CSV")]
            return []
        if kind in TYPED:
            return check_typed(kind, inner, path)
    return [
        (
            path,
            "expected a string or one of "
            + ", ".join(f"{{{k!r}: …}}" for k in TYPED)
            + (", {'column': …}" if allow_column else ""),
        )
    ]


#: the errors of a parameter's text (``template_mismatch``: the type the notification
#: services give every parameter error, ``notify/catalog.py``)
EMPTY_PARAMETER = ErrorKind("empty_parameter", "must not be empty", "template_mismatch")
LONG_PARAMETER = ErrorKind("long_parameter", "at most {max} characters", "template_mismatch")
PARAMETER_LAYOUT = ErrorKind(
    "parameter_layout",
    "no new lines, tabs or more than 4 spaces in a row (WhatsApp refuses)",
    "template_mismatch",
)


def check_text(text: str, path: str, text_max: int) -> list[ParamError]:
    if not text.strip():
        return [(path, EMPTY_PARAMETER.text())]
    if len(text) > text_max:
        return [(path, LONG_PARAMETER.text(max=text_max))]
    if "\n" in text or "\t" in text or "     " in text:
        return [(path, PARAMETER_LAYOUT.text())]
    return []


def check_typed(kind: str, inner: Any, path: str) -> list[ParamError]:
    if not isinstance(inner, dict):
        return [(f"{path}.{kind}", "must be an object")]
    if kind == "currency":
        missing = [k for k in ("fallback_value", "code", "amount_1000") if k not in inner]
        if missing:
            return [(f"{path}.currency", f"needs {', '.join(missing)}")]
        if not isinstance(inner["amount_1000"], int) or isinstance(inner["amount_1000"], bool):
            return [(f"{path}.currency.amount_1000", "must be an integer")]
        return []
    if kind == "date_time":
        if not isinstance(inner.get("fallback_value"), str) or not inner["fallback_value"]:
            return [(f"{path}.date_time.fallback_value", "needs a fallback_value string")]
        return []
    if kind == "location":
        missing = [k for k in ("latitude", "longitude") if k not in inner]
        return [(f"{path}.location", f"needs {', '.join(missing)}")] if missing else []
    if not isinstance(inner.get("link") or inner.get("id"), str):
        return [(f"{path}.{kind}", "needs a link (https URL) or a media id")]
    link = inner.get("link")
    if isinstance(link, str) and not link.startswith(("https://", "http://")):
        return [(f"{path}.{kind}.link", "must be an http(s) URL")]
    return []


# ------------------------------------------------------------------------ the check


def check_parameters(
    template: CatalogTemplate, parameters: dict[str, Any] | None, *, allow_column: bool = False
) -> list[ParamError]:
    """Every mismatch between ``parameters`` and the template, as (path, message); the
    paths start with ``parameters.``. Empty when the send can go."""
    shape = shape_of(template)
    params = parameters or {}
    errors: list[ParamError] = []
    if not isinstance(params, dict):
        return [("parameters", "must be an object with header, body and buttons")]
    for key in params:
        if key not in ("header", "body", "buttons"):
            errors.append((f"parameters.{key}", "unknown part: use header, body or buttons"))
    errors += _check_header(shape, params.get("header"), allow_column)
    errors += _check_group(
        "parameters.body", shape.body_params, shape.named, params.get("body"), allow_column
    )
    errors += _check_buttons(shape, params.get("buttons"), allow_column)
    return errors


def _check_header(shape: TemplateShape, given: Any, allow_column: bool) -> list[ParamError]:
    path = "parameters.header"
    fmt = shape.header_format
    if fmt in MEDIA_FORMATS or fmt == "LOCATION":
        kind = MEDIA_FORMATS.get(fmt, "location")
        values = given if isinstance(given, list) else None
        if values is None or len(values) != 1:
            return [(path, f"the template's header is {fmt}: give [{{{kind!r}: …}}]")]
        value = values[0]
        if is_column(value):
            return check_value(value, f"{path}.0", allow_column=allow_column, text_max=0)
        if not (isinstance(value, dict) and set(value) == {kind}):
            return [(f"{path}.0", f"the template's header is {fmt}: give {{{kind!r}: …}}")]
        return check_typed(kind, value[kind], f"{path}.0")
    if fmt == "TEXT" and shape.header_params:
        return _check_group(
            path, shape.header_params, shape.named, given, allow_column, HEADER_TEXT_PARAM_MAX
        )
    if given not in (None, [], {}):
        return [(path, "the template's header takes no parameters")]
    return []


def _check_group(
    path: str,
    expected: list[str],
    named: bool,
    given: Any,
    allow_column: bool,
    text_max: int = TEXT_PARAM_MAX,
) -> list[ParamError]:
    if not expected:
        if given not in (None, [], {}):
            return [(path, "the template takes no parameters here")]
        return []
    if named:
        if not isinstance(given, dict):
            names = ", ".join(expected)
            return [(path, f"the template is NAMED: give an object with {names}")]
        errors = [(f"{path}.{n}", "missing parameter") for n in expected if n not in given]
        errors += [
            (f"{path}.{n}", "the template has no such parameter")
            for n in given
            if n not in expected
        ]
        for n in expected:
            if n in given:
                errors += check_value(
                    given[n], f"{path}.{n}", allow_column=allow_column, text_max=text_max
                )
        return errors
    if not isinstance(given, list):
        return [(path, f"the template is POSITIONAL: give a list of {len(expected)} values")]
    if len(given) != len(expected):
        return [(path, f"the template takes {len(expected)} parameters, got {len(given)}")]
    errors = []
    for i, value in enumerate(given):
        errors += check_value(value, f"{path}.{i}", allow_column=allow_column, text_max=text_max)
    return errors


def _check_buttons(shape: TemplateShape, given: Any, allow_column: bool) -> list[ParamError]:
    path = "parameters.buttons"
    given = given or {}
    if not isinstance(given, dict):
        return [(path, 'give an object by button index: {"0": [value]}')]
    slots = {str(b.index): b for b in shape.buttons}
    errors: list[ParamError] = []
    for key, values in given.items():
        slot = slots.get(str(key))
        if slot is None:
            errors.append((f"{path}.{key}", "the template has no button with this index"))
        elif not isinstance(values, list) or len(values) > slot.allows:
            errors.append((f"{path}.{key}", f"the {slot.kind} button takes {slot.allows} value"))
        else:
            for i, v in enumerate(values):
                errors += check_value(
                    v, f"{path}.{key}.{i}", allow_column=allow_column, text_max=BUTTON_PARAM_MAX
                )
    for slot in shape.buttons:
        if slot.needs and len(given.get(str(slot.index)) or []) < slot.needs:
            errors.append((f"{path}.{slot.index}", f"the {slot.kind} button needs a value"))
    return errors


def columns_of(parameters: dict[str, Any] | None, extras: dict[str, Any] | None) -> list[str]:
    """Every CSV column named by ``{"column": …}`` in parameters and extras, in order."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if is_column(value):
            found.append(str(value["column"]))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(parameters or {})
    walk(extras or {})
    return list(dict.fromkeys(found))


def resolve(value: Any, row: dict[str, str]) -> Any:
    """``value`` with every ``{"column": c}`` replaced by the row's value of ``c``."""
    if is_column(value):
        return row.get(str(value["column"]), "")
    if isinstance(value, dict):
        return {k: resolve(v, row) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, row) for v in value]
    return value


# ------------------------------------------------------------------- building a send


def _param(value: Any, name: str | None, *, button: str | None = None) -> dict[str, Any]:
    if isinstance(value, str):
        if button == "QUICK_REPLY":
            return {"type": "payload", "payload": value}
        if button == "COPY_CODE":
            return {"type": "coupon_code", "coupon_code": value}
        out: dict[str, Any] = {"type": "text", "text": value}
    else:
        ((kind, inner),) = value.items()
        out = {"type": kind, kind: inner}
    if name is not None:
        out["parameter_name"] = name
    return out


def _group(expected: list[str], named: bool, given: Any) -> list[dict[str, Any]]:
    if named:
        return [_param(given[n], n) for n in expected]
    return [_param(v, None) for v in given]


def components(
    template: CatalogTemplate, parameters: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The Cloud API ``template.components`` of a send with checked ``parameters``."""
    shape = shape_of(template)
    params = parameters or {}
    out: list[dict[str, Any]] = []
    header: Any = params.get("header") or []
    if shape.header_format in MEDIA_FORMATS or shape.header_format == "LOCATION":
        out.append({"type": "header", "parameters": [_param(header[0], None)]})
    elif shape.header_params:
        out.append(
            {"type": "header", "parameters": _group(shape.header_params, shape.named, header)}
        )
    if shape.body_params:
        out.append(
            {"type": "body", "parameters": _group(shape.body_params, shape.named, params["body"])}
        )
    for slot in shape.buttons:
        values = (params.get("buttons") or {}).get(str(slot.index)) or []
        if values:
            sub_type = "url" if slot.kind == "URL" else slot.kind.lower()
            out.append(
                {
                    "type": "button",
                    "sub_type": sub_type,
                    "index": str(slot.index),
                    "parameters": [_param(v, None, button=slot.kind) for v in values],
                }
            )
    return out


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if isinstance(inner, dict):
            if "fallback_value" in inner:
                return str(inner["fallback_value"])
            if "link" in inner:
                return f"[{kind}: {inner['link']}]"
        return f"[{kind}]"
    return str(value)


def render(template: CatalogTemplate, parameters: dict[str, Any] | None) -> str:
    """The template's header and body text with the parameters in place."""
    shape = shape_of(template)
    params = parameters or {}

    def fill(text: str, expected: list[str], given: Any) -> str:
        values: dict[str, str] = {}
        if isinstance(given, dict):
            values = {k: _shown(v) for k, v in given.items()}
        elif isinstance(given, list):
            values = {expected[i]: _shown(v) for i, v in enumerate(given) if i < len(expected)}
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)

    parts = []
    header = params.get("header")
    if shape.header_format == "TEXT" and shape.header_text:
        parts.append(fill(shape.header_text, shape.header_params, header))
    elif shape.header_format and isinstance(header, list) and header:
        parts.append(_shown(header[0]))
    if shape.body_text:
        parts.append(fill(shape.body_text, shape.body_params, params.get("body")))
    return "\n".join(parts)
