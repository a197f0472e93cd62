"""The data rollups in Redis.

Per number (slot ``{n<number>}``, ``keys.py``): one string per part and local month whose
64-bit lanes are counted with ``BITFIELD INCRBY`` (``rollup``): block ``b`` of day ``i``
of the month (0-based) starts at lane ``(b * 31 + i) * width``; a hash numbers the blocks
(queues, template|region) of the number (``rollup_blocks``); a HyperLogLog per month and
kind of active contact (``actives``); the fold cursors (``rollup_cursor``). A month's
strings expire :data:`~flow_engine.domain.facts.KEPT_DAYS` after its last day. A report
over 90 days reads 4 strings per part and number (one MGET) — few keys, whatever the days.

Every script touches keys of one slot; a union of the active contacts of several numbers
copies their HyperLogLogs into scratch keys of one slot first (``ACTIVES_UNION``).
"""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
import weakref
from collections.abc import Awaitable, Collection, Iterable, Iterator, Sequence
from typing import Any

from flow_engine.domain import jsoncodec
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
    """Turns the facts of one number into the plans of ``redis_scripts._ROLLUP_APPLY``,
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
        return self.plan_rows(
            [(i.part, i.day, i.block, i.lane, i.delta) for i in facts.increments],
            [(a.month, a.kind, a.contact) for a in facts.actives],
        )

    def plan_rows(
        self, increments: Iterable[Sequence[Any]], actives: Iterable[Sequence[Any]]
    ) -> str:
        """The plan of facts given as the rows of :meth:`Facts.to_json` (``[part, day,
        block, lane, delta]``, ``[month, kind, contact]``): what the fold reads from the
        stream, planned without building a :class:`Facts` of each."""
        lanes: list[list[Any]] = []
        expiries: dict[int, int] = {}
        now = time.time()
        for part, day, block, lane, delta in increments:
            month = day[:7]
            at = month_days_expiry(month)
            if at <= now:
                continue  # past the retention: not kept (as in memory)
            index = self.key(self.k.rollup(self.number, part, month))
            lanes.append([index, part, block, int(day[8:10]) - 1, int(lane), int(delta)])
            if index not in expiries:
                self._expire(expiries, index, at)
        found: list[list[Any]] = []
        for month, kind, contact in actives:
            at = month_expiry(month)
            if at <= now:
                continue
            index = self.key(self.k.actives(self.number, kind, month))
            found.append([index, contact])
            if index not in expiries:
                self._expire(expiries, index, at)
        doc = {"i": lanes, "a": found, "x": [[k, at] for k, at in expiries.items()]}
        return jsoncodec.dumps(doc)


def block_names(blocks: dict[Any, Any]) -> dict[str, dict[int, str]]:
    """The blocks hash as part -> block index -> name."""
    names: dict[str, dict[int, str]] = {"q": {}, "n": {}}
    for key, index in blocks.items():
        part, sep, name = text(key).partition("|")
        if sep and part in names:
            names[part][int(index)] = name
    return names


MONTH_DAYS = 31


class MonthStrings:
    """One number's rollup strings as read, per (month, part), and its blocks."""

    def __init__(self, blocks: dict[Any, Any], strings: dict[tuple[str, Part], bytes]) -> None:
        self.names = block_names(blocks)
        self.strings = strings

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


def unpacked(total: int, blocks: int, part: Part) -> list[int]:
    """The lanes of ``blocks`` blocks packed in ``total``, block after block. Raises
    OverflowError if a lane's sum outgrew 64 bits (it would have carried into the next)."""
    count = blocks * WIDTH[part]
    return list(struct.unpack(f">{count}Q", total.to_bytes(count * 8, "big")))


def folded(total: int, blocks: int, part: Part) -> list[int]:
    """The lane-wise sum of the ``blocks`` blocks packed in ``total``: the high half of the
    blocks added onto the low half until one block is left (a few big-integer adds)."""
    bits = WIDTH[part] * 64
    while blocks > 1:
        kept = blocks - blocks // 2
        total = (total >> (kept * bits)) + (total & ((1 << (kept * bits)) - 1))
        blocks = kept
    return unpacked(total, 1, part)


def day_mask(first: int, last: int, part: Part) -> int:
    """Ones over days ``first``..``last`` of a month of ``part`` packed as one integer
    (day 0 the most significant block)."""
    bits = WIDTH[part] * 64
    return ((1 << ((last - first + 1) * bits)) - 1) << ((MONTH_DAYS - 1 - last) * bits)


