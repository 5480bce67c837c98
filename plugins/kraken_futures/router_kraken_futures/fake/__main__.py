"""``python -m router_kraken_futures.fake --port N``: serve the fake on 127.0.0.1."""

from __future__ import annotations

import argparse
import base64
import binascii
import sys

from .app import FAKE_API_KEY, FAKE_API_SECRET, FakeKrakenFutures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m router_kraken_futures.fake",
        description="A loopback fake of the Kraken Futures REST API (127.0.0.1 only).",
    )
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--api-key", default=FAKE_API_KEY)
    parser.add_argument("--api-secret", default=FAKE_API_SECRET, help="base64, like Kraken's")
    parser.add_argument("--mode", choices=("api", "redirect", "html"), default="api",
                        help="redirect/html answer like the retired demo host")
    args = parser.parse_args(argv)
    try:
        base64.b64decode(args.api_secret, validate=True)
    except (binascii.Error, ValueError):
        parser.error("--api-secret must be base64")
    import uvicorn

    fake = FakeKrakenFutures(keys={args.api_key: args.api_secret})
    fake.mode = args.mode
    print(f"fake Kraken Futures on http://127.0.0.1:{args.port} (key {args.api_key})",
          file=sys.stderr)
    uvicorn.run(fake, host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
