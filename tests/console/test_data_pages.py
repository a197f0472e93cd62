"""The data dashboards over HTTP: the API's query and checks, charts as inline SVG that
need nothing the CSP forbids, and a CSV export equal to the API's."""

from __future__ import annotations

import re

import pytest

from flow_engine.console.security import CSP
from tests.admin.conftest import ADMIN_TOKEN, NUMBERS
from tests.console.conftest import Console

REPORTS = ["service", "notifications", "surveys", "messages"]


@pytest.mark.parametrize("report", ["overview", *REPORTS])
async def test_a_member_sees_their_numbers_and_gets_403_for_another(
    console: Console, report: str
) -> None:
    await console.member("d@example.com", ["data"], NUMBERS[:2])
    b = await console.browser()
    await b.sign_in("d@example.com")
    path = "/console/data" if report == "overview" else f"/console/data/{report}"
    page = await b.get(path)
    assert page.status == 200, page.text[:300]
    assert f'value="{NUMBERS[0]}" checked' in page.text
    assert f'value="{NUMBERS[1]}" checked' in page.text
    assert NUMBERS[2] not in page.text
    own = await b.get(f"{path}?numbers={NUMBERS[1]}")
    assert own.status == 200
    assert f'value="{NUMBERS[0]}">' in own.text  # offered, not ticked
    for asked in ([NUMBERS[2]], [NUMBERS[0], NUMBERS[3]]):
        query = "&".join(f"numbers={n}" for n in asked)
        denied = await b.get(f"{path}?{query}")
        assert denied.status == 403, denied.text[:300]
        assert "<h1" in denied.text  # the 403 page, not JSON
        csv_path = f"/console/data/{report}.csv?{query}"
        async with b.client.get(csv_path) as resp:
            assert resp.status == 403


async def test_without_the_data_module_the_dashboards_are_403(console: Console) -> None:
    await console.member("desk@example.com", ["desk"], NUMBERS)
    b = await console.browser()
    await b.sign_in("desk@example.com")
    assert (await b.get("/console/data")).status == 403
    assert (await b.get("/console/data/service")).status == 403
    home = await b.get("/console/")
    assert 'href="/console/data"' not in home.text


async def test_charts_are_inline_svg_without_script_or_inline_style(console: Console) -> None:
    await console.member("c@example.com", ["data"], NUMBERS[:2])
    b = await console.browser()
    await b.sign_in("c@example.com")
    for report in REPORTS:
        page = await b.get(f"/console/data/{report}?interval=week")
        assert page.status == 200
        assert page.headers["Content-Security-Policy"] == CSP
        svgs = re.findall(r"<svg.*?</svg>", page.text, flags=re.S)
        assert svgs, report
        for svg in svgs:
            assert 'class="pygal-chart fe-chart"' in svg
            assert "<script" not in svg and "<style" not in svg and "style=" not in svg
        assert "<script>" not in page.text  # only the console's own script file
        assert 'href="/console/data/charts.css"' in page.text
    css = await b.get("/console/data/charts.css")
    assert css.status == 200 and "svg.fe-chart" in css.text
    assert "#chart-" not in css.text


async def test_bad_fields_show_beside_them_with_422(console: Console) -> None:
    await console.member("e@example.com", ["data"], NUMBERS[:2])
    b = await console.browser()
    await b.sign_in("e@example.com")
    page = await b.get("/console/data/service?from=2026-03-10&to=2026-03-01")
    assert page.status == 422
    assert 'id="err-from"' in page.text and 'aria-invalid="true"' in page.text
    page = await b.get("/console/data/surveys?kind=ces")
    assert page.status == 422 and 'id="err-kind"' in page.text
    page = await b.get("/console/data/service?from=yesterday")
    assert page.status == 422 and "yesterday" in page.text and "<svg" not in page.text


@pytest.mark.parametrize(
    ("report", "extra"),
    [
        ("overview", ""),
        ("service", "&interval=week"),
        ("notifications", "&by=template"),
        ("surveys", "&kind=nps"),
        ("messages", "&interval=month"),
    ],
)
async def test_the_csv_export_is_the_apis(console: Console, report: str, extra: str) -> None:
    await console.member("x@example.com", ["data"], NUMBERS[:2])
    b = await console.browser()
    await b.sign_in("x@example.com")
    query = f"from=2026-01-01&to=2026-01-20{extra}"
    page_path = "/console/data" if report == "overview" else f"/console/data/{report}"
    page = await b.get(f"{page_path}?numbers={NUMBERS[0]}&numbers={NUMBERS[1]}&{query}")
    link = f"/console/data/{report}.csv?numbers={NUMBERS[0]}%2C{NUMBERS[1]}"
    assert link in page.text.replace("&amp;", "&")
    async with b.client.get(link + "&" + query) as resp:
        assert resp.status == 200 and resp.content_type == "text/csv"
        mine = await resp.text()
        disposition = resp.headers["Content-Disposition"]
    api = await console.admin.client.get(
        f"/api/v1/data/{report}?numbers={NUMBERS[0]},{NUMBERS[1]}&{query}&format=csv",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert api.status == 200
    assert mine == await api.text()
    assert disposition == api.headers["Content-Disposition"]
    assert mine.count("\n") >= 2 if report != "overview" else mine.count("\n") == 2
