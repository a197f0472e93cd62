"""``flow-engine admin …`` end to end: the real CLI (``flow_engine.cli.main``) against a real
engine serving the admin API on loopback (memory store, the five ``NUMBERS``).

``main`` runs ``asyncio.run`` of its own, so it runs in a worker thread while the server
keeps serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from flow_engine.admin_cli.ui import Ui
from flow_engine.cli import main
from tests.admin.conftest import ADMIN_TOKEN, NUMBERS, AdminClient, number_config

N0, N1, N2, N3, N4 = NUMBERS


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


Cli = Callable[..., Awaitable[Run]]


@pytest.fixture
def cli(
    admin: AdminClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """Run ``flow-engine admin --url <server> --token <token> ARGS…``: status and output."""
    for env in ("FLOW_ENGINE_API_URL", "FLOW_ENGINE_API_TOKEN", "FLOW_ENGINE_ADMIN_TOKEN"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal, as in CI
    url = str(admin.client.make_url("")).rstrip("/")

    async def run(*argv: str, token: str | None = ADMIN_TOKEN) -> Run:
        capsys.readouterr()
        auth = ["--token", token] if token is not None else []
        code = await asyncio.to_thread(main, ["admin", "--url", url, *auth, *argv])
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


async def config_of(admin: AdminClient, number: str) -> dict[str, Any]:
    reply = await admin.call("GET", f"/numbers/{number}/config")
    assert reply.status == 200, reply.body
    return dict(reply.body)


def write(path: Path, doc: dict[str, Any]) -> str:
    if path.suffix == ".json":
        path.write_text(json.dumps(doc), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------------------- numbers, config
async def test_numbers_lists_every_number_in_a_table_and_as_json(cli: Cli) -> None:
    table = await cli("numbers")
    assert table.code == 0, table.err
    header, *rows = table.out.splitlines()
    assert header.split() == [
        "NUMBER",
        "NAME",
        "OWNER",
        "MEMBERS",
        "FLOW",
        "VERSION",
        "CONFIG",
        "VERSION",
    ]
    assert [r.split()[0] for r in rows] == NUMBERS
    assert "Agent 101" in rows[0]

    as_json = await cli("--json", "numbers")
    assert as_json.code == 0
    assert sorted(n["number"] for n in as_json.json) == NUMBERS

    one = await cli("numbers", "--search", N3, "--json")
    assert [n["number"] for n in one.json] == [N3]


async def test_config_get_prints_yaml_and_writes_json_or_yaml_files(
    cli: Cli, tmp_path: Path
) -> None:
    shown = await cli("config", "get", N0)
    assert shown.code == 0, shown.err
    assert yaml.safe_load(shown.out)["phone_number_id"] == N0

    assert (await cli("config", "get", N0, "-o", str(tmp_path / "n.json"))).code == 0
    assert json.loads((tmp_path / "n.json").read_text())["name"] == "Agent 101"
    assert (await cli("config", "get", N0, "-o", str(tmp_path / "n.yaml"))).code == 0
    assert yaml.safe_load((tmp_path / "n.yaml").read_text())["name"] == "Agent 101"


async def test_long_messages_stay_on_one_line_to_be_edited(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    text = "Hola {{contact.name}}, " + "bienvenido a la tienda del barrio " * 4
    await admin.storage.configs.put(
        N0, number_config(N0, flow={"initial_greeting": {"text": text.strip()}})
    )
    assert (await cli("config", "get", N0, "-o", str(tmp_path / "n.yaml"))).code == 0
    assert f"text: {text.strip()}" in (tmp_path / "n.yaml").read_text()


# ---------------------------------------------------------------------------- push
async def test_push_to_its_own_number_shows_the_diff_then_replaces_the_configuration(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    before = await config_of(admin, N0)
    file = write(tmp_path / "n0.yaml", number_config(N0, name="Renamed", timezone="Europe/Madrid"))

    dry = await cli("push", file, "--number", N0, "--dry-run")
    assert dry.code == 0, dry.err
    assert 'name: "Agent 101" → "Renamed"' in dry.out
    assert 'timezone: "America/Sao_Paulo" → "Europe/Madrid"' in dry.out
    assert "2 change(s)" in dry.out
    assert (await config_of(admin, N0))["version"] == before["version"]

    done = await cli("push", file, "--number", N0, "--yes")
    assert done.code == 0, done.err
    assert 'name: "Agent 101" → "Renamed"' in done.out
    assert f"{N0}: version {before['version']} → {before['version'] + 1}" in done.out
    after = await config_of(admin, N0)
    assert after["version"] == before["version"] + 1
    assert after["config"]["name"] == "Renamed"
    assert after["config"]["timezone"] == "Europe/Madrid"

    again = await cli("push", file, "--number", N0, "--yes")
    assert again.code == 0 and "nothing to change" in again.out
    assert (await config_of(admin, N0))["version"] == after["version"]


async def test_push_creates_a_number_that_has_no_configuration_yet(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    new = "100000000000999"
    file = write(tmp_path / "new.yaml", number_config(new, name="Nuevo"))
    dry = await cli("push", file, "--number", new, "--dry-run")
    assert dry.code == 0, dry.err
    assert "will be created" in dry.out
    assert (await admin.call("GET", f"/numbers/{new}/config")).status == 404
    done = await cli("push", file, "--number", new, "--yes")
    assert done.code == 0, done.err
    assert f"{new}: created, version 1" in done.out
    assert (await config_of(admin, new))["config"]["name"] == "Nuevo"


async def test_push_a_partial_file_to_three_numbers_dry_run_then_yes(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    targets = [N0, N1, N2]
    before = {n: await config_of(admin, n) for n in NUMBERS}
    file = write(tmp_path / "partial.yaml", {"timezone": "Europe/Lisbon", "locale": "en"})

    dry = await cli("push", file, "--number", *targets, "--dry-run")
    assert dry.code == 0, dry.err
    assert "3 numbers, the same 2 change(s) each:" in dry.out  # one diff for all three
    for n in targets:
        assert f"  {n} (version {before[n]['version']})" in dry.out
    assert dry.out.count('timezone: "America/Sao_Paulo" → "Europe/Lisbon"') == 1
    assert "would change 3 number(s), 0 unchanged" in dry.out
    assert "dry run: nothing was changed" in dry.out
    for n in NUMBERS:
        assert (await config_of(admin, n))["version"] == before[n]["version"]

    done = await cli("push", file, "--number", *targets, "--yes")
    assert done.code == 0, done.err
    assert "applied: 3 number(s) changed" in done.out
    for n in NUMBERS:
        now = await config_of(admin, n)
        if n in targets:
            assert now["version"] == before[n]["version"] + 1  # one version each
            assert now["config"]["timezone"] == "Europe/Lisbon"
            assert now["config"]["locale"] == "en"
            assert now["config"]["phone_number_id"] == n  # identity kept
        else:
            assert now["version"] == before[n]["version"]
            assert now["config"] == before[n]["config"]


async def test_a_full_file_pushed_to_other_numbers_keeps_their_identity(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    file = write(tmp_path / "n0.json", number_config(N0, timezone="Europe/Paris"))
    done = await cli("push", file, "--number", N1, N2, "--yes", "--json")
    assert done.code == 0, done.err
    assert "pushed as a partial configuration" in done.err  # --json: messages on stderr
    assert done.json["applied"] is True
    for n in (N1, N2):
        config = (await config_of(admin, n))["config"]
        assert config["phone_number_id"] == n
        assert config["display_phone_number"] == number_config(n)["display_phone_number"]
        assert config["timezone"] == "Europe/Paris"


async def test_a_number_changed_between_dry_run_and_apply_gives_412_and_writes_nothing(
    cli: Cli, admin: AdminClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    file = write(tmp_path / "partial.yaml", {"timezone": "Europe/Lisbon"})

    async def someone_else_renames_n1() -> None:
        current = await config_of(admin, N1)
        reply = await admin.call(
            "PUT",
            f"/numbers/{N1}/config",
            {**current["config"], "name": "Changed meanwhile"},
            headers={"If-Match": current["etag"]},
        )
        assert reply.status == 200, reply.body

    def confirm(self: Ui, question: str) -> None:  # between the dry run and the apply
        asyncio.run_coroutine_threadsafe(someone_else_renames_n1(), loop).result(10)

    monkeypatch.setattr(Ui, "confirm", confirm)
    before = {n: await config_of(admin, n) for n in (N0, N1, N2)}
    run = await cli("push", file, "--number", N0, N1, N2, "--yes")
    assert run.code == 1
    assert "error: 412" in run.err, run.err
    assert N1 in run.err  # the number that moved
    assert "rerun the command" in run.err
    assert (await config_of(admin, N0))["version"] == before[N0]["version"]
    assert (await config_of(admin, N2))["version"] == before[N2]["version"]
    n1 = await config_of(admin, N1)
    assert n1["version"] == before[N1]["version"] + 1  # only the other change
    assert n1["config"]["timezone"] == before[N1]["config"]["timezone"]


async def test_an_invalid_file_prints_each_bad_field_and_exits_1(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    bad = {
        "send_rate_per_second": -1,
        "faq": {"questions": [{"question": "Hours?", "answer": ""}]},
    }
    before = {n: await config_of(admin, n) for n in (N0, N1, N2)}

    one = await cli(
        "push", write(tmp_path / "n0.yaml", {**number_config(N0), **bad}), "--number", N0, "--yes"
    )
    assert one.code == 1
    assert "error: 422" in one.err
    assert "send_rate_per_second:" in one.err
    assert "faq.questions.0.answer:" in one.err

    many = await cli("push", write(tmp_path / "partial.yaml", bad), "--number", N1, N2, "--yes")
    assert many.code == 1
    assert "error: 422" in many.err
    for n in (N1, N2):
        assert f"{n}: send_rate_per_second:" in many.err
        assert f"{n}: faq.questions.0.answer:" in many.err
    for n in (N0, N1, N2):
        assert (await config_of(admin, n))["version"] == before[n]["version"]


async def test_without_a_terminal_a_write_needs_yes(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    before = {n: await config_of(admin, n) for n in NUMBERS}
    partial = write(tmp_path / "partial.yaml", {"timezone": "Europe/Lisbon"})
    run = await cli("push", partial, "--number", N0, N1, N2)
    assert run.code == 2
    assert "--yes" in run.err
    assert "would change 3 number(s)" in run.out  # the diff was shown
    whole = write(tmp_path / "n0.yaml", number_config(N0, name="Renamed"))
    assert (await cli("push", whole, "--number", N0)).code == 2
    assert (await cli("upgrade", N0, "--flow-version", "latest")).code == 2
    for n in NUMBERS:
        assert (await config_of(admin, n))["version"] == before[n]["version"]


async def test_on_a_terminal_the_user_is_asked(
    cli: Cli, admin: AdminClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    partial = write(tmp_path / "partial.yaml", {"timezone": "Europe/Lisbon"})
    version = (await config_of(admin, N0))["version"]
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    no = await cli("push", partial, "--number", N0)
    assert no.code == 1 and "aborted" in no.err
    assert (await config_of(admin, N0))["version"] == version
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    yes = await cli("push", partial, "--number", N0)
    assert yes.code == 0, yes.err
    assert (await config_of(admin, N0))["version"] == version + 1


# ---------------------------------------------------------------------------- bulk, replicate
async def test_bulk_of_forty_numbers_dry_runs_in_chunks_and_applies_at_once(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    many = [f"2000000000{i:05d}" for i in range(45)]
    for n in many:
        await admin.storage.configs.put(n, number_config(n))
    ref = write(tmp_path / "ref.yaml", number_config(N0, locale="en"))
    assert (await cli("push", ref, "--number", N0, "--yes")).code == 0

    dry = await cli("bulk", "--reference", N0, "--number", *many, "--dry-run")
    assert dry.code == 0, dry.err
    assert "45 numbers, the same 1 change(s) each:" in dry.out  # merged from 3 dry runs
    assert "would change 45 number(s), 0 unchanged" in dry.out
    assert all(h.version == 1 for h in (await admin.storage.configs.heads(many)).values())

    done = await cli("bulk", "--reference", N0, "--number", *many, "--yes")
    assert done.code == 0, done.err
    heads = await admin.storage.configs.heads(many)
    assert all(h.version == 2 and h.config["locale"] == "en" for h in heads.values())
    assert len({h.at for h in heads.values()}) == 1  # one atomic commit


async def test_bulk_copies_paths_from_a_reference(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    ref = write(tmp_path / "ref.yaml", number_config(N0, timezone="Asia/Tokyo", locale="en"))
    assert (await cli("push", ref, "--number", N0, "--yes")).code == 0
    run = await cli("bulk", "--reference", N0, "--number", N1, N2, "--paths", "timezone", "--yes")
    assert run.code == 0, run.err
    assert 'timezone: "America/Sao_Paulo" → "Asia/Tokyo"' in run.out
    for n in (N1, N2):
        config = (await config_of(admin, n))["config"]
        assert config["timezone"] == "Asia/Tokyo"
        assert config.get("locale", "es") == "es"  # not in --paths


async def test_replicate_copies_the_human_service_settings(
    cli: Cli, admin: AdminClient, tmp_path: Path
) -> None:
    src = write(tmp_path / "src.yaml", number_config(N0, timezone="Asia/Tokyo"))
    assert (await cli("push", src, "--number", N0, "--yes")).code == 0
    dry = await cli("replicate", N0, "--to", N3, N4, "--dry-run")
    assert dry.code == 0, dry.err
    assert "would change 2 number(s)" in dry.out
    assert (await config_of(admin, N3))["config"].get("timezone") != "Asia/Tokyo"
    run = await cli("replicate", N0, "--to", N3, N4, "--yes")
    assert run.code == 0, run.err
    for n in (N3, N4):
        assert (await config_of(admin, n))["config"]["timezone"] == "Asia/Tokyo"


# ---------------------------------------------------------------------------- versions
async def test_versions_restore_and_upgrade(cli: Cli, admin: AdminClient, tmp_path: Path) -> None:
    first = await config_of(admin, N0)
    file = write(tmp_path / "n0.yaml", number_config(N0, name="Renamed"))
    assert (await cli("push", file, "--number", N0, "--yes")).code == 0

    listed = await cli("versions", N0)
    assert listed.code == 0, listed.err
    assert listed.out.splitlines()[0].split()[:2] == ["VERSION", "AT"]
    assert len(listed.out.splitlines()) == 3  # header, two versions

    assert (await cli("restore", N0, str(first["version"]))).code == 2  # no terminal, no --yes
    assert (await config_of(admin, N0))["config"]["name"] == "Renamed"
    restored = await cli("restore", N0, str(first["version"]), "--yes")
    assert restored.code == 0, restored.err
    assert 'name: "Renamed" → "Agent 101"' in restored.out
    now = await config_of(admin, N0)
    assert now["config"]["name"] == "Agent 101"
    assert now["version"] == first["version"] + 2

    upgraded = await cli("upgrade", N0, N1, "--flow-version", "2", "--yes")
    assert upgraded.code == 0, upgraded.err
    assert "flow_version: 1 → 2" in upgraded.out
    for n in (N0, N1):
        assert (await config_of(admin, n))["config"]["flow_version"] == 2
    again = await cli("upgrade", N0, "--flow-version", "latest")
    assert again.code == 0 and "nothing to upgrade" in again.out


async def test_upgrade_goes_on_past_a_number_that_cannot_be_read(
    cli: Cli, admin: AdminClient
) -> None:
    unknown = "100000000009999"
    run = await cli("upgrade", N0, unknown, N1, "--flow-version", "2", "--yes", "--json")
    assert run.code == 1, run.err
    for n in (N0, N1):
        assert (await config_of(admin, n))["config"]["flow_version"] == 2
    assert f"{unknown}: cannot be read" in run.err
    assert [f["number"] for f in run.json["failed"]] == [unknown]
    assert run.json["failed"][0]["status"] == 404
    assert sorted(u["number"] for u in run.json["upgraded"]) == [N0, N1]

    dry = await cli("upgrade", unknown, N2, "--flow-version", "2", "--dry-run")
    assert dry.code == 1 and "dry run" in dry.out
    assert (await config_of(admin, N2))["config"].get("flow_version", 1) == 1

    none_left = await cli("upgrade", N0, unknown, "--flow-version", "2")
    assert none_left.code == 1, none_left.err
    assert (
        "nothing to upgrade" in none_left.out and "upgraded 0 number(s), 1 failed" in none_left.out
    )


# ---------------------------------------------------------------------------- access
async def test_profiles_members_add_and_remove_with_the_summary(
    cli: Cli, admin: AdminClient
) -> None:
    created = await cli(
        "profiles", "create", "Editors", "--modules", "config,numbers", "--description", "edit"
    )
    assert created.code == 0, created.err
    listed = await cli("profiles", "list", "--json")
    assert [p["name"] for p in listed.json] == ["Editors"]

    added = await cli(
        "members", "add", "--email", "ana@example.com", "--name", "Ana",
        "--profile", "editors", "--number", N0, N1, N2,
    )  # fmt: skip
    assert added.code == 0, added.err
    assert "created member ana@example.com" in added.out
    assert "profile: Editors" in added.out
    unconfigured = await cli(
        "members", "add", "--email", "ana@example.com", "--number", "199999999999999"
    )
    assert unconfigured.code == 1 and "numbers without configuration: 199999" in unconfigured.err

    members = await cli("members", "list", "--json")
    (ana,) = [m for m in members.json if m["email"] == "ana@example.com"]
    assert sorted(ana["numbers"]) == [N0, N1, N2]
    table = await cli("members", "list", "--search", "ana")
    assert "ana@example.com" in table.out

    dry = await cli(
        "members", "remove", "--email", "ana@example.com", "--number", N0, N1, "--dry-run"
    )
    assert dry.code == 0, dry.err
    assert "links to remove (2):" in dry.out
    assert f"ana@example.com — {N0}" in dry.out and f"ana@example.com — {N1}" in dry.out
    no_yes = await cli("members", "remove", "--email", "ana@example.com", "--number", N0, N1)
    assert no_yes.code == 2
    removed = await cli(
        "members", "remove", "--email", "ana@example.com", "--number", N0, N1, "--yes"
    )
    assert removed.code == 0, removed.err
    assert "removed 2 link(s)" in removed.out
    members = await cli("members", "list", "--json")
    (ana,) = [m for m in members.json if m["email"] == "ana@example.com"]
    assert ana["numbers"] == [N2]

    unknown = await cli(
        "members", "remove", "--email", "nobody@example.com", "--number", N0, "--yes"
    )
    assert unknown.code == 1 and "nobody@example.com" in unknown.err


async def test_a_token_created_by_the_cli_works_for_the_member(cli: Cli) -> None:
    assert (await cli("profiles", "create", "Config", "--modules", "config")).code == 0
    add = ["members", "add", "--email", "bo@example.com", "--profile", "Config", "--number", N3]
    nameless = await cli(*add)  # the server wants a name for a new member
    assert nameless.code == 1 and "members.0.name: " in nameless.err
    assert (await cli(*add, "--name", "Bo")).code == 0
    made = await cli("tokens", "create", "--email", "bo@example.com", "--name", "laptop")
    assert made.code == 0, made.err
    token = made.out.strip()
    assert token.startswith("fe_")
    assert "shown only this once" in made.err
    theirs = await cli("numbers", "--json", token=token)
    assert theirs.code == 0, theirs.err
    assert [n["number"] for n in theirs.json] == [N3]
    refused = await cli("config", "get", N0, token=token)
    assert refused.code == 1 and "error: 403" in refused.err


# ---------------------------------------------------------------------------- usage
async def test_usage_errors_exit_2_and_refusals_exit_1(cli: Cli, tmp_path: Path) -> None:
    no_token = await cli("numbers", token=None)
    assert no_token.code == 2 and "--token" in no_token.err
    missing = await cli("push", str(tmp_path / "missing.yaml"), "--number", N0, "--yes")
    assert missing.code == 2
    bad_token = await cli("numbers", token="wrong")
    assert bad_token.code == 1 and "error: 401" in bad_token.err
    with pytest.raises(SystemExit) as exc:
        main(["admin", "push", "file.yaml"])  # neither --number nor --all
    assert exc.value.code == 2


async def test_the_token_and_url_come_from_the_environment(
    cli: Cli,
    admin: AdminClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FLOW_ENGINE_API_URL", str(admin.client.make_url("")))
    monkeypatch.setenv("FLOW_ENGINE_ADMIN_TOKEN", ADMIN_TOKEN)
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["admin", "numbers", "--json"])
    assert code == 0
    assert len(json.loads(capsys.readouterr().out)) == len(NUMBERS)


async def test_an_unreachable_server_exits_1(cli: Cli) -> None:
    code = await asyncio.to_thread(
        main, ["admin", "--url", "http://127.0.0.1:9", "--token", "t", "numbers"]
    )
    assert code == 1


@pytest.mark.parametrize(
    "url", ["127.0.0.1:8080", "ftp://engine.example.com", "not a url", "http://"]
)
async def test_a_url_that_is_not_http_is_a_usage_error_naming_it(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a traceback: exit 2 and one line naming the option and the value."""
    code = await asyncio.to_thread(main, ["admin", "--url", url, "--token", "t", "numbers"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"--url {url!r} is not an http(s) URL" in err and "Traceback" not in err
