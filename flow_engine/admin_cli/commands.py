"""The ``flow-engine admin`` sub-commands (see docs/admin-cli.md).

Each command is a coroutine ``(api, ui, args) -> exit status`` run with its own
:class:`~flow_engine.admin_cli.client.AdminApi` session. Exit status: 0 done, 1 the API
refused (its error code, message and every ``field: message`` are printed) or the
server could not be reached, 2 usage (including a write that needs confirmation when
there is no terminal to ask on and no ``--yes``).

Writes to many numbers always go the same way: a dry run prints what would change on
each number, then (confirmed, or ``--yes``) the same request is applied with
``if_match`` set to the ETags the dry run saw, so a number changed in between is not
overwritten: the server answers 412 and nothing is written. With ``--force`` the apply
is sent with ``force: true`` instead, and overwrites whatever each number holds then.

Timestamps are shown in the local time zone, naming it (``ui.local_time``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import ValidationError
from yarl import URL

from flow_engine.admin_cli import data as data_commands
from flow_engine.admin_cli import health as health_commands
from flow_engine.admin_cli import notify, tickets
from flow_engine.admin_cli.client import (
    AdminApi,
    ApiError,
    ApiUnreachable,
    BulkNumber,
    BulkResult,
    ConfigOut,
    MemberOut,
)
from flow_engine.admin_cli.diff import bulk_lines, change_lines, diff, value
from flow_engine.admin_cli.passwords import cmd_members_set_password
from flow_engine.admin_cli.ui import Aborted, Ui, UsageError, local_time
from flow_engine.domain.config import NumberConfig

DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = "FLOW_ENGINE_API_URL"
TOKEN_ENVS = ("FLOW_ENGINE_API_TOKEN", "FLOW_ENGINE_ADMIN_TOKEN")
IDENTITY = ("phone_number_id", "display_phone_number")

OK, REFUSED, USAGE = 0, 1, 2

Command = Callable[[AdminApi, Ui, argparse.Namespace], Awaitable[int]]


class Failure(Exception):
    """The command cannot go on (exit status 1), e.g. an e-mail that names no member."""


# =========================================================================== helpers
def split_list(text: str | None) -> list[str] | None:
    """``"a, b,c"`` → ``["a", "b", "c"]`` (None stays None)."""
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def load_document(path: str) -> dict[str, Any]:
    """A configuration file: JSON when it ends in .json, YAML otherwise."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if file.suffix.lower() == ".json" else "YAML"
        raise UsageError(f"{path} is not valid {kind}: {exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{path} must hold a mapping (a configuration), not {type(doc).__name__}")
    # YAML dates and the like become strings, as they would in JSON
    loaded: dict[str, Any] = json.loads(json.dumps(doc, default=str))
    return loaded


def dump_document(config: dict[str, Any], *, as_json: bool) -> str:
    if as_json:
        return json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    # no folding: a message stays on one line, easy to find and edit
    return yaml.safe_dump(config, allow_unicode=True, sort_keys=False, width=1_000_000)


def write_document(path: str, config: dict[str, Any]) -> Path:
    """Write ``config`` to ``path``: JSON when it ends in .json, YAML otherwise."""
    file = Path(path)
    text = dump_document(config, as_json=file.suffix.lower() == ".json")
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return file


