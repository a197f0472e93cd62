"""Signing in and out, the home page, and the member's own account (password, language)."""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from flow_engine.admin.signin import SignInRefused
from flow_engine.console.auth import (
    LOCALE,
    MEMBER,
    SESSION,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    WHO,
    clear_cookie,
    safe_next,
    set_cookie,
)
from flow_engine.console.forms import field
from flow_engine.console.i18n import LOCALES, translator
from flow_engine.console.registry import PUBLIC, SIGNED_IN, Pages
from flow_engine.console.render import NAV, render, url
from flow_engine.console.validation import field_message
from flow_engine.errors import Forbidden, UnprocessableEntity
from flow_engine.web.state import SIGNIN

pages = Pages()


async def _login_form(
    request: web.Request, *, status: int = 200, error: str | None = None, email: str = ""
) -> web.Response:
    token = secrets.token_urlsafe(32)
    resp = render(
        request,
        "login.html",
        status=status,
        signin_token=token,
        error=error,
        email=email,
        next=request.query.get("next", ""),
    )
    set_cookie(request, resp, SIGNIN_COOKIE, token)
    return resp


@pages.route("GET", "/login", permission=PUBLIC, name="login")
async def login_page(request: web.Request) -> web.Response:
    return await _login_form(request)


@pages.route("POST", "/login", permission=PUBLIC, name="login_post")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    given, expected = field(form, "csrf"), request.cookies.get(SIGNIN_COOKIE, "")
    email = field(form, "email").strip()
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return await _login_form(request, status=403, error="login.expired", email=email)
    try:
        session = await request.config_dict[SIGNIN].sign_in(
            email, field(form, "password"), request.remote or "unknown"
        )
    except SignInRefused as exc:
        key = "login.locked" if exc.locked else "login.wrong"
        return await _login_form(request, status=401, error=key, email=email)
    target = field(form, "next")
    resp = web.HTTPSeeOther(target if safe_next(target) else url(request, "home"))
    set_cookie(request, resp, SESSION_COOKIE, session.id)
    clear_cookie(resp, SIGNIN_COOKIE)
    raise resp


@pages.route("POST", "/logout", permission=SIGNED_IN, name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    await request.config_dict[SIGNIN].sign_out(request[SESSION].id)
    resp = web.HTTPSeeOther(url(request, "login"))
    clear_cookie(resp, SESSION_COOKIE)
    raise resp


@pages.route("GET", "/", permission=SIGNED_IN, name="home")
async def home(request: web.Request) -> web.Response:
    who = request[WHO]
    modules = [
        (n, n.route is not None and n.route in request.app.router)
        for n in NAV
        if who.has_module(n.module)
    ]
    return render(request, "home.html", modules=modules)


@pages.route("GET", "/account", permission=SIGNED_IN, name="account")
async def account(request: web.Request) -> web.Response:
    return render(request, "account.html", errors={}, done=request.query.get("done", ""))


@pages.route("POST", "/account/password", permission=SIGNED_IN, name="account_password")
async def change_password(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    new, again = field(form, "new"), field(form, "again")
    errors: dict[str, str] = {}
    if new != again:
        errors["again"] = translator(request[LOCALE])("account.mismatch")
    else:
        try:
            session = await request.config_dict[SIGNIN].change_own_password(
                request[SESSION], request[WHO], field(form, "current"), new
            )
        except (Forbidden, UnprocessableEntity) as exc:
            for d in exc.details if isinstance(exc.details, list) else []:
                errors[d["field"]] = field_message(request[LOCALE], d)
        else:
            resp = web.HTTPSeeOther(url(request, "account", query={"done": "password"}))
            set_cookie(request, resp, SESSION_COOKIE, session.id)
            raise resp
    return render(request, "account.html", status=422, errors=errors, done="")


@pages.route("POST", "/account/language", permission=SIGNED_IN, name="account_language")
async def change_language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    chosen = field(form, "locale")
    locale = chosen if chosen in LOCALES else None  # anything else: the browser's again
    await request.config_dict[SIGNIN].set_locale(request[MEMBER].id, locale)
    request[LOCALE] = locale or request[LOCALE]
    raise web.HTTPSeeOther(url(request, "account", query={"done": "language"}))
