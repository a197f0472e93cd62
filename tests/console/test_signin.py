"""Signing in and out of the console: sessions in the store, cookies, CSRF, lockout."""

from __future__ import annotations

from tests.admin.conftest import NUMBERS
from tests.console.conftest import PASSWORD, Console


async def test_console_without_its_slash_is_the_console(console: Console) -> None:
    b = await console.browser()
    page = await b.get("/console", allow_redirects=False)
    assert page.status == 301 and page.headers["Location"] == "/console/"


async def test_a_page_without_a_session_sends_to_the_sign_in(console: Console) -> None:
    b = await console.browser()
    page = await b.get("/console/account", allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"] == "/console/login?next=/console/account"


async def test_sign_in_opens_a_session_and_sign_out_ends_it(console: Console) -> None:
    await console.member("ana@example.com", ["desk"], NUMBERS[:2], name="Ana")
    b = await console.browser()
    home = await b.sign_in("ana@example.com")
    assert home.status == 200 and home.url.endswith("/console/"), home.text[:300]
    assert "Ana" in home.text
    csrf = home.csrf
    out = await b.post("/console/logout", {"csrf": csrf}, allow_redirects=False)
    assert out.status == 303
    after = await b.get("/console/", allow_redirects=False)
    assert after.status == 303 and after.headers["Location"].startswith("/console/login")


async def test_cookies_are_httponly_lax_and_secure_outside_development(
    console: Console,
) -> None:
    b = await console.browser()
    page = await b.get("/console/login")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # development
    from tests.console.conftest import console_settings

    prod = console_settings(env="production")
    console.app  # noqa: B018
    from flow_engine.gateway.recording import RecordingGateway
    from flow_engine.storage.memory import memory_storage
    from flow_engine.web.app import create_app

    app = create_app(prod, storage=memory_storage(), gateway=RecordingGateway())
    client = await console.factory(app)
    async with client.get("/console/login") as resp:
        assert "Secure" in resp.headers["Set-Cookie"]


async def test_a_wrong_password_or_unknown_email_is_refused_alike(console: Console) -> None:
    await console.member("ana@example.com", ["desk"], NUMBERS[:1])
    b = await console.browser()
    wrong = await b.sign_in("ana@example.com", "not the password")
    unknown = await b.sign_in("nobody@example.com", PASSWORD)
    assert wrong.status == unknown.status == 401
    assert "Wrong e-mail or password" in wrong.text or "incorrectos" in wrong.text
    assert wrong.text.replace("ana@example.com", "X") == unknown.text.replace(
        "nobody@example.com", "X"
    ).replace(unknown.csrf, wrong.csrf)


async def test_repeated_failures_lock_the_email_even_with_the_right_password(
    console: Console,
) -> None:
    await console.member("ana@example.com", ["desk"], NUMBERS[:1])
    b = await console.browser()
    for _ in range(5):
        page = await b.sign_in("ana@example.com", "guess guess guess")
        assert page.status == 401
    locked = await b.sign_in("ana@example.com", PASSWORD)
    assert locked.status == 401
    assert "Too many" in locked.text or "Demasiados" in locked.text
    # another member from the same address is not locked by Ana's failures
    await console.member("bea@example.com", ["desk"], NUMBERS[:1])
    assert (await b.sign_in("bea@example.com")).status == 200


async def test_a_form_without_the_session_token_is_refused(console: Console) -> None:
    await console.member("ana@example.com", ["desk"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("ana@example.com")
    page = await b.post("/console/logout", {"csrf": "forged"}, allow_redirects=False)
    assert page.status == 403
    page = await b.post("/console/logout", {}, allow_redirects=False)
    assert page.status == 403
    assert (await b.get("/console/")).status == 200  # still signed in


async def test_a_sign_in_form_needs_its_own_token(console: Console) -> None:
    await console.member("ana@example.com", ["desk"], NUMBERS[:1])
    b = await console.browser()
    await b.get("/console/login")
    page = await b.post(
        "/console/login", {"csrf": "forged", "email": "ana@example.com", "password": PASSWORD}
    )
    assert page.status == 403


async def test_a_new_password_ends_the_old_sessions(console: Console) -> None:
    member_id = await console.member("ana@example.com", ["desk"], NUMBERS[:1])
    b = await console.browser()
    await b.sign_in("ana@example.com")
    reply = await console.admin.call(
        "PUT", f"/members/{member_id}/password", {"password": "another good password"}
    )
    assert reply.status == 200
    assert (await b.get("/console/", allow_redirects=False)).status == 303
    assert (await b.sign_in("ana@example.com", "another good password")).status == 200


async def test_a_member_changes_their_own_password(console: Console) -> None:
    await console.member("ana@example.com", [], NUMBERS[:1])
    b = await console.browser()
    other = await console.browser()
    await b.sign_in("ana@example.com")
    await other.sign_in("ana@example.com")
    csrf = await b.csrf()
    bad = await b.post(
        "/console/account/password",
        {"csrf": csrf, "current": "wrong one!!", "new": "x" * 12, "again": "x" * 12},
    )
    assert bad.status == 422
    differ = await b.post(
        "/console/account/password",
        {"csrf": csrf, "current": PASSWORD, "new": "x" * 12, "again": "y" * 12},
    )
    assert differ.status == 422
    assert "Las dos contraseñas no coinciden." in differ.text  # the message, not its key
    assert "account.mismatch" not in differ.text
    done = await b.post(
        "/console/account/password",
        {
            "csrf": csrf,
            "current": PASSWORD,
            "new": "brand new secret",
            "again": "brand new secret",
        },
    )
    assert done.status == 200 and "/console/account" in done.url
    assert (await b.get("/console/")).status == 200  # this session goes on
    assert (await other.get("/console/", allow_redirects=False)).status == 303  # the other ends


async def test_only_the_super_admin_sets_passwords_through_the_api(console: Console) -> None:
    member_id = await console.member("ana@example.com", ["access"], NUMBERS)
    token = await console.admin.member_token("boss@example.com", ["access"], NUMBERS)
    reply = await console.admin.call(
        "PUT", f"/members/{member_id}/password", {"password": "0123456789ab"}, token=token
    )
    assert reply.status == 403
    short = await console.admin.call(
        "PUT", f"/members/{member_id}/password", {"password": "short"}
    )
    assert short.status == 422 and short.body["error"]["details"][0]["field"] == "password"
