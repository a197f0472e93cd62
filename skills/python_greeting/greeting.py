"""A personalised goodbye as a Python skill (PreEnd, parentServiceName Main).

Attach:   {serviceName: PreEnd, parentServiceName: Main, kind: python,
           target: "greeting:Goodbye"}
The module must be importable: next to the number's configuration file, installed,
or on PYTHONPATH (``PYTHONPATH=skills/python_greeting``).
"""

from __future__ import annotations

from typing import Any

from flow_engine.domain.skills import Envelope
from flow_engine.engine.skills.base import Skill, SkillContext, SkillResult


class Goodbye(Skill):
    """Says goodbye by name, counts the goodbyes, and returns at once."""

    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        name = context.contact.get("name") or "amigo/a"
        shop = context.number.get("name") or "nosotros"
        count = int(variables.get("goodbyes") or 0) + 1
        return SkillResult(
            messages=[f"¡Hasta pronto, {name}! Gracias por escribir a {shop}. 👋"],
            variables={"goodbyes": count},
            stay=False,
            envelope=envelope,
        )
