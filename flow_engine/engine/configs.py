"""Number configurations from files: validated, and seeded into the store at start (the
runtime reads them through ``config_cache.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from flow_engine.domain.config import NumberConfig
from flow_engine.engine.documents import read_document
from flow_engine.engine.skills.loader import SkillLoader
from flow_engine.engine.skills.policy import SkillPolicy
from flow_engine.errors import ConfigurationError
from flow_engine.gateway.skill_http import SkillHttpClient
from flow_engine.storage.configs import (
    ConfigStore,
    ConfigVersion,
    StaleVersions,
    config_digest,
    new_change,
)

log = structlog.get_logger()

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
FILE_SOURCE = "file"  # ConfigVersion.source of versions written from a configuration file
FILE_AUTHOR = "config-dir"
SCAN_PAGE = 50


def read_config_file(path: Path) -> NumberConfig:
    """Parse and validate one configuration file (YAML or JSON)."""
    return read_document(path, NumberConfig, "configuration")


def read_config_files(directory: Path) -> list[tuple[Path, NumberConfig]]:
    """Every configuration file of ``directory`` with its validated content."""
    if not directory.is_dir():
        raise ConfigurationError(f"configuration directory {directory} does not exist")
    files = sorted(p for p in directory.iterdir() if p.suffix in CONFIG_SUFFIXES)
    configs = [(p, read_config_file(p)) for p in files]
    seen: dict[str, int] = {}
    for _p, c in configs:
        seen[c.phone_number_id] = seen.get(c.phone_number_id, 0) + 1
    dupes = sorted(n for n, count in seen.items() if count > 1)
    if dupes:
        raise ConfigurationError(f"{directory}: numbers configured twice: {', '.join(dupes)}")
    return configs


def read_config_dir(directory: Path) -> list[NumberConfig]:
    return [c for _p, c in read_config_files(directory)]


async def last_seeded(store: ConfigStore, number: str) -> ConfigVersion | None:
    """The newest version of ``number`` written from a configuration file, if any."""
    offset = 0
    while True:
        page = await store.versions(number, limit=SCAN_PAGE, offset=offset)
        for v in page:
            if v.source == FILE_SOURCE:
                return v
        if len(page) < SCAN_PAGE:
            return None
        offset += SCAN_PAGE


async def seed_config(store: ConfigStore, path: Path, config: dict[str, Any]) -> str:
    """Store one file's configuration unless it is what was last seeded from the file
    (then changes made since, through the admin API, are kept). Returns what was done:
    ``seeded`` (first configuration), ``kept`` or ``updated`` (the file changed)."""
    number = str(config["phone_number_id"])
    digest = config_digest(config)
    while True:
        head = await store.head(number)
        if head is not None:
            seeded = await last_seeded(store, number)
            if seeded is not None and seeded.digest == digest:
                log.info("config_kept", number=number, file=path.name, version=head.version)
                return "kept"
        summary = f"{'seeded' if head is None else 'updated'} from file {path.name}"
        change = new_change(
            head, number, config, author=FILE_AUTHOR, summary=summary, source=FILE_SOURCE
        )
        try:
            (written,) = await store.commit([change])
        except StaleVersions:  # another process seeding or an admin change: look again
            continue
        outcome = "seeded" if head is None else "updated"
        log.info(f"config_{outcome}", number=number, file=path.name, version=written.version)
        return outcome


async def load_config_dir(
    directory: Path, store: ConfigStore, skills: SkillLoader | None = None
) -> list[str]:
    """Validate every file first — their skills loaded by ``skills``, the engine's loader
    (the same checks as an admin write; default: the default settings' policy, which
    allows no URL and no module) — then seed the store from them (see
    :func:`seed_config`); returns the numbers of the files."""
    files = read_config_files(directory)
    loader = skills
    if loader is None:
        policy = SkillPolicy.restricted(Path("skills"))
        loader = SkillLoader(policy, SkillHttpClient(allow=policy.url_allow))
    for path, c in files:
        try:
            await loader.check(c.skills)  # a missing or invalid skill stops the start, named
        except ConfigurationError as exc:
            raise ConfigurationError(f"{path}: {exc.message}", details=exc.details) from None
    outcomes: dict[str, int] = {}
    for path, c in files:
        outcome = await seed_config(store, path, c.model_dump(mode="json"))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    log.info("configs_loaded", directory=str(directory), numbers=len(files), **outcomes)
    return [c.phone_number_id for _p, c in files]
