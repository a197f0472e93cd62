"""Issue 9, defects 1 and 3: the ``paths`` of a bulk edit from a reference are field paths
of the configuration, checked before anything is copied — a list index, a path below a
leaf, an unknown field or one that may not be copied is a 422 naming it; never a 5xx, never
a silent "changed 0". A fuzz test over random paths (through the real HTTP route on
loopback) finds no 5xx."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from flow_engine.admin.config_paths import copy_problem, field_paths
from flow_engine.admin.configs import HUMAN_SERVICE_PATHS, REFERENCE_PATHS
from tests.admin.conftest import ADMIN_TOKEN, NUMBERS, AdminClient

A, B, C, D, E = NUMBERS


async def reference_with_content(admin: AdminClient) -> None:
    """A differs from the others in lists and nested fields, so a copy changes something."""
    ref = await admin.call("GET", f"/numbers/{A}/config")
    config = {
        **ref.body["config"],
        "faq": {
            "enabled": True,
            "intro": "Elija una opción",
            "questions": [
                {"question": "Horario", "answer": "9 a 18"},
                {"question": "Envíos", "answer": "A todo el país"},
            ],
        },
        "queue": {"queues": [{"name": "Ventas", "attendants": ["ana@example.com"]}]},
        "desk": {"tags": ["vip"], "active_messaging": {"enabled": False}},
    }
    r = await admin.call("PUT", f"/numbers/{A}/config", config, headers={"If-Match": ref.etag})
    assert r.status == 200, r.body


async def bulk(admin: AdminClient, paths: list[str], **extra: Any) -> Any:
    body = {"numbers": [B, C], "reference": A, "paths": paths, "dry_run": True, **extra}
    return await admin.call("POST", "/config/bulk", body)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("faq.questions.0", "a list is copied whole"),
        ("queue.attendants.1", "a list is copied whole"),
        ("faq.intro.x", "faq.intro has no fields"),
        ("flow.call_center.on.off", "flow.call_center has no fields"),
    ],
)
async def test_a_list_index_or_a_path_below_a_leaf_is_a_422_naming_it(
    admin: AdminClient, path: str, why: str
) -> None:
    await reference_with_content(admin)
    for dry_run in (True, False):
        forced = {} if dry_run else {"force": True}
        r = await bulk(admin, ["faq.enabled", path], dry_run=dry_run, **forced)
        assert r.status == 422, r.body
        (detail,) = r.body["error"]["details"]
        assert detail["field"] == "paths.1"
        assert detail["path"] == path
        assert why in detail["message"]
    assert (await admin.storage.configs.heads([B, C]))[B].version == 1


async def test_unknown_paths_and_paths_that_may_not_be_copied_are_named_each(
    admin: AdminClient,
) -> None:
    await reference_with_content(admin)
    paths = [
        "fqa",
        "",
        "desk.active_messaging",
        "desk.active_messaging.enabled",
        "desk",
        "phone_number_id",
        "display_phone_number",
        "name",
        "faq.",
        ".faq",
        "faq..intro",
        "faq.intro",  # the one good path
    ]
    r = await bulk(admin, paths)
    assert r.status == 422, r.body
    details = r.body["error"]["details"]
    assert [d["field"] for d in details] == [f"paths.{i}" for i in range(len(paths) - 1)]
    by_path = {d["path"]: d for d in details}
    assert "not a field of the configuration" in by_path["fqa"]["message"]
    assert by_path["fqa"]["type"] == "unknown_path"
    assert by_path[""]["type"] == "empty_path"
    for never in ("desk.active_messaging", "desk.active_messaging.enabled", "name"):
        assert by_path[never]["type"] == "not_copyable", never
    assert "desk.active_messaging" in by_path["desk"]["message"]  # copying desk would copy it
    assert "desk.tags" in by_path["desk"]["message"]  # what to name instead
    assert by_path["faq..intro"]["type"] == "empty_path"


async def test_a_good_nested_path_copies_exactly_that_field(admin: AdminClient) -> None:
    await reference_with_content(admin)
    r = await bulk(admin, ["faq.intro", "desk.tags", "queue.queues"])
    assert r.status == 200, r.body
    assert r.body["changed"] == 2
    changed = {c["path"] for c in r.body["numbers"][0]["changes"]}
    assert changed == {"faq.intro", "desk.tags", "queue.queues"}


async def test_the_default_paths_are_valid_and_copy_the_lists(admin: AdminClient) -> None:
    await reference_with_content(admin)
    r = await admin.call("POST", "/config/bulk", {"numbers": [B], "reference": A, "dry_run": True})
    assert r.status == 200, r.body
    changed = {c["path"] for c in r.body["numbers"][0]["changes"]}
    assert {"faq.questions", "faq.intro", "queue.queues", "desk.tags"} <= changed


def test_the_field_paths_are_those_of_the_model() -> None:
    known = field_paths()
    assert {"faq", "faq.questions", "hours.weekdays.monday", "desk.tags"} <= known
    assert "faq.questions.0" not in known and "fqa" not in known


def test_the_paths_the_engine_copies_itself_are_copyable() -> None:
    for path in [*REFERENCE_PATHS, *HUMAN_SERVICE_PATHS]:
        assert copy_problem(path) is None, path


# --- fuzzing ------------------------------------------------------------------------------

SEGMENTS = sorted({part for p in field_paths() for part in p.split(".")})


def random_path() -> st.SearchStrategy[str]:
    segment = st.one_of(
        st.sampled_from(SEGMENTS),
        st.integers(min_value=-2, max_value=12).map(str),
        st.text(max_size=6),
        st.just(""),
    )
    built = st.lists(segment, min_size=1, max_size=5).map(".".join)
    known = st.sampled_from(sorted(field_paths()))
    deeper = st.tuples(known, segment).map(".".join)
    return st.one_of(known, built, deeper)


def fuzz_paths(base_url: str, examples: int) -> list[str]:
    """Random ``paths`` (dry run and apply) against the real route: every answer is a 200
    whose changes lie under the paths asked, or a 422 naming a path; never a 5xx."""
    failures: list[str] = []
    session = requests.Session()
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(paths=st.lists(random_path(), min_size=1, max_size=4), dry_run=st.booleans())
    def each(paths: list[str], dry_run: bool) -> None:
        body = {"numbers": [B, C], "reference": A, "paths": paths, "dry_run": dry_run}
        if not dry_run:
            body["force"] = True
        reply = session.post(f"{base_url}/api/v1/config/bulk", json=body, headers=auth, timeout=10)
        answer = reply.json()
        if reply.status_code == 200:
            for number in answer["numbers"]:
                for change in number["changes"]:
                    if not any(
                        change["path"] == p or change["path"].startswith(p + ".") for p in paths
                    ):
                        failures.append(f"{paths}: changed {change['path']}, not asked")
        elif reply.status_code == 422:
            details = answer["error"]["details"]
            named = all(str(d.get("field")).startswith("paths.") for d in details)
            # or a copy that makes a number invalid, named by its number and field
            per_number = all("number" in d and "field" in d for d in details)
            if not (named or per_number):
                failures.append(f"{paths}: 422 without the path: {answer}")
        else:
            failures.append(f"{paths} (dry_run={dry_run}) -> {reply.status_code} {reply.text}")

    each()
    session.close()
    return failures


async def test_random_paths_never_answer_a_server_error(admin: AdminClient) -> None:
    await reference_with_content(admin)
    base_url = str(admin.client.make_url("")).rstrip("/")
    failures = await asyncio.to_thread(fuzz_paths, base_url, 200)
    assert not failures, "\n".join(failures[:20])
