"""Helpers shared by the configuration tests."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from flow_engine.domain.config import NumberConfig

BASE: dict[str, Any] = {
    "phone_number_id": "100000000000009",
    "display_phone_number": "15550000009",
}


def config(**fields: Any) -> NumberConfig:
    return NumberConfig.model_validate({**BASE, **fields})


def errors(**fields: Any) -> dict[str, str]:
    """Validation errors of a configuration, as ``{"dotted.path": "message"}``."""
    with pytest.raises(ValidationError) as info:
        NumberConfig.model_validate({**BASE, **fields})
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in info.value.errors()}


def only_error(**fields: Any) -> tuple[str, str]:
    found = errors(**fields)
    assert len(found) == 1, found
    return next(iter(found.items()))


def text(n: int, char: str = "a") -> str:
    return char * n
