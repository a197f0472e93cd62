"""A stand-in order API for trying the order_status skill locally.

Run it:  python skills/order_status/fake_api.py --port 8091
then:    ORDER_API_URL=http://127.0.0.1:8091 flow-engine test skills/order_status/tests

``GET /orders/{id}`` answers ``{"id": …, "status": …}`` for the known orders, 404 for
others and 500 for order 99999 (to try the error path).
"""

from __future__ import annotations

import argparse

from aiohttp import web

ORDERS = {"12345": "en camino", "67890": "entregado"}


async def order(request: web.Request) -> web.Response:
    order_id = request.match_info["order_id"]
    if order_id == "99999":
        return web.json_response({"error": "internal error"}, status=500)
    if order_id not in ORDERS:
        return web.json_response({"error": "not found"}, status=404)
    return web.json_response({"id": order_id, "status": ORDERS[order_id]})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/orders/{order_id}", order)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="A stand-in order API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    args = parser.parse_args()
    web.run_app(make_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
