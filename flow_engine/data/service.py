"""The reports of R-DATA, from the live rollups: service, notifications, surveys, message
volume and the overview cards. Each takes a :class:`Query` (numbers already checked by
the caller) and returns plain data (dicts and lists) that the API, the CLI and the
console render as they like."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from flow_engine.domain import metrics as M
from flow_engine.domain.facts import DAY_LAYOUT, NOTIFY, Part, SurveyKind, local_date
from flow_engine.domain.metrics import Interval
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.storage.base import Storage

NotifyBy = Literal["number", "template", "region"]
DAY = len(DAY_LAYOUT)


@dataclass(frozen=True)
class Query:
    """The numbers and the period (local dates, inclusive) of a report."""

    numbers: tuple[str, ...]
    start: date
    end: date
    interval: Interval = "day"

    @property
    def buckets(self) -> list[M.Bucket]:
        return M.buckets(self.start, self.end, self.interval)

    @property
    def days(self) -> list[str]:
        return [d.isoformat() for d in M.days_between(self.start, self.end)]

    @property
    def bucket_days(self) -> list[tuple[str, ...]]:
        return [b.days for b in self.buckets]


class DataService:
    """The reports (R-DATA). ``clock`` tells the current month (MAU and MIS)."""

    def __init__(
        self, storage: Storage, configs: ConfigCache, clock: Callable[[], float] = time.time
    ) -> None:
        self.storage = storage
        self.configs = configs
        self.clock = clock

    async def numbers(self) -> list[str]:
        """Every configured number."""
        return sorted(await self.storage.configs.numbers())

    async def zone_of(self, numbers: tuple[str, ...]) -> str:
        """The time zone the numbers share, else UTC: what "today" means for them."""
        zones = set()
        for number in numbers:
            config = await self.configs.get(number)
            zones.add(config.timezone if config is not None else "UTC")
        return zones.pop() if len(zones) == 1 else "UTC"

    async def today(self, numbers: tuple[str, ...]) -> date:
        return local_date(self.clock(), await self.zone_of(numbers))

    # ------------------------------------------------------------------- reports

    async def service(self, q: Query) -> dict[str, Any]:
        """Tickets offered, closed, attended, abandoned, lost, transferred and the mean
        times, in total, per series point, per number and per queue."""
        f = await self.storage.rollups.summed(q.numbers, q.bucket_days, frozenset({"d", "q"}))
        return {
            "totals": M.service(M.summed(f.series, DAY)),
            "series": [
                {"period": b.period, **M.service(v)}
                for b, v in zip(q.buckets, f.series, strict=True)
            ],
            "by_number": [{"number": n, **M.service(v)} for n, v in f.by_number.items()],
            "by_queue": [
                {"queue": name, **M.service(v)} for name, v in sorted(f.blocks["q"].items())
            ],
        }

    async def notifications(self, q: Query, by: NotifyBy = "number") -> dict[str, Any]:
        """Active notifications: total, received, read, errors, replied, response rate;
        grouped ``by`` number, template or region."""
        parts: frozenset[Part] = frozenset({"d", "n"} if by != "number" else {"d"})
        f = await self.storage.rollups.summed(q.numbers, q.bucket_days, parts)
        width = len(NOTIFY)
        out: dict[str, Any] = {
            "totals": M.notifications(M.notify_lanes(M.summed(f.series, DAY))),
            "series": [
                {"period": b.period, **M.notifications(M.notify_lanes(v))}
                for b, v in zip(q.buckets, f.series, strict=True)
            ],
        }
        if by == "number":
            groups = {n: M.notify_lanes(v) for n, v in f.by_number.items()}
        else:
            grouped: dict[str, list[list[int]]] = {}
            for name, lanes in f.blocks["n"].items():
                template, _, region = name.partition("|")
                grouped.setdefault(template if by == "template" else region, []).append(lanes)
            groups = {k: M.summed(v, width) for k, v in sorted(grouped.items())}
        out[f"by_{by}"] = [{by: k, **M.notifications(v)} for k, v in groups.items()]
        return out

    async def surveys(self, q: Query, kind: SurveyKind = "csat") -> dict[str, Any]:
        """Surveys of ``kind``: shown, answered, response rate, CSAT or NPS, scores."""
        f = await self.storage.rollups.summed(q.numbers, q.bucket_days, frozenset({"d"}))
        return {
            "kind": kind,
            "totals": M.surveys(M.summed(f.series, DAY), kind),
            "series": [
                {"period": b.period, **M.surveys(v, kind)}
                for b, v in zip(q.buckets, f.series, strict=True)
            ],
            "by_number": [{"number": n, **M.surveys(v, kind)} for n, v in f.by_number.items()],
        }

    async def messages(self, q: Query) -> dict[str, Any]:
        """Messages sent (bot, attendant, notification) and received; MAU, MIS and MAU
        month on month for every month the period meets."""
        f = await self.storage.rollups.summed(q.numbers, q.bucket_days, frozenset({"d"}))
        months = sorted({d[:7] for d in q.days})
        return {
            "totals": M.messages(M.summed(f.series, DAY)),
            "series": [
                {"period": b.period, **M.messages(v)}
                for b, v in zip(q.buckets, f.series, strict=True)
            ],
            "by_number": [{"number": n, **M.messages(v)} for n, v in f.by_number.items()],
            "months": [await self.actives(q.numbers, month) for month in months],
        }

    async def actives(self, numbers: tuple[str, ...], month: str) -> dict[str, Any]:
        """MAU (sent or received), MIS (sent) and MAU month on month of ``month``."""
        rollups = self.storage.rollups
        mau = await rollups.actives(numbers, month, "mau")
        previous = await rollups.actives(numbers, M.month_before(month), "mau")
        return {
            "month": month,
            "mau": mau,
            "mis": await rollups.actives(numbers, month, "mis"),
            "mau_previous": previous,
            "mau_mom_pct": M.mom_pct(mau, previous),
        }

    async def overview(self, q: Query) -> dict[str, Any]:
        """The cards: tickets, notifications, surveys and volume of the period; MAU and
        MIS of the current month whatever the period (as the manual says)."""
        whole = await self.storage.rollups.summed(q.numbers, [tuple(q.days)], frozenset({"d"}))
        total = whole.series[0]
        service = M.service(total)
        notify = M.notifications(M.notify_lanes(total))
        csat, nps = M.surveys(total, "csat"), M.surveys(total, "nps")
        current = (await self.today(q.numbers)).isoformat()[:7]
        return {
            "period": {"from": q.start.isoformat(), "to": q.end.isoformat()},
            "tickets": {k: service[k] for k in ("offered", "closed", "attended_pct")},
            "notifications": {
                k: notify[k] for k in ("total", "received", "replied", "response_rate")
            },
            "surveys": {
                "shown": csat["shown"] + nps["shown"],
                "answered": csat["answered"] + nps["answered"],
                "response_rate": M.ratio_pct(
                    csat["answered"] + nps["answered"], csat["shown"] + nps["shown"]
                ),
                "csat": csat["csat"],
                "csat_satisfied_pct": csat["csat_satisfied_pct"],
                "nps": nps["nps"],
            },
            "volume": {**M.messages(total), **await self.actives(q.numbers, current)},
        }
