"""Python skills: a class named ``module:Class`` with ``async def run(self, envelope,
variables, context)``, instantiated once without arguments (R-SKILL-8).

The class may subclass :class:`~flow_engine.engine.skills.base.Skill` and return a
:class:`~flow_engine.engine.skills.base.SkillResult`, or be any class whose ``run``
returns a dict shaped like an HTTP skill's reply (``{"messages", "variables",
"action", "envelope"}``). The module must be importable: installed, on
``PYTHONPATH``, or in ``FLOW_ENGINE_SKILLS_DIR`` (the folders given to
:func:`load_python_skill`, searched after ``sys.path``); the engine imports only
modules under ``FLOW_ENGINE_PYTHON_SKILL_MODULES`` (``policy.py``).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flow_engine.domain.skills import Envelope
from flow_engine.engine.skills.base import Skill, SkillContext, SkillFailure, SkillResult
from flow_engine.engine.skills.http import HttpSkillReply
from flow_engine.errors import ConfigurationError


def as_result(answer: Any) -> SkillResult:
    """A skill's answer as a :class:`SkillResult`, or ``SkillFailure("bad_reply")``."""
    if isinstance(answer, SkillResult):
        return answer
    if isinstance(answer, dict):
        try:
            return HttpSkillReply.model_validate(answer).to_result()
        except ValidationError as exc:
            raise SkillFailure(
                "bad_reply", f"invalid skill answer: {exc.errors()[0]['msg']}"
            ) from None
    raise SkillFailure("bad_reply", f"a skill answered {type(answer).__name__}, not a result")


class PythonSkill(Skill):
    """Wraps an instance whose class does not derive from :class:`Skill`."""

    def __init__(self, target: Any) -> None:
        self.target = target

    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        return as_result(await self.target.run(envelope, variables, context))


def _import(module_name: str, search: Sequence[Path]) -> Any:
    added = [str(p) for p in search if str(p) not in sys.path]
    sys.path.extend(added)  # searched last: a skill folder never shadows a real module
    try:
        return importlib.import_module(module_name)
    finally:
        for entry in added:
            sys.path.remove(entry)


def load_python_skill(target: str, search: Sequence[Path] = ()) -> Skill:
    """Import and instantiate ``module:Class``; ``ConfigurationError`` when it cannot."""
    module_name, _, class_name = target.partition(":")
    try:
        module = _import(module_name, search)
    except Exception as exc:
        raise ConfigurationError(
            f"python skill {target}: cannot import {module_name}: {exc}"
        ) from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise ConfigurationError(f"python skill {target}: {module_name} has no class {class_name}")
    if not inspect.iscoroutinefunction(getattr(cls, "run", None)):
        raise ConfigurationError(
            f"python skill {target}: needs async def run(self, envelope, variables, context)"
        )
    try:
        instance = cls()
    except Exception as exc:
        raise ConfigurationError(f"python skill {target}: cannot create it: {exc}") from None
    return instance if isinstance(instance, Skill) else PythonSkill(instance)
