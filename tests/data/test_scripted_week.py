"""A scripted week, through the webhook and the attendant API, on a clock that moves only
when told, on two numbers in different time zones (São Paulo UTC-3, Tokyo UTC+9) and
across a month boundary: every figure of the data API against answers worked out by hand
from the definitions (docs/data.md).

The calendar: D0 is the last day of last month, D1 the first of this one; the period
runs from D0 - 2 to D1. Every step is at a local time of its number.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.data.conftest import (
    SP,
    TOKYO,
    DataStack,
    FixedClock,
    get,
    sao_paulo_config,
    tokyo_config,
    until,
)
from tests.flow.conftest import Chat
from tests.flow.test_base_flow import api
from tests.support.harness import Harness, text_of

ZONES = {SP: ZoneInfo("America/Sao_Paulo"), TOKYO: ZoneInfo("Asia/Tokyo")}
A1, A2, A3 = "5511900000001", "5511900000002", "5511900000003"
B1, B2 = "819000000001", A3  # b2 is a3 writing to the Tokyo number too
D1 = datetime.now(UTC).date().replace(day=1)
D0 = D1 - timedelta(days=1)
START = D0 - timedelta(days=2)
M0, M1 = D0.isoformat()[:7], D1.isoformat()[:7]


def local(number: str, day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZONES[number])


class NumberChat(Chat):
    """A contact's chat with one number (the same phone may talk to several)."""

    async def received(self, quiet: float = 0.3) -> list[str]:
        records = await self.h.settle(self.contact, quiet=quiet)
        records = [r for r in records if r["phone_number_id"] == self.number]
        new = records[self.seen :]
        self.seen = len(records)
        self.records = records
        return [text_of(r) for r in new]


class Script:
    """The steps, tallying what each contact received per number and local day."""

    def __init__(self, h: Harness, clock: FixedClock) -> None:
        self.h, self.clock = h, clock
        self.sent: Counter[tuple[str, str, str]] = Counter()  # (number, day, source)
        self.received: Counter[tuple[str, str]] = Counter()
        self.chats: dict[tuple[str, str], Chat] = {}

    def chat(self, number: str, contact: str) -> Chat:
        key = (number, contact)
        if key not in self.chats:
            self.chats[key] = NumberChat(self.h, contact, self.clock, "Ana", number)
        return self.chats[key]

    def day(self, number: str) -> str:
        return datetime.fromtimestamp(self.clock(), ZONES[number]).date().isoformat()

    def at(self, number: str, day: date, hh: int, mm: int = 0, ss: int = 0) -> None:
        self.clock.set(local(number, day, hh, mm) + timedelta(seconds=ss))

    async def says(self, number: str, contact: str, text: str) -> list[str]:
        got = await self.chat(number, contact).send(text)
        self.received[(number, self.day(number))] += 1
        self.sent[(number, self.day(number), "bot")] += len(got)
        return got

    async def taps(self, number: str, contact: str, title: str) -> list[str]:
        got = await self.chat(number, contact).tap(title)
        self.received[(number, self.day(number))] += 1
        self.sent[(number, self.day(number), "bot")] += len(got)
        return got

    async def hears(
        self, number: str, contact: str, source: str = "bot", quiet: float = 0.3
    ) -> list[str]:
        got = await self.chat(number, contact).received(quiet)
        self.sent[(number, self.day(number), source)] += len(got)
        return got

    async def ticket_of(self, number: str, contact: str) -> str:
        status, body = await api(self.h, "GET", f"/api/v1/tickets?number={number}")
        assert status == 200, body
        (t,) = [
            t
            for t in body["tickets"]
            if t["contact"] == contact and t["status"] in ("waiting", "assigned")
        ]
        return str(t["id"])

    async def desk(self, path: str, body: dict[str, Any]) -> Any:
        status, answer = await api(self.h, "POST", f"/api/v1/tickets/{path}", body)
        assert status in (200, 201), answer
        return answer

    async def take(self, ticket: str, who: str) -> None:
        await self.desk(f"{ticket}/take", {"attendant": who})

    async def answer(self, number: str, contact: str, ticket: str, who: str, text: str) -> None:
        await self.desk(f"{ticket}/messages", {"text": text, "attendant": who})
        assert await self.hears(number, contact, "attendant") == [text]


