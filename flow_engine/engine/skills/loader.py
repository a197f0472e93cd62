"""From a number's skill attachment to a runnable :class:`Skill`, cached.

Flow files are read again when they change on disk (so a developer's edit shows
on the next message); HTTP and Python skills are built once. :meth:`SkillLoader.check`
loads every attachment of a configuration and refuses the configuration with
field-level details when one is broken — a flow file that does not parse, names
an unknown state or tries to open human service, a Python class that cannot be
imported (R-SKILL-5, R-SKILL-8).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flow_engine.domain.skills import SkillAttachment
from flow_engine.engine.skills.base import Skill
from flow_engine.engine.skills.declarative import DeclarativeSkill, read_flow_file
from flow_engine.engine.skills.http import HttpSkill
from flow_engine.engine.skills.python import load_python_skill
from flow_engine.errors import ConfigurationError
from flow_engine.gateway.skill_http import SkillHttpClient

_SOURCE = {"declarative": "path", "http": "url", "python": "target"}


class SkillLoader:
    """Loads skills for the dispatcher; flow file paths are relative to ``base_dir``."""

    def __init__(self, base_dir: Path | None = None, http: SkillHttpClient | None = None) -> None:
        self.base_dir = base_dir
        self.http = http
        self._files: dict[Path, tuple[tuple[int, int], DeclarativeSkill]] = {}
        self._others: dict[tuple[str, str, float], Skill] = {}

    def resolve(self, path: str) -> Path:
        candidate = Path(path)
        if candidate.is_absolute():
            return candidate
        return (self.base_dir or Path.cwd()) / candidate

    def load(self, attachment: SkillAttachment) -> Skill:
        """The skill of ``attachment``; ``ConfigurationError`` when it cannot be loaded."""
        if attachment.kind == "declarative":
            assert attachment.path is not None
            return self._declarative(self.resolve(attachment.path))
        key = (attachment.kind, attachment.url or attachment.target or "", attachment.timeout_s)
        skill = self._others.get(key)
        if skill is None:
            skill = self._build(attachment)
            self._others[key] = skill
        return skill

    def _build(self, attachment: SkillAttachment) -> Skill:
        if attachment.kind == "http":
            assert attachment.url is not None
            if self.http is None:
                raise ConfigurationError("HTTP skills need an HTTP client (none configured)")
            return HttpSkill(attachment.url, attachment.timeout_s, self.http)
        assert attachment.target is not None
        search = [self.base_dir] if self.base_dir is not None else []
        return load_python_skill(attachment.target, search)

    def _declarative(self, path: Path) -> DeclarativeSkill:
        try:
            stat = path.stat()
        except OSError as exc:
            raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._files.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        skill = DeclarativeSkill(read_flow_file(path), self.http)
        self._files[path] = (stamp, skill)
        return skill

    def check(self, attachments: Sequence[SkillAttachment], field: str = "skills") -> None:
        """Load every attachment; one ``ConfigurationError`` listing every broken one."""
        problems: list[dict[str, object]] = []
        for index, attachment in enumerate(attachments):
            try:
                self.load(attachment)
            except ConfigurationError as exc:
                problems.append(
                    {
                        "field": f"{field}.{index}.{_SOURCE[attachment.kind]}",
                        "message": exc.message,
                        "details": exc.details,
                    }
                )
        if problems:
            lines = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
            raise ConfigurationError(f"invalid skills: {lines}", details=problems)
