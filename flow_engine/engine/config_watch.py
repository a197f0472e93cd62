"""Watches that every number known to be configured still has its configuration in the
store, and seeds the lost ones again from the configuration files.

A Redis restarted without persistence comes back empty: no configurations, no
conversations, no queues. Until the configurations are back, the runtime keeps the
messages of those numbers waiting (``runtime.py``), the webhook refuses new ones with
503 so that the gateway retries them (``web/webhook.py``), and ``/readyz`` answers 503.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import structlog

from flow_engine.engine.config_cache import ConfigCache
from flow_engine.engine.configs import load_config_dir
from flow_engine.engine.skills.loader import SkillLoader
from flow_engine.errors import ConfigurationError
from flow_engine.logging import LogThrottle
from flow_engine.storage.base import Storage

log = structlog.get_logger()

CHECK_EVERY_S = 1.0
SHOWN = 20  # numbers named in a log line


class ConfigWatch:
    """Every ``interval_s``: compare the known numbers with the store's; when some are
    missing, seed the store again from ``config_dir`` (when the engine has one)."""

    def __init__(
        self,
        storage: Storage,
        configs: ConfigCache,
        config_dir: Path | None,
        *,
        skills: SkillLoader | None = None,
        interval_s: float = CHECK_EVERY_S,
    ) -> None:
        self.storage = storage
        self.configs = configs
        self.config_dir = config_dir
        self.skills = skills  # checks the files' skills, as at start (load_config_dir)
        self.interval_s = interval_s
        self.throttle = LogThrottle()
        self._was_missing = False
        self._closing = asyncio.Event()

    async def start(self) -> None:
        """Seed from the files (a bad file stops the start) and learn the known numbers."""
        if self.config_dir is not None:
            numbers = await load_config_dir(self.config_dir, self.storage.configs, self.skills)
            self.configs.known.update(numbers)
        await self.configs.check()

    async def check(self) -> set[str]:
        """One round: the numbers still missing afterwards."""
        missing = await self.configs.check()
        if missing and not self._was_missing:
            log.error(
                "configurations_missing",
                count=len(missing),
                numbers=sorted(missing)[:SHOWN],
                reseed=self.config_dir is not None,
            )
            self.throttle.allow("still_missing")  # the next reminder one interval later
        if missing and self.config_dir is not None:
            try:
                await load_config_dir(self.config_dir, self.storage.configs, self.skills)
            except ConfigurationError as exc:  # the files changed meanwhile and are wrong
                if self.throttle.allow("reseed_failed") is not None:
                    log.error("configurations_reseed_failed", error=exc.message)
            missing = await self.configs.check()
        if self._was_missing and not missing:
            log.info("configurations_restored")
        elif missing and self.throttle.allow("still_missing") is not None:
            log.warning("configurations_still_missing", count=len(missing))
        self._was_missing = bool(missing)
        return missing

    async def stop(self, task: asyncio.Task[None]) -> None:
        """Stop :meth:`run` (its task): by a flag as well as by cancelling it, since a
        cancellation can get lost in the store client."""
        self._closing.set()
        task.cancel()
        await asyncio.wait({task}, timeout=max(self.interval_s, 1.0) * 5)

    async def run(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.interval_s)
            if self._closing.is_set():
                return
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self.storage.is_unavailable(exc):
                    log.exception("configurations_check_failed")
                elif (left_out := self.throttle.allow(type(exc).__name__)) is not None:
                    log.warning(
                        "store_unavailable",
                        where="config_watch",
                        kind=type(exc).__name__,
                        error=str(exc)[:200],
                        left_out=left_out,
                    )
