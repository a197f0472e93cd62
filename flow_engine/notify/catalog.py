"""The template catalog of each number: read from its WABA through the gateway (every page
of the cursor), kept in the store, and the rules that decide whether a template may be
sent: APPROVED in the catalog and active on the number (``templates.active``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.templates import CatalogTemplate, ParamError, check_parameters
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.errors import GatewayError, NotFound, UnprocessableEntity
from flow_engine.gateway.base import Gateway
from flow_engine.storage.notifications import NotificationStore

log = structlog.get_logger()

#: pages read at most in one sync (100 templates a page; a verified WABA has up to 6000)
PAGES_MAX = 100
#: a start read that failed (the gateway not up yet, say) is tried again after this many
#: seconds, doubling up to ``START_RETRY_MAX_S``, until every number's catalog was read
START_RETRY_S = 5.0
START_RETRY_MAX_S = 300.0
#: after a read on demand failed, the number's next ones wait this long (a gateway that
#: times out must not hold up every console page and notification)
DEMAND_PAUSE_S = 10.0


def unprocessable(
    message: str, errors: list[ParamError], kind: str = "invalid"
) -> UnprocessableEntity:
    return UnprocessableEntity(
        message, details=[{"field": f, "message": m, "type": kind} for f, m in errors]
    )


class Catalogs:
    """Sync and read template catalogs."""

    def __init__(
        self,
        store: NotificationStore,
        gateway: Gateway,
        configs: ConfigCache,
        *,
        start_retry_s: float = START_RETRY_S,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.configs = configs
        self.start_retry_s = start_retry_s
        #: the first read of a catalog never read, one at a time per number
        self._first_reads: dict[str, asyncio.Future[None]] = {}
        #: when a read on demand last failed, per number (``time.monotonic``)
        self._failed_at: dict[str, float] = {}

    async def config(self, number: str) -> NumberConfig:
        config = await self.configs.get(number)
        if config is None:
            raise NotFound(f"number {number} has no configuration", details={"number": number})
        return config

    async def sync(self, number: str) -> tuple[list[CatalogTemplate], float]:
        """Read every page of the number's WABA catalog and store it. A gateway failure is
        a 502 and leaves the stored catalog as it was."""
        config = await self.config(number)
        if not config.waba_id:
            raise unprocessable(
                f"number {number} has no waba_id: set it with PATCH /api/v1/numbers/{number}",
                [("waba_id", "missing")],
                "missing",
            )
        templates: list[CatalogTemplate] = []
        after: str | None = None
        for _page in range(PAGES_MAX):
            page, after = await self.gateway.list_templates(config.waba_id, after)
            for raw in page:
                try:
                    templates.append(CatalogTemplate.model_validate(raw))
                except ValueError:
                    log.warning("template_unreadable", number=number, name=raw.get("name"))
            if after is None:
                break
        now = time.time()
        await self.store.save_catalog(number, templates, now)
        log.info("templates_synced", number=number, templates=len(templates))
        return templates, now

    async def sync_all(self, numbers: list[str]) -> dict[str, Any]:
        """Read the catalog of every number that has a WABA id (at start). A failed read is
        logged and tried again, after ``start_retry_s`` doubling up to
        ``START_RETRY_MAX_S``, until it succeeds or the catalog was read otherwise; returns
        the templates read per number once every catalog was read."""
        done: dict[str, Any] = {}
        delay = self.start_retry_s
        while True:
            failed = await self._sync_each(numbers, done)
            if not failed:
                return done
            log.info("templates_sync_retry", numbers=len(failed), delay=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, START_RETRY_MAX_S)
            numbers = failed

    async def _sync_each(self, numbers: list[str], done: dict[str, Any]) -> list[str]:
        failed: list[str] = []
        for number in numbers:
            config = await self.configs.get(number)
            if config is None or not config.waba_id:
                continue
            if number in done and (await self.store.catalog(number))[1] is not None:
                continue  # read meanwhile (on demand, or by another process)
            try:
                templates, _at = await self.sync(number)
                done[number] = len(templates)
            except GatewayError as exc:
                log.warning("templates_sync_failed", number=number, code=exc.api_code)
                done[number] = None
                failed.append(number)
        return failed

    async def catalog(self, config: NumberConfig) -> tuple[list[CatalogTemplate], float | None]:
        """The number's catalog as last read, and when. A catalog never read (its start
        read failed, or the WABA id was set since) is read from the gateway first; if that
        fails too, it stays unread (logged), the caller sees it empty, and the number's
        reads on demand pause for ``DEMAND_PAUSE_S``."""
        number = config.phone_number_id
        templates, synced = await self.store.catalog(number)
        if synced is not None or not config.waba_id:
            return templates, synced
        failed_at = self._failed_at.get(number)
        if failed_at is not None and time.monotonic() - failed_at < DEMAND_PAUSE_S:
            return templates, synced
        running = self._first_reads.get(number)
        if running is None:
            running = asyncio.ensure_future(self._first_read(number))
            self._first_reads[number] = running
            running.add_done_callback(lambda _f: self._first_reads.pop(number, None))
        await asyncio.shield(running)
        return await self.store.catalog(number)

    async def _first_read(self, number: str) -> None:
        try:
            await self.sync(number)
            self._failed_at.pop(number, None)
        except GatewayError as exc:
            self._failed_at[number] = time.monotonic()
            log.warning("templates_sync_failed", number=number, code=exc.api_code)

    async def sendable(
        self, config: NumberConfig, name: str, language: str, field: str = "template"
    ) -> CatalogTemplate:
        """The catalog template ``name``/``language`` if the number may send it: in the
        catalog, APPROVED, and active on the number. Otherwise a 422 naming ``field``."""
        number = config.phone_number_id
        templates, synced = await self.catalog(config)
        found = next((t for t in templates if t.name == name and t.language == language), None)
        if found is None:
            languages = sorted(t.language for t in templates if t.name == name)
            hint = ""
            if languages:
                hint = f" (it exists in {', '.join(languages)})"
            elif not config.waba_id:
                hint = f" (the number has no waba_id: set it with PATCH /api/v1/numbers/{number})"
            elif synced is None:
                hint = (
                    " (its catalog could not be read from the gateway yet: try again, or "
                    f"POST /api/v1/numbers/{number}/templates/sync)"
                )
            raise unprocessable(
                f"number {number} has no template {name!r} in {language!r}{hint}",
                [(f"{field}.name", "unknown template")],
                "unknown_template",
            )
        if found.status.upper() != "APPROVED":
            raise unprocessable(
                f"template {name!r} is {found.status}, not APPROVED",
                [(f"{field}.name", f"template status {found.status}")],
                "template_not_approved",
            )
        if name not in config.templates.active:
            raise unprocessable(
                f"template {name!r} is not active on number {number} (templates.active)",
                [(f"{field}.name", "not active on the number")],
                "template_not_active",
            )
        return found

    @staticmethod
    def check(
        template: CatalogTemplate, parameters: dict[str, Any] | None, *, allow_column: bool
    ) -> None:
        errors = check_parameters(template, parameters, allow_column=allow_column)
        if errors:
            raise unprocessable(
                f"parameters do not match template {template.name!r}", errors, "template_mismatch"
            )