async def play(s: Script) -> None:
    ana, carla, demo = "ana@example.com", "carla@example.com", "demo@example.com"
    # a1 on São Paulo, D0-2: Ventas, taken after 10 min, two answers, closed, CSAT 5
    s.at(SP, START, 14)
    await s.says(SP, A1, "hola")
    await s.taps(SP, A1, "Hablar con un asistente")
    await s.taps(SP, A1, "Ventas")
    t1 = await s.ticket_of(SP, A1)
    s.at(SP, START, 14, 10)
    await s.take(t1, ana)
    s.at(SP, START, 14, 12)
    assert await s.says(SP, A1, "quiero comprar") == []
    s.at(SP, START, 14, 15)
    await s.answer(SP, A1, t1, ana, "¡Hola! ¿Qué modelo busca?")
    s.at(SP, START, 14, 20)
    assert await s.says(SP, A1, "el azul") == []
    s.at(SP, START, 14, 22)
    await s.answer(SP, A1, t1, ana, "Lo tenemos 👍")
    s.at(SP, START, 14, 30)
    await s.desk(f"{t1}/close", {"attendant": ana})
    await s.hears(SP, A1)  # post-service and the CSAT survey
    await s.taps(SP, A1, "5")

    # b1 on Tokyo: D0 20:00 UTC is D1 05:00 in Tokyo; nobody takes it: closed by
    # inactivity after 60 min (lost); NPS 10
    s.at(TOKYO, D1, 5)
    await s.says(TOKYO, B1, "hola")
    await s.taps(TOKYO, B1, "Hablar con un asistente")
    s.at(TOKYO, D1, 6, 1)
    # the inactivity timer fires (timers are released every 0.5 s): post-service, survey
    assert len(await s.hears(TOKYO, B1, quiet=1.5)) == 3  # NPS: a list and a button
    s.at(TOKYO, D1, 6, 2)
    await s.taps(TOKYO, B1, "10")

    # b2 (= a3's phone) on Tokyo, D1 09:00: taken after 60 s, answered, closed; NPS 6
    s.at(TOKYO, D1, 9)
    await s.says(TOKYO, B2, "hola")
    await s.taps(TOKYO, B2, "Hablar con un asistente")
    t6 = await s.ticket_of(TOKYO, B2)
    s.at(TOKYO, D1, 9, 1)
    await s.take(t6, demo)
    s.at(TOKYO, D1, 9, 2)
    assert await s.says(TOKYO, B2, "ayuda") == []
    s.at(TOKYO, D1, 9, 3)
    await s.answer(TOKYO, B2, t6, demo, "Claro, dígame")
    s.at(TOKYO, D1, 9, 10)
    await s.desk(f"{t6}/close", {"attendant": demo})
    await s.hears(TOKYO, B2)
    await s.taps(TOKYO, B2, "6")

    # a2 on São Paulo, D0 23:30 local (already D1 in UTC): Soporte técnico, taken at
    # D1 00:10, transferred to Ventas at 00:20, closed by the contact at 01:00 before
    # anyone took it (lost); the survey is shown, never answered
    s.at(SP, D0, 23, 30)
    await s.says(SP, A2, "hola")
    await s.taps(SP, A2, "Hablar con un asistente")
    await s.taps(SP, A2, "Soporte técnico")
    t2 = await s.ticket_of(SP, A2)
    s.at(SP, D1, 0, 10)
    await s.take(t2, carla)
    s.at(SP, D1, 0, 20)
    reply = await s.desk(f"{t2}/transfer", {"queue": "Ventas", "attendant": carla})
    t3 = reply["new_ticket"]["id"]
    await s.hears(SP, A2)
    s.at(SP, D1, 1)
    await s.desk(f"{t3}/close", {"closed_by": "contact"})
    await s.hears(SP, A2)

    # a3 on São Paulo, D1 10:00: Ventas, taken after 5 min, one answer, closed by the
    # contact (abandoned); CSAT 3
    s.at(SP, D1, 10)
    await s.says(SP, A3, "hola")
    await s.taps(SP, A3, "Hablar con un asistente")
    await s.taps(SP, A3, "Ventas")
    t4 = await s.ticket_of(SP, A3)
    s.at(SP, D1, 10, 5)
    await s.take(t4, ana)
    s.at(SP, D1, 10, 6)
    assert await s.says(SP, A3, "¿hola?") == []
    s.at(SP, D1, 10, 8)
    await s.answer(SP, A3, t4, ana, "Perdón la demora")
    s.at(SP, D1, 10, 20)
    await s.desk(f"{t4}/close", {"attendant": ana, "closed_by": "contact"})
    await s.hears(SP, A3)
    await s.taps(SP, A3, "3")


def service(**given: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "offered": 0,
        "closed": 0,
        "attended": 0,
        "abandoned": 0,
        "lost": 0,
        "transferred": 0,
        "attended_pct": None,
        "aht_s": None,
        "tmf_s": None,
        "first_response_s": None,
        "tme_s": None,
        "response_s": None,
    }
    out.update(given)
    return out


