"""Issue 9, rough edges 11 and 12, and the CLI side of defect 2: list changes shown item by
item, versions naming their author by e-mail (and id) in local time with its zone, and
``--force`` for writes to many numbers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flow_engine.admin_cli.diff import change_lines
from flow_engine.admin_cli.ui import local_time
from tests.admin.conftest import NUMBERS, AdminClient, number_config
from tests.admin.test_cli import Cli, cli, config_of, write  # noqa: F401 - the fixture

N0, N1, N2, N3, N4 = NUMBERS

QUESTIONS = [
    {"question": "Horario de atención", "answer": "De lunes a viernes de 9 a 18"},
    {"question": "Envíos a todo el país", "answer": "Sí, con costo según la provincia"},
]


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The process runs in America/Sao_Paulo (UTC-3, no daylight saving since 2019)."""
    monkeypatch.setenv("TZ", "America/Sao_Paulo")
    time.tzset()
    yield "America/Sao_Paulo"
    monkeypatch.undo()
    time.tzset()


# ---------------------------------------------------------------------------- list diffs
def test_a_changed_list_is_shown_item_by_item_with_the_index() -> None:
    before = QUESTIONS
    after = [
        {**QUESTIONS[0], "answer": "De lunes a viernes de 9 a 19"},
        QUESTIONS[1],
        {"question": "Cambios y devoluciones", "answer": "Hasta 30 días"},
    ]
    lines = change_lines([{"path": "faq.questions", "before": before, "after": after}])
    text = "\n".join(lines)
    assert "faq.questions: 2 → 3 item(s)" in lines[0]
    assert (
        '[0] changed: answer: "De lunes a viernes de 9 a 18" → "De lunes a viernes de 9 a 19"'
        in (text)
    )
    assert '[2] added: {"answer": "Hasta 30 días", "question": "Cambios y devoluciones"}' in text
    assert "[1]" not in text  # unchanged items are not shown


def test_items_inserted_or_removed_in_the_middle_keep_their_own_index() -> None:
    tags = ["vip", "reclamo", "mayorista"]
    lines = change_lines(
        [{"path": "desk.tags", "before": tags, "after": ["nuevo", "vip", "mayorista"]}]
    )
    assert lines[1:] == ['    [0] added: "nuevo"', '    [1] removed: "reclamo"']


def test_an_item_inserted_before_a_changed_one_is_an_addition_then_a_change() -> None:
    before = [{**QUESTIONS[1], "answer": "No"}]
    lines = change_lines([{"path": "faq.questions", "before": before, "after": QUESTIONS}])
    assert lines[1].startswith('    [0] added: {"answer": "De lunes a viernes de 9 a 18"')
    assert lines[2] == '    [0→1] changed: answer: "No" → "Sí, con costo según la provincia"'
    assert len(lines) == 3


def test_a_list_that_appears_or_disappears_lists_its_items() -> None:
    lines = change_lines([{"path": "queue.queues", "before": None, "after": [{"name": "Ventas"}]}])
    assert lines == ["  queue.queues: null → 1 item(s)", '    [0] added: {"name": "Ventas"}']


def test_long_values_are_cut_where_they_differ() -> None:
    before = "Bienvenido a la tienda del barrio, " * 3 + "atendemos de 9 a 18"
    after = "Bienvenido a la tienda del barrio, " * 3 + "atendemos de 9 a 19"
    (line,) = change_lines([{"path": "faq.intro", "before": before, "after": after}])
    shown_before, shown_after = line.split(": ", 1)[1].split(" → ")
    assert shown_before != shown_after
    assert "18" in shown_before and "19" in shown_after


async def test_a_bulk_dry_run_shows_the_list_items_that_change(
    cli: Cli,  # noqa: F811
    admin: AdminClient,
    tmp_path: Path,
) -> None:
    ref = write(tmp_path / "ref.yaml", number_config(N0, faq={"questions": QUESTIONS}))
    assert (await cli("push", ref, "--number", N0, "--yes")).code == 0
    one = write(tmp_path / "n1.yaml", number_config(N1, faq={"questions": QUESTIONS[:1]}))
    assert (await cli("push", one, "--number", N1, "--yes")).code == 0
    dry = await cli("bulk", "--reference", N0, "--number", N1, "--paths", "faq", "--dry-run")
    assert dry.code == 0, dry.err
    assert "faq.questions: 1 → 2 item(s)" in dry.out
    assert '[1] added: {"answer": "Sí, con costo según la provincia"' in dry.out


# ---------------------------------------------------------------------------- versions
def test_local_time_names_its_zone(local_zone: str) -> None:
    assert local_time(1_795_000_000) == "2026-11-18 08:06:40 UTC-03:00"
    assert local_time(None) == ""


async def test_versions_name_the_author_by_e_mail_in_local_time(
    cli: Cli,  # noqa: F811
    admin: AdminClient,
    tmp_path: Path,
    local_zone: str,
) -> None:
    token = await admin.member_token("ana@example.com", ["config"], [N0])
    file = write(tmp_path / "n0.yaml", number_config(N0, name="Renamed"))
    assert (await cli("push", file, "--number", N0, "--yes", token=token)).code == 0
    me = await admin.call("GET", "/me", token=token)
    member = f"member:{me.body['member_id']}"

    api = await admin.call("GET", f"/numbers/{N0}/config/versions")
    newest, first = api.body["items"]
    assert newest["author"] == member and newest["author_email"] == "ana@example.com"
    assert first["author_email"] is None  # written by the system at the start
    current = await admin.call("GET", f"/numbers/{N0}/config")
    assert current.body["author_email"] == "ana@example.com"

    listed = await cli("versions", N0)
    assert listed.code == 0, listed.err
    row = listed.out.splitlines()[1]
    assert f"ana@example.com ({member})" in row
    at = local_time(newest["at"])
    assert at.endswith("UTC-03:00") and at in row


async def test_versions_written_before_e_mails_were_recorded_get_the_members(
    admin: AdminClient,
) -> None:
    token = await admin.member_token("bea@example.com", ["config"], [N0])
    me = await admin.call("GET", "/me", token=token)
    member = f"member:{me.body['member_id']}"
    await admin.storage.configs.put(N0, number_config(N0, name="old"), author=member)
    api = await admin.call("GET", f"/numbers/{N0}/config/versions")
    assert api.body["items"][0]["author_email"] == "bea@example.com"


# ---------------------------------------------------------------------------- --force
async def test_bulk_and_replicate_apply_with_if_match_or_with_force(
    cli: Cli,  # noqa: F811
    admin: AdminClient,
    tmp_path: Path,
) -> None:
    src = write(tmp_path / "src.yaml", number_config(N0, timezone="Asia/Tokyo"))
    assert (await cli("push", src, "--number", N0, "--yes")).code == 0
    run = await cli("replicate", N0, "--to", N1, "--yes", "--force")
    assert run.code == 0, run.err
    assert (await config_of(admin, N1))["config"]["timezone"] == "Asia/Tokyo"
    entries = await admin.storage.audit.entries(limit=5)
    assert next(e for e in entries if e.action == "config.replicate").details["force"] is True

    run = await cli("bulk", "--reference", N0, "--number", N2, "--paths", "timezone", "--yes")
    assert run.code == 0, run.err
    entries = await admin.storage.audit.entries(limit=5)
    assert "force" not in next(e for e in entries if e.action == "config.bulk").details