def lane_sums(values: list[int], first: int, last: int, part: Part) -> list[int]:
    """The lane-wise sum of blocks ``first``..``last`` of unpacked ``values``."""
    width = WIDTH[part]
    run = values[first * width : (last + 1) * width]
    return [sum(run[lane::width]) for lane in range(width)]


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
        # each fact as the rows Facts.to_json wrote, by number: one script per number
        by_number: dict[str, list[tuple[str, Any]]] = {}
        for eid, fields in entries:
            doc = jsoncodec.loads(fields[b"f"])
            by_number.setdefault(doc["n"], []).append((text(eid), doc))
        calls = []
        builders = []
        memo = expiry_memo(self.b)
        for number, items in by_number.items():
            plans = PlanBuilder(
                self.k, number, [self.k.rollup_blocks(number), self.k.rollup_cursor(number)], memo
            )
            builders.append(plans)
            args: list[Any] = [partition]
            for fact_id, doc in items:
                ms, _, seq = fact_id.partition("-")
                args += [ms, seq or "0", plans.plan_rows(doc["i"], doc["a"])]
            # through the coalescer: with the other steps' commands, packed by hiredis
            calls.append(self.b.batch.script(self.fold_script, plans.keys, args))
        await asyncio.gather(*calls)
        for plans in builders:
            plans.done()
        last = next_fact_id(text(entries[-1][0]))
        await self.b.batch.call(lambda pipe: pipe.xtrim(stream, minid=last, approximate=False))
        return len(entries)

    async def pending(self, partition: int) -> int:
        return int(await self.b.r.xlen(self.k.facts(partition)))

    async def _raw(
        self, numbers: list[str], parts: list[Part], months: list[str]
    ) -> list[MonthStrings]:
        """Every number's blocks hash and month strings, two plain reads per number (HGETALL,
        MGET of its strings: one slot) in one pipeline: one round trip, no script (a script
        would copy every string into Lua and back). Each number's strings are read as of
        one instant; a fold landing between two numbers' reads shows in the next report."""
        if not numbers:
            return []
        wanted = [(month, part) for month in months for part in parts]
        if self.b.cluster:
            # redis-py's cluster pipeline refuses MGET, even of one slot: the same reads,
            # sent at once (each number's two go to the node of its slot)
            calls: list[Awaitable[Any]] = []
            for number in numbers:
                calls.append(self.b.r.hgetall(self.k.rollup_blocks(number)))
                calls.append(self.b.r.mget([self.k.rollup(number, p, m) for m, p in wanted]))
            replies: Iterator[Any] = iter(await asyncio.gather(*calls))
        else:
            pipe = self.b.r.pipeline(transaction=False)
            for number in numbers:
                pipe.hgetall(self.k.rollup_blocks(number))
                pipe.mget([self.k.rollup(number, part, month) for month, part in wanted])
            replies = iter(await pipe.execute())
        out = []
        for _number in numbers:
            blocks = next(replies)
            strings = {key: raw or b"" for key, raw in zip(wanted, next(replies), strict=True)}
            out.append(MonthStrings(blocks, strings))
        return out

    async def read(
        self, numbers: Collection[str], days: list[str], parts: frozenset[Part] = ALL_PARTS
    ) -> dict[str, list[DayRollup]]:
        ordered = [p for p in PART_ORDER if p in parts]
        numbers = list(numbers)
        out: dict[str, list[DayRollup]] = {}
        replies = await self._raw(numbers, ordered, months_of(days))
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
        """Summed as big integers: a month string read as one unsigned integer holds its
        lanes side by side (64 bits each, big-endian), so adding those integers adds every
        lane of every day at once, at C speed. Per month, every number's part d adds into
        the month's total (unpacked once, into the days of the series) and, masked to the
        days asked, into the number's (folded once over its days); part q or n adds into
        a total per month and block layout (numbers whose blocks hash names the same
        blocks), unpacked once into the blocks' lanes over the days asked. Lanes are never
        negative and a lane's sum over a report stays far below 2**64 (a duration sum of
        584 million years of ms), so no lane carries into the next; unpacking checks the
        totals still fit."""
        ordered = [p for p in PART_ORDER if p in parts]
        numbers = list(numbers)
        days = [day for bucket in buckets for day in bucket]
        months = months_of(days)
        indices = {m: [int(d[8:10]) - 1 for d in days if d[:7] == m] for m in months}
        spans = {m: (min(i), max(i)) for m, i in indices.items()}
        masks = {m: day_mask(first, last, "d") for m, (first, last) in spans.items()}
        replies = await self._raw(numbers, ordered, months)
        month_size = MONTH_DAYS * WIDTH["d"] * 8
        month_total = dict.fromkeys(months, 0)
        number_total: dict[str, int] = {}
        #: per part, (month, block names in index order) -> their strings summed
        layouts: dict[Part, dict[tuple[str, tuple[str, ...]], int]] = {
            p: {} for p in ordered if p != "d"
        }
        for number, got in zip(numbers, replies, strict=True):
            mine = 0
            if "d" in parts:
                for month in months:
                    raw = got.strings[(month, "d")]
                    if raw:
                        v = int.from_bytes(raw.ljust(month_size, b"\0")[:month_size], "big")
                        month_total[month] += v
                        mine += v & masks[month]
            number_total[number] = mine
            for part, acc in layouts.items():
                names = got.names[part]
                if not names:
                    continue
                layout = tuple(names.get(b, "") for b in range(max(names) + 1))
                size = len(layout) * MONTH_DAYS * WIDTH[part] * 8
                for month in months:
                    raw = got.strings[(month, part)]
                    if raw:
                        key = (month, layout)
                        v = int.from_bytes(raw.ljust(size, b"\0")[:size], "big")
                        acc[key] = acc.get(key, 0) + v
        width = WIDTH["d"]
        day_lanes: dict[str, list[int]] = {}
        for month, total in month_total.items():
            values = unpacked(total, MONTH_DAYS, "d")
            for i in indices[month]:
                day_lanes[f"{month}-{i + 1:02d}"] = values[i * width : (i + 1) * width]
        series = [
            [sum(column) for column in zip(*(day_lanes[d] for d in bucket), strict=True)]
            for bucket in buckets
        ]
        blocks: dict[str, dict[str, list[int]]] = {}
        for part, acc in layouts.items():
            found: dict[str, list[int]] = {}
            for (month, layout), total in acc.items():
                values = unpacked(total, len(layout) * MONTH_DAYS, part)
                first, last = spans[month]
                for b, name in enumerate(layout):
                    if not name:
                        continue
                    at = b * MONTH_DAYS
                    lanes = lane_sums(values, at + first, at + last, part)
                    total_lanes = found.setdefault(name, [0] * WIDTH[part])
                    for lane, x in enumerate(lanes):
                        total_lanes[lane] += x
            blocks[part] = {name: v for name, v in found.items() if any(v)}
        return Summed(
            series,
            {n: folded(x, MONTH_DAYS, "d") for n, x in number_total.items()},
            blocks,
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
