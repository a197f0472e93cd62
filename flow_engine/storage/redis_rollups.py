"""The data rollups in Redis.

Per number (slot ``{n<number>}``, ``keys.py``): one string per part and local month whose
64-bit lanes are counted with ``BITFIELD INCRBY`` (``rollup``): block ``b`` of day ``i``
of the month (0-based) starts at lane ``(b * 31 + i) * width``; a hash numbers the blocks
(queues, template|region) of the number (``rollup_blocks``); a HyperLogLog per month and
kind of active contact (``actives``); the fold cursors (``rollup_cursor``). A month's
strings expire :data:`~flow_engine.domain.facts.KEPT_DAYS` after its last day. A report
over 90 days reads 4 strings per part and number — few keys to send, whatever the days.

Every script touches keys of one slot; a union of the active contacts of several numbers
copies their HyperLogLogs into scratch keys of one slot first (``ACTIVES_UNION``).
"""

from __future__ import annotations

import json
import struct
import time
import uuid
import weakref
from collections.abc import Collection
from typing import Any

from flow_engine.domain.facts import (
    WIDTH,
    ActiveKind,
    Facts,
    Part,
    month_days_expiry,
    month_expiry,
)
from flow_engine.storage import redis_scripts
from flow_engine.storage.keys import KeyBuilder
from flow_engine.storage.redis_backend import RedisBackend, text
from flow_engine.storage.rollups import (
    ALL_PARTS,
    FOLD_BATCH,
    MARK_TTL_S,
    DayRollup,
    Rollups,
    Summed,
    next_fact_id,
)

PART_ORDER: tuple[Part, ...] = ("d", "q", "n")


