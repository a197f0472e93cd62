"""Media of a conversation, fetched from the Cloud API to stream it on (R-DESK-3: the
transcript's media links). Two calls, as Meta documents: ``GET /{version}/{media-id}``
(with ``phone_number_id``, so a number only reaches its own media) gives a short-lived
URL, then that URL is downloaded with the same bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from flow_engine.errors import NotFound, TransientGatewayError

CHUNK = 64 * 1024


@dataclass
class Media:
    """An open download: its type, size when known, and its body in chunks."""

    content_type: str
    size: int | None
    chunks: AsyncIterator[bytes]


def no_such_media(number: str, media_id: str) -> NotFound:
    return NotFound(
        f"no media {media_id} on number {number}",
        details={"number": number, "media_id": media_id},
    )


@asynccontextmanager
async def cloud_media(
    session: aiohttp.ClientSession, base: str, token: str, number: str, media_id: str
) -> AsyncIterator[Media]:
    """The media ``media_id`` of ``number`` from the Graph API at ``base`` (with the
    version): NotFound when it does not know it for this number, TransientGatewayError
    when it cannot be reached or fails."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with session.get(
            f"{base}/{media_id}", params={"phone_number_id": number}, headers=headers
        ) as meta:
            if meta.status >= 500:
                raise TransientGatewayError(
                    f"media lookup failed: HTTP {meta.status}", http_status=meta.status
                )
            info: Any = await meta.json(content_type=None)
        doc: dict[str, Any] = info if isinstance(info, dict) and meta.status == 200 else {}
        url = doc.get("url")
        if not isinstance(url, str) or not url:
            raise no_such_media(number, media_id)
        async with session.get(url, headers=headers) as body:
            if body.status != 200:
                raise TransientGatewayError(
                    f"media download failed: HTTP {body.status}", http_status=body.status
                )
            mime = str(doc.get("mime_type") or body.content_type or "application/octet-stream")
            yield Media(mime, body.content_length, body.content.iter_chunked(CHUNK))
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise TransientGatewayError(f"media unreachable: {type(exc).__name__}") from exc
