"""Dotted paths into a number's configuration (``faq.intro``, ``hours.weekdays``), as a bulk
edit copies them from a reference number.

A path names a field of :class:`NumberConfig`, following nested models only: a list is
copied whole (no item indexes) and a leaf has no fields below it. Some fields are never
copied from another number — its identity and its active-messaging settings — nor is a
path that would carry one of them along (``desk`` holds ``desk.active_messaging``).
"""

from __future__ import annotations

import types
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel

from flow_engine.domain.config import NumberConfig
from flow_engine.errors import UnprocessableEntity

#: Never copied from a reference: the number's identity and name, and its
#: active-messaging settings (R-DESK-4).
NOT_COPYABLE = (
    "phone_number_id",
    "display_phone_number",
    "name",
    "desk.active_messaging",
)


def _models_of(annotation: Any) -> list[type[BaseModel]] | None:
    """The models a field holds (several for a union), or None for a leaf (a scalar,
    a list, anything that is not an object of named fields)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_of(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        found = [m for a in typing.get_args(annotation) for m in (_models_of(a) or [])]
        return found or None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return None


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_list(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(annotation))
    return origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set, frozenset)


def _fields(model: type[BaseModel]) -> dict[str, list[type[BaseModel]] | None]:
    return {name: _models_of(f.annotation) for name, f in model.model_fields.items()}


def _lists(model: type[BaseModel]) -> set[str]:
    return {name for name, f in model.model_fields.items() if _is_list(f.annotation)}


@cache
def field_paths() -> frozenset[str]:
    """Every dotted path of the configuration (objects and their fields, down to leaves)."""
    found: set[str] = set()

    def walk(models: list[type[BaseModel]], prefix: str) -> None:
        for model in models:
            for name, inner in _fields(model).items():
                found.add(prefix + name)
                if inner:
                    walk(inner, prefix + name + ".")

    walk([NumberConfig], "")
    return frozenset(found)


def path_problem(path: str) -> tuple[str, str] | None:
    """Why ``path`` is not a field of the configuration (``(type, message)``), or None."""
    if not path:
        return "empty_path", "an empty path names nothing: give a field such as faq.intro"
    parts = path.split(".")
    if any(not part for part in parts):
        return "empty_path", f"{path!r} has an empty segment: fields are separated by one dot"
    models: list[type[BaseModel]] | None = [NumberConfig]
    is_list = False
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth])
        if models is None:
            if is_list:
                return "list_index", f"{where} is a list, and a list is copied whole: give {where}"
            return "too_deep", f"{where} has no fields: give {where} itself"
        fields: dict[str, list[type[BaseModel]] | None] = {}
        lists: set[str] = set()
        for model in models:
            fields.update(_fields(model))
            lists |= _lists(model)
        if part not in fields:
            inside = f"in {where} " if where else ""
            known = ", ".join(sorted(fields))
            return (
                "unknown_path",
                f"{part!r} {inside}is not a field of the configuration (fields: {known})",
            )
        models, is_list = fields[part], part in lists
    return None


def copy_problem(path: str, *, never: tuple[str, ...] = NOT_COPYABLE) -> tuple[str, str] | None:
    """Why ``path`` may not be copied from another number (``(type, message)``), or None."""
    found = path_problem(path)
    if found is not None:
        return found
    for blocked in never:
        if path == blocked or path.startswith(blocked + "."):
            return "not_copyable", f"{blocked} is never copied from another number"
        if blocked.startswith(path + "."):
            siblings = sorted(
                p
                for p in field_paths()
                if p.startswith(path + ".")
                and p.count(".") == path.count(".") + 1
                and not blocked.startswith(p)
            )
            instead = ", ".join(siblings) or "nothing else"
            return (
                "not_copyable",
                f"{path} holds {blocked}, which is never copied from another number: "
                f"name its other fields instead ({instead})",
            )
    return None


def check_copy_paths(paths: list[str], *, field: str = "paths") -> None:
    """422 naming each of ``paths`` that is not a copyable field of the configuration."""
    details = []
    for i, path in enumerate(paths):
        found = copy_problem(path)
        if found is not None:
            kind, message = found
            details.append(
                {"field": f"{field}.{i}", "path": path, "message": message, "type": kind}
            )
    if details:
        raise UnprocessableEntity(f"{len(details)} of the paths cannot be copied", details=details)