class ExpiryMemo:
    """The rollup keys this process has given their expiry (EXPIREAT) already: a plan
    leaves them out, which spares two commands per key and fact. Forgotten every day, so
    a key that expired and came back gets its expiry again."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.day = 0

    def fresh(self) -> set[str]:
        today = int(time.time() // 86400)
        if today != self.day:
            self.keys, self.day = set(), today
        return self.keys


_MEMOS: weakref.WeakKeyDictionary[RedisBackend, ExpiryMemo] = weakref.WeakKeyDictionary()


def expiry_memo(b: RedisBackend) -> ExpiryMemo:
    return _MEMOS.setdefault(b, ExpiryMemo())


class PlanBuilder:
    """Turns the facts of one number into the plans of ``redis_scripts.ROLLUP_APPLY``,
    collecting the keys they touch after the script's ``fixed`` keys. With a ``memo``,
    keys given their expiry before are not given it again; :meth:`done` records those of
    this plan once its script ran."""

    def __init__(
        self, keys: KeyBuilder, number: str, fixed: list[str], memo: ExpiryMemo | None = None
    ) -> None:
        self.k = keys
        self.number = number
        self.keys = list(fixed)
        self._index = {key: i + 1 for i, key in enumerate(self.keys)}
        self.memo = memo
        self._known = memo.fresh() if memo is not None else set()
        self.expiring: set[str] = set()

    def done(self) -> None:
        if self.memo is not None:
            self.memo.fresh().update(self.expiring)

    def _expire(self, expiries: dict[int, int], index: int, at: int) -> None:
        key = self.keys[index - 1]
        if key not in self._known:
            expiries[index] = at
            self.expiring.add(key)

    def key(self, name: str) -> int:
        if name not in self._index:
            self.keys.append(name)
            self._index[name] = len(self.keys)
        return self._index[name]

    def plan(self, facts: Facts | None) -> str:
        if not facts:
            return ""
        if facts.number != self.number:
            raise ValueError(f"facts of {facts.number} in a plan of {self.number}")
        lanes: list[list[Any]] = []
        expiries: dict[int, int] = {}
        now = time.time()
        for inc in facts.increments:
            month = inc.day[:7]
            if month_days_expiry(month) <= now:
                continue  # past the retention: not kept (as in memory)
            index = self.key(self.k.rollup(self.number, inc.part, month))
            lanes.append([index, inc.part, inc.block, int(inc.day[8:10]) - 1, inc.lane, inc.delta])
            if index not in expiries:
                self._expire(expiries, index, month_days_expiry(month))
        actives: list[list[Any]] = []
        for a in facts.actives:
            if month_expiry(a.month) <= now:
                continue
            index = self.key(self.k.actives(self.number, a.kind, a.month))
            actives.append([index, a.contact])
            if index not in expiries:
                self._expire(expiries, index, month_expiry(a.month))
        doc = {"i": lanes, "a": actives, "x": [[k, at] for k, at in expiries.items()]}
        return json.dumps(doc, separators=(",", ":"))


def block_names(blocks: list[Any]) -> dict[str, dict[int, str]]:
    """The blocks hash (flat) as part -> block index -> name."""
    names: dict[str, dict[int, str]] = {"q": {}, "n": {}}
    for i in range(0, len(blocks), 2):
        part, sep, name = text(blocks[i]).partition("|")
        if sep and part in names:
            names[part][int(blocks[i + 1])] = name
    return names


def sizes_of(lengths: bytes) -> list[int]:
    return [int(x) for x in text(lengths).split(",")] if lengths else []


MONTH_DAYS = 31


class MonthStrings:
    """One number's reply of ``ROLLUP_READ``: its month strings per (month, part), sliced
    per day and block."""

    def __init__(self, reply: list[Any], months: list[str], parts: list[Part]) -> None:
        flat, lengths, blob = reply
        self.names = block_names(flat)
        self.strings: dict[tuple[str, Part], bytes] = {}
        pos = 0
        sizes = iter(sizes_of(lengths))
        for month in months:
            for part in parts:
                n = next(sizes)
                self.strings[(month, part)] = blob[pos : pos + n]
                pos += n

    def day(self, day: str, part: Part) -> bytes:
        """The block of part d of ``day`` (b"" when nothing happened)."""
        step = WIDTH[part] * 8
        at = (int(day[8:10]) - 1) * step
        return self.strings[(day[:7], part)][at : at + step]

    def blocks(self, day: str, part: Part) -> list[tuple[str, bytes]]:
        """The named blocks of part q or n of ``day`` that hold anything."""
        raw = self.strings[(day[:7], part)]
        step = WIDTH[part] * 8
        i = int(day[8:10]) - 1
        found = []
        for b, name in self.names[part].items():
            at = (b * MONTH_DAYS + i) * step
            chunk = raw[at : at + step]
            if chunk.strip(b"\0"):
                found.append((name, chunk))
        return found


def range_sum(raw: bytes, first: int, last: int, part: Part) -> list[int] | None:
    """The lane-wise sum of blocks ``first``..``last`` of ``raw`` (None: all zero)."""
    width = WIDTH[part]
    step = width * 8
    chunk = raw[first * step : (last + 1) * step]
    if not chunk.strip(b"\0"):
        return None
    count = last - first + 1
    values = struct.unpack(f">{count * width}q", chunk.ljust(count * step, b"\0"))
    return [sum(values[lane::width]) for lane in range(width)]


def unpack(chunk: bytes, part: Part) -> list[int]:
    width = WIDTH[part]
    return list(struct.unpack(f">{width}q", chunk.ljust(width * 8, b"\0")))


def months_of(days: list[str]) -> list[str]:
    return list(dict.fromkeys(day[:7] for day in days))


class RedisRollups(Rollups):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys
        self.fold_script = b.script(redis_scripts.ROLLUP_FOLD)
        self.read_script = b.script(redis_scripts.ROLLUP_READ)
        self.union_script = b.script(redis_scripts.ACTIVES_UNION)
        self.once_script = b.script(redis_scripts.ROLLUP_ONCE)

    async def apply_once(self, mark: str, facts: Facts) -> bool:
        n = facts.number
        plans = PlanBuilder(
            self.k, n, [self.k.rollup_mark(n, mark), self.k.rollup_blocks(n)], expiry_memo(self.b)
        )
        plan = plans.plan(facts)
        applied = int(await self._run_once(plans.keys, plan))
        if applied:
            plans.done()
        return bool(applied)

    async def _run_once(self, keys: list[str], plan: str) -> Any:
        return await self.b.batch.script(self.once_script, keys, [MARK_TTL_S, plan])

    async def fold(self, partition: int, limit: int = FOLD_BATCH) -> int:
        stream = self.k.facts(partition)
        entries: Any = await self.b.batch.call(lambda pipe: pipe.xrange(stream, count=limit))
        if not entries:
            return 0
        by_number: dict[str, list[tuple[str, Facts]]] = {}
        for eid, fields in entries:
            facts = Facts.from_json(fields[b"f"])
            by_number.setdefault(facts.number, []).append((text(eid), facts))
        calls = []
        builders = []
        memo = expiry_memo(self.b)
        for number, items in by_number.items():
            plans = PlanBuilder(
                self.k, number, [self.k.rollup_blocks(number), self.k.rollup_cursor(number)], memo
            )
            builders.append(plans)
            args: list[Any] = [partition]
            for fact_id, facts in items:
                ms, _, seq = fact_id.partition("-")
                args += [ms, seq or "0", plans.plan(facts)]
            calls.append((plans.keys, args))
        await self.b.run_pipelined(self.fold_script, calls)
        for plans in builders:
            plans.done()
        last = next_fact_id(text(entries[-1][0]))
        await self.b.batch.call(lambda pipe: pipe.xtrim(stream, minid=last, approximate=False))
        return len(entries)

    async def pending(self, partition: int) -> int:
        return int(await self.b.r.xlen(self.k.facts(partition)))

    async def _raw(
        self, numbers: list[str], months: list[str], parts: list[Part]
    ) -> list[MonthStrings]:
        """``ROLLUP_READ`` of every number, in one round trip."""
        calls: list[tuple[list[str], list[Any]]] = []
        for number in numbers:
            keys = [self.k.rollup_blocks(number)]
            keys += [self.k.rollup(number, part, month) for month in months for part in parts]
            calls.append((keys, []))
        replies = await self.b.run_pipelined(self.read_script, calls) if calls else []
        return [MonthStrings(r, months, parts) for r in replies]

    async def read(
        self, numbers: Collection[str], days: list[str], parts: frozenset[Part] = ALL_PARTS
    ) -> dict[str, list[DayRollup]]:
        ordered = [p for p in PART_ORDER if p in parts]
        numbers = list(numbers)
        out: dict[str, list[DayRollup]] = {}
        replies = await self._raw(numbers, months_of(days), ordered)
        for number, got in zip(numbers, replies, strict=True):
            rows = []
            for day in days:
                row = DayRollup(day)
                if "d" in parts:
                    row.d = unpack(got.day(day, "d"), "d")
                if "q" in parts:
                    row.q = {name: unpack(c, "q") for name, c in got.blocks(day, "q")}
                if "n" in parts:
                    row.n = {name: unpack(c, "n") for name, c in got.blocks(day, "n")}
                rows.append(row)
            out[number] = rows
        return out

    async def summed(
        self,
        numbers: Collection[str],
        buckets: list[tuple[str, ...]],
        parts: frozenset[Part] = ALL_PARTS,
    ) -> Summed:
        """The day totals are summed as big integers: a day's block read as one unsigned
        integer holds its lanes side by side (64 bits each, big-endian), so adding those
        integers adds every lane at once, at C speed. Lanes are never negative and a
        lane's sum over a report stays far below 2**64 (a duration sum of 584 million
        years of ms), so no lane carries into the next; decoding checks the total still
        fits. The blocks (queues, template|region) are summed over the whole period, each
        month's days in one unpack."""
        ordered = [p for p in PART_ORDER if p in parts]
        numbers = list(numbers)
        days = [day for bucket in buckets for day in bucket]
        months = months_of(days)
        span = {m: [int(d[8:10]) - 1 for d in days if d[:7] == m] for m in months}
        replies = await self._raw(numbers, months, ordered)
        size = WIDTH["d"] * 8
        series = [0] * len(buckets)
        by_number: dict[str, int] = {}
        blocks: dict[Part, dict[str, list[int]]] = {p: {} for p in ordered if p != "d"}
        for number, got in zip(numbers, replies, strict=True):
            mine = 0
            if "d" in parts:
                for i, bucket in enumerate(buckets):
                    for day in bucket:
                        raw = got.day(day, "d")
                        if raw:
                            v = int.from_bytes(raw.ljust(size, b"\0"), "big")
                            series[i] += v
                            mine += v
            for part, acc in blocks.items():  # over the whole period: a range per month
                for month in months:
                    first, last = min(span[month]), max(span[month])
                    raw = got.strings[(month, part)]
                    for b, name in got.names[part].items():
                        got_lanes = range_sum(
                            raw, b * MONTH_DAYS + first, b * MONTH_DAYS + last, part
                        )
                        if got_lanes is not None:
                            total = acc.setdefault(name, [0] * WIDTH[part])
                            for lane, x in enumerate(got_lanes):
                                total[lane] += x
            by_number[number] = mine
        return Summed(
            [_lanes(x, "d") for x in series],
            {n: _lanes(x, "d") for n, x in by_number.items()},
            {p: {name: v for name, v in acc.items() if any(v)} for p, acc in blocks.items()},
        )

    async def actives(self, numbers: Collection[str], month: str, kind: ActiveKind) -> int:
        keys = [self.k.actives(n, kind, month) for n in numbers]
        if len(keys) <= 1:
            return int(await self.b.r.pfcount(*keys)) if keys else 0
        # a union needs the HyperLogLogs in one slot: read each (its own slot), then count
        # copies of them in scratch keys sharing one tag
        pipe = self.b.r.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        values = [v for v in await pipe.execute() if v is not None]
        if not values:
            return 0
        tag = uuid.uuid4().hex
        scratch = [self.k.scratch(tag, i) for i in range(len(values))]
        return int(await self.union_script(keys=scratch, args=values))


def _lanes(packed: int, part: Part) -> list[int]:
    width = WIDTH[part]
    return list(struct.unpack(f">{width}Q", packed.to_bytes(width * 8, "big")))
