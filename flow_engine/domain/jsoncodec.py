"""The JSON codec of the per-message path (orjson): what the engine writes and reads back
itself — outbox items, data facts, rollup plans — and the Send API bodies and answers.

Same JSON as the standard library's for those documents (string keys, plain numbers),
written compactly; about ten times faster. Untrusted input (webhooks, API bodies) keeps
going through pydantic, which parses and validates it in one pass.
"""

from __future__ import annotations

from typing import Any

import orjson


def dumps(value: Any) -> str:
    """``value`` as compact JSON text (UTF-8, not ASCII-escaped)."""
    return orjson.dumps(value).decode()


def loads(raw: str | bytes) -> Any:
    return orjson.loads(raw)
