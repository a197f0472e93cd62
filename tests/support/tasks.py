"""Stopping background tasks in tests."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_until_done(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` until it has finished (on Python 3.11 a cancellation that meets a
    read timeout of redis-py can be lost), without raising its CancelledError."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
