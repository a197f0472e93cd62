"""Modules and principals (R-ADMIN-4): permission is always profile × number × member.

A member acts on a number only when linked to it, and only in the modules their access
profile grants. The super-admin (``FLOW_ENGINE_ADMIN_TOKEN``) may do everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Module(StrEnum):
    """What an access profile can grant. Each API route belongs to one module."""

    CONFIG = "config"  # number configuration: tabs, versions, bulk, flow version
    SKILLS = "skills"  # attaching or changing skills (with config): URLs, files, code
    HUMAN_SERVICE = "human_service"  # general human-service settings and their replication
    TEMPLATES = "templates"  # active templates
    DESK = "desk"  # attendant API: tickets
    NUMBERS = "numbers"  # system administration: rename, owner, members of a number
    ACCESS = "access"  # access profiles, members and their API tokens; the audit log
    DATA = "data"  # metrics dashboards (reserved)
    NOTIFICATIONS = "notifications"  # active notifications (reserved)
    HEALTH = "health"  # number health (reserved)


ALL_MODULES = frozenset(Module)

SUPER_ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling. ``numbers`` are the numbers linked to the member; ``modules`` the
    ones their profile grants."""

    actor: str  # "admin" or "member:<id>"
    member_id: str | None = None
    email: str | None = None
    modules: frozenset[Module] = field(default_factory=frozenset)
    numbers: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_super(self) -> bool:
        return self.actor == SUPER_ADMIN

    def has_module(self, module: Module) -> bool:
        return self.is_super or module in self.modules

    def can(self, number: str, module: Module) -> bool:
        return self.is_super or (module in self.modules and number in self.numbers)

    def visible(self, numbers: list[str], module: Module | None = None) -> list[str]:
        """The numbers of ``numbers`` this principal may see (in ``module``, or in any)."""
        if self.is_super:
            return list(numbers)
        if module is not None and module not in self.modules:
            return []
        return [n for n in numbers if n in self.numbers]

    def denied(self, numbers: list[str], module: Module) -> list[str]:
        return [n for n in numbers if not self.can(n, module)]


def super_admin() -> Principal:
    return Principal(actor=SUPER_ADMIN, modules=ALL_MODULES)
