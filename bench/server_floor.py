"""The least a Python webhook server on the router's stack spends per request: uvicorn on uvloop
with httptools (as ``alert-router serve`` runs) and an ASGI app that reads the body and answers
200 with a small JSON body. No parsing, no journal, no logging. The webhook's burst acks are
read against this server's, measured in the same run.

    python bench/server_floor.py PORT
"""

from __future__ import annotations

import sys
from typing import Any

ANSWER = b'{"alert_id": "00000000-0000-0000-0000-000000000000", "status": "accepted"}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(ANSWER)).encode())]})
    await send({"type": "http.response.body", "body": ANSWER})


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
                log_level="warning", access_log=False)
