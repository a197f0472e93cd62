"""The access directory (compare-and-swap) and the audit log, on memory and on Redis."""

from __future__ import annotations

import asyncio

from flow_engine.storage.audit import AuditEntry
from flow_engine.storage.base import Storage


def entry(
    action: str,
    number: str | None = None,
    actor: str = "admin",
    at: float = 1.0,
    **details: object,
) -> AuditEntry:
    return AuditEntry(
        at=at, actor=actor, action=action, summary=f"did {action}", number=number, details=details
    )


async def test_directory_starts_empty(storage: Storage) -> None:
    assert await storage.directory.load() == (0, None)
    assert await storage.directory.current_version() == 0


async def test_swap_is_compare_and_swap(storage: Storage) -> None:
    first = [entry("member.create", target="m1")]
    assert await storage.directory.swap(0, '{"members": [1]}', first) == 1
    assert await storage.directory.load() == (1, '{"members": [1]}')
    assert await storage.directory.swap(1, '{"members": [1, 2]}', [entry("member.create")]) == 2
    # a writer that read version 1 lost the race: nothing written, audit included
    assert await storage.directory.swap(1, '{"members": []}', [entry("member.delete")]) is None
    assert await storage.directory.swap(5, '{"members": []}', [entry("member.delete")]) is None
    assert await storage.directory.load() == (2, '{"members": [1, 2]}')
    assert await storage.directory.current_version() == 2
    assert [e.action for e in await storage.audit.entries()] == ["member.create"] * 2


async def test_concurrent_swaps_from_one_version_let_one_win(storage: Storage) -> None:
    await storage.directory.swap(0, "v1", [])
    results = await asyncio.gather(
        *(storage.directory.swap(1, f"writer {i}", [entry("x", at=i)]) for i in range(5))
    )
    assert sorted(results, key=lambda r: r or 0) == [None, None, None, None, 2]
    version, document = await storage.directory.load()
    winner = results.index(2)
    assert (version, document) == (2, f"writer {winner}")
    assert [e.at for e in await storage.audit.entries()] == [winner]


async def test_audit_entries_round_trip_newest_first(storage: Storage) -> None:
    full = AuditEntry(
        at=12.5,
        actor="member:3",
        action="config.put",
        summary="FAQ edited",
        number="100",
        target="profile-1",
        details={"keys": ["faq"], "version": 4, "note": "ção"},
    )
    await storage.audit.append([entry("token.create"), full])
    await storage.audit.append([])
    assert await storage.audit.entries() == [full, entry("token.create")]


async def test_audit_filters(storage: Storage) -> None:
    await storage.audit.append(
        [
            entry("config.put", "100", at=1),
            entry("member.create", at=2),
            entry("config.bulk", "200", actor="member:9", at=3),
            entry("configure", "100", at=4),
            entry("config.put", "300", actor="member:9", at=5),
            entry("profile.update", at=6),
        ]
    )

    async def ats(**filters: object) -> list[float]:
        return [e.at for e in await storage.audit.entries(**filters)]  # type: ignore[arg-type]

    assert await ats() == [6, 5, 4, 3, 2, 1]
    assert await ats(numbers={"100"}) == [6, 4, 2, 1]
    assert await ats(numbers={"100", "300"}, include_global=False) == [5, 4, 1]
    assert await ats(include_global=False) == [5, 4, 3, 1]
    assert await ats(numbers=set()) == [6, 2]
    assert await ats(actor="member:9") == [5, 3]
    assert await ats(action="config.put") == [5, 1]
    assert await ats(action="config.*") == [5, 3, 1]  # not "configure"
    assert await ats(action="config.*", actor="admin") == [1]
    assert await ats(action="config.*", numbers={"200"}) == [3]
    assert await ats(action="nothing") == []


async def test_audit_paging_with_filters(storage: Storage) -> None:
    await storage.audit.append(
        [entry("config.put" if i % 3 else "member.create", at=i) for i in range(30)]
    )
    assert [e.at for e in await storage.audit.entries(limit=4)] == [29, 28, 27, 26]
    assert [e.at for e in await storage.audit.entries(limit=4, offset=27)] == [2, 1, 0]
    page = await storage.audit.entries(action="member.create", limit=3, offset=2)
    assert [e.at for e in page] == [21, 18, 15]
    page = await storage.audit.entries(action="member.create", limit=5, offset=8)
    assert [e.at for e in page] == [3, 0]
    assert await storage.audit.entries(action="member.create", offset=10) == []
    assert await storage.audit.entries(limit=0) == []


async def test_audit_scan_crosses_chunks(storage: Storage) -> None:
    if hasattr(type(storage.audit), "CHUNK"):
        storage.audit.CHUNK = 7  # type: ignore[attr-defined]
    await storage.audit.append(
        [entry("rare" if i % 10 == 0 else "common", at=i) for i in range(50)]
    )
    assert [e.at for e in await storage.audit.entries(action="rare", limit=3, offset=1)] == [
        30,
        20,
        10,
    ]
    assert [e.at for e in await storage.audit.entries(action="rare", limit=10)] == [
        40,
        30,
        20,
        10,
        0,
    ]
    page = await storage.audit.entries(limit=10, offset=38)
    assert [e.at for e in page] == list(range(11, 1, -1))


async def test_audit_is_capped(storage: Storage) -> None:
    storage.backend.audit_kept = 5
    await storage.audit.append([entry("a", at=i) for i in range(4)])
    await storage.configs.put("100", {})
    await storage.configs.commit([], [entry("b", at=4), entry("b", at=5)])
    await storage.directory.swap(0, "{}", [entry("c", at=6)])
    assert [e.at for e in await storage.audit.entries()] == [6, 5, 4, 3, 2]
