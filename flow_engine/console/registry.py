"""Every console page and action, declared once with the permission it needs: the same
:class:`~flow_engine.web.api.registry.Permission` the ``/api/v1`` routes declare, checked
by the same :func:`~flow_engine.web.api.auth.authorize` (``console/auth.py``). A route
added without a declaration is refused to everyone (fail closed), and
``tests/admin/test_authorization.py`` walks every console route too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from flow_engine.web.api.registry import Permission

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: any signed-in member
SIGNED_IN = Permission()
PUBLIC = Permission(public=True)


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    handler: Handler
    permission: Permission
    name: str
    #: a live stream (Server-Sent Events): reading it does not count as activity, so an
    #: open page does not keep an idle session alive
    stream: bool = False


@dataclass
class Pages:
    """The declared routes of one part of the console."""

    pages: list[Page] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        permission: Permission,
        name: str | None = None,
        stream: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            page = Page(method, path, handler, permission, name or handler.__name__, stream)
            self.pages.append(page)
            handler.__page__ = page  # type: ignore[attr-defined]
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        for p in self.pages:
            app.router.add_route(p.method, p.path, p.handler, name=p.name)


def page_of(request: web.Request) -> Page | None:
    page: Page | None = getattr(request.match_info.handler, "__page__", None)
    return page
