"""The health pages over HTTP: only the member's numbers, the CSV of the same table."""

from __future__ import annotations

import csv
import io

from tests.admin.conftest import NUMBERS
from tests.console.conftest import Console


async def test_the_table_and_its_csv_show_only_the_members_numbers(console: Console) -> None:
    await console.member("h@example.com", ["health"], NUMBERS[:2])
    b = await console.browser()
    await b.sign_in("h@example.com")
    page = await b.get("/console/health")
    assert page.status == 200
    assert NUMBERS[0] in page.text and NUMBERS[2] not in page.text
    async with b.client.get("/console/health.csv?class=unknown") as resp:
        assert resp.status == 200 and resp.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert sorted(r["number"] for r in rows) == NUMBERS[:2]
    async with b.client.get("/console/health.csv?class=bad") as resp:
        assert list(csv.DictReader(io.StringIO(await resp.text()))) == []
    assert (await b.get(f"/console/health/{NUMBERS[2]}")).status == 403
    history = await b.get(f"/console/health/{NUMBERS[0]}")
    assert history.status == 200
