"""The chaos run: three ``serve`` instances on one PostgreSQL journal, killed at random.

Three ``alert-router serve`` processes on loopback share one PostgreSQL journal and the Kraken
fakes (spot, and futures, each in its own process so a killed router never takes a venue with
it). 23 accounts over 6 API keys (5 spot keys with 4 accounts each, one futures key with 3). A
driver sends a stream of alerts to the instances in turn, each to one to three accounts, and
delivers some a second time to another instance (TradingView resends), and resends to the next
instance after a 5xx or no answer. Meanwhile a killer sends SIGKILL to a random instance every
few seconds and starts it again.

At the end (every instance back up, every accepted alert finished), each alert's planned orders
are counted at the fakes by client order id:

* every alert answered 2xx has exactly its planned orders (one per account), none twice;
* an alert answered only 5xx, or not at all, may be missing but is never doubled;
* no order at a fake belongs to no alert; no nonce error at either fake.

Long form (a documented command, about two minutes)::

    python -m tests.chaos --seconds 120 --kills 40

The CI short form is tests/test_chaos_pg.py (about 25 s, a few kills).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPOT_KEYS = 5
SPOT_ACCOUNTS_PER_KEY = 4
FUTURES_ACCOUNTS = 3
INSTANCES = 3
PASSPHRASE = "chaos-test-passphrase"
TRADINGVIEW_TIMEOUT = 3.0  # TradingView gives up on a webhook after 3 s
SETTLE_SECONDS = 60.0  # without any alert finishing


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


# -- the futures fake, in its own process, with several keys and a state endpoint -----------

def futures_fake_main(port: int, keys: int) -> None:
    """``python -m tests.chaos fake-futures``: the Kraken Futures fake with ``keys`` keys and
    ``GET /_chaos/state`` (orders by client order id, nonce errors)."""
    from decimal import Decimal

    import uvicorn
    from router_kraken_futures.fake.app import FakeKrakenFutures

    fake = FakeKrakenFutures(keys=dict(futures_key(n) for n in range(1, keys + 1)))
    fake.exchange.margin_equity = Decimal("100000000")  # every order of a run fits

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_chaos/state":
            body = json.dumps({
                "orders": [o.cli_ord_id for o in fake.orders if o.cli_ord_id],
                "nonce_errors": fake.nonce_errors,
            }).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await fake(scope, receive, send)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def futures_key(number: int) -> tuple[str, str]:
    import base64
    import hashlib

    key = f"chaos-futures-key-{number}"
    return key, base64.b64encode(hashlib.sha256(key.encode()).digest()).decode()


# -- the cluster under test ------------------------------------------------------------------

@dataclass
class Instance:
    name: str
    port: int
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str]) -> None:
        handle = open(self.log, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "router_core.cli", "serve", "--config", str(self.config)],
            stdout=handle, stderr=handle, env=env)
        handle.close()
        self.starts += 1

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Alert:
    number: int
    intent: str
    accounts: list[str]
    body: bytes
    answers: list[int] = field(default_factory=list)  # HTTP statuses; 0: no answer in 3 s

    @property
    def acked(self) -> bool:
        return any(200 <= status < 300 for status in self.answers)


@dataclass
class Result:
    alerts: int = 0
    acked: int = 0
    unanswered_or_5xx: int = 0
    deliveries: int = 0
    kills: int = 0
    expected_orders: int = 0
    orders_at_fakes: int = 0
    doubled: int = 0
    lost: int = 0
    unexpected: int = 0
    nonce_errors: int = 0
    unfinished: int = 0
    unsettled_legs: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.doubled or self.lost or self.unexpected or self.nonce_errors
                    or self.unfinished or self.unsettled_legs)

    def lines(self) -> list[str]:
        return [
            f"alerts sent {self.alerts}, deliveries {self.deliveries}, answered 2xx "
            f"{self.acked}, only 5xx or unanswered {self.unanswered_or_5xx}",
            f"kills {self.kills}",
            f"orders planned for 2xx alerts {self.expected_orders}, orders at the fakes "
            f"{self.orders_at_fakes}",
            f"doubled {self.doubled}, lost {self.lost}, unexpected {self.unexpected}, "
            f"nonce errors {self.nonce_errors}, unfinished alerts {self.unfinished}, "
            f"legs without a final outcome {self.unsettled_legs}",
            *self.details[:20],
        ]


def account_names() -> dict[str, tuple[str, int]]:
    """Account name -> (venue, key number)."""
    names = {f"s{k}{chr(97 + a)}": ("spot", k) for k in range(1, SPOT_KEYS + 1)
             for a in range(SPOT_ACCOUNTS_PER_KEY)}
    names.update({f"f1{chr(97 + a)}": ("futures", 1) for a in range(FUTURES_ACCOUNTS)})
    return names


def write_config(path: Path, *, name: str, port: int, state: Path, pg_url: str,
                 spot_url: str, futures_url: str) -> None:
    lines = [
        "[router]", f'state_dir = "{state}"', 'plugins = ["kraken-spot", "kraken-futures"]',
        # a leg left pending by a killed instance is looked up quickly; proven absent, it is
        # sent (the same client order id) by the key's new owner
        "reconcile_attempts = 3", "reconcile_window_seconds = 3",
        "[journal]", f'url = "{pg_url}"',
        "[cluster]", f'instance_id = "{name}"', "lease_seconds = 2", "heartbeat_seconds = 0.5",
        "poll_seconds = 0.5",
        "[server]", 'host = "127.0.0.1"', f"port = {port}", 'passphrase_env = "CHAOS_PASSPHRASE"',
        "[defaults]", 'quantity = "0.001"',
    ]
    for account, (venue, key) in account_names().items():
        lines.append(f"[accounts.{account}]")
        if venue == "spot":
            lines += ['broker = "kraken-spot"', f'base_url = "{spot_url}"', 'tier = "pro"',
                      f'api_key_env = "CHAOS_SPOT_KEY_{key}"',
                      f'api_secret_env = "CHAOS_SPOT_SECRET_{key}"']
        else:
            lines += ['broker = "kraken-futures"', f'base_url = "{futures_url}"',
                      "spot_tickers_as_perpetual = true",
                      f'api_key_env = "CHAOS_FUT_KEY_{key}"',
                      f'api_secret_env = "CHAOS_FUT_SECRET_{key}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def environment() -> dict[str, str]:
    from router_kraken_spot.fake_data import extra_key

    env = dict(os.environ, CHAOS_PASSPHRASE=PASSPHRASE, PYTHONUNBUFFERED="1")
    for n in range(1, SPOT_KEYS + 1):
        env[f"CHAOS_SPOT_KEY_{n}"], env[f"CHAOS_SPOT_SECRET_{n}"] = extra_key(n)
    env["CHAOS_FUT_KEY_1"], env["CHAOS_FUT_SECRET_1"] = futures_key(1)
    return env


def make_alerts(count: int, run: str, rng: random.Random) -> list[Alert]:
    names = sorted(account_names())
    alerts = []
    for n in range(count):
        accounts = rng.sample(names, rng.randint(1, 3))
        intent = f"chaos-{run}-{n}"
        body = json.dumps({"ticker": "BTCUSD", "action": "buy", "id": intent,
                           "accounts": accounts, "passphrase": PASSPHRASE}).encode()
        alerts.append(Alert(n, intent, accounts, body))
    return alerts


async def drive(instances: list[Instance], alerts: list[Alert], seconds: float,
                rng: random.Random) -> int:
    """Send the alerts at an even pace over ``seconds``; returns the deliveries made."""
    import httpx

    deliveries = 0

    async def deliver(alert: Alert, target: int) -> int:
        nonlocal deliveries
        deliveries += 1
        instance = instances[target % len(instances)]
        try:
            response = await client.post(f"{instance.url}/webhook", content=alert.body,
                                         headers={"Content-Type": "application/json"})
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        alert.answers.append(status)
        return status

    async def send(alert: Alert) -> None:
        target = alert.number
        status = await deliver(alert, target)
        for _ in range(2):  # TradingView resends after a 5xx or no answer
            if 200 <= status < 500:
                break
            target += 1
            await asyncio.sleep(0.2)
            status = await deliver(alert, target)
        if rng.random() < 0.3:  # the same delivery once more, to another instance
            await asyncio.sleep(rng.uniform(0, 1.0))
            await deliver(alert, target + 1)

    pace = seconds / max(len(alerts), 1)
    async with httpx.AsyncClient(timeout=TRADINGVIEW_TIMEOUT) as client:
        tasks = []
        for alert in alerts:
            tasks.append(asyncio.create_task(send(alert)))
            await asyncio.sleep(pace)
        await asyncio.gather(*tasks)
    return deliveries


async def kill_forever(instances: list[Instance], env: dict[str, str], every: float,
                       rng: random.Random, kills: list[str]) -> None:
    while True:
        await asyncio.sleep(rng.uniform(every * 0.5, every * 1.5))
        victim = rng.choice(instances)
        victim.kill()
        kills.append(victim.name)
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        victim.start(env)


def journal_state(pg_url: str) -> tuple[dict[str, str], int]:
    """Alert states by intent key, and legs without a final outcome."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        states = {intent: state for intent, state in
                  conn.execute("SELECT intent_key, state FROM alerts").fetchall()}
        unsettled = conn.execute(
            "SELECT count(*) FROM legs WHERE status IN ('pending', 'unknown', 'absent_given_up')"
        ).fetchone()
    return states, int(unsettled[0]) if unsettled else 0


