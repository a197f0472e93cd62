"""Which Lua scripts of ``redis_scripts.py`` a Redis Cluster has run (loaded)."""

from __future__ import annotations

import hashlib

from flow_engine.devtools.redis_cluster import RedisClusterServer
from flow_engine.devtools.redis_server import inline_command
from flow_engine.storage import redis_scripts


def scripts() -> dict[str, str]:
    """Every script of ``redis_scripts.py`` by name (the module's upper-case strings)."""
    return {
        name: value
        for name, value in vars(redis_scripts).items()
        if name.isupper()
        and not name.startswith("_")
        and isinstance(value, str)
        and "redis.call" in value
    }


def never_run(cluster: RedisClusterServer) -> list[str]:
    """The scripts no node of ``cluster`` has loaded: none of them ran there (the stores
    load a script on every master the first time a node says it is missing)."""
    by_sha = {hashlib.sha1(source.encode()).hexdigest(): n for n, source in scripts().items()}
    shas = list(by_sha)
    loaded: set[str] = set()
    for port in cluster.ports:
        reply = inline_command(port, b"SCRIPT EXISTS " + " ".join(shas).encode())
        flags = [line for line in reply.decode().split("\r\n") if line.startswith(":")]
        loaded |= {sha for sha, flag in zip(shas, flags, strict=True) if flag == ":1"}
    return sorted(by_sha[sha] for sha in shas if sha not in loaded)
