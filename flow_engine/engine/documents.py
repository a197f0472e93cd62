"""Reading YAML/JSON documents that a pydantic model validates (configurations, skills)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from flow_engine.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)


def read_document(path: Path, model: type[M], what: str) -> M:
    """Parse ``path`` (YAML or JSON) and validate it as ``model``; a ConfigurationError
    names the file and, in ``details``, each bad field by its dotted path."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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