# worked out by hand (seconds): T1 tmf 600, fr 300, rt 180 and 120, aht 1200 — T2 tmf 2400,
# aht 600, transferred — T3 lost — T4 tmf 300, fr 180, rt 120, aht 900, abandoned —
# T5 lost — T6 tmf 60, fr 120, rt 60, aht 540
TOTALS = service(
    offered=6,
    closed=6,
    attended=3,
    abandoned=1,
    lost=2,
    transferred=1,
    attended_pct=100.0,
    aht_s=810.0,  # (1200 + 600 + 900 + 540) / 4
    tmf_s=840.0,  # (600 + 2400 + 300 + 60) / 4
    first_response_s=200.0,  # (300 + 180 + 120) / 3
    tme_s=1040.0,
    response_s=120.0,  # (180 + 120 + 120 + 60) / 4
)
DAYS = {
    START: service(
        offered=1,
        closed=1,
        attended=1,
        attended_pct=100.0,
        aht_s=1200.0,
        tmf_s=600.0,
        first_response_s=300.0,
        tme_s=900.0,
        response_s=150.0,
    ),
    START + timedelta(days=1): service(),
    D0: service(offered=1, attended_pct=0.0),  # T2, 23:30 in São Paulo
    D1: service(  # T2's assignment and transfer, T3, T4 (São Paulo); T5, T6 (Tokyo)
        offered=4,
        closed=5,
        attended=2,
        abandoned=1,
        lost=2,
        transferred=1,
        attended_pct=125.0,
        aht_s=680.0,  # (600 + 900 + 540) / 3
        tmf_s=920.0,  # (2400 + 300 + 60) / 3
        first_response_s=150.0,  # (180 + 120) / 2
        tme_s=1070.0,
        response_s=90.0,  # (120 + 60) / 2
    ),
}
QUEUES = {
    "Otros asuntos": service(  # T5, T6
        offered=2,
        closed=2,
        attended=1,
        lost=1,
        attended_pct=100.0,
        aht_s=540.0,
        tmf_s=60.0,
        first_response_s=120.0,
        tme_s=180.0,
        response_s=60.0,
    ),
    "Soporte técnico": service(  # T2, transferred out
        offered=1,
        closed=1,
        attended=1,
        transferred=1,
        attended_pct=100.0,
        aht_s=600.0,
        tmf_s=2400.0,
    ),
    "Ventas": service(  # T1, T3 (the transfer's new ticket), T4
        offered=3,
        closed=3,
        attended=1,
        abandoned=1,
        lost=1,
        attended_pct=100.0,
        aht_s=1050.0,
        tmf_s=450.0,
        first_response_s=240.0,
        tme_s=690.0,
        response_s=140.0,
    ),
}


async def service_report(h: Harness, **params: str) -> Any:
    query = {"from": START.isoformat(), "to": D1.isoformat(), **params}
    status, body = await get(h, "/api/v1/data/service", **query)
    assert status == 200, body
    return body


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_scripted_week(
    data_stack: DataStack, request: pytest.FixtureRequest, backend: str
) -> None:
    redis_url = request.getfixturevalue("redis_url") if backend == "redis" else ""
    clock = FixedClock(local(SP, START, 13))
    h = await data_stack([sao_paulo_config(), tokyo_config()], clock, redis_url)
    s = Script(h, clock)
    await play(s)

    async def totals() -> Any:
        return (await service_report(h))["totals"]

    assert await until(totals, TOTALS) == TOTALS
    report = await service_report(h)
    assert [p["period"] for p in report["series"]] == [d.isoformat() for d in DAYS]
    assert {p.pop("period"): p for p in report["series"]} == {
        d.isoformat(): v for d, v in DAYS.items()
    }
    assert {q.pop("queue"): q for q in report["by_queue"]} == QUEUES
    by_number = {n.pop("number"): n for n in report["by_number"]}
    assert by_number[TOKYO] == QUEUES["Otros asuntos"]
    assert by_number[SP]["offered"] == 4 and by_number[SP]["transferred"] == 1
    assert report["query"] == {
        "numbers": [SP, TOKYO],
        "from": START.isoformat(),
        "to": D1.isoformat(),
        "interval": "day",
    }

    # the month boundary: D1 alone is this month; a number alone is its own local days
    monthly = await service_report(h, interval="month")
    assert [(p["period"], p["offered"], p["closed"]) for p in monthly["series"]] == [
        (M0, 2, 1),
        (M1, 4, 5),
    ]
    tokyo = await service_report(h, numbers=TOKYO, interval="month")
    assert [(p["period"], p["offered"]) for p in tokyo["series"]] == [(M0, 0), (M1, 2)]

    await check_surveys(h)
    await check_messages(h, s)
    await check_overview(h)
    await check_csv(h)


