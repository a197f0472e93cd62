"""Sign-in sessions of people (the web console) and their failed sign-ins, shared by every
engine process so that any process serves any browser.

Keys are opaque strings chosen by the caller (``admin/signin.py`` stores a hash of the
session id, never the id itself, and hashes of e-mails and addresses). Everything here
expires by itself: a session after ``ttl_ms`` without being read with a new TTL (idle
expiry), a failure count ``window_ms`` after its first failure.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class SessionStore(ABC):
    """Sessions (documents with a sliding TTL) and failure counters (fixed windows)."""

    @abstractmethod
    async def put(self, key: str, document: str, ttl_ms: int) -> None:
        """Store (or replace) the session ``key``; it expires after ``ttl_ms``."""

    @abstractmethod
    async def get(self, key: str, ttl_ms: int | None = None) -> str | None:
        """The session, or None when absent or expired. With ``ttl_ms`` its expiry is
        moved to ``ttl_ms`` from now in the same step (the session is in use)."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Forget the session (signing out); nothing happens when it is gone already."""

    @abstractmethod
    async def count_failure(self, key: str, window_ms: int) -> int:
        """Add one failure to ``key`` and return the count, atomically. The first failure
        starts a window of ``window_ms``; when it ends, the count is gone."""

    @abstractmethod
    async def failures(self, key: str) -> int:
        """The failures counted in ``key``'s current window (0 when none)."""

    @abstractmethod
    async def clear_failures(self, key: str) -> None: ...