def normalized(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every default filled in (as the server stores it), when it is
    valid; otherwise as it is (the server then names what is wrong)."""
    try:
        return NumberConfig.model_validate(config).model_dump(mode="json")
    except ValidationError:
        return config


def when(at: Any) -> str:
    return local_time(at)


def author(record: Any) -> str:
    """``ana@example.com (member:m_…)`` for a member, else the author as recorded."""
    email, who = record.get("author_email"), record.get("author") or ""
    return f"{email} ({who})" if email else who


def report(ui: Ui, err: ApiError, hint: str | None = None, *, emit: bool = True) -> None:
    """The refusal on standard error: code and message, then each field (and --json:
    the error body on standard output)."""
    where = f" ({err.method} {err.path})" if err.method else ""
    ui.warn(f"error: {err.status} {err.code}: {err.message}{where}")
    fields = err.field_errors()
    for number, field, message in fields:
        ui.warn(f"  {number + ': ' if number else ''}{field}: {message}")
    if not fields and isinstance(err.details, dict):
        for key, v in err.details.items():
            ui.warn(f"  {key}: {value(v, 200)}")
    elif not fields and isinstance(err.details, list):
        for v in err.details:
            ui.warn(f"  {value(v, 200)}")
    if hint:
        ui.warn(hint)
    elif err.status == 401:
        ui.warn("check --token (or $FLOW_ENGINE_API_TOKEN / $FLOW_ENGINE_ADMIN_TOKEN)")
    elif err.status == 412:
        ui.warn(
            "the configuration changed since it was read: rerun the command to see the new diff"
        )
    if ui.json and emit:
        ui.emit(
            {
                "status": err.status,
                "error": {"code": err.code, "message": err.message, "details": err.details},
            }
        )


async def target_numbers(
    api: AdminApi, args: argparse.Namespace, *, exclude: str = ""
) -> list[str]:
    """``--number N ...`` as given, or ``--all``: every number the caller sees."""
    if getattr(args, "all", False):
        numbers = [n["number"] for n in await api.all_numbers() if n["number"] != exclude]
        if not numbers:
            raise UsageError("--all: no number is visible with this token")
        return numbers
    numbers = list(dict.fromkeys(args.number or []))
    if not numbers:
        raise UsageError("name the numbers: --number N ... (or --all)")
    return numbers


async def member_by_email(api: AdminApi, email: str) -> MemberOut:
    wanted = email.strip().lower()
    for member in await api.all_members(email.strip()):
        if member["email"].lower() == wanted:
            return member
    raise Failure(f"no member with the e-mail {email}")


def single_result(number: str, current: ConfigOut, changes: list[Any]) -> BulkResult:
    """A one-number push described like a bulk dry run."""
    entry = BulkNumber(
        number=number,
        from_version=current["version"],
        etag=current["etag"],
        changed=bool(changes),
        changes=changes,
    )
    return BulkResult(
        dry_run=True,
        applied=False,
        changed=int(bool(changes)),
        unchanged=int(not changes),
        numbers=[entry],
    )


# =========================================================================== dry run, apply
#: ``(numbers, dry_run, if_match, force)`` → the answer of one write to many numbers
BulkCall = Callable[[list[str], bool, dict[str, str] | None, bool], Awaitable[BulkResult]]

#: Numbers per dry-run request: the dry run (reading, validating and diffing every number)
#: goes in chunks behind a progress bar; the apply stays one atomic request.
DRY_RUN_CHUNK = 20


async def chunked_dry_run(ui: Ui, numbers: list[str], call: BulkCall) -> BulkResult:
    chunks = [numbers[i : i + DRY_RUN_CHUNK] for i in range(0, len(numbers), DRY_RUN_CHUNK)]
    merged: dict[str, Any] = {
        "dry_run": True,
        "applied": False,
        "changed": 0,
        "unchanged": 0,
        "numbers": [],
    }
    with ui.bar(total=len(numbers), desc="dry run") as bar:
        for chunk in chunks:
            part = await call(chunk, True, None, False)
            merged["changed"] += part.get("changed", 0)
            merged["unchanged"] += part.get("unchanged", 0)
            merged["numbers"].extend(part["numbers"])
            bar.update(len(chunk))
    return cast(BulkResult, merged)


async def dry_run_then_apply(
    ui: Ui, args: argparse.Namespace, numbers: list[str], call: BulkCall, what: str
) -> int:
    """Dry run (in chunks, with a progress bar), print the per-number diff, then
    (confirmed) apply to every number in one atomic request with the dry run's ETags —
    or, with ``--force``, with ``force: true`` (whatever the numbers hold by then)."""
    dry = await chunked_dry_run(ui, numbers, call)
    ui.say(*bulk_lines(dry))
    if not dry.get("changed"):
        ui.say("nothing to change")
        if ui.json:
            ui.emit(dry)
        return OK
    if args.dry_run:
        ui.say("dry run: nothing was changed")
        if ui.json:
            ui.emit(dry)
        return OK
    ui.confirm(f"apply {what} to {dry['changed']} number(s)?")
    etags: dict[str, str] = {}
    for n in dry["numbers"]:
        etag = n.get("etag")
        if etag:
            etags[n["number"]] = etag
    force = bool(getattr(args, "force", False))
    try:
        result = await call(numbers, False, None if force else etags, force)
    except ApiError as err:
        if err.status == 412:
            report(
                ui,
                err,
                "a number changed since the dry run, so nothing was written: "
                "rerun the command to see the new diff and apply it",
            )
            return REFUSED
        raise
    applied = [n for n in result["numbers"] if n.get("changed")]
    for n in applied:
        ui.say(f"{n['number']}: version {n.get('from_version')} → {n.get('version')}")
    ui.say(f"applied: {len(applied)} number(s) changed")
    if ui.json:
        ui.emit(result)
    return OK


# =========================================================================== commands
async def cmd_numbers(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    items = await api.all_numbers(args.search)
    if ui.json:
        ui.emit(items)
        return OK
    if not items:
        ui.say("no numbers")
        return OK
    ui.table(
        ["NUMBER", "NAME", "OWNER", "MEMBERS", "FLOW VERSION", "CONFIG VERSION"],
        [
            [
                n["number"],
                n.get("name") or "",
                n.get("owner_email") or "-",
                len(n.get("members") or []),
                n.get("flow_version"),
                n.get("version"),
            ]
            for n in items
        ],
    )
    return OK


async def cmd_config_get(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    current = await api.get_config(args.number)
    if args.output:
        path = write_document(args.output, current["config"])
        ui.warn(f"wrote {path}: {args.number} version {current['version']} ({current['etag']})")
        return OK
    if ui.json:
        ui.emit(current)
    else:
        sys.stdout.write(dump_document(current["config"], as_json=False))
    return OK


async def push_one(
    api: AdminApi, ui: Ui, args: argparse.Namespace, number: str, doc: dict[str, Any]
) -> int:
    """The whole configuration of one number: GET, diff, PUT with If-Match — or, for a
    number without configuration yet, create it."""
    try:
        current = await api.get_config(number)
    except ApiError as exc:
        if exc.status != 404:
            raise
        return await create_one(api, ui, args, number, doc)
    changes = diff(normalized(current["config"]), normalized(doc))
    dry = single_result(number, current, list(changes))
    ui.say(*bulk_lines(dry, limit=None))
    if not changes:
        ui.say("nothing to change")
        if ui.json:
            ui.emit(dry)
        return OK
    if args.dry_run:
        ui.say("dry run: nothing was changed")
        if ui.json:
            ui.emit(dry)
        return OK
    ui.confirm(f"replace the configuration of {number} (version {current['version']})?")
    new = await api.put_config(number, doc, if_match=current["etag"])
    ui.say(f"{number}: version {current['version']} → {new['version']}")
    if ui.json:
        ui.emit(new)
    return OK


async def create_one(
    api: AdminApi, ui: Ui, args: argparse.Namespace, number: str, doc: dict[str, Any]
) -> int:
    ui.say(f"{number} has no configuration yet: it will be created from {args.file}")
    if args.dry_run:
        ui.say("dry run: nothing was changed")
        return OK
    ui.confirm(f"create number {number}?")
    new = await api.create_config(number, doc)
    ui.say(f"{number}: created, version {new['version']}")
    if ui.json:
        ui.emit(new)
    return OK


async def cmd_push(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    doc = load_document(args.file)
    identity = doc.get("phone_number_id")
    if not args.all and identity is not None and args.number == [str(identity)]:
        return await push_one(api, ui, args, str(identity), doc)
    numbers = await target_numbers(api, args)
    change = {k: v for k, v in doc.items() if k not in IDENTITY}
    if not change:
        raise UsageError(f"{args.file} has nothing to push but the number's identity")
    if identity is not None:
        ui.say(
            f"{args.file} is the configuration of {identity}: pushed as a partial "
            f"configuration (without {', '.join(IDENTITY)}) to {len(numbers)} number(s)"
        )

    async def call(
        ns: list[str], dry_run: bool, if_match: dict[str, str] | None, force: bool
    ) -> BulkResult:
        return await api.bulk(ns, change=change, dry_run=dry_run, if_match=if_match, force=force)

    return await dry_run_then_apply(ui, args, numbers, call, f"{args.file}")


async def cmd_bulk(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    numbers = await target_numbers(api, args, exclude=args.reference)
    paths = split_list(args.paths)

    async def call(
        ns: list[str], dry_run: bool, if_match: dict[str, str] | None, force: bool
    ) -> BulkResult:
        return await api.bulk(
            ns,
            reference=args.reference,
            paths=paths,
            dry_run=dry_run,
            if_match=if_match,
            force=force,
        )

    return await dry_run_then_apply(
        ui, args, numbers, call, f"the configuration of {args.reference}"
    )


async def cmd_replicate(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    targets = list(dict.fromkeys(args.to))

    async def call(
        ns: list[str], dry_run: bool, if_match: dict[str, str] | None, force: bool
    ) -> BulkResult:
        return await api.replicate(
            args.source, ns, dry_run=dry_run, if_match=if_match, force=force
        )

    return await dry_run_then_apply(
        ui, args, targets, call, f"the human-service settings of {args.source}"
    )


async def cmd_versions(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    items, total = await api.list_versions(args.number, limit=args.limit)
    if ui.json:
        ui.emit({"items": items, "total": total})
        return OK
    ui.table(
        ["VERSION", "AT", "AUTHOR", "SOURCE", "SUMMARY"],
        [
            [v["version"], when(v.get("at")), author(v), v.get("source"), v.get("summary")]
            for v in items
        ],
    )
    if total > len(items):
        ui.say(f"({len(items)} newest of {total} versions: --limit to see more)")
    return OK


async def cmd_restore(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    number, version = args.number, args.version
    current = await api.get_config(number)
    old = await api.get_version(number, version)
    changes = diff(normalized(current["config"]), normalized(old["config"]))
    ui.say(
        f"{number} (version {current['version']}) back to version {version}: "
        f"{len(changes)} change(s)"
    )
    ui.say(*change_lines(changes))
    if not changes:
        ui.say(f"version {version} is the configuration in force: nothing to restore")
        return OK
    ui.confirm(f"restore {number} to version {version}?")
    new = await api.restore(number, version, if_match=current["etag"])
    ui.say(
        f"{number}: version {current['version']} → {new['version']} (restored version {version})"
    )
    if ui.json:
        ui.emit(new)
    return OK


async def cmd_upgrade(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    numbers = list(dict.fromkeys(args.numbers))
    wanted: int
    if args.flow_version == "latest":
        wanted = (await api.flow_versions())["latest"]
    else:
        try:
            wanted = int(args.flow_version)
        except ValueError:
            raise UsageError(
                f"--flow-version: a number or 'latest', not {args.flow_version!r}"
            ) from None
    current: dict[str, ConfigOut] = {}
    failed: list[tuple[str, ApiError]] = []
    for number in ui.progress(numbers, total=len(numbers), desc="reading"):
        try:
            current[number] = await api.get_config(number)
        except ApiError as err:
            if err.status == 401:  # the token, not this number: the others would fail too
                raise
            failed.append((number, err))  # e.g. 404: the others are still upgraded
    todo: list[str] = []
    for number, cfg in current.items():
        before = normalized(cfg["config"]).get("flow_version", 1)
        if before == wanted:
            ui.say(f"{number} (version {cfg['version']}): already on flow version {wanted}")
        else:
            ui.say(f"{number} (version {cfg['version']}): flow_version: {before} → {wanted}")
            todo.append(number)
    for number, refusal in failed:
        ui.warn(f"{number}: cannot be read")
        report(ui, refusal, emit=False)
    if args.dry_run and todo:
        ui.say("dry run: nothing was changed")
        return REFUSED if failed else OK
    if todo:
        ui.confirm(f"set flow version {wanted} on {len(todo)} number(s)?")
    else:
        ui.say("nothing to upgrade")
    unread = len(failed)
    done: list[ConfigOut] = []
    for number in ui.progress(todo, total=len(todo), desc="upgrading"):
        try:
            new = await api.set_flow_version(number, wanted, if_match=current[number]["etag"])
        except ApiError as err:
            failed.append((number, err))
            continue
        done.append(new)
    for new in done:
        ui.say(f"{new['number']}: version {current[new['number']]['version']} → {new['version']}")
    for number, refusal in failed[unread:]:
        ui.warn(f"{number}: not upgraded")
        report(ui, refusal, emit=False)
    if todo or failed:
        ui.say(f"upgraded {len(done)} number(s)" + (f", {len(failed)} failed" if failed else ""))
    if ui.json:
        ui.emit(
            {
                "upgraded": done,
                "failed": [
                    {
                        "number": n,
                        "status": e.status,
                        "error": {"code": e.code, "message": e.message, "details": e.details},
                    }
                    for n, e in failed
                ],
                "unchanged": [n for n in current if n not in todo],
            }
        )
    return REFUSED if failed else OK


async def resolve_profile(api: AdminApi, wanted: str) -> str:
    profiles = await api.list_profiles()
    for found in (
        [p for p in profiles if p["id"] == wanted],
        [p for p in profiles if p["name"] == wanted],
        [p for p in profiles if p["name"].lower() == wanted.lower()],
    ):
        if len(found) == 1:
            return found[0]["id"]
    names = ", ".join(p["name"] for p in profiles) or "none"
    raise Failure(f"no profile with the id or name {wanted!r} (profiles: {names})")


async def cmd_members_add(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    emails = list(dict.fromkeys(args.email))
    if args.name is not None and len(emails) > 1:
        raise UsageError("--name goes with a single --email")
    profile_id = await resolve_profile(api, args.profile) if args.profile else None
    numbers = list(dict.fromkeys(args.number or []))
    members = [{"email": e, **({"name": args.name} if args.name else {})} for e in emails]
    added = await api.add_members(members, profile_id=profile_id, numbers=numbers)
    if ui.json:
        ui.emit(added)
        return OK
    for item in added:
        m = item["member"]
        verb = "created member" if item["created"] else "existing member"
        linked = ", ".join(m.get("numbers") or []) or "-"
        ui.say(
            f"{verb} {m['email']} ({m['id']}); profile: {m.get('profile_name') or '-'}; "
            f"numbers: {linked}"
        )
    return OK


async def cmd_members_list(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    members = await api.all_members(args.search)
    if ui.json:
        ui.emit(members)
        return OK
    if not members:
        ui.say("no members")
        return OK

    def numbers(m: MemberOut) -> str:
        ns = m.get("numbers") or []
        return ", ".join(ns[:3]) + (f" +{len(ns) - 3}" if len(ns) > 3 else "")

    ui.table(
        ["ID", "EMAIL", "NAME", "PROFILE", "NUMBERS"],
        [
            [m["id"], m["email"], m.get("name"), m.get("profile_name") or "-", numbers(m)]
            for m in members
        ],
    )
    return OK


async def cmd_members_remove(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    emails = list(dict.fromkeys(args.email))
    numbers = list(dict.fromkeys(args.number))
    ids = [(await member_by_email(api, e))["id"] for e in emails]
    dry = await api.remove_links(ids, numbers, dry_run=True)
    links = dry["removed"]
    if not links:
        ui.say("no links to remove: those members are not linked to those numbers")
        if ui.json:
            ui.emit(dry)
        return OK
    ui.say(f"links to remove ({len(links)}):")
    ui.say(*[f"  {link['email']} — {link['number']}" for link in links])
    if args.dry_run:
        ui.say("dry run: nothing was changed")
        if ui.json:
            ui.emit(dry)
        return OK
    ui.confirm(f"remove {len(links)} link(s)?")
    done = await api.remove_links(ids, numbers, dry_run=False)
    ui.say(f"removed {len(done['removed'])} link(s)")
    if ui.json:
        ui.emit(done)
    return OK


async def cmd_profiles_list(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    profiles = await api.list_profiles()
    if ui.json:
        ui.emit(profiles)
        return OK
    if not profiles:
        ui.say("no profiles")
        return OK
    ui.table(
        ["ID", "NAME", "MODULES", "MEMBERS", "DESCRIPTION"],
        [
            [
                p["id"],
                p["name"],
                ",".join(p.get("modules") or []),
                p.get("member_count"),
                p.get("description"),
            ]
            for p in profiles
        ],
    )
    return OK


async def cmd_profiles_create(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    modules = split_list(args.modules) or []
    profile = await api.create_profile(args.name, modules, args.description)
    if ui.json:
        ui.emit(profile)
    else:
        ui.say(
            f"created profile {profile['name']} ({profile['id']}): {', '.join(profile['modules'])}"
        )
    return OK


async def cmd_tokens_create(api: AdminApi, ui: Ui, args: argparse.Namespace) -> int:
    member = await member_by_email(api, args.email)
    created = await api.create_token(member["id"], args.name)
    if ui.json:
        ui.emit(created)
    else:
        print(created["token"], file=ui.out)
    ui.warn(
        f"token {created.get('prefix') or created['id']} for {member['email']}: "
        "shown only this once, store it now"
    )
    return OK


# =========================================================================== running
def resolve_url(args: argparse.Namespace) -> str:
    """The engine's base URL, from ``--url``, ``$FLOW_ENGINE_API_URL`` or the default; one
    that is not ``http(s)://host[:port]`` is a usage error naming where it came from."""
    given = getattr(args, "url", None)
    url: str = given or os.environ.get(URL_ENV) or DEFAULT_URL
    try:
        parsed = URL(url)
        ok = parsed.scheme in ("http", "https") and bool(parsed.host)
    except ValueError:
        ok = False
    if not ok:
        source = "--url" if given else f"${URL_ENV}"
        raise UsageError(
            f"{source} {url!r} is not an http(s) URL; e.g. {DEFAULT_URL} or https://engine.example.com"
        )
    return url


def resolve_token(args: argparse.Namespace) -> str | None:
    token: str | None = getattr(args, "token", None)
    for env in TOKEN_ENVS:
        token = token or os.environ.get(env) or None
    return token


async def run(command: Command, args: argparse.Namespace) -> int:
    ui = Ui(
        json=getattr(args, "json", False),
        quiet=getattr(args, "quiet", False),
        yes=getattr(args, "yes", False),
    )
    try:
        token = resolve_token(args)
        if not token:
            raise UsageError(
                "no API token: pass --token or set FLOW_ENGINE_API_TOKEN "
                "(or FLOW_ENGINE_ADMIN_TOKEN)"
            )
        async with AdminApi(resolve_url(args), token) as api:
            return await command(api, ui, args)
    except UsageError as exc:
        ui.warn(f"flow-engine admin: {exc}")
        return USAGE
    except Aborted as exc:
        ui.warn(str(exc))
        return REFUSED
    except ApiError as err:
        report(ui, err)
        return REFUSED
    except (ApiUnreachable, Failure) as exc:
        ui.warn(f"error: {exc}")
        return REFUSED


def runner(command: Command) -> Callable[[argparse.Namespace], int]:
    def func(args: argparse.Namespace) -> int:
        return asyncio.run(run(command, args))

    func.__name__ = command.__name__
    return func


# =========================================================================== the parser
def common_options() -> argparse.ArgumentParser:
    """Options accepted before or after any admin sub-command."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help=f"engine base URL (default: ${URL_ENV} or {DEFAULT_URL})",
    )
    p.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="API token (default: $FLOW_ENGINE_API_TOKEN, else $FLOW_ENGINE_ADMIN_TOKEN)",
    )
    p.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars"
    )
    return p


def _targets(p: argparse.ArgumentParser, help_numbers: str) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--number", nargs="+", action="extend", metavar="N", help=help_numbers)
    group.add_argument("--all", action="store_true", help="every number this token can see")


def _write_flags(p: argparse.ArgumentParser, *, dry_run: bool = True, force: bool = False) -> None:
    if dry_run:
        p.add_argument("--dry-run", action="store_true", help="show the diff and stop")
    if force:
        p.add_argument(
            "--force",
            action="store_true",
            help="apply even if a number changes after the dry run (force: true, recorded "
            "in the audit log) instead of refusing with 412",
        )
    p.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask for confirmation (needed without a terminal)",
    )


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``admin`` and its sub-commands to the ``flow-engine`` parser."""
    common = common_options()
    admin = subparsers.add_parser(
        "admin",
        parents=[common],
        help="administer numbers, configurations, members and tickets through the admin API",
        description=(
            "Talk to a running engine's admin API (/api/v1). Exit status: 0 done, 1 the API "
            "refused, 2 usage. Without a terminal, writes need --yes."
        ),
    )
    cmds = admin.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")

    def add(parent: Any, name: str, command: Command | None, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(
            name, parents=[common], help=help, description=help
        )
        if command is not None:
            p.set_defaults(func=runner(command))
        return p

    numbers = add(cmds, "numbers", cmd_numbers, "list numbers: name, owner, members, versions")
    numbers.add_argument("--search", metavar="Q", help="only numbers matching Q")

    config = add(cmds, "config", None, "read a number's configuration")
    config_cmds = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    get = add(config_cmds, "get", cmd_config_get, "print a number's configuration (YAML)")
    get.add_argument("number", metavar="NUMBER")
    get.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE (JSON if it ends in .json)"
    )

    push = add(
        cmds,
        "push",
        cmd_push,
        "push a configuration file: the whole configuration of its own number, or a partial "
        "one to many numbers (dry run first)",
    )
    push.add_argument("file", metavar="FILE", help="YAML, or JSON when it ends in .json")
    _targets(push, "the numbers to push to")
    _write_flags(push, force=True)

    bulk = add(
        cmds, "bulk", cmd_bulk, "copy configuration from a reference number (dry run first)"
    )
    bulk.add_argument("--reference", required=True, metavar="N", help="the number to copy from")
    _targets(bulk, "the numbers to change")
    bulk.add_argument(
        "--paths",
        metavar="a,b",
        help="dotted paths to copy (default: every tab but identity and active messaging)",
    )
    _write_flags(bulk, force=True)

    replicate = add(
        cmds,
        "replicate",
        cmd_replicate,
        "copy a number's general human-service settings to other numbers (dry run first)",
    )
    replicate.add_argument("source", metavar="SOURCE")
    replicate.add_argument("--to", nargs="+", action="extend", required=True, metavar="N")
    _write_flags(replicate, force=True)

    versions = add(cmds, "versions", cmd_versions, "list the configuration versions of a number")
    versions.add_argument("number", metavar="NUMBER")
    versions.add_argument(
        "--limit", type=int, default=20, help="how many, newest first (default 20)"
    )

    restore = add(cmds, "restore", cmd_restore, "restore an earlier configuration version")
    restore.add_argument("number", metavar="NUMBER")
    restore.add_argument("version", metavar="VERSION", type=int)
    _write_flags(restore, dry_run=False)

    upgrade = add(cmds, "upgrade", cmd_upgrade, "set the base-flow version of numbers")
    upgrade.add_argument("numbers", nargs="+", metavar="NUMBER")
    upgrade.add_argument(
        "--flow-version", required=True, metavar="V", help="a version number, or 'latest'"
    )
    _write_flags(upgrade)

    members = add(cmds, "members", None, "add, list and remove members")
    member_cmds = members.add_subparsers(dest="members_command", required=True, metavar="COMMAND")
    m_add = add(
        member_cmds, "add", cmd_members_add, "add (or update) members and link them to numbers"
    )
    m_add.add_argument("--email", nargs="+", action="extend", required=True, metavar="E")
    m_add.add_argument("--name", metavar="N")
    m_add.add_argument("--profile", metavar="P", help="access profile id or name")
    m_add.add_argument("--number", nargs="+", action="extend", metavar="N", help="numbers to link")
    m_list = add(member_cmds, "list", cmd_members_list, "list members")
    m_list.add_argument("--search", metavar="Q")
    m_remove = add(member_cmds, "remove", cmd_members_remove, "unlink members from numbers")
    m_remove.add_argument("--email", nargs="+", action="extend", required=True, metavar="E")
    m_remove.add_argument("--number", nargs="+", action="extend", required=True, metavar="N")
    _write_flags(m_remove)
    m_password = add(
        member_cmds,
        "set-password",
        cmd_members_set_password,
        "set a member's console password (asked twice on a terminal, else one line of stdin)",
    )
    m_password.add_argument("email", metavar="EMAIL")

    profiles = add(cmds, "profiles", None, "list and create access profiles")
    profile_cmds = profiles.add_subparsers(
        dest="profiles_command", required=True, metavar="COMMAND"
    )
    add(profile_cmds, "list", cmd_profiles_list, "list access profiles")
    p_create = add(profile_cmds, "create", cmd_profiles_create, "create an access profile")
    p_create.add_argument("name", metavar="NAME")
    p_create.add_argument("--modules", required=True, metavar="a,b", help="modules it grants")
    p_create.add_argument("--description", default="", metavar="D")

    notify.register(cmds, add)

    tokens = add(cmds, "tokens", None, "API tokens of members")
    token_cmds = tokens.add_subparsers(dest="tokens_command", required=True, metavar="COMMAND")
    t_create = add(token_cmds, "create", cmd_tokens_create, "create an API token (printed once)")
    t_create.add_argument("--email", required=True, metavar="E")
    t_create.add_argument(
        "--name", default="flow-engine admin", metavar="N", help="the token's name"
    )

    ticket_cmds = tickets.register_cli(cmds, add)
    health_commands.register(cmds, add)
    data_commands.register(cmds, add, ticket_cmds)
