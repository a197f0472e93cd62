"""JSON documents: merge patch, copied paths, diffs (shared by the server and the CLI)."""

from __future__ import annotations

import pytest

from flow_engine.admin.jsondoc import copy_paths, diff, merge_patch

ABSENT = object()


def test_merge_patch_follows_rfc_7396() -> None:
    target = {"a": {"b": 1, "c": 2}, "d": [1, 2]}
    assert merge_patch(target, {"a": {"b": None, "e": 3}, "d": [3]}) == {
        "a": {"c": 2, "e": 3},
        "d": [3],
    }
    assert target == {"a": {"b": 1, "c": 2}, "d": [1, 2]}  # untouched


def test_copy_paths_takes_present_paths_and_drops_absent_ones() -> None:
    source = {"flow": {"call_center": True}, "queue": {"x": 1}}
    target = {"flow": {"call_center": False, "other": 1}, "hours": {"y": 2}}
    assert copy_paths(source, target, ["flow.call_center", "hours"]) == {
        "flow": {"call_center": True, "other": 1}
    }


def test_copy_paths_goes_through_nulls_and_refuses_to_go_through_values() -> None:
    assert copy_paths({"a": {"b": 1}}, {"a": None}, ["a.b"]) == {"a": {"b": 1}}
    with pytest.raises(ValueError, match=r"a\.b: a is not an object"):
        copy_paths({"a": {"b": 1}}, {"a": "text"}, ["a.b"])


def test_diff_lists_changed_leaves_and_marks_absent_keys() -> None:
    before = {"a": {"b": 1, "n": None}, "l": [1]}
    after = {"a": {"b": 2}, "l": [1], "z": 0}
    assert diff(before, after) == [
        {"path": "a.b", "before": 1, "after": 2},
        {"path": "z", "before": None, "after": 0},
    ]  # by default an absent key is like a null
    assert diff(before, after, absent=ABSENT) == [
        {"path": "a.b", "before": 1, "after": 2},
        {"path": "a.n", "before": None, "after": ABSENT},
        {"path": "z", "before": ABSENT, "after": 0},
    ]
