"""Every account's client verifies TLS with one shared context (built once per process)."""

from __future__ import annotations

import ssl
from pathlib import Path

from router_kraken_spot.fake_data import extra_key
from router_kraken_spot.testing import make_broker

from router_core import (
    AiohttpTransport,
    BrokerContext,
    NonceRegistry,
    RateLimiterRegistry,
    shared_tls_context,
)


def _context(tmp_path: Path, number: int) -> BrokerContext:
    key, secret = extra_key(number)
    return BrokerContext(account=f"a{number}", state_dir=tmp_path, nonces=NonceRegistry(tmp_path),
                         limiters=RateLimiterRegistry(), transport=None,
                         environ={"KRAKEN_API_KEY": key, "KRAKEN_API_SECRET": secret})


async def test_accounts_share_one_verifying_tls_context(tmp_path: Path) -> None:
    brokers = [make_broker(_context(tmp_path, n), base_url="https://api.kraken.com")
               for n in (1, 2)]
    try:
        transports = [b.client._http.transport for b in brokers]
        assert all(isinstance(t, AiohttpTransport) for t in transports)
        contexts = [t._ssl for t in transports]
        assert contexts[0] is contexts[1] is shared_tls_context()
        assert contexts[0].verify_mode is ssl.CERT_REQUIRED
        assert contexts[0].check_hostname
    finally:
        for broker in brokers:
            await broker.close()
