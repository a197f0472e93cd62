"""The data rollups (R-DATA): per number and local day, vectors of lanes
(``domain/facts.py``), and the contacts active per month.

Facts reach the rollups in the atomic step of the change that causes them:

- a ticket change (``TicketStore.create`` / ``update``) applies its facts with the
  ticket's own script, in the number's slot;
- a conversation commit (``ConversationStore.commit(facts=…)``) and an outbox
  completion (``Outbox.complete(facts=…)``) append theirs to the partition's *fact
  stream*, in the partition's slot; :meth:`Rollups.fold` later moves them into the
  numbers' rollups, each number in one atomic step that also records how far it got in
  that stream (a cursor per number and partition), so a fold that runs twice, or two
  folds racing, count every fact exactly once.

Two backends (``memory_rollups.py``, ``redis_rollups.py``) pass one contract suite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field

from flow_engine.domain.facts import WIDTH, ActiveKind, Facts, Part

#: facts folded per call of :meth:`Rollups.fold`
FOLD_BATCH = 500
#: how long :meth:`Rollups.apply_once` remembers a mark (30 days)
MARK_TTL_S = 30 * 24 * 3600
ALL_PARTS: frozenset[Part] = frozenset({"d", "q", "n"})


@dataclass
class DayRollup:
    """One local day of one number: ``d`` its totals (:data:`~flow_engine.domain.facts.
    DAY_LAYOUT`), ``q`` per queue, ``n`` per ``"<template>|<region>"``."""

    day: str
    d: list[int] = field(default_factory=lambda: [0] * WIDTH["d"])
    q: dict[str, list[int]] = field(default_factory=dict)
    n: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Summed:
    """Rollups of a report summed: ``series`` the day lanes per bucket (over every number
    and day of it), ``by_number`` the day lanes per number over the period, ``blocks`` per
    part (``q``, ``n``) and block name, over every number and day."""

    series: list[list[int]]
    by_number: dict[str, list[int]]
    blocks: dict[str, dict[str, list[int]]]


def sum_rows(
    rows: dict[str, list[DayRollup]], buckets: list[tuple[str, ...]], parts: frozenset[Part]
) -> Summed:
    """:class:`Summed` from rows of :meth:`Rollups.read` (the plain way)."""
    width = WIDTH["d"]
    bucket_of = {day: i for i, days in enumerate(buckets) for day in days}
    series = [[0] * width for _ in buckets]
    by_number: dict[str, list[int]] = {}
    blocks: dict[str, dict[str, list[int]]] = {p: {} for p in parts if p != "d"}
    for number, days in rows.items():
        mine = by_number.setdefault(number, [0] * width)
        for row in days:
            point = series[bucket_of[row.day]]
            for i, v in enumerate(row.d):
                point[i] += v
                mine[i] += v
            for part, found in (("q", row.q), ("n", row.n)):
                if part not in blocks:
                    continue
                for name, lanes in found.items():
                    total = blocks[part].setdefault(name, [0] * WIDTH[part])
                    for i, v in enumerate(lanes):
                        total[i] += v
    return Summed(series, by_number, blocks)


def next_fact_id(fact_id: str) -> str:
    """The smallest stream id after ``fact_id`` (``ms-seq``)."""
    ms, _, seq = fact_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def fact_order(fact_id: str) -> tuple[int, int]:
    ms, _, seq = fact_id.partition("-")
    return int(ms), int(seq or 0)


class Rollups(ABC):
    @abstractmethod
    async def fold(self, partition: int, limit: int = FOLD_BATCH) -> int:
        """Fold up to ``limit`` of the oldest facts of the partition's fact stream into
        the numbers' rollups, then drop them from the stream; returns how many. Safe to
        run twice or concurrently (see the module docstring)."""

    @abstractmethod
    async def apply_once(self, mark: str, facts: Facts) -> bool:
        """Apply ``facts`` to their number's rollups now, once per ``mark`` (kept
        :data:`MARK_TTL_S`): the same mark again records nothing and returns False. For
        facts whose change lives in another store (a notification's statuses), recorded
        before that change is saved, so a retry neither loses nor doubles them."""

    @abstractmethod
    async def pending(self, partition: int) -> int:
        """Facts of the partition not folded yet."""

    @abstractmethod
    async def read(
        self, numbers: Collection[str], days: list[str], parts: frozenset[Part] = ALL_PARTS
    ) -> dict[str, list[DayRollup]]:
        """Per number, one :class:`DayRollup` per day of ``days`` (in that order; zeros
        where nothing happened), with the ``parts`` asked for."""

    async def summed(
        self,
        numbers: Collection[str],
        buckets: list[tuple[str, ...]],
        parts: frozenset[Part] = ALL_PARTS,
    ) -> Summed:
        """The rollups of ``numbers`` over the days of ``buckets``, summed (what every
        report needs); the same as summing :meth:`read`, which is what this does."""
        days = [day for bucket in buckets for day in bucket]
        return sum_rows(await self.read(numbers, days, parts), buckets, parts)

    @abstractmethod
    async def actives(self, numbers: Collection[str], month: str, kind: ActiveKind) -> int:
        """How many distinct contacts were active (``kind``) in ``month`` on any of
        ``numbers``: exact in memory, HyperLogLog on Redis (error under 1 %)."""
