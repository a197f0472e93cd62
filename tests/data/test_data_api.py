"""The data API's permissions and parameters: every number asked is checked (a 403 names
the numbers outside the grant), the defaults are the caller's numbers, and a bad
parameter is a 422 that names it."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.admin.conftest import NUMBERS, AdminClient

REPORTS = ["overview", "service", "notifications", "surveys", "messages"]


@pytest.mark.parametrize("report", REPORTS)
async def test_a_member_limited_to_two_numbers_asking_for_five_gets_403(
    admin_any: AdminClient, report: str
) -> None:
    token = await admin_any.member_token("sup@example.com", ["data"], NUMBERS[:2])
    every = ",".join(NUMBERS)
    reply = await admin_any.call("GET", f"/data/{report}?numbers={every}", token=token)
    assert reply.status == 403, reply.body
    assert reply.body["error"]["details"]["numbers"] == NUMBERS[2:]
    for n in NUMBERS[2:]:
        assert n in reply.body["error"]["message"]
    # one number outside is enough
    reply = await admin_any.call(
        "GET", f"/data/{report}?numbers={NUMBERS[0]},{NUMBERS[4]}", token=token
    )
    assert reply.status == 403 and reply.body["error"]["details"]["numbers"] == [NUMBERS[4]]
    # their own two: allowed; by default they get exactly those
    reply = await admin_any.call("GET", f"/data/{report}?numbers={NUMBERS[1]}", token=token)
    assert reply.status == 200, reply.body
    reply = await admin_any.call("GET", f"/data/{report}", token=token)
    assert reply.status == 200 and reply.body["query"]["numbers"] == NUMBERS[:2]


async def test_the_data_module_is_needed(admin: AdminClient) -> None:
    token = await admin.member_token("desk@example.com", ["desk"], NUMBERS)
    reply = await admin.call("GET", "/data/service", token=token)
    assert reply.status == 403 and reply.body["error"]["details"] == {"module": "data"}


async def test_the_super_admin_sees_every_number(admin: AdminClient) -> None:
    reply = await admin.call("GET", "/data/service")
    assert reply.status == 200 and reply.body["query"]["numbers"] == NUMBERS


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        ("from=2026-11-10&to=2026-11-09", "from"),
        ("from=2024-01-01&to=2026-01-01", "to"),
        ("interval=hour", "interval"),
        ("format=xml", "format"),
        ("numbers=abc", "numbers"),
        ("numbers=,", "numbers"),
        ("numbers=999", "numbers"),
        ("nubmers=1", "nubmers"),
    ],
)
async def test_bad_parameters_are_422_naming_them(
    admin: AdminClient, query: str, field: str
) -> None:
    reply = await admin.call("GET", f"/data/service?{query}")
    assert reply.status == 422, reply.body
    details = reply.body["error"]["details"]
    assert [(d["field"], d["in"]) for d in details] == [(field, "query")]


@pytest.mark.parametrize("number", ["\u0661\u0662\u0663", "\u00b2", "\uff11\uff12", "1" * 33])
async def test_a_number_of_other_digits_is_a_format_error(admin: AdminClient, number: str) -> None:
    # Arabic-Indic digits, a superscript, full-width digits: str.isdigit() takes them,
    # a phone number id is ASCII 0-9 only (and at most 32 of them)
    reply = await admin.call("GET", f"/data/service?numbers={quote(number)}")
    assert reply.status == 422, reply.body
    [detail] = reply.body["error"]["details"]
    assert (detail["field"], detail["in"], detail["type"]) == ("numbers", "query", "number_format")


async def test_report_specific_parameters(admin: AdminClient) -> None:
    for query, field in [("by=queue", "by"), ("kind=ces", "kind")]:
        path = "/data/notifications" if field == "by" else "/data/surveys"
        reply = await admin.call("GET", f"{path}?{query}")
        assert reply.status == 422 and reply.body["error"]["details"][0]["field"] == field
        reply = await admin.call("GET", f"/data/service?{query}")
        assert reply.status == 422  # not a parameter of the service report
    for by in ["number", "template", "region"]:
        reply = await admin.call("GET", f"/data/notifications?by={by}")
        assert reply.status == 200 and f"by_{by}" in reply.body, reply.body
    reply = await admin.call("GET", "/data/surveys?kind=nps")
    assert reply.status == 200 and reply.body["kind"] == "nps"


async def test_csv_has_a_header_and_a_row_per_point(admin: AdminClient) -> None:
    reply = await admin.call(
        "GET", "/data/messages?from=2026-11-01&to=2026-11-30&interval=week&format=csv"
    )
    assert reply.status == 200
    lines = str(reply.body).splitlines()
    assert lines[0].startswith("period,received,sent,")
    # ISO weeks meeting November 2026, each labelled by its Monday
    assert [line.split(",")[0] for line in lines[1:]] == [
        "2026-10-26",
        "2026-11-02",
        "2026-11-09",
        "2026-11-16",
        "2026-11-23",
        "2026-11-30",
    ]
