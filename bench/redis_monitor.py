"""Round trips to Redis by command, from ``MONITOR`` (``--redis-calls``).

``INFO commandstats`` counts the commands a Lua script runs as well as the
``EVALSHA`` that ran it, so it cannot tell round trips from work inside Redis.
``MONITOR`` can: it shows each command with its source, ``[db lua]`` for a
script's own calls and ``[db host:port]`` for a client's. Counting here names
each ``EVALSHA`` after the engine script of that SHA.

MONITOR costs Redis and the bench process CPU (one line per command, tens of
thousands a second): the figures of a run with ``--redis-calls`` are not for
comparison, only its counts.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter


def engine_scripts() -> dict[str, str]:
    """SHA1 → name of the engine's Lua scripts (``flow_engine.storage.redis_scripts``)."""
    try:
        from flow_engine.storage import redis_scripts
    except ImportError:  # pragma: no cover - the bench runs inside the checkout
        return {}
    out: dict[str, str] = {}
    for name, value in vars(redis_scripts).items():
        if name.isupper() and isinstance(value, str):
            out[hashlib.sha1(value.encode()).hexdigest()] = name.lower()
    return out


class _MonitorProtocol(asyncio.Protocol):
    def __init__(self, counter: MonitorCounter) -> None:
        self.counter = counter
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        lines = (self.buf + data).split(b"\r\n")
        self.buf = lines.pop()
        if self.counter.counting:
            for line in lines:
                self.counter.line(line)


class MonitorCounter:
    """Counts client commands (``EVALSHA`` by script) and Lua-run commands while
    :attr:`counting` is on."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.scripts = engine_scripts()
        self.client: Counter[str] = Counter()
        self.lua: Counter[str] = Counter()
        self.counting = False
        self._transport: asyncio.Transport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _p = await loop.create_connection(
            lambda: _MonitorProtocol(self), "127.0.0.1", self.port
        )
        self._transport = transport
        self._transport.write(b"MONITOR\r\n")

    def reset(self) -> None:
        self.client.clear()
        self.lua.clear()

    def line(self, line: bytes) -> None:
        # +1700000000.123456 [0 127.0.0.1:5555] "EVALSHA" "3f2a…" "2" …
        i = line.find(b"[")
        j = line.find(b"]", i)
        if i < 0 or j < 0:
            return
        source = line[i + 1 : j]
        parts = line[j + 2 :].split(b'"', 4)
        if len(parts) < 2:
            return
        command = parts[1].decode(errors="replace").lower()
        if source.endswith(b" lua"):
            self.lua[command] += 1
            return
        if command in ("info", "monitor", "flushall", "ping"):
            return  # the bench's own
        if command == "evalsha" and len(parts) >= 4:
            sha = parts[3].decode(errors="replace").lower()
            command = f"evalsha {self.scripts.get(sha, sha[:8])}"
        self.client[command] += 1

    def per_message(self, messages: int) -> dict[str, object]:
        n = max(1, messages)
        return {
            "messages": messages,
            "client_round_trips_per_msg": sum(self.client.values()) / n,
            "client": {k: v / n for k, v in self.client.most_common()},
            "lua_commands_per_msg": sum(self.lua.values()) / n,
            "lua": {k: v / n for k, v in self.lua.most_common()},
        }

    def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
