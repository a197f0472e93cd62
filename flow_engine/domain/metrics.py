"""The metrics of R-DATA, from summed rollup lanes (``facts.py``): pure formulas, the
periods of a report and their series buckets. ``docs/data.md`` states each formula with
its edge cases."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from flow_engine.domain.facts import DAY_LAYOUT, LANE, NOTIFY, SERVICE, SurveyKind

Interval = Literal["day", "week", "month"]
#: the longest period a report covers: the rollups kept (13 months)
PERIOD_MAX_DAYS = 400

CSAT_SCORES = range(1, 6)
NPS_SCORES = range(11)


def zeros(width: int) -> list[int]:
    return [0] * width


def add_into(total: list[int], vector: Sequence[int]) -> None:
    for i, v in enumerate(vector):
        total[i] += v


def summed(vectors: Iterable[Sequence[int]], width: int) -> list[int]:
    """The lane-wise sum of ``vectors`` (each ``width`` lanes)."""
    rows = list(vectors)
    if not rows:
        return zeros(width)
    return [sum(column) for column in zip(*rows, strict=True)]


def ratio_pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 2)


def mean_s(total_ms: int, count: int) -> float | None:
    return None if count == 0 else round(total_ms / count / 1000.0, 3)


def lanes(vector: Sequence[int], names: Sequence[str], prefix: str = "") -> dict[str, int]:
    index = LANE["d"]
    return {name: vector[index[prefix + name]] for name in names}


# --------------------------------------------------------------------------- figures


def service(v: Sequence[int]) -> dict[str, Any]:
    """The service figures of a vector whose first lanes are :data:`SERVICE` (a day
    vector, or a queue's)."""
    s = dict(zip(SERVICE, v[: len(SERVICE)], strict=True))
    tmf = mean_s(s["tmf_ms"], s["tmf_n"])
    first = mean_s(s["fr_ms"], s["fr_n"])
    return {
        "offered": s["offered"],
        "closed": s["closed"],
        "attended": s["attended"],
        "abandoned": s["abandoned"],
        "lost": s["lost"],
        "transferred": s["transferred"],
        "attended_pct": ratio_pct(s["closed"], s["offered"]),
        "aht_s": mean_s(s["aht_ms"], s["aht_n"]),
        "tmf_s": tmf,
        "first_response_s": first,
        "tme_s": None if tmf is None or first is None else round(tmf + first, 3),
        "response_s": mean_s(s["rt_ms"], s["rt_n"]),
    }


def messages(day: Sequence[int]) -> dict[str, Any]:
    m = lanes(day, ("in", "bot", "attendant", "notification"), "msg_")
    return {
        "received": m["in"],
        "sent": m["bot"] + m["attendant"] + m["notification"],
        "sent_bot": m["bot"],
        "sent_attendant": m["attendant"],
        "sent_notification": m["notification"],
    }


def survey_scores(kind: SurveyKind) -> range:
    return CSAT_SCORES if kind == "csat" else NPS_SCORES


def surveys(day: Sequence[int], kind: SurveyKind) -> dict[str, Any]:
    index = LANE["d"]
    shown = day[index[f"{kind}_shown"]]
    answered = day[index[f"{kind}_answered"]]
    distribution = {str(s): day[index[f"{kind}_score_{s}"]] for s in survey_scores(kind)}
    scored = sum(distribution.values())
    out: dict[str, Any] = {
        "shown": shown,
        "answered": answered,
        "response_rate": ratio_pct(answered, shown),
        "csat": None,
        "csat_satisfied_pct": None,
        "nps": None,
        "distribution": distribution,
    }
    if scored and kind == "csat":
        total = sum(int(s) * n for s, n in distribution.items())
        out["csat"] = round(total / scored, 2)
        out["csat_satisfied_pct"] = ratio_pct(distribution["4"] + distribution["5"], scored)
    elif scored:
        promoters = distribution["9"] + distribution["10"]
        detractors = sum(distribution[str(s)] for s in range(7))
        out["nps"] = round(100.0 * (promoters - detractors) / scored, 2)
    return out


def notifications(v: Sequence[int]) -> dict[str, Any]:
    """From :data:`NOTIFY` lanes (a (template, region) block, or the tail of a day)."""
    n = dict(zip(NOTIFY, v[-len(NOTIFY) :], strict=True))
    return {
        "total": n["sent"],
        "received": n["received"],
        "read": n["read"],
        "errors": n["failed"],
        "replied": n["replied"],
        "response_rate": ratio_pct(n["replied"], n["received"]),
    }


def notify_lanes(day: Sequence[int]) -> list[int]:
    start = LANE["d"]["ntf_sent"]
    return list(day[start : start + len(NOTIFY)])


def mom_pct(current: int, previous: int) -> float | None:
    """Month-on-month variation of MAU, in percent (None when last month had none)."""
    return None if previous == 0 else round(100.0 * (current - previous) / previous, 2)


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Bucket:
    """One point of a series: its label and its days (local dates, inclusive)."""

    period: str
    days: tuple[str, ...]


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def label(d: date, interval: Interval) -> str:
    if interval == "day":
        return d.isoformat()
    if interval == "week":  # the Monday that starts the ISO week
        return (d - timedelta(days=d.weekday())).isoformat()
    return d.isoformat()[:7]


def buckets(start: date, end: date, interval: Interval) -> list[Bucket]:
    """The series points of [start, end]: every day, ISO week (labelled by its Monday) or
    calendar month that meets the period, each holding only the days inside it."""
    grouped: dict[str, list[str]] = {}
    for d in days_between(start, end):
        grouped.setdefault(label(d, interval), []).append(d.isoformat())
    return [Bucket(period, tuple(days)) for period, days in grouped.items()]


def month_before(month: str) -> str:
    first = date.fromisoformat(f"{month}-01")
    return (first - timedelta(days=1)).isoformat()[:7]


DAY_WIDTH = len(DAY_LAYOUT)
