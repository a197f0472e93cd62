"""Access (R-ADMIN-1 … R-ADMIN-4): access profiles, members, their links to numbers, their
API tokens, and the audit log.

Permission is always profile × number × member (``admin/permissions.py``); the rules that
keep a member from raising their own rights live in the directory (``admin/directory.py``).
Every change goes through :meth:`DirectoryService.change`: applied to a fresh copy of the
directory and stored with its audit entries atomically, or not at all. Lists and
members show only what the caller may see: members sharing one of their numbers (or
linked to none), and only the caller's numbers among a member's numbers.
"""

from __future__ import annotations

from flow_engine.web.api.access import audit, links, members, passwords, profiles, tokens
from flow_engine.web.api.registry import Api

api = Api(
    operations=[
        op
        for part in (profiles, members, passwords, tokens, audit, links)
        for op in part.api.operations
    ]
)
