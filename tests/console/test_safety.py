"""The console's safety nets: headers on every response, no inline script anywhere, no
password or token in a log line or a URL."""

from __future__ import annotations

import re
from pathlib import Path

from structlog.testing import capture_logs

from tests.admin.conftest import NUMBERS
from tests.console.conftest import PASSWORD, Console

TEMPLATES = Path(__file__).resolve().parents[2] / "flow_engine" / "console" / "templates"


async def test_every_page_has_the_security_headers(console: Console) -> None:
    b = await console.browser()
    for path in ("/console/login", "/console/nope", "/console/static/console.css"):
        async with b.client.get(path) as resp:
            csp = resp.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp
            assert resp.headers["X-Frame-Options"] == "DENY"
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
    async with b.client.get("/console/account", allow_redirects=False) as resp:
        assert resp.status == 303 and "Content-Security-Policy" in resp.headers


async def test_the_favicon_is_served_to_anyone(console: Console) -> None:
    b = await console.browser()  # not signed in
    login = await b.get("/console/login")
    links = re.findall(r'<link rel="icon" href="([^"]+)"', login.text)
    assert links == ["/favicon.ico", "/console/static/favicon.svg"]
    async with b.client.get("/favicon.ico", allow_redirects=False) as resp:
        assert resp.status == 200 and resp.content_type == "image/x-icon"
        assert (await resp.read()).startswith(b"\x00\x00\x01\x00")  # an ICO file
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    async with b.client.get("/console/static/favicon.svg", allow_redirects=False) as resp:
        assert resp.status == 200 and resp.content_type == "image/svg+xml"
        assert "<svg" in await resp.text()


def test_no_template_has_an_inline_script_style_or_handler() -> None:
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert "<style" not in text and " style=" not in text, path
        assert not re.search(r"\son[a-z]+=", text), path


async def test_no_password_or_token_reaches_a_log_line_or_a_url(console: Console) -> None:
    member_id = await console.member("ana@example.com", ["access"], NUMBERS[:1])
    b = await console.browser()
    with capture_logs() as logs:
        await b.sign_in("ana@example.com", "wrong password here")
        page = await b.sign_in("ana@example.com")
        made = await b.post(
            f"/console/access/members/{member_id}/tokens",
            {"csrf": page.csrf, "token_name": "laptop"},
        )
    token = re.search(r'readonly value="(fe_[^"]+)"', made.text)
    assert token
    text = repr(logs)
    for secret in (PASSWORD, "wrong password here", token[1]):
        assert secret not in text
        assert secret not in made.url and secret not in page.url
    session = next(c.value for c in b.client.cookie_jar if c.key == "fe_session")
    assert session not in text
