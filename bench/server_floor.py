"""The least a Python webhook server on the router's stack spends per request: uvicorn on uvloop
with httptools (as ``alert-router serve`` runs) and an ASGI app with nothing else in it.

    python bench/server_floor.py PORT
    python bench/server_floor.py PORT --forward SPOT_URL --keys N

Without ``--forward`` the app reads the body and answers 200 with a small JSON body: no
parsing, no journal, no logging. The webhook's burst acks are read against this server's,
measured in the same run.

With ``--forward`` every POST is also one order: the app parses the alert's JSON, sends the
floor's hand-signed AddOrder (``floor.py``) on the key of the alert's first account (``aN`` is
fake key N) and answers once the fake has placed it. Still no journal, validation, sizing or
logging: the webhook's orders/s with N in flight are read against this server's, which pays
what any Python webhook forwarding an alert must (HTTP in, JSON, signing, HTTP out) on the same
two cores as the sender and the fake.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

ANSWER = b'{"alert_id": "00000000-0000-0000-0000-000000000000", "status": "accepted"}'
HEADERS = [(b"content-type", b"application/json")]


async def _lifespan(receive: Any, send: Any, start: Any = None, stop: Any = None) -> None:
    while (await receive())["type"] != "lifespan.shutdown":
        if start is not None:
            await start()
        await send({"type": "lifespan.startup.complete"})
    if stop is not None:
        await stop()
    await send({"type": "lifespan.shutdown.complete"})


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Any, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [*HEADERS, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await _body(receive)
    await _answer(send, ANSWER)


def forwarding_app(spot_url: str, keys: int) -> Any:
    """The ASGI app of ``--forward``: one hand-signed order per alert, answered when placed."""
    import fakes
    import floor

    senders: list[floor.AiohttpFloor] = []  # key N's at N, all on one session

    async def start() -> None:
        session = floor.aiohttp_session(keys + 1)  # made on the server's loop, at start-up
        senders.extend(floor.AiohttpFloor(spot_url, floor.Signer(*fakes.key(n)), session)
                       for n in range(keys + 1))

    async def stop() -> None:
        if senders:
            await senders[0].session.close()

    async def forward(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, start, stop)
            return
        body = await _body(receive)
        if scope["method"] != "POST":  # GET /healthz: ready
            await _answer(send, b'{"status": "ok"}')
            return
        alert = json.loads(body)
        await senders[int(alert["accounts"][0].removeprefix("a"))].send()
        await _answer(send, json.dumps({"alert_id": alert["id"], "status": "done"}).encode())

    return forward


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--forward", metavar="SPOT_URL",
                        help="send each alert as one order to the Kraken spot fake here")
    parser.add_argument("--keys", type=int, default=50, help="the fake's extra keys (aN)")
    args = parser.parse_args()
    chosen = forwarding_app(args.forward, args.keys) if args.forward else app
    uvicorn.run(chosen, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
