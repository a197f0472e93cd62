"""Reading YAML/JSON documents that a pydantic model validates (configurations, skills)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from string import Template
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from flow_engine.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)


def read_document(
    path: Path, model: type[M], what: str, *, environ: Mapping[str, str] | None = None
) -> M:
    """Parse ``path`` (YAML or JSON) and validate it as ``model``; a ConfigurationError
    names the file and, in ``details``, each bad field by its dotted path. With
    ``environ``, ``${NAME}`` in the text is replaced by its value first (unknown names
    are left as they are)."""
    try:
        text = path.read_text(encoding="utf-8")
        if environ is not None:
            text = Template(text).safe_substitute(environ)
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: expected a mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()
        ]
        lines = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise ConfigurationError(f"{path}: invalid {what}: {lines}", details=problems) from None
