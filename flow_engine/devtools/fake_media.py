"""Media of the development gateway: ``GET /{version}/{media_id}`` answers Meta's media
object (a ``url``, ``mime_type``, ``sha256``, ``file_size``), and that URL serves the
bytes to the bearer token. A few media are there from the start (``DEMO_MEDIA``);
``/_fake/media`` (POST ``{"id", "mime_type", "text"}``) adds one.

Media ids of the development gateway start with ``media.`` so their route never
shadows another ``/{version}/{id}`` route of the gateway.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

MEDIA_ID = r"{media_id:media\.[A-Za-z0-9_.-]+}"
#: id -> (mime type, body)
DEMO_MEDIA: dict[str, tuple[str, bytes]] = {
    "media.demo-image": ("image/png", bytes.fromhex("89504e470d0a1a0a") + b"demo image"),
    "media.demo-document": ("application/pdf", b"%PDF-1.4\n% demo document\n"),
    "media.demo-audio": ("audio/ogg", b"OggS demo audio"),
}
STORE = web.AppKey("fake_media", dict)


def _authorized(request: web.Request, token: str | None) -> bool:
    if token is None:
        return True
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _unauthorized() -> web.Response:
    body = {
        "error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
    }
    return web.json_response(body, status=401)


def add_media_routes(app: web.Application, token: str | None) -> None:
    """Add the media routes (before any catch-all ``/{version}/{id}`` route)."""
    app[STORE] = dict(DEMO_MEDIA)

    async def lookup(request: web.Request) -> web.Response:
        if not _authorized(request, token):
            return _unauthorized()
        media_id = request.match_info["media_id"]
        found = request.app[STORE].get(media_id)
        if found is None:
            body = {
                "error": {
                    "message": "Unsupported get request.",
                    "type": "GraphMethodException",
                    "code": 100,
                }
            }
            return web.json_response(body, status=400)
        mime, data = found
        url = str(request.url.with_path(f"/_fake/media/{media_id}/download").with_query(None))
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": url,
                "mime_type": mime,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": len(data),
                "id": media_id,
            }
        )

    async def download(request: web.Request) -> web.Response:
        if not _authorized(request, token):
            return _unauthorized()
        found = request.app[STORE].get(request.match_info["media_id"])
        if found is None:
            return web.Response(status=404)
        mime, data = found
        return web.Response(body=data, content_type=mime)

    async def add(request: web.Request) -> web.Response:
        doc = await request.json()
        media_id = str(doc.get("id", ""))
        if not media_id.startswith("media."):
            return web.json_response({"error": "a media id starts with 'media.'"}, status=400)
        request.app[STORE][media_id] = (
            str(doc.get("mime_type", "text/plain")),
            str(doc.get("text", "")).encode(),
        )
        return web.json_response({"id": media_id})

    app.router.add_get(f"/{{version}}/{MEDIA_ID}", lookup)
    app.router.add_get(f"/_fake/media/{MEDIA_ID}/download", download)
    app.router.add_post("/_fake/media", add)