async def check_surveys(h: Harness) -> None:
    period = {"from": START.isoformat(), "to": D1.isoformat()}
    expected = {
        "shown": 3,  # after T1, T3 and T4
        "answered": 2,
        "response_rate": 66.67,
        "csat": 4.0,  # (5 + 3) / 2
        "csat_satisfied_pct": 50.0,
        "nps": None,
        "distribution": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1},
    }

    async def csat_totals() -> Any:
        return (await get(h, "/api/v1/data/surveys", kind="csat", **period))[1]["totals"]

    assert await until(csat_totals, expected) == expected
    status, csat = await get(h, "/api/v1/data/surveys", kind="csat", **period)
    assert status == 200, csat
    status, nps = await get(h, "/api/v1/data/surveys", kind="nps", **period)
    assert status == 200, nps
    assert nps["totals"]["shown"] == 2 and nps["totals"]["answered"] == 2
    assert nps["totals"]["nps"] == 0.0  # one promoter (10), one detractor (6)
    assert nps["totals"]["csat"] is None
    assert {k: v for k, v in nps["totals"]["distribution"].items() if v} == {"6": 1, "10": 1}
    d1 = {p["period"]: p for p in csat["series"]}[D1.isoformat()]
    assert (d1["shown"], d1["answered"], d1["csat"]) == (2, 1, 3.0)


async def check_messages(h: Harness, s: Script) -> None:
    period = {"from": START.isoformat(), "to": D1.isoformat()}
    days = [d.isoformat() for d in DAYS]
    expected = [
        {
            "period": day,
            "received": sum(s.received[(n, day)] for n in (SP, TOKYO)),
            "sent_bot": sum(s.sent[(n, day, "bot")] for n in (SP, TOKYO)),
            "sent_attendant": sum(s.sent[(n, day, "attendant")] for n in (SP, TOKYO)),
            "sent_notification": 0,
        }
        for day in days
    ]
    for point in expected:
        point["sent"] = point["sent_bot"] + point["sent_attendant"]

    async def series() -> Any:
        body = (await get(h, "/api/v1/data/messages", **period))[1]
        return [{k: p[k] for k in expected[0]} for p in body["series"]]

    assert await until(series, expected) == expected
    status, report = await get(h, "/api/v1/data/messages", **period)
    assert status == 200, report
    # by hand: a1 wrote 6 times on D0-2, a2 3 times on D0 (São Paulo); on D1 a3 5 times
    # (São Paulo), b1 3 and b2 4 (Tokyo); attendants wrote 2 + 1 (São Paulo) and 1 (Tokyo)
    assert [p["received"] for p in report["series"]] == [6, 0, 3, 12]
    assert [p["sent_attendant"] for p in report["series"]] == [2, 0, 0, 2]
    months = {m["month"]: m for m in report["months"]}
    assert (months[M0]["mau"], months[M0]["mis"]) == (2, 2)  # a1, a2
    # this month: a2 (received only), a3 = b2 on both numbers, b1; MIS: a3, b1
    assert (months[M1]["mau"], months[M1]["mis"]) == (3, 2)
    assert months[M1]["mau_previous"] == 2 and months[M1]["mau_mom_pct"] == 50.0


async def check_overview(h: Harness) -> None:
    status, cards = await get(h, "/api/v1/data/overview", **{"from": START.isoformat()})
    assert status == 200, cards
    assert cards["tickets"] == {"offered": 6, "closed": 6, "attended_pct": 100.0}
    assert cards["surveys"]["shown"] == 5 and cards["surveys"]["answered"] == 4
    assert cards["surveys"]["csat"] == 4.0 and cards["surveys"]["nps"] == 0.0
    assert cards["volume"]["month"] == M1  # the clock's month, whatever the period
    assert (cards["volume"]["mau"], cards["volume"]["mis"]) == (3, 2)
    # MAU and MIS do not follow the period: the same for a period in last month
    status, old = await get(
        h, "/api/v1/data/overview", **{"from": START.isoformat(), "to": D0.isoformat()}
    )
    assert old["volume"]["mau"] == 3 and old["tickets"]["offered"] == 2


async def check_csv(h: Harness) -> None:
    period = {"from": START.isoformat(), "to": D1.isoformat(), "format": "csv"}
    status, text = await get(h, "/api/v1/data/service", **period)
    assert status == 200
    lines = text.splitlines()
    assert lines[0].split(",") == ["period", *TOTALS]
    assert len(lines) == 1 + len(DAYS)
    last = dict(zip(lines[0].split(","), lines[-1].split(","), strict=True))
    assert last["period"] == D1.isoformat() and last["offered"] == "4"
    assert last["aht_s"] == "680.0" and last["first_response_s"] == "150.0"
    assert dict(zip(lines[0].split(","), lines[2].split(","), strict=True))["aht_s"] == ""
