"""``alert-router serve``: the webhook server (FastAPI on uvicorn).

Without ``--config`` it serves the paper venue with its state under ``./alert-router-state/``
and a generated passphrase kept in ``alert-router-state/passphrase`` (mode 0600), so a restart
keeps the same webhook secret. The passphrase is printed once, when it is generated; so is
the dashboard's password, kept beside it in ``alert-router-state/dashboard-password``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HELP = "run the webhook server that receives alerts (FastAPI on uvicorn)"

STATE_DIR = "alert-router-state"
PASSPHRASE_FILE = "passphrase"  # noqa: S105 - a file name, not a secret
DASHBOARD_PASSWORD_FILE = "dashboard-password"  # noqa: S105 - a file name, not a secret
GRACEFUL_SHUTDOWN_SECONDS = 10


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", default=None,
                        help="config file (TOML); default: the paper venue, state in "
                        f"./{STATE_DIR}/")
    parser.add_argument("--host", default=None, help="address to bind (overrides [server] host)")
    parser.add_argument("--port", type=int, default=None,
                        help="port to bind (overrides [server] port)")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import SecretStr

    from router_core.dashboard import DashboardSettings
    from router_core.router import Router
    from router_core.security import WebhookSettings, refuse_unguarded_live

    configure_logging()
    password: str | None = None
    password_generated = False
    if args.config is None:
        state_dir = Path.cwd() / STATE_DIR
        passphrase, generated = ensure_passphrase(state_dir)
        password, password_generated = ensure_passphrase(state_dir, DASHBOARD_PASSWORD_FILE)
        router = Router.from_config_file(None)
        settings = WebhookSettings.from_config(router.config.server,
                                               passphrase=SecretStr(passphrase))
        dashboard = DashboardSettings.from_config(router.config, settings,
                                                  generated=SecretStr(password))
    else:
        router = Router.from_config_file(args.config)
        settings = WebhookSettings.from_config(router.config.server,
                                               base_dir=Path(args.config).parent,
                                               file=str(args.config))
        try:
            dashboard = DashboardSettings.from_config(router.config, settings)
        except BaseException:
            router.journal.close()
            raise
    server_config = router.config.server
    host = args.host or server_config.host
    port = server_config.port if args.port is None else args.port
    try:
        refuse_unguarded_live(router.config, router.plugins, settings, router.brokers)
    except BaseException:
        router.journal.close()
        raise
    redactor_secrets(settings.secret_values() + dashboard.secret_values())
    if args.config is None:
        print_first_run(host, port, state_dir, passphrase if generated else None,
                        password if password_generated else None)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(_serve(router, settings, host, port, dashboard))


def _loop_factory() -> Any:
    """uvloop where it is installed (every platform but Windows): it runs the webhook's event
    loop, sockets and timers at about twice the speed of the standard loop (bench/)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve(router: Any, settings: Any, host: str, port: int, dashboard: Any) -> int:
    import asyncio

    import uvicorn

    from router_core.server import create_app

    # Brokers start and unfinished work is settled before the port is even bound; a start-up
    # error is then one line from ``main``, not a traceback from the ASGI lifespan.
    router.stream_fills = True  # real-time fills: only a serving router opens the streams
    try:
        problems = await router.start()
    except BaseException:
        await router.close()
        raise
    app = create_app(router, settings, started=problems, dashboard=dashboard)
    pidfile = _answer_reloads(router)

    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=True, lifespan="on",
        server_header=False, proxy_headers=False,  # X-Forwarded-For: only trusted_proxies decide
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            # Open dashboard event streams never end by themselves: end them now, or the
            # graceful shutdown would wait its whole timeout for them.
            feed = getattr(app.state, "dashboard_feed", None)
            if feed is not None:
                feed.close()
            # uvicorn re-raises the signal after its graceful shutdown; a clean stop exits 0.
            getattr(self, "_captured_signals", []).clear()

    server = Server(config)
    serving = asyncio.create_task(server.serve())  # handles SIGINT/SIGTERM: drain, then lifespan
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    if server.started:
        bound = _bound_port(server) or port
        print(f"alert-router listening on http://{_display_host(host)}:{bound} "
              f"(webhook: POST /webhook; health: GET /healthz; Ctrl-C to stop)", flush=True)
        print(f"  dashboard: http://{_display_host(host)}:{bound}/"
              if dashboard.enabled else f"  dashboard: off: {dashboard.off_reason}", flush=True)
    try:
        await serving
    finally:
        pidfile.unlink(missing_ok=True)
    return 0 if server.started else 1


