"""From a number's skill attachment to a runnable :class:`Skill`, cached.

Flow files are read again when they change on disk (so a developer's edit shows
on the next message); HTTP and Python skills are built once. Every load goes through
the engine's :class:`~flow_engine.engine.skills.policy.SkillPolicy` (where flow files,
URLs and modules may come from). :meth:`SkillLoader.check` loads every attachment of a
configuration — at the start and on every admin write alike — and refuses the
configuration with field-level details when one is broken: a path outside
``FLOW_ENGINE_SKILLS_DIR``, a flow file that does not parse, names an unknown state or
tries to open human service, a URL outside ``FLOW_ENGINE_SKILL_URL_ALLOW`` or resolving
to an address it keeps out, a module outside ``FLOW_ENGINE_PYTHON_SKILL_MODULES`` or a
class that cannot be imported (R-SKILL-5, R-SKILL-8).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flow_engine.domain.skill_urls import UrlRefused
from flow_engine.domain.skills import SkillAttachment
from flow_engine.engine.skills.base import Skill
from flow_engine.engine.skills.declarative import DeclarativeSkill, read_flow_file
from flow_engine.engine.skills.http import HttpSkill
from flow_engine.engine.skills.policy import SkillPolicy
from flow_engine.engine.skills.python import load_python_skill
from flow_engine.errors import ConfigurationError
from flow_engine.gateway.skill_http import SkillHttpClient

_SOURCE = {"declarative": "path", "http": "url", "python": "target"}


class SkillLoader:
    """Loads skills for the dispatcher under ``policy``. ``http`` serves HTTP skills (it
    carries the URL allow list); ``action_http`` the HTTP actions of flow files, whose
    URLs their author wrote (default: ``http``)."""

    def __init__(
        self,
        policy: SkillPolicy | None = None,
        http: SkillHttpClient | None = None,
        *,
        action_http: SkillHttpClient | None = None,
    ) -> None:
        self.policy = policy or SkillPolicy.local()
        self.http = http
        self.action_http = action_http or http
        self._files: dict[Path, tuple[tuple[int, int], DeclarativeSkill]] = {}
        self._others: dict[tuple[str, str, float], Skill] = {}

    def load(self, attachment: SkillAttachment) -> Skill:
        """The skill of ``attachment``; ``ConfigurationError`` when it cannot be loaded."""
        if attachment.kind == "declarative":
            assert attachment.path is not None
            return self._declarative(self.policy.flow_file(attachment.path))
        if attachment.kind == "python":
            assert attachment.target is not None
            self.policy.check_module(attachment.target)
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
        return load_python_skill(attachment.target, self.policy.import_path())

    def _declarative(self, path: Path) -> DeclarativeSkill:
        try:
            stat = path.stat()
        except OSError as exc:
            raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._files.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        skill = DeclarativeSkill(read_flow_file(path), self.action_http)
        self._files[path] = (stamp, skill)
        return skill

    async def problems(
        self, attachments: Sequence[SkillAttachment], field: str = "skills"
    ) -> list[dict[str, Any]]:
        """Load every attachment (and check every HTTP skill's URL and addresses): one
        problem per broken attachment, ``field`` naming it (``skills.0.path``)."""
        found: list[dict[str, Any]] = []
        for index, attachment in enumerate(attachments):
            try:
                skill = self.load(attachment)
                if isinstance(skill, HttpSkill):
                    await skill.http.check_url(skill.url)
            except (ConfigurationError, UrlRefused) as exc:
                message = exc.message if isinstance(exc, ConfigurationError) else str(exc)
                details = exc.details if isinstance(exc, ConfigurationError) else None
                found.append(
                    {
                        "field": f"{field}.{index}.{_SOURCE[attachment.kind]}",
                        "message": message,
                        "type": "skill_" + attachment.kind,
                        "details": details,
                    }
                )
        return found

    async def check(self, attachments: Sequence[SkillAttachment], field: str = "skills") -> None:
        """:meth:`problems`, as one ``ConfigurationError`` listing every broken one."""
        problems = await self.problems(attachments, field)
        if problems:
            lines = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
            raise ConfigurationError(f"invalid skills: {lines}", details=problems)
