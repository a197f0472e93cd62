"""Who is asking, for every console route, in one middleware: the session cookie is looked
up in the store (``admin/signin.py``), the member's :class:`Principal` rebuilt from the
directory, the route's declared permission checked by the API's own ``authorize``, and
every state-changing request must carry the session's CSRF token (a form field or the
``X-CSRF-Token`` header, compared in constant time).

Without a session a page redirects to the sign-in page; a form post, a fetch or a stream
answers 401. Outside the grant: the 403 page."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler

from flow_engine.admin.directory import Directory, Member
from flow_engine.admin.permissions import Principal
from flow_engine.admin.signin import Session
from flow_engine.console.i18n import negotiate
from flow_engine.console.registry import page_of
from flow_engine.errors import Forbidden, Unauthorized
from flow_engine.web.api.auth import authorize
from flow_engine.web.state import SETTINGS, SIGNIN

SESSION_COOKIE = "fe_session"
SIGNIN_COOKIE = "fe_signin"  # the sign-in form's own CSRF token (double submit)
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

SESSION = web.RequestKey("console_session", Session)
WHO = web.RequestKey("console_principal", Principal)
MEMBER = web.RequestKey("console_member", Member)
DIRECTORY_SEEN = web.RequestKey("console_directory", Directory)
LOCALE = web.RequestKey("console_locale", str)


class SignedOut(Unauthorized):
    code = "signed_out"


def secure_cookies(request: web.Request) -> bool:
    return request.config_dict[SETTINGS].env != "development"


def set_cookie(request: web.Request, resp: web.StreamResponse, name: str, value: str) -> None:
    resp.set_cookie(
        name,
        value,
        path="/console",
        httponly=True,
        secure=secure_cookies(request),
        samesite="Lax",
    )


def clear_cookie(resp: web.StreamResponse, name: str) -> None:
    resp.del_cookie(name, path="/console")


def login_url(next_path: str | None = None) -> str:
    url = "/console/login"
    if next_path and safe_next(next_path):
        url += "?next=" + quote(next_path, safe="/")
    return url


def safe_next(path: str | None) -> bool:
    """Only a path of the console itself (never another site)."""
    if not path:
        return False
    return path.startswith("/console/") and "//" not in path and "\\" not in path


async def csrf_given(request: web.Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        value = (await request.post()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[LOCALE] = negotiate(request.headers.get("Accept-Language"))
    if request.match_info.http_exception is not None:
        return await handler(request)  # 404 / 405: the error page
    page = page_of(request)
    if page is None:  # fail closed: a route without a declaration serves nobody
        raise Forbidden(
            "this console route declares no permission", details={"path": request.path}
        )
    if page.permission.public:
        return await handler(request)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    loaded = await request.config_dict[SIGNIN].load(cookie, touch=not page.stream)
    if loaded is None:
        if request.method == "GET" and not page.stream:
            raise web.HTTPSeeOther(login_url(request.path_qs))
        raise SignedOut("your session is over: sign in again", details={"sign_in": login_url()})
    session, member, who, directory = loaded
    request[SESSION], request[MEMBER], request[WHO] = session, member, who
    request[DIRECTORY_SEEN] = directory
    request[LOCALE] = directory.account(member.id).locale or request[LOCALE]
    if request.method not in SAFE_METHODS and not session.csrf_matches(await csrf_given(request)):
        raise Forbidden(
            "this form is out of date (its security token does not match): reload the page",
            details={"field": CSRF_FIELD},
        )
    authorize(who, page.permission, dict(request.match_info))
    return await handler(request)
