"""``flow-engine admin notify`` / ``catalog`` / ``campaigns`` against a real engine and the
development gateway (no terminal, as in CI: writes need --yes)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from pathlib import Path

import pytest

from flow_engine.cli import main
from tests.notify.conftest import NUMBER, NotifyStack


async def run(
    stack: NotifyStack, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(
        main, ["admin", "--url", stack.h.engine_url, "--token", "admin-token", *argv]
    )
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for env in ("FLOW_ENGINE_API_URL", "FLOW_ENGINE_API_TOKEN", "FLOW_ENGINE_ADMIN_TOKEN"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


async def test_notify_and_catalog(stack: NotifyStack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await run(stack, capsys, "catalog", NUMBER, "--sync")
    assert code == 0 and "promo_descuento" in out and "nueva_coleccion" in out
    code, out, err = await run(
        stack,
        capsys,
        "notify",
        NUMBER,
        "--to",
        "+54 9 11 0000-0201",
        "--template",
        "recordatorio_cita",
        "--named",
        "nombre=Ana",
        "--named",
        "fecha=mañana",
        "--extra",
        "pedido=A-1",
        "--wait",
        "5",
    )
    assert code == 0, err
    assert "to 5491100000201: read" in out
    bad = await run(
        stack,
        capsys,
        "notify",
        NUMBER,
        "--to",
        "5491100000201",
        "--template",
        "recordatorio_cita",
        "--named",
        "nombre=Ana",
    )
    assert bad[0] == 1 and "parameters.body.fecha" in bad[2]


async def test_campaign_create_report_confirm_follow_export(
    stack: NotifyStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "c.csv"
    phones = [f"54911{40000000 + i:08d}" for i in range(6)]
    file.write_text(
        "telefono;nombre\n" + "".join(f"+{p};N{i}\n" for i, p in enumerate(phones)) + ";nadie\n",
        encoding="utf-8",
    )
    args = [
        "campaigns",
        "create",
        "--csv",
        str(file),
        "--name",
        "CLI",
        "--number",
        NUMBER,
        "--phone-column",
        "telefono",
        "--separator",
        ";",
        "--template",
        "recordatorio_cita",
        "--named",
        "nombre=@nombre",
        "--named",
        "fecha=31/12",
    ]
    code, out, err = await run(stack, capsys, *args)
    assert code == 2 and "--yes" in err  # the report, then no terminal to confirm on
    assert "6 to send" in out and "row 8 (telefono): empty phone" in out
    assert (await stack.api("GET", "/campaigns")).body["campaigns"] == []
    code, out, err = await run(stack, capsys, *args, "--yes")
    assert code == 0, err
    assert ": completed" in out
    sent = Counter(m["to"] for m in await stack.templates_sent())
    assert sent == Counter(phones)
    code, out, _ = await run(stack, capsys, "campaigns", "list")
    cid = out.splitlines()[1].split()[0]
    code, out, _ = await run(stack, capsys, "campaigns", "export", cid)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["phone"] for r in rows] == phones
    code, _out, err = await run(stack, capsys, "campaigns", "pause", cid)
    assert code == 1 and "completed" in err
