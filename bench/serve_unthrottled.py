"""``alert-router`` with the Kraken spot client's rate budgets lifted, for the webhook benchmark.

Kraken's real budgets (15-20 REST points, decaying at 0.33-1 per second) would hold every
client to about one order a second, and the benchmark measures software, not Kraken's
limits: the fake runs with ``--no-rate-limits`` and ccxt with ``enableRateLimit=False`` for
the same reason. Nothing else differs from ``alert-router``, unless ``BENCH_EXPERIMENT`` names
one of ``router_paths.EXPERIMENTS``: the webhook with one thing changed, patched in this
process only, as the in-process experiments are (none is a product mode).
"""

from __future__ import annotations

import os
import sys


def lift_kraken_spot_budgets() -> None:
    from router_kraken_spot import endpoints

    for table in (endpoints.REST_LIMITS, endpoints.TRADING_LIMITS):
        for tier in table:
            table[tier] = (1e12, 1e12)


if __name__ == "__main__":
    lift_kraken_spot_budgets()
    if os.environ.get("BENCH_EXPERIMENT"):
        import router_paths

        router_paths.apply_experiment(router_paths.EXPERIMENTS[os.environ["BENCH_EXPERIMENT"]])
    from router_core.cli import main

    sys.exit(main(sys.argv[1:]))
