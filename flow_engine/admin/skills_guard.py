"""The skills of a configuration write (issue 10.5, issue 9.6).

A skill is code the engine runs for a number: an HTTP skill's URL gets the contacts'
messages, a flow file is read from disk, a Python class is imported. So:

- a write whose skills differ from the current ones needs the ``skills`` module on the
  number, besides the route's ``config`` (403 listing every number it lacks); a write
  that leaves them as they are needs only ``config``;
- every write loads the skills of the resulting configuration exactly as the start
  does (``SkillLoader.problems``): a 422 names ``skills.N.path`` / ``url`` / ``target``
  and why, per number.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from flow_engine.admin.permissions import Module, Principal
from flow_engine.domain.config import NumberConfig
from flow_engine.domain.skills import SkillAttachment, SkillsTab
from flow_engine.errors import Forbidden, UnprocessableEntity

#: loads attachments as the start does; one problem per broken one (``field``, ``message``)
SkillCheck = Callable[[Sequence[SkillAttachment]], Awaitable[list[dict[str, Any]]]]
_SKILLS: TypeAdapter[list[SkillAttachment]] = TypeAdapter(SkillsTab)


def skills_of(config: Mapping[str, Any]) -> Any:
    """The ``skills`` of a stored configuration, normalized as a write would store them."""
    raw = config.get("skills", [])
    try:
        return [s.model_dump(mode="json") for s in _SKILLS.validate_python(raw)]
    except ValidationError:
        return raw  # an old, invalid list: any new one differs from it


class SkillsGuard:
    """Checks the skills of writes to one or many numbers."""

    def __init__(self, check: SkillCheck) -> None:
        self.check_skills = check

    async def check(
        self, writes: Mapping[str, tuple[Mapping[str, Any], NumberConfig]], who: Principal | None
    ) -> None:
        """``writes``: for each number, its current configuration and the validated new
        one. 403 when ``who`` may not change skills that change; 422 for broken skills."""
        changing = [
            number
            for number, (current, new) in writes.items()
            if skills_of(current) != [s.model_dump(mode="json") for s in new.skills]
        ]
        denied = [n for n in changing if who is None or not who.can(n, Module.SKILLS)]
        if denied:
            raise Forbidden(
                "attaching, changing or detaching skills needs the skills module on: "
                + ", ".join(denied),
                details={"module": Module.SKILLS.value, "numbers": denied},
            )
        problems: list[dict[str, Any]] = []
        seen: dict[str, list[dict[str, Any]]] = {}  # a bulk edit gives many numbers one list
        for number, (_current, new) in writes.items():
            if not new.skills:
                continue
            key = json.dumps([s.model_dump(mode="json") for s in new.skills], sort_keys=True)
            if key not in seen:
                seen[key] = await self.check_skills(new.skills)
            problems.extend({"number": number, **problem} for problem in seen[key])
        if problems:
            raise UnprocessableEntity(
                "skills that cannot run: "
                + "; ".join(f"{p['number']} {p['field']}: {p['message']}" for p in problems),
                details=problems,
            )
