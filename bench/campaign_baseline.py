"""The campaign bench's baseline: a bare aiohttp loop (no flow-engine imports) POSTing the
same template sends to the sink, ``--concurrency`` at a time, as fast as it can.

``python -m bench.campaign_baseline --sink-url U --token T --count N``; prints one JSON
line: sends, seconds, CPU seconds of this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

import aiohttp


def payload(to: str, i: int) -> dict[str, object]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {
            "name": "bench_promo",
            "language": {"code": "es"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": f"N{i}"},
                        {"type": "text", "text": f"{i % 50}%"},
                    ],
                }
            ],
        },
        "biz_opaque_callback_data": f"fe:c:baseline:{i}",
    }


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    url = f"{args.sink_url}/v23.0/100000000000001/messages"
    headers = {"Authorization": f"Bearer {args.token}"}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(args.count):
        queue.put_nowait(i)
    sent = 0
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal sent
            while not queue.empty():
                i = queue.get_nowait()
                body = payload(f"549119{i:07d}", i)
                async with session.post(url, json=body, headers=headers) as resp:
                    answer = await resp.json()
                    if resp.status == 200 and answer["messages"][0]["id"]:
                        sent += 1

        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"sends": sent, "seconds": elapsed, "cpu_s": cpu}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sink-url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--concurrency", type=int, default=64)
    args = p.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    print(json.dumps(asyncio.run(main_async(args))), flush=True)


if __name__ == "__main__":
    main()
