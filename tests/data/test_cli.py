"""``flow-engine admin data <report>`` and ``flow-engine admin tickets history|pdf``: the
real CLI against a real engine on loopback (memory store, the five admin ``NUMBERS``)."""

from __future__ import annotations

import time
from pathlib import Path

from flow_engine.domain.facts import local_day
from flow_engine.domain.tickets import Ticket, TicketStatus
from tests.admin.conftest import NUMBERS, AdminClient
from tests.admin.test_cli import Cli

N0 = NUMBERS[0]


async def two_tickets(admin: AdminClient) -> tuple[str, str]:
    # yesterday at noon (UTC): the ticket opens and closes on one day whatever the hour
    # of the run (ten minutes ago split it around midnight: closed on the next day)
    now = (time.time() // 86400) * 86400 - 43200
    t = Ticket.open(
        id="t_cli1",
        number=N0,
        contact="5491100000001",
        contact_name="Ana",
        queue="Ventas",
        attendants=[],
        now=now,
    )
    await admin.storage.tickets.create(t)
    await admin.storage.tickets.update(t.id, lambda x: x.assign("ana@example.com", now + 60))
    await admin.storage.tickets.update(
        t.id, lambda x: x.close(TicketStatus.CLOSED_BY_ATTENDANT, now + 180, "ana@example.com")
    )
    other = t.model_copy(update={"id": "t_cli2", "contact": "5491100000002"})
    await admin.storage.tickets.create(other)
    return t.id, local_day(now, "UTC")


async def test_data_service_prints_totals_and_series_and_writes_csv(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    _ticket, day = await two_tickets(admin)
    out = tmp_path / "service.csv"
    run = await cli(
        "data", "service", "--numbers", N0, "--from", day, "--to", day, "--csv", str(out)
    )
    assert run.code == 0, run.err
    assert "totals: offered: 2  closed: 1  attended: 1" in run.out
    assert "aht_s: 120.0" in run.out and "tmf_s: 60.0" in run.out
    assert day in run.out  # the series table
    lines = out.read_text().splitlines()
    assert lines[0].startswith("period,offered,closed") and lines[1].startswith(f"{day},2,1,")
    run = await cli("data", "service", "--numbers", N0, "--from", day, "--to", day, "--json")
    assert run.code == 0 and run.json["totals"]["offered"] == 2
    for report in ("overview", "notifications", "surveys", "messages"):
        run = await cli("data", report, "--numbers", N0)
        assert run.code == 0, (report, run.err)


async def test_a_bad_date_is_the_servers_422(cli: Cli) -> None:
    run = await cli("data", "service", "--from", "2026-02-30")
    assert run.code == 1
    assert "from" in run.err


async def test_tickets_history_and_pdf(cli: Cli, admin: AdminClient, tmp_path: Path) -> None:
    ticket, _day = await two_tickets(admin)
    run = await cli("tickets", "history", N0)
    assert run.code == 0, run.err
    assert "t_cli2" in run.out and "t_cli1" in run.out
    assert run.out.index("t_cli2") < run.out.index("t_cli1")  # newest first
    run = await cli("tickets", "history", N0, "--status", "closed_by_attendant", "--json")
    assert [t["id"] for t in run.json["tickets"]] == ["t_cli1"]
    csv_file = tmp_path / "history.csv"
    run = await cli("tickets", "history", N0, "--csv", str(csv_file))
    assert run.code == 0 and len(csv_file.read_text().splitlines()) == 3
    pdf = tmp_path / "t.pdf"
    run = await cli("tickets", "pdf", ticket, "-o", str(pdf))
    assert run.code == 0, run.err
    assert pdf.read_bytes().startswith(b"%PDF")
    run = await cli("tickets", "pdf", "t_missing", "-o", str(tmp_path / "x.pdf"))
    assert run.code == 1 and "not found" in run.err
