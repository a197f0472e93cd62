"""Campaigns (R-NOTIFY-2/3/4): create from a CSV (dry run or for real), read, pause,
resume, cancel, list and export the recipients.

Creation checks everything before anything is stored: the spec, the CSV's columns, the
caller's ``notifications`` module on every sender of the file (403 listing the numbers
otherwise), each sender's active messaging, template (APPROVED, active) and parameters,
and the reply queue. The audience is then written in chunks (never one huge call) and
the campaign made visible last, in one step.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flow_engine.admin.permissions import Module, Principal
from flow_engine.domain.campaigns import (
    ACTIVE_STATES,
    FINAL_STATES,
    Campaign,
    CampaignSpec,
    CampaignState,
    CsvError,
    Report,
    Row,
    parse_csv,
    start_time,
)
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.notifications import ReplyRoute, region_of
from flow_engine.domain.templates import CatalogTemplate, columns_of
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.errors import Conflict, Forbidden, NotFound, Problems, UnprocessableEntity
from flow_engine.notify.catalog import Catalogs, unprocessable
from flow_engine.notify.individual import check_enabled, reply_route
from flow_engine.storage.notifications import CREATE_CHUNK, NotificationStore, Recipient

#: a start this close to now counts as now
START_SLACK_S = 1.0
EXPORT_PAGE = 1000
EXPORT_COLUMNS = [
    "phone",
    "sender",
    "status",
    "wamid",
    "error_code",
    "error_title",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "replied_at",
]


def campaign_view(c: Campaign, counts: dict[str, int], now: float) -> dict[str, Any]:
    """The campaign as the API shows it: each recipient counted once, in its furthest
    status; ``rate``: recipients sent per second since the start."""
    shown = {
        name: int(counts.get(name, 0))
        for name in ("total", "pending", "sent", "delivered", "read", "failed", "replied")
    }
    shown["skipped"] = int(counts.get("skipped", 0))
    done = shown["total"] - shown["pending"] - shown["skipped"]
    rate = None
    if c.started_at is not None:
        elapsed = (c.finished_at or now) - c.started_at
        rate = round(done / elapsed, 2) if elapsed > 0 else None
    doc = c.model_dump(mode="json", exclude={"templates", "held_by"})
    doc.update(counts=shown, rate=rate)
    return doc


@dataclass(frozen=True)
class Checked:
    """A campaign that passed its checks: the CSV's accepted rows and its report (None:
    no CSV was given), the catalog template of each sender and the reply route."""

    rows: list[Row] | None
    report: Report | None
    templates: dict[str, CatalogTemplate]
    reply: ReplyRoute | None


@dataclass
class Campaigns:
    store: NotificationStore
    configs: ConfigCache
    catalogs: Catalogs
    clock: Any = time.time

    # ------------------------------------------------------------------ create
    async def senders_map(self) -> dict[str, str]:
        """A sender cell (phone number id or display number) → the phone number id."""
        out: dict[str, str] = {}
        for number in await self.configs.store.numbers():
            config = await self.configs.get(number)
            if config is not None:
                out[number] = number
                out.setdefault(config.display_phone_number, number)
        return out

    async def check(self, spec: CampaignSpec, data: bytes | str | None, who: Principal) -> Checked:
        """Every check of a campaign before anything is stored. The spec's number (403,
        404), a sender outside the caller's grant (403) and a sender's active messaging
        (409) refuse the whole campaign; the rest is checked each on its own and one 422
        names every bad field: the CSV (read, its header naming each column the spec
        names), and for each sender its template, the reply queue and the start time.

        Some checks wait for others: a template's parameters are checked once the
        template is known (their shape is the template's); with a sender column the
        senders are the CSV's, so their checks wait for a CSV that could be read.
        ``data`` None (a console form without its file yet): the CSV's checks wait for
        it, every other is made."""
        if spec.number is not None:
            if not who.can(spec.number, Module.NOTIFICATIONS):
                raise Forbidden(
                    f"you have no access to number {spec.number} in the notifications module",
                    details={"numbers": [spec.number], "module": "notifications"},
                )
            await self.catalogs.config(spec.number)
        senders = await self.senders_map()
        configs: dict[str, NumberConfig | None] = {}

        async def config_of(number: str) -> NumberConfig | None:
            if number not in configs:
                configs[number] = await self.configs.get(number)
            return configs[number]

        columns = columns_of(spec.parameters, dict(spec.extras))
        regions: dict[str, str | None] = {}
        for number in set(senders.values()):
            config = await config_of(number)
            if config is not None:
                regions[number] = region_of(config.display_phone_number)
        found = Problems()
        rows: list[Row] | None = None
        report: Report | None = None
        if data is not None:
            try:
                rows, report = parse_csv(
                    data,
                    separator=spec.separator,
                    phone_column=spec.phone_column,
                    columns=columns,
                    sender_column=spec.sender_column,
                    sender_of=lambda cell: senders.get(cell.lstrip("+").replace(" ", "")),
                    region_of=lambda sender: regions.get(sender),
                    default_sender=spec.number,
                )
            except CsvError as exc:
                found.add(
                    UnprocessableEntity(
                        str(exc),
                        details=[
                            {"field": f, "message": m, "type": "csv"} for f, m in exc.problems
                        ],
                    )
                )
        if spec.sender_column:
            used = sorted(report.senders) if report is not None else []
        else:
            used = [spec.number or ""]
        denied = who.denied(used, Module.NOTIFICATIONS)
        if denied:
            raise Forbidden(
                "you have no access in the notifications module to: " + ", ".join(denied),
                details={"numbers": denied, "module": "notifications"},
            )
        templates: dict[str, CatalogTemplate] = {}
        reply = spec.reply
        for sender in used:
            config = await self.catalogs.config(sender)
            check_enabled(config)
            with found.check():
                template = await self.catalogs.sendable(
                    config, spec.template.name, spec.template.language
                )
                self.catalogs.check(template, spec.parameters, allow_column=True)
                templates[sender] = template
            with found.check():
                reply = reply_route(config, spec.reply, "reply")
        if spec.start_at is not None:
            with found.check():
                try:
                    for sender in used:
                        start_time(spec.start_at, (await self.catalogs.config(sender)).timezone, 0)
                except ValueError as exc:
                    raise unprocessable(
                        str(exc), [("start_at", "not an ISO 8601 date-time")]
                    ) from None
        found.raise_any()
        return Checked(rows, report, templates, reply)

    async def create(
        self, spec: CampaignSpec, data: bytes | str, who: Principal
    ) -> tuple[Campaign | None, dict[str, Any]]:
        checked = await self.check(spec, data, who)
        rows, report = checked.rows, checked.report
        assert rows is not None and report is not None  # read: the CSV was given
        summary = report.as_dict()
        if spec.dry_run:
            return None, summary
        if not rows:
            raise unprocessable(
                "the CSV has no recipient to send to", [("csv", "no rows accepted")]
            )
        return await self._store(
            spec, rows, report, checked.templates, who, checked.reply
        ), summary

    async def _store(
        self,
        spec: CampaignSpec,
        rows: list[Row],
        report: Report,
        templates: dict[str, CatalogTemplate],
        who: Principal,
        reply: Any,
    ) -> Campaign:
        now = self.clock()
        cid = "cmp_" + uuid.uuid4().hex[:16]
        senders = sorted({r.sender for r in rows})
        lanes: dict[str, float] = {}
        for sender in senders:
            zone = (await self.catalogs.config(sender)).timezone
            lanes[sender] = start_time(spec.start_at, zone, now)
        by_lane: dict[str, list[Recipient]] = {}
        for index, row in enumerate(rows):
            by_lane.setdefault(row.sender, []).append(
                Recipient(index, row.phone, row.sender, values=row.values)
            )
        for lane, recipients in by_lane.items():
            for chunk in _chunks(recipients, CREATE_CHUNK):
                await self.store.add_recipients(cid, lane, chunk)
        scheduled = min(lanes.values()) > now + START_SLACK_S
        campaign = Campaign(
            id=cid,
            name=spec.name,
            state=CampaignState.SCHEDULED if scheduled else CampaignState.RUNNING,
            number=spec.number,
            sender_column=spec.sender_column,
            senders=senders,
            template=spec.template,
            parameters=spec.parameters,
            extras=dict(spec.extras),
            reply=reply,
            columns=columns_of(spec.parameters, dict(spec.extras)),
            per_second=spec.per_second,
            interval_s=spec.interval_s,
            batch_size=spec.batch_size,
            batch_interval_min=spec.batch_interval_min,
            start_at=spec.start_at,
            templates=templates,
            total=len(rows),
            report={k: v for k, v in report.as_dict().items() if k != "rejected"},
            created_at=now,
            created_by=who.actor,
            started_at=None if scheduled else now,
        )
        await self.store.create_campaign(campaign, lanes)
        return campaign

    # ------------------------------------------------------------------ read
    async def get(self, campaign_id: str, who: Principal) -> Campaign:
        found = await self.store.campaign(campaign_id)
        if found is None:
            raise NotFound(
                f"campaign {campaign_id} not found", details={"campaign_id": campaign_id}
            )
        denied = who.denied(found.senders, Module.NOTIFICATIONS)
        if denied:
            raise Forbidden(
                "you have no access in the notifications module to: " + ", ".join(denied),
                details={"numbers": denied, "module": "notifications"},
            )
        return found

    async def view(self, c: Campaign) -> dict[str, Any]:
        return campaign_view(c, await self.store.counts(c.id), self.clock())

    async def control(self, campaign_id: str, action: str, who: Principal) -> Campaign:
        """pause, resume or cancel; a 409 when the state does not allow it."""
        c = await self.get(campaign_id, who)
        now = self.clock()
        active = {s.value for s in ACTIVE_STATES}
        fields: dict[str, Any]
        if action == "pause":
            allowed, state, fields = (
                active,
                CampaignState.PAUSED,
                {"reason": "paused by " + who.actor},
            )
        elif action == "resume":
            allowed = {CampaignState.PAUSED.value, CampaignState.NEEDS_ATTENTION.value}
            state = CampaignState.RUNNING if c.started_at else CampaignState.SCHEDULED
            fields = {"reason": None}
        else:
            allowed = {s.value for s in CampaignState if s not in FINAL_STATES}
            state = CampaignState.CANCELLED
            fields = {"finished_at": now, "reason": "cancelled by " + who.actor}
        done = await self.store.transition(campaign_id, allowed, state.value, fields)
        if done is None:
            current = await self.get(campaign_id, who)
            raise Conflict(
                f"cannot {action} campaign {campaign_id}: it is {current.state.value}",
                details={"campaign_id": campaign_id, "state": current.state.value},
            )
        return done

    async def export_rows(self, c: Campaign, status: str | None) -> Iterator[list[str]]:
        """The export, one list per recipient (see EXPORT_COLUMNS)."""
        titles = await self.store.error_titles(c.id)
        out: list[list[str]] = []
        offset: int | None = 0
        while offset is not None:
            page, offset = await self.store.recipients(
                c.id, status=status, offset=offset, limit=EXPORT_PAGE
            )
            for r in page:
                out.append(
                    [
                        r.phone,
                        r.sender,
                        r.status,
                        r.wamid,
                        "" if r.error_code is None else str(r.error_code),
                        titles.get(r.error_code, "") if r.error_code is not None else "",
                        *(_iso(getattr(r, f)) for f in EXPORT_COLUMNS[6:]),
                    ]
                )
        return iter(out)


def _iso(value: float | None) -> str:
    if value is None:
        return ""
    return datetime.fromtimestamp(value, UTC).isoformat()


def _chunks(items: list[Recipient], size: int) -> Iterator[list[Recipient]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
