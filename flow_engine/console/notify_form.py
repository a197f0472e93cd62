"""A template's parameters as form inputs, for one notification or a campaign.

The inputs are named ``p.header.<placeholder>``, ``p.header.link`` (a media header),
``p.body.<placeholder>`` and ``p.buttons.<button index>``; the request sent to the
service is the API's (``{"header": […], "body": […] or {name: …}, "buttons": {"0": […]}}``)
and the service's errors (``parameters.body.1``) are mapped back to the inputs. In a
campaign a value ``@column`` takes each row's cell of that CSV column, as in
``flow-engine admin campaigns create --named nombre=@nombre``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flow_engine.console.forms import Form, field
from flow_engine.domain.templates import MEDIA_FORMATS, CatalogTemplate, TemplateShape, shape_of

EXTRA_ROWS = 3


@dataclass(frozen=True)
class Input:
    name: str
    part: str  # header, body, buttons
    key: str  # the placeholder, or the button index
    hint: str


def inputs_of(template: CatalogTemplate) -> tuple[TemplateShape, list[Input]]:
    shape = shape_of(template)
    found: list[Input] = []
    if shape.header_format in MEDIA_FORMATS:
        found.append(Input("p.header.link", "header", "link", shape.header_format.lower()))
    for key in shape.header_params:
        found.append(Input(f"p.header.{key}", "header", key, shape.header_text))
    for key in shape.body_params:
        found.append(Input(f"p.body.{key}", "body", key, shape.body_text))
    for slot in shape.buttons:
        if slot.needs or slot.allows:
            found.append(Input(f"p.buttons.{slot.index}", "buttons", str(slot.index), slot.kind))
    return shape, found


def value(raw: str, columns: bool) -> Any:
    text = raw.strip()
    if columns and text.startswith("@") and len(text) > 1:
        return {"column": text[1:]}
    return text


def parameters(template: CatalogTemplate, form: Form, *, columns: bool) -> dict[str, Any] | None:
    shape, inputs = inputs_of(template)
    out: dict[str, Any] = {}
    header = [i for i in inputs if i.part == "header"]
    if header and header[0].key == "link":
        link = field(form, "p.header.link").strip()
        kind = MEDIA_FORMATS[shape.header_format or ""]
        given = value(link, columns)
        out["header"] = [given if isinstance(given, dict) else {kind: {"link": link}}]
    elif header:
        vals = [value(field(form, i.name), columns) for i in header]
        out["header"] = dict(zip(shape.header_params, vals, strict=True)) if shape.named else vals
    body = [i for i in inputs if i.part == "body"]
    if body:
        vals = [value(field(form, i.name), columns) for i in body]
        out["body"] = dict(zip(shape.body_params, vals, strict=True)) if shape.named else vals
    buttons = {
        i.key: [value(field(form, i.name), columns)]
        for i in inputs
        if i.part == "buttons" and field(form, i.name).strip()
    }
    if buttons:
        out["buttons"] = buttons
    return out or None


def extras(form: Form, *, columns: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(EXTRA_ROWS):
        key = field(form, f"extras.{i}.key").strip()
        if key:
            out[key] = value(field(form, f"extras.{i}.value"), columns)
    return out


def input_of_error(path: str, template: CatalogTemplate | None) -> str:
    """The input an error of the service's ``details`` belongs to."""
    parts = path.split(".")
    if parts[0] in ("csv", "columns"):  # the file's (its columns the parameters name)
        return "file"
    if parts[0] != "parameters" or template is None or len(parts) < 2:
        return parts[0] if parts[0] in ("to", "template", "reply", "extras") else path
    shape = shape_of(template)
    part = parts[1]
    if part == "header" and shape.header_format in MEDIA_FORMATS:
        return "p.header.link"
    if part in ("header", "body") and len(parts) > 2:
        keys = shape.header_params if part == "header" else shape.body_params
        key = parts[2]
        if not shape.named and key.isascii() and key.isdigit() and int(key) < len(keys):
            key = keys[int(key)]
        return f"p.{part}.{key}"
    if part == "buttons" and len(parts) > 2:
        return f"p.buttons.{parts[2]}"
    return f"p.{part}"