def _answer_reloads(router: Any) -> Path:
    """SIGHUP re-reads the config (a bad file leaves the running one: see ``reload``); the
    process id goes where ``alert-router reload`` finds it."""
    import asyncio
    import os
    import signal

    from router_core.reload import reload_config

    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[Any]] = set()

    def on_hangup() -> None:
        task = loop.create_task(reload_config(router))
        pending.add(task)
        task.add_done_callback(pending.discard)

    if hasattr(signal, "SIGHUP"):
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    pidfile = pid_path(router.config.router.state_dir)
    pidfile.write_text(f"{os.getpid()}\n", encoding="utf-8")
    return pidfile


def pid_path(state_dir: Path) -> Path:
    return Path(state_dir) / "serve.pid"


def _bound_port(server: Any) -> int | None:
    for listener in getattr(server, "servers", []):
        for sock in getattr(listener, "sockets", []):
            return int(sock.getsockname()[1])
    return None


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 - display only


def ensure_passphrase(state_dir: Path, name: str = PASSPHRASE_FILE) -> tuple[str, bool]:
    """The zero-config passphrase (or, ``name``, dashboard password), generated once and kept
    (0600). ``(value, generated now)``."""
    import os
    import secrets

    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / name
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        value = ""
    if value:
        return value, False
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that already existed
    return value, True


def print_first_run(host: str, port: int, state_dir: Path, passphrase: str | None,
                    password: str | None = None) -> None:
    """What a new user needs, once: the URL, the passphrase, the dashboard's address and
    password, and a request to paste."""
    url = f"http://{_display_host(host)}:{port}/webhook"
    where = f"{STATE_DIR}/{PASSPHRASE_FILE}"
    print(f"alert-router: no --config: serving the paper venue (simulated fills); "
          f"state in ./{STATE_DIR}/")
    print(f"  webhook URL: {url}")
    if passphrase is not None:
        print(f"  passphrase:  {passphrase}")
        print(f"               (generated now and stored in {where}, mode 0600; "
              "it is not printed again)")
        secret = passphrase
    else:
        print(f"  passphrase:  stored in {where}")
        secret = f"$(cat {where})"
    print(f"  dashboard:   http://{_display_host(host)}:{port}/")
    where_password = f"{STATE_DIR}/{DASHBOARD_PASSWORD_FILE}"
    if password is not None:
        print(f"  password:    {password}")
        print(f"               (generated now and stored in {where_password}, mode 0600; "
              "it is not printed again)")
    else:
        print(f"  password:    stored in {where_password}")
    body = ('{"ticker":"BTCUSD","action":"buy","quantity":"0.01","price":"65000",'
            f'"passphrase":"{secret}"}}')
    print("  try it:")
    print(f"    curl -sS -X POST '{url}?wait=true' -H 'Content-Type: application/json' "
          f"-d \"{_shell_escape(body)}\"", flush=True)


def _shell_escape(text: str) -> str:
    """For a double-quoted shell string, keeping ``$(...)`` live."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")


_SECRETS: list[str] = []


def redactor_secrets(values: list[str]) -> None:
    _SECRETS[:] = values


def configure_logging() -> None:
    """INFO to stderr, one line per event; the access log without query strings or route
    tokens; every configured secret masked in whatever a log line says."""
    import logging

    from router_core.log_format import LogFormatter
    from router_core.security import AccessLogFilter, SecretRedactor

    # The line below shows none of the caller's file and line, thread or process: the logging
    # HOWTO's "Optimization" switches spare every record (uvicorn's access line comes before
    # each answer) the frame walk and the lookups that would fill them in.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretRedactor(_SECRETS))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogFilter) for f in access.filters):
        access.addFilter(AccessLogFilter())
    for noisy in ("httpx", "httpcore"):  # httpx logs full URLs at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
