"""The web console: the portal people use in a browser, served by the engine itself at
``/console/`` (same process, same port). Server-rendered pages (Jinja2 through
``aiohttp-jinja2``), one small script of our own for live updates, sessions in the store.
A face like ``web/``: it uses the services, nothing below uses it. See docs/console.md.
"""

from __future__ import annotations

PREFIX = "/console"
