"""Versioned number configurations: every test runs on memory and on a real redis-server."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.base import Storage
from flow_engine.storage.configs import (
    ConfigChange,
    ConfigVersion,
    StaleVersions,
    config_digest,
    new_change,
)
from flow_engine.storage.redis import redis_storage


def audit(action: str, number: str | None = None, at: float = 1.0) -> AuditEntry:
    return AuditEntry(at=at, actor="admin", action=action, summary=action, number=number)


async def change(
    storage: Storage, number: str, config: dict[str, Any], source: str = "api", at: float = 10.0
) -> ConfigChange:
    head = await storage.configs.head(number)
    return new_change(
        head, number, config, author="member:7", summary="edit", source=source, at=at
    )


async def test_commit_writes_versions_newest_in_force(storage: Storage) -> None:
    c1 = await change(storage, "100", {"name": "A", "faq": {"q": 1}}, at=10.0)
    (v1,) = await storage.configs.commit([c1])
    assert v1 == ConfigVersion(
        number="100",
        version=1,
        config={"name": "A", "faq": {"q": 1}},
        author="member:7",
        at=10.0,
        summary="edit",
        source="api",
        digest=config_digest({"name": "A", "faq": {"q": 1}}),
        changed_at={"name": 10.0, "faq": 10.0},
    )
    c2 = await change(storage, "100", {"name": "B", "faq": {"q": 1}}, source="bulk", at=20.0)
    assert c2.expected_version == 1
    (v2,) = await storage.configs.commit([c2])
    assert v2.version == 2 and v2.source == "bulk"
    assert v2.changed_at == {"name": 20.0, "faq": 10.0}  # carried over for unchanged keys

    assert await storage.configs.get("100") == {"name": "B", "faq": {"q": 1}}
    assert await storage.configs.head("100") == v2
    assert await storage.configs.version("100", 1) == v1
    assert await storage.configs.version("100", 2) == v2
    for missing in (0, 3, -1):
        assert await storage.configs.version("100", missing) is None
    assert await storage.configs.version("999", 1) is None
    assert await storage.configs.numbers() == ["100"]


async def test_versions_page_newest_first(storage: Storage) -> None:
    for i in range(1, 8):
        await storage.configs.commit([await change(storage, "100", {"i": i})])
    assert [v.version for v in await storage.configs.versions("100")] == [7, 6, 5, 4, 3, 2, 1]
    assert [v.version for v in await storage.configs.versions("100", limit=3)] == [7, 6, 5]
    page = await storage.configs.versions("100", limit=3, offset=3)
    assert [v.version for v in page] == [4, 3, 2]
    assert [v.config["i"] for v in page] == [4, 3, 2]
    page = await storage.configs.versions("100", limit=3, offset=5)
    assert [v.version for v in page] == [2, 1]
    assert await storage.configs.versions("100", limit=3, offset=7) == []
    assert await storage.configs.versions("100", limit=3, offset=70) == []
    assert await storage.configs.versions("100", limit=0) == []
    assert await storage.configs.versions("999") == []


async def test_heads_of_many_numbers_leave_absent_ones_out(storage: Storage) -> None:
    for n in ("100", "200", "300"):
        await storage.configs.put(n, {"n": n})
    await storage.configs.put("200", {"n": "200", "again": True})
    heads = await storage.configs.heads(["300", "200", "404", "100"])
    assert sorted(heads) == ["100", "200", "300"]
    assert heads["200"].version == 2 and heads["200"].config == {"n": "200", "again": True}
    assert heads["100"].version == 1
    assert await storage.configs.heads([]) == {}
    assert await storage.configs.head("404") is None


async def test_get_raw_is_exactly_the_config_in_force(storage: Storage) -> None:
    config = {"name": "Ação", "nested": {"list": [1, 2.5, None, "x"]}, "flag": False}
    await storage.configs.put("100", {"old": 1})
    version = await storage.configs.put("100", config)
    raw = await storage.configs.get_raw("100")
    assert raw is not None and json.loads(raw) == config == version.config
    assert config_digest(json.loads(raw)) == version.digest
    assert await storage.configs.get_raw("200") is None


async def test_stored_state_cannot_be_mutated_by_callers(storage: Storage) -> None:
    config: dict[str, Any] = {"faq": {"questions": ["a"]}}
    version = await storage.configs.put("100", config)
    config["faq"]["questions"].append("mutated input")
    version.config["faq"]["questions"].append("mutated output")
    head = await storage.configs.head("100")
    assert head is not None and head.config == {"faq": {"questions": ["a"]}}
    head.config["faq"] = None
    assert await storage.configs.get("100") == {"faq": {"questions": ["a"]}}
    again = await storage.configs.version("100", 1)
    assert again is not None and again.config == {"faq": {"questions": ["a"]}}


async def test_bulk_commit_with_one_stale_number_writes_nothing(storage: Storage) -> None:
    await storage.configs.put("n07", {"v": "before"})
    await storage.configs.put("n07", {"v": "moved on"})  # now at version 2
    numbers = [f"n{i:02d}" for i in range(40)]
    changes = []
    for n in numbers:
        expected = 1 if n == "n07" else 0  # n07 was read at version 1: stale
        changes.append(
            ConfigChange(
                number=n,
                expected_version=expected,
                config={"v": "bulk"},
                author="admin",
                summary="bulk",
                source="bulk",
                at=5.0,
                digest=config_digest({"v": "bulk"}),
            )
        )
    with pytest.raises(StaleVersions) as err:
        await storage.configs.commit(changes, [audit("config.bulk")])
    assert err.value.actual == {"n07": 2}
    assert await storage.configs.numbers() == ["n07"]
    assert await storage.configs.get("n07") == {"v": "moved on"}
    assert await storage.configs.heads(numbers) == {"n07": (await storage.configs.head("n07"))}
    assert [v.version for v in await storage.configs.versions("n07")] == [2, 1]
    assert await storage.audit.entries() == []

    # fixed up, the same bulk goes through whole
    fixed = [replace(c, expected_version=2) if c.number == "n07" else c for c in changes]
    written = await storage.configs.commit(fixed, [audit("config.bulk")])
    assert [(v.number, v.version) for v in written] == [
        (n, 3 if n == "n07" else 1) for n in numbers
    ]
    assert await storage.configs.numbers() == numbers
    heads = await storage.configs.heads(numbers)
    assert all(h.config == {"v": "bulk"} for h in heads.values()) and len(heads) == 40
    assert [e.action for e in await storage.audit.entries()] == ["config.bulk"]


async def test_stale_versions_report_every_stale_number(storage: Storage) -> None:
    await storage.configs.put("100", {"a": 1})
    stale = [
        ConfigChange("100", 0, {"a": 2}, "x", "s", "api", 1.0, config_digest({"a": 2})),
        ConfigChange("200", 3, {"b": 2}, "x", "s", "api", 1.0, config_digest({"b": 2})),
        ConfigChange("300", 0, {"c": 2}, "x", "s", "api", 1.0, config_digest({"c": 2})),
    ]
    with pytest.raises(StaleVersions) as err:
        await storage.configs.commit(stale)
    assert err.value.actual == {"100": 1, "200": 0}
    assert await storage.configs.numbers() == ["100"]


async def test_two_changes_of_one_number_are_refused(storage: Storage) -> None:
    c = await change(storage, "100", {"a": 1})
    with pytest.raises(ValueError, match="two changes"):
        await storage.configs.commit([c, c])
    assert await storage.configs.numbers() == []


async def test_commit_appends_its_audit_entries(storage: Storage) -> None:
    entries = [audit("config.put", "100", at=1.0), audit("config.put", "200", at=2.0)]
    written = await storage.configs.commit(
        [await change(storage, "100", {"a": 1}), await change(storage, "200", {"b": 1})],
        entries,
    )
    assert [v.number for v in written] == ["100", "200"]
    assert await storage.audit.entries() == entries[::-1]  # newest first
    assert await storage.configs.commit([], [audit("config.noop")]) == []
    assert (await storage.audit.entries())[0].action == "config.noop"


async def test_put_retries_when_another_writer_gets_there_first(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await storage.configs.put("100", {"a": 1})
    real = storage.configs.commit
    calls: list[int] = []

    async def racing(
        changes: list[ConfigChange], audit: list[AuditEntry] | None = None
    ) -> list[ConfigVersion]:
        calls.append(len(changes))
        if len(calls) == 1:  # someone else commits version 2 between head() and commit()
            await real([await change(storage, "100", {"other": 1})])
        return await real(changes, audit)

    monkeypatch.setattr(storage.configs, "commit", racing)
    version = await storage.configs.put("100", {"a": 2}, author="seed")
    assert len(calls) == 2
    assert version.version == 3 and version.author == "seed" and version.source == "system"
    assert await storage.configs.get("100") == {"a": 2}
    assert [v.config for v in await storage.configs.versions("100")] == [
        {"a": 2},
        {"other": 1},
        {"a": 1},
    ]


async def test_redis_keeps_admin_data_in_one_slot(redis_url: str) -> None:
    storage = redis_storage(redis_url, partitions=8)
    await storage.configs.put("100", {"a": 1})
    await storage.audit.append([audit("member.create")])
    await storage.directory.swap(0, "{}", [])
    r = storage.backend.r
    keys = sorted(k.decode() for k in await r.keys("*"))
    assert keys == [
        "fe:{admin}:audit",
        "fe:{admin}:cfg:100",
        "fe:{admin}:cfggen",
        "fe:{admin}:cfgv:100",
        "fe:{admin}:dir",
        "fe:{admin}:dirv",
        "fe:{admin}:numbers",
    ]
    assert json.loads(await r.get("fe:{admin}:cfg:100")) == {"a": 1}
    assert await r.llen("fe:{admin}:cfgv:100") == 1
    await storage.close()
