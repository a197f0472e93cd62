"""JSON documents: merge patch (RFC 7396), copying dotted paths, and a readable diff."""

from __future__ import annotations

import copy
from typing import Any

Json = Any
_MISSING = object()


def merge_patch(target: Json, patch: Json) -> Json:
    """RFC 7396: objects merge key by key, ``null`` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def get_path(doc: dict[str, Any], path: str) -> Any:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def copy_paths(source: dict[str, Any], target: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """``target`` with the value at each dotted path taken from ``source`` (a path absent
    from ``source`` is removed from the result, so the model default applies). A path
    goes through objects only (a null on the way becomes an object); ``ValueError`` if it
    would go through anything else (callers check paths first)."""
    result = copy.deepcopy(target)
    for path in paths:
        *parents, leaf = path.split(".")
        value = get_path(source, path)
        node = result
        for part in parents:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ValueError(f"{path}: {part} is not an object")
        if value is _MISSING:
            node.pop(leaf, None)
        else:
            node[leaf] = copy.deepcopy(value)
    return result


def diff(before: Json, after: Json, path: str = "", *, absent: Any = None) -> list[dict[str, Any]]:
    """Changed leaves as ``{"path", "before", "after"}`` (lists compare whole); a key on
    one side only counts as ``absent`` on the other (None: like a null)."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            changes.extend(
                diff(before.get(key, _MISSING), after.get(key, _MISSING), sub, absent=absent)
            )
        return changes
    before = absent if before is _MISSING else before
    after = absent if after is _MISSING else after
    if before == after:
        return []
    return [{"path": path or "(root)", "before": before, "after": after}]


def summarize(changes: list[dict[str, Any]], limit: int = 5) -> str:
    if not changes:
        return "no change"
    paths = [c["path"] for c in changes]
    shown = ", ".join(paths[:limit])
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return f"changed {shown}{more}"
