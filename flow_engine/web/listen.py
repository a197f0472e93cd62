"""Listening sockets opened before a server starts, so a busy port is one clear line.

``aiohttp.web.run_app`` binds only after the application has started, and a taken
address then surfaces as a long ``OSError`` traceback. :func:`listen` binds first and
turns the failure into a :class:`~flow_engine.errors.ConfigurationError` naming the
address and the setting that changes it; the sockets go to ``run_app(sock=...)``.
"""

from __future__ import annotations

import errno
import socket

from flow_engine.errors import ConfigurationError

REASONS = {
    errno.EADDRINUSE: "the address is already in use (another engine or program listens there)",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
    errno.EADDRNOTAVAIL: "that address is not one of this machine's",
}


def listen(host: str, port: int, *, change: str) -> list[socket.socket]:
    """Bound, listening sockets for every address of ``host`` (IPv4 and IPv6 alike).

    ``change`` says how to pick another address, e.g. ``"set FLOW_ENGINE_PORT (or
    FLOW_ENGINE_HOST)"``; it ends the error message."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ConfigurationError(
            f"cannot listen on {shown}: unknown host ({exc.strerror}); {change}",
            details={"host": host, "port": port},
        ) from None
    sockets: list[socket.socket] = []
    seen: set[tuple[int, str]] = set()
    try:
        for family, kind, proto, _name, address in infos:
            key = (int(family), str(address[0]))
            if key in seen:
                continue
            seen.add(key)
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # every address of the host on the same port (the first one decides a port 0)
            sock.bind((address[0], port or sockets[0].getsockname()[1], *address[2:]))
            sock.listen(128)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        reason = REASONS.get(exc.errno or 0, exc.strerror or str(exc))
        raise ConfigurationError(
            f"cannot listen on {shown}: {reason}; {change}",
            details={"host": host, "port": port, "errno": exc.errno},
        ) from None
    return sockets


def bound_port(sockets: list[socket.socket]) -> int:
    port: int = sockets[0].getsockname()[1]
    return port
