"""The data rollups in Redis.

Per number (slot ``{n<number>}``, ``keys.py``): one string per part and local day whose
64-bit lanes are counted with ``BITFIELD INCRBY`` (``rollup``), a hash numbering the
blocks (queues, template|region) of the number (``rollup_blocks``), a HyperLogLog per
month and kind of active contact (``actives``), and the fold cursors (``rollup_cursor``).
A day's strings expire :data:`~flow_engine.domain.facts.KEPT_DAYS` after it.

Every script touches keys of one slot; a union of the active contacts of several numbers
copies their HyperLogLogs into scratch keys of one slot first (``ACTIVES_UNION``).
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Collection
from typing import Any

from flow_engine.domain.facts import WIDTH, ActiveKind, Facts, Part, day_expiry, month_expiry
from flow_engine.storage import redis_scripts
from flow_engine.storage.keys import KeyBuilder
from flow_engine.storage.redis_backend import RedisBackend, text
from flow_engine.storage.rollups import (
    ALL_PARTS,
    FOLD_BATCH,
    DayRollup,
    Rollups,
    Summed,
    next_fact_id,
)

PART_ORDER: tuple[Part, ...] = ("d", "q", "n")


class PlanBuilder:
    """Turns the facts of one number into the plans of ``redis_scripts.ROLLUP_APPLY``,
    collecting the keys they touch after the script's ``fixed`` keys."""

    def __init__(self, keys: KeyBuilder, number: str, fixed: list[str]) -> None:
        self.k = keys
        self.number = number
        self.keys = list(fixed)
        self._index = {key: i + 1 for i, key in enumerate(self.keys)}

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
        for inc in facts.increments:
            index = self.key(self.k.rollup(self.number, inc.part, inc.day))
            lanes.append([index, inc.part, inc.block, inc.lane, inc.delta])
            expiries[index] = day_expiry(inc.day)
        actives: list[list[Any]] = []
        for a in facts.actives:
            index = self.key(self.k.actives(self.number, a.kind, a.month))
            actives.append([index, a.contact])
            expiries[index] = month_expiry(a.month)
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


def decode_days(
    blocks: list[Any], lengths: bytes, blob: bytes, days: list[str], parts: list[Part]
) -> list[DayRollup]:
    """The reply of ``ROLLUP_READ`` as one :class:`DayRollup` per day."""
    names = block_names(blocks)
    sizes = sizes_of(lengths)
    rows: list[DayRollup] = []
    pos = 0
    it = iter(sizes)
    for day in days:
        row = DayRollup(day)
        for part in parts:
            size = next(it)
            raw, pos = blob[pos : pos + size], pos + size
            if not raw:
                continue
            width = WIDTH[part]
            count = -(-len(raw) // (8 * width))
            values = struct.unpack(f">{count * width}q", raw.ljust(count * width * 8, b"\0"))
            if part == "d":
                row.d = list(values[:width])
                continue
            target = row.q if part == "q" else row.n
            for b in range(count):
                lanes = list(values[b * width : (b + 1) * width])
                if any(lanes) and b in names[part]:
                    target[names[part][b]] = lanes
        rows.append(row)
    return rows


class RedisRollups(Rollups):
    def __init__(self, b: RedisBackend) -> None:
        self.b = b
        self.k = b.keys
        self.fold_script = b.script(redis_scripts.ROLLUP_FOLD)
        self.read_script = b.script(redis_scripts.ROLLUP_READ)
        self.union_script = b.script(redis_scripts.ACTIVES_UNION)

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
        for number, items in by_number.items():
            plans = PlanBuilder(
                self.k, number, [self.k.rollup_blocks(number), self.k.rollup_cursor(number)]
            )
            args: list[Any] = [partition]
            for fact_id, facts in items:
                ms, _, seq = fact_id.partition("-")
                args += [ms, seq or "0", plans.plan(facts)]
            calls.append((plans.keys, args))
        await self.b.run_pipelined(self.fold_script, calls)
        last = next_fact_id(text(entries[-1][0]))
        await self.b.batch.call(lambda pipe: pipe.xtrim(stream, minid=last, approximate=False))
        return len(entries)

    async def pending(self, partition: int) -> int:
        return int(await self.b.r.xlen(self.k.facts(partition)))

    async def _raw(self, numbers: list[str], days: list[str], parts: list[Part]) -> list[Any]:
        """``ROLLUP_READ`` of every number, in one round trip."""
        calls: list[tuple[list[str], list[Any]]] = []
        for number in numbers:
            keys = [self.k.rollup_blocks(number)]
            keys += [self.k.rollup(number, part, day) for day in days for part in parts]
            calls.append((keys, []))
        return await self.b.run_pipelined(self.read_script, calls) if calls else []

    async def read(
        self, numbers: Collection[str], days: list[str], parts: frozenset[Part] = ALL_PARTS
    ) -> dict[str, list[DayRollup]]:
        ordered = [p for p in PART_ORDER if p in parts]
        numbers = list(numbers)
        replies = await self._raw(numbers, days, ordered)
        return {
            number: decode_days(reply[0], reply[1], reply[2], days, ordered)
            for number, reply in zip(numbers, replies, strict=True)
        }

    async def summed(
        self,
        numbers: Collection[str],
        buckets: list[tuple[str, ...]],
        parts: frozenset[Part] = ALL_PARTS,
    ) -> Summed:
        """Sums lanes as big integers: a day's string read as one unsigned integer holds
        its lanes side by side (64 bits each, big-endian), so adding those integers adds
        every lane at once, at C speed. Lanes are never negative and a lane's sum over a
        report stays far below 2**64 (a duration sum of 584 million years of ms), so no
        lane carries into the next; decoding checks the total still fits."""
        ordered = [p for p in PART_ORDER if p in parts]
        numbers = list(numbers)
        days = [day for bucket in buckets for day in bucket]
        bucket_of = [i for i, bucket in enumerate(buckets) for _ in bucket]
        replies = await self._raw(numbers, days, ordered)
        size = {p: WIDTH[p] * 8 for p in PART_ORDER}
        series = [0] * len(buckets)
        by_number: dict[str, int] = {}
        blocks: dict[Part, dict[str, int]] = {p: {} for p in ordered if p != "d"}
        for number, (flat, lengths, blob) in zip(numbers, replies, strict=True):
            names = block_names(flat)
            sizes = iter(sizes_of(lengths))
            pos, mine = 0, 0
            for bucket in bucket_of:
                for part in ordered:
                    n = next(sizes)
                    raw, pos = blob[pos : pos + n], pos + n
                    if not raw:
                        continue
                    if part == "d":
                        v = int.from_bytes(raw.ljust(size["d"], b"\0"), "big")
                        series[bucket] += v
                        mine += v
                        continue
                    step, known, acc = size[part], names[part], blocks[part]
                    for start in range(0, len(raw), step):
                        name = known.get(start // step)
                        if name is not None:
                            chunk = raw[start : start + step].ljust(step, b"\0")
                            acc[name] = acc.get(name, 0) + int.from_bytes(chunk, "big")
            by_number[number] = mine
        return Summed(
            [_lanes(x, "d") for x in series],
            {n: _lanes(x, "d") for n, x in by_number.items()},
            {p: {name: _lanes(x, p) for name, x in acc.items() if x} for p, acc in blocks.items()},
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
