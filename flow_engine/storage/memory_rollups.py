"""The data rollups in this process: the same facts, cursors and lanes as Redis, with
exact sets for the active contacts."""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field

from flow_engine.domain.facts import WIDTH, ActiveKind, Facts, Part, day_expiry, month_expiry
from flow_engine.storage.memory_backend import MemoryBackend
from flow_engine.storage.rollups import (
    ALL_PARTS,
    FOLD_BATCH,
    MARK_TTL_S,
    DayRollup,
    Rollups,
    fact_order,
)

#: applies between two sweeps of the days past their retention
SWEEP_EVERY = 10_000


@dataclass
class RollupState:
    """Everything the memory rollups hold, shared by the stores of one backend."""

    streams: dict[int, OrderedDict[str, str]] = field(default_factory=dict)
    seq: int = 0
    #: (number, part, day) -> block -> lanes; the block of part d is ""
    days: dict[tuple[str, str, str], dict[str, list[int]]] = field(default_factory=dict)
    cursors: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    actives: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    applied: int = 0

    def append(self, partition: int, facts: Facts | None) -> None:
        """Append to the partition's fact stream (in the caller's atomic step)."""
        if not facts:
            return
        self.seq += 1
        self.streams.setdefault(partition, OrderedDict())[f"0-{self.seq}"] = facts.to_json()

    def apply(self, facts: Facts) -> None:
        """Apply ``facts`` now: lanes never go below zero; days and months past their
        retention are not kept."""
        now = time.time()
        for inc in facts.increments:
            if day_expiry(inc.day) <= now:
                continue
            blocks = self.days.setdefault((facts.number, inc.part, inc.day), {})
            lanes = blocks.setdefault(inc.block, [0] * WIDTH[inc.part])
            lanes[inc.lane] = max(0, lanes[inc.lane] + inc.delta)
        for a in facts.actives:
            if month_expiry(a.month) > now:
                self.actives.setdefault((facts.number, a.kind, a.month), set()).add(a.contact)
        self.applied += 1
        if self.applied % SWEEP_EVERY == 0:
            self.sweep(now)

    def sweep(self, now: float) -> None:
        for key in [k for k in self.days if day_expiry(k[2]) <= now]:
            del self.days[key]
        for key in [k for k in self.actives if month_expiry(k[2]) <= now]:
            del self.actives[key]


_STATES: weakref.WeakKeyDictionary[MemoryBackend, RollupState] = weakref.WeakKeyDictionary()


def state_of(b: MemoryBackend) -> RollupState:
    """The rollup state of a backend (every store built on it shares it)."""
    return _STATES.setdefault(b, RollupState())


class MemoryRollups(Rollups):
    def __init__(self, b: MemoryBackend) -> None:
        self.b = b
        self.s = state_of(b)

    async def fold(self, partition: int, limit: int = FOLD_BATCH) -> int:
        stream = self.s.streams.get(partition)
        if not stream:
            return 0
        batch = list(stream.items())[:limit]
        for fact_id, raw in batch:
            facts = Facts.from_json(raw)
            order = fact_order(fact_id)
            cursor = (facts.number, partition)
            if self.s.cursors.get(cursor, (-1, -1)) >= order:
                continue  # folded already
            self.s.apply(facts)
            self.s.cursors[cursor] = order
        for fact_id, _raw in batch:
            del stream[fact_id]
        return len(batch)

    async def apply_once(self, mark: str, facts: Facts) -> bool:
        if not self.b.mark(f"rollup_once:{facts.number}:{mark}", MARK_TTL_S):
            return False
        self.s.apply(facts)
        return True

    async def pending(self, partition: int) -> int:
        return len(self.s.streams.get(partition, ()))

    async def read(
        self, numbers: Collection[str], days: list[str], parts: frozenset[Part] = ALL_PARTS
    ) -> dict[str, list[DayRollup]]:
        out: dict[str, list[DayRollup]] = {}
        for number in numbers:
            rows = []
            for day in days:
                row = DayRollup(day)
                if "d" in parts:
                    row.d = list(self.s.days.get((number, "d", day), {}).get("", row.d))
                if "q" in parts:
                    row.q = _copy(self.s.days.get((number, "q", day), {}))
                if "n" in parts:
                    row.n = _copy(self.s.days.get((number, "n", day), {}))
                rows.append(row)
            out[number] = rows
        return out

    async def actives(self, numbers: Collection[str], month: str, kind: ActiveKind) -> int:
        union: set[str] = set()
        for number in numbers:
            union |= self.s.actives.get((number, kind, month), set())
        return len(union)


def _copy(blocks: dict[str, list[int]]) -> dict[str, list[int]]:
    return {name: list(lanes) for name, lanes in blocks.items() if any(lanes)}
