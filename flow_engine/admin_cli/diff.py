"""Readable diffs of configurations: one line per changed leaf, ``path: before → after``.

Objects compare key by key (the path is dotted); a key present on one side only shows
``(absent)`` on the other. The server's dry runs compare a list whole; here a changed list
is shown item by item — ``[i] added``, ``[i] removed``, ``[i] changed`` with the index —
matching items that did not change (``difflib``), so an item inserted at the top is one
addition, not every item changed. Long values are cut where the two sides differ.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import Any, cast

from flow_engine.admin import jsondoc
from flow_engine.admin_cli.client import BulkResult, Change

ABSENT: Any = object()
VALUE_WIDTH = 60
ITEM_WIDTH = 100  # a whole list item added or removed
CHANGES_SHOWN = 25
ITEMS_SHOWN = 20
SIMILAR = 0.6  # items this alike (difflib ratio of their JSON) are one item changed
ALIGN_MAX = 2500  # larger runs of differing items are paired by position


def diff(before: Any, after: Any) -> list[Change]:
    """Changed leaves of ``before`` → ``after``, as the server's dry runs list them
    (``ABSENT`` marks a key on one side only)."""
    return cast(list[Change], jsondoc.diff(before, after, absent=ABSENT))


def _text(v: Any) -> str:
    if v is ABSENT:
        return "(absent)"
    return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)


def _cut(text: str, start: int, width: int) -> str:
    head = "…" if start > 0 else ""
    room = width - len(head)
    body = text[start:]
    return head + (body if len(body) <= room else body[: room - 1] + "…")


def value(v: Any, width: int = VALUE_WIDTH) -> str:
    """A value on one line: JSON, cut to ``width`` characters."""
    return _cut(_text(v), 0, width)


def pair(before: Any, after: Any, width: int = VALUE_WIDTH) -> tuple[str, str]:
    """Both values on one line each; when cut, both start a little before the first
    character where they differ, so the difference is in view."""
    b, a = _text(before), _text(after)
    if len(b) <= width and len(a) <= width:
        return b, a
    common = next((i for i, (x, y) in enumerate(zip(b, a, strict=False)) if x != y), None)
    common = min(len(b), len(a)) if common is None else common
    start = max(0, common - width // 3) if common > width // 2 else 0
    return _cut(b, start, width), _cut(a, start, width)


def _is_listish(c: Change) -> bool:
    sides = (c["before"], c["after"])
    return any(isinstance(s, list) for s in sides) and all(
        isinstance(s, list) or s is None or s is ABSENT for s in sides
    )


def _count(v: Any) -> str:
    return f"{len(v)} item(s)" if isinstance(v, list) else value(v)


def _similar(a: str, b: str) -> bool:
    return difflib.SequenceMatcher(a=a, b=b, autojunk=False).ratio() >= SIMILAR


def _pairs(before: list[str], after: list[str]) -> list[tuple[int | None, int | None]]:
    """Align two runs of differing items, in order: ``(i, j)`` for an item changed from
    ``before[i]`` to ``after[j]`` (the most similar pairs that keep the order), ``(i,
    None)`` removed, ``(None, j)`` added. Long runs are paired by position."""
    n, m = len(before), len(after)
    if n * m > ALIGN_MAX:
        return [(i, i) for i in range(min(n, m))] + (
            [(i, None) for i in range(m, n)] + [(None, j) for j in range(n, m)]
        )
    best = [[0] * (m + 1) for _ in range(n + 1)]  # best[i][j]: pairs within the tails
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            paired = best[i + 1][j + 1] + 1 if _similar(before[i], after[j]) else -1
            best[i][j] = max(paired, best[i + 1][j], best[i][j + 1])
    out: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n and j < m:
        if _similar(before[i], after[j]) and best[i][j] == best[i + 1][j + 1] + 1:
            out.append((i, j))
            i, j = i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            out.append((i, None))
            i += 1
        else:
            out.append((None, j))
            j += 1
    return out + [(k, None) for k in range(i, n)] + [(None, k) for k in range(j, m)]


def _item_lines(before: list[Any], after: list[Any], indent: str) -> list[str]:
    """The items that differ between two lists: added, removed, changed, by index."""
    texts_before, texts_after = [_text(x) for x in before], [_text(x) for x in after]
    matcher = difflib.SequenceMatcher(a=texts_before, b=texts_after, autojunk=False)
    lines: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        for i, j in _pairs(texts_before[i1:i2], texts_after[j1:j2]):
            if i is not None and j is not None:
                where = f"[{i1 + i}]" if i1 + i == j1 + j else f"[{i1 + i}→{j1 + j}]"
                lines.extend(_changed_item(where, before[i1 + i], after[j1 + j], indent))
            elif i is not None:
                lines.append(f"{indent}[{i1 + i}] removed: {value(before[i1 + i], ITEM_WIDTH)}")
            elif j is not None:
                lines.append(f"{indent}[{j1 + j}] added: {value(after[j1 + j], ITEM_WIDTH)}")
    if len(lines) > ITEMS_SHOWN:
        lines = [*lines[:ITEMS_SHOWN], f"{indent}… and {len(lines) - ITEMS_SHOWN} more line(s)"]
    return lines


def _changed_item(where: str, before: Any, after: Any, indent: str) -> list[str]:
    if not (isinstance(before, dict) and isinstance(after, dict)):
        b, a = pair(before, after)
        return [f"{indent}{where} changed: {b} → {a}"]
    inner = diff(before, after)
    if len(inner) == 1 and not _is_listish(inner[0]):
        (line,) = change_lines(inner, indent="")
        return [f"{indent}{where} changed: {line}"]
    return [f"{indent}{where} changed:", *change_lines(inner, indent=indent + "  ")]


def change_lines(
    changes: Iterable[Change], *, indent: str = "  ", limit: int | None = None
) -> list[str]:
    """``path: before → after`` for each change (at most ``limit``, then a count); a
    changed list is followed by its changed items, one line each."""
    items = list(changes)
    shown = items if limit is None else items[:limit]
    lines: list[str] = []
    for c in shown:
        if _is_listish(c):
            before = c["before"] if isinstance(c["before"], list) else []
            after = c["after"] if isinstance(c["after"], list) else []
            both = isinstance(c["before"], list) and isinstance(c["after"], list)
            counts = (
                f"{len(before)} → {len(after)} item(s)"
                if both
                else f"{_count(c['before'])} → {_count(c['after'])}"
            )
            lines.append(f"{indent}{c['path']}: {counts}")
            lines.extend(_item_lines(before, after, indent + "  "))
        else:
            b, a = pair(c["before"], c["after"])
            lines.append(f"{indent}{c['path']}: {b} → {a}")
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
