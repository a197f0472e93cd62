"""A custom survey question as an HTTP skill (PreSurvey, parentServiceName NotaCerta).

Run it:   python skills/survey_question/server.py --port 8090   (--port 0: a free port)
          It prints its URL on its first line, so a conversation file can start it
          (``serve: python ../server.py --port 0``, docs/skills.md).
Attach:   {serviceName: PreSurvey, parentServiceName: NotaCerta, kind: http,
           url: "http://127.0.0.1:8090/skill", timeout_s: 5}

The engine POSTs ``{"envelope", "variables", "context"}`` for each message while the
skill holds the conversation (docs/skills.md, "HTTP skills"). On the first message
the skill asks its question and stays; on the next it keeps the answer in the
``answer`` variable (``skp_answer`` in the conversation record), thanks the contact
and returns, so the base flow's own survey follows.
"""

from __future__ import annotations

import argparse
import socket
from typing import Any

from aiohttp import web

QUESTION = "Antes de la encuesta: ¿cómo nos conoció?"
CHOICES = ["Redes sociales", "Un amigo", "Otro"]
THANKS = "¡Gracias por contarnos!"


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """The reply to one request body (pure, so it is easy to test)."""
    if request["context"]["first"]:
        return {
            "messages": [
                {
                    "type": "buttons",
                    "body": QUESTION,
                    "buttons": [
                        {"id": f"src_{i}", "title": title} for i, title in enumerate(CHOICES, 1)
                    ],
                }
            ],
            "variables": {"asked": True},
            "action": "stay",
        }
    content = str(request["envelope"]["input"]["content"]).strip()
    if content.isdigit() and 1 <= int(content) <= len(CHOICES):
        content = CHOICES[int(content) - 1]
    return {
        "messages": [THANKS],
        "variables": {"answer": content[:200], "asked": None},
        "action": "return",
        "envelope": request["envelope"],
    }


async def skill(request: web.Request) -> web.Response:
    try:
        body = await request.json()
        reply = answer(body)
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response({"error": f"bad request: {exc}"}, status=400)
    return web.json_response(reply)


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/skill", skill)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090, help="0: any free port")
    args = parser.parse_args()
    sock = socket.create_server((args.host, args.port))  # bound now: the real port is known
    print(f"http://{args.host}:{sock.getsockname()[1]}", flush=True)  # the URL, first line
    web.run_app(make_app(), sock=sock, print=None)


if __name__ == "__main__":
    main()
