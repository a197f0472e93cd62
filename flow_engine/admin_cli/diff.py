"""Readable diffs of configurations: one line per changed leaf, ``path: before → after``.

Objects compare key by key (the path is dotted, list items by index are not split: a
list compares whole, as the server's bulk dry run does); a key present on one side only
shows ``(absent)`` on the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from flow_engine.admin import jsondoc
from flow_engine.admin_cli.client import BulkResult, Change

ABSENT: Any = object()
VALUE_WIDTH = 60
CHANGES_SHOWN = 25


def diff(before: Any, after: Any) -> list[Change]:
    """Changed leaves of ``before`` → ``after``, as the server's dry runs list them
    (``ABSENT`` marks a key on one side only)."""
    return cast(list[Change], jsondoc.diff(before, after, absent=ABSENT))


def value(v: Any, width: int = VALUE_WIDTH) -> str:
    """A value on one line: JSON, cut to ``width`` characters."""
    if v is ABSENT:
        return "(absent)"
    text = json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def change_lines(
    changes: Iterable[Change], *, indent: str = "  ", limit: int | None = None
) -> list[str]:
    """``path: before → after`` for each change (at most ``limit``, then a count)."""
    items = list(changes)
    shown = items if limit is None else items[:limit]
    lines = [f"{indent}{c['path']}: {value(c['before'])} → {value(c['after'])}" for c in shown]
    if len(items) > len(shown):
        lines.append(f"{indent}… and {len(items) - len(shown)} more change(s)")
    return lines


def bulk_lines(result: BulkResult, *, limit: int | None = CHANGES_SHOWN) -> list[str]:
    """The per-number summary of a bulk dry run or apply. Numbers with the very same
    changes are listed together, so forty numbers edited alike read as one diff."""
    lines: list[str] = []
    groups: dict[str, list[Any]] = {}
    for n in result["numbers"]:
        key = json.dumps(n.get("changes") or [], sort_keys=True, default=str)
        groups.setdefault(key, []).append(n)
    for members in groups.values():
        changes = members[0].get("changes") or []
        heads = [_head(n) for n in members]
        if not changes and not any(n.get("changed") for n in members):
            lines.extend(f"{h}: no change" for h in heads)
            continue
        if len(heads) == 1:
            lines.append(f"{heads[0]}: {len(changes)} change(s)")
        else:
            lines.append(f"{len(heads)} numbers, the same {len(changes)} change(s) each:")
            lines.extend(f"  {h}" for h in heads)
            lines.append("  changes:")
        lines.extend(change_lines(changes, limit=limit))
    changed, unchanged = result.get("changed", 0), result.get("unchanged", 0)
    verb = "would change" if result.get("dry_run") else "changed"
    lines.append(f"{verb} {changed} number(s), {unchanged} unchanged")
    return lines


def _head(n: Any) -> str:
    new = n.get("version")
    at = f"version {n.get('from_version')}" + (f" → {new}" if new else "")
    return f"{n['number']} ({at})"