def run(pg_url: str, workdir: Path, *, seconds: float, kills: int, alerts_per_second: float = 4.0,
        seed: int | None = None, say: Any = print) -> Result:
    from router_core.models import LegPurpose
    from router_core.orders import client_order_id

    seed = seed if seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    say(f"chaos: seed {seed}, {seconds:.0f} s, a kill every {seconds / max(kills, 1):.1f} s, "
        f"workdir {workdir}")
    workdir.mkdir(parents=True, exist_ok=True)
    env = environment()
    processes: list[subprocess.Popen[bytes]] = []
    spot_port, futures_port = free_port(), free_port()
    spot = subprocess.Popen(
        [sys.executable, "-m", "router_kraken_spot.fake", "--port", str(spot_port),
         "--no-rate-limits", "--extra-keys", str(SPOT_KEYS)],
        stdout=subprocess.DEVNULL, stderr=open(workdir / "fake-spot.log", "wb"))
    processes.append(spot)
    futures = subprocess.Popen(
        [sys.executable, "-m", "tests.chaos", "fake-futures", "--port", str(futures_port),
         "--keys", "1"], stdout=subprocess.DEVNULL,
        stderr=open(workdir / "fake-futures.log", "wb"), cwd=Path(__file__).parent.parent)
    processes.append(futures)
    spot_url, futures_url = f"http://127.0.0.1:{spot_port}", f"http://127.0.0.1:{futures_port}"
    instances: list[Instance] = []
    result = Result()
    try:
        wait_http(f"{spot_url}/0/public/Time", 30, spot)
        wait_http(f"{futures_url}/_chaos/state", 30, futures)
        request = urllib.request.Request(
            f"{spot_url}/_fake/set_balance", method="POST",
            data=json.dumps({"asset": "ZUSD", "amount": "1000000000"}).encode(),
            headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()
        for n in range(1, INSTANCES + 1):
            port = free_port()
            instance = Instance(f"i{n}", port, workdir / f"i{n}.toml", workdir / f"i{n}.log")
            write_config(instance.config, name=instance.name, port=port,
                         state=workdir / f"state-i{n}", pg_url=pg_url, spot_url=spot_url,
                         futures_url=futures_url)
            instances.append(instance)
        for instance in instances:
            instance.start(env)
        for instance in instances:
            assert instance.process is not None
            wait_http(f"{instance.url}/healthz", 60, instance.process)
        alerts = make_alerts(max(1, int(seconds * alerts_per_second)), str(seed), rng)
        killed: list[str] = []

        async def scenario() -> int:
            killer = asyncio.create_task(
                kill_forever(instances, env, seconds / max(kills, 1), rng, killed))
            try:
                return await drive(instances, alerts, seconds, rng)
            finally:
                killer.cancel()

        result.deliveries = asyncio.run(scenario())
        result.kills = len(killed)
        say(f"chaos: driving done ({result.deliveries} deliveries, {result.kills} kills); "
            "settling")
        for instance in instances:  # everyone back, so every key has a live owner
            if not instance.alive():
                instance.start(env)
        acked = {a.intent for a in alerts if a.acked}
        # The backlog drains at the venues' pace (the router keeps to Kraken's rate limits):
        # wait while it shrinks, give up after SETTLE_SECONDS without progress.
        progress_at, best = time.monotonic(), None
        while True:
            states, unsettled = journal_state(pg_url)
            waiting = [i for i in acked if states.get(i) not in ("done", "refused")]
            if not waiting and not unsettled:
                break
            if best is None or len(waiting) + unsettled < best:
                progress_at, best = time.monotonic(), len(waiting) + unsettled
            if time.monotonic() - progress_at > SETTLE_SECONDS:
                break
            time.sleep(0.5)
        result.unfinished, result.unsettled_legs = len(waiting), unsettled
        # -- the counts at the venues --------------------------------------------------------
        at_fakes: Counter[str] = Counter()
        spot_state = get_json(f"{spot_url}/_fake/state")
        at_fakes.update(o["cl_ord_id"] for o in spot_state["orders"].values()
                        if o.get("cl_ord_id"))
        futures_state = get_json(f"{futures_url}/_chaos/state")
        at_fakes.update(futures_state["orders"])
        result.nonce_errors = (int(spot_state["errors_sent"].get("EAPI:Invalid nonce", 0))
                               + int(futures_state["nonce_errors"]))
        planned: dict[str, Alert] = {}
        for alert in alerts:
            for account in alert.accounts:
                planned[client_order_id(alert.intent, account, LegPurpose.OPEN)] = alert
        result.alerts, result.acked = len(alerts), len(acked)
        result.unanswered_or_5xx = len(alerts) - len(acked)
        result.orders_at_fakes = sum(at_fakes.values())
        for cid, count in at_fakes.items():
            if cid not in planned:
                result.unexpected += count
                result.details.append(f"unexpected order {cid} x{count}")
            elif count > 1:
                result.doubled += count - 1
                result.details.append(f"doubled: {cid} x{count} (alert {planned[cid].intent}, "
                                      f"answers {planned[cid].answers})")
        for alert in alerts:
            if not alert.acked:
                continue
            for account in alert.accounts:
                result.expected_orders += 1
                cid = client_order_id(alert.intent, account, LegPurpose.OPEN)
                if at_fakes[cid] == 0:
                    result.lost += 1
                    result.details.append(f"lost: alert {alert.intent} on {account} (answers "
                                          f"{alert.answers}, state {states.get(alert.intent)})")
        for line in result.lines():
            say(f"chaos: {line}")
        return result
    finally:
        for instance in instances:
            if instance.process is not None and instance.process.poll() is None:
                instance.process.terminate()
        for instance in instances:
            if instance.process is not None:
                try:
                    instance.process.wait(15)
                except subprocess.TimeoutExpired:
                    instance.kill()
        for process in processes:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    fake = sub.add_parser("fake-futures", help="(internal) the futures fake of a chaos run")
    fake.add_argument("--port", type=int, required=True)
    fake.add_argument("--keys", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--rate", type=float, default=2.0, help="alerts per second")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--pg-url", default=os.environ.get("ALERT_ROUTER_TEST_PG_URL"),
                        help="a database to use (default: a throw-away cluster)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "fake-futures":
        futures_fake_main(args.port, args.keys)
        return 0
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from pg import remove_cluster, start_cluster  # tests/pg.py: the throw-away cluster

    cluster = None
    url = args.pg_url
    if url is None:
        cluster = start_cluster()
        url = cluster.create_database()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="alert-router-chaos-"))
    try:
        result = run(url, workdir, seconds=args.seconds, kills=args.kills,
                     alerts_per_second=args.rate, seed=args.seed)
    finally:
        if cluster is not None:
            remove_cluster(cluster)
    print("chaos: PASS" if result.ok else "chaos: FAIL (logs in " + str(workdir) + ")")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
