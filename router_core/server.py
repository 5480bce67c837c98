"""The web app: FastAPI on uvicorn, in front of ``Router``.

``create_app`` wires the webhook (``router_core.webhook``: every check a delivery goes
through), the lifespan (start the router, purge old records, check the accounts' keys, drain
on shutdown), the health and readiness probes, the alert views and the admin endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .credentials import AccountCheck, check_accounts
from .dashboard import DashboardSettings, mount_dashboard
from .gc_tuning import tune_for_serving
from .journal import AlertRecord
from .reload import reload_config
from .router import HALT_FLAG
from .security import (
    WebhookSettings,
    bearer_token,
    client_address,
    refuse_unguarded_live,
    secret_matches,
)
from .webhook import UNAUTHORIZED, Webhook, WebhookFastPath, read_limited, wants_wait

if TYPE_CHECKING:
    from .router import Router

log = logging.getLogger("router_core.server")

PURGE_INTERVAL_SECONDS = 3600.0
KEY_CHECK_INTERVAL_SECONDS = 600.0  # a revoked or expired key shows on /readyz within this
DRAIN_SECONDS = 30.0  # on shutdown, how long executing alerts may still run
RELOAD_POLL_SECONDS = 1.0  # how soon the key check notices a reloaded config
LOOPBACK = ("127.0.0.1", "::1")

_WEBHOOK_BODY = {
    "required": True,
    "description": "The alert: native JSON (the schema below), a TradingView strategy message, "
    "or another supported dialect. TradingView sends text/plain when the message is not valid "
    "JSON; both media types are read the same way.",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Alert"}},
        "text/plain": {"schema": {"type": "string"}},
    },
}
_WEBHOOK_OPENAPI = {
    "requestBody": _WEBHOOK_BODY,
    "parameters": [{
        "name": "wait", "in": "query", "required": False,
        "schema": {"type": "boolean", "default": False},
        "description": "answer with the ExecutionReport once the alert has executed (scripts)",
    }],
}
_WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "accepted, or a duplicate with the first delivery's outcome"},
    401: {"description": "unauthorized"},
    403: {"description": "the sender's address is not allowed"},
    409: {"description": "the same intent with different content was accepted before"},
    413: {"description": "body too large"},
    415: {"description": "unsupported content type"},
    422: {"description": "the alert is invalid, or too late for [server] max_lag_seconds: "
                          "a list of {field, reason}"},
    503: {"description": "nothing was journaled; retry"},
}


class RouterApp(FastAPI):
    """The FastAPI app, with ``POST /webhook`` taken before any of FastAPI's per-request work
    (``webhook.WebhookFastPath``); every other request goes through FastAPI as usual."""

    webhook_fast_path: WebhookFastPath | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        fast_path = self.webhook_fast_path
        if fast_path is not None and fast_path.takes(scope):
            await fast_path(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


@dataclass
class _State:
    ready: bool = False
    problems: list[str] = field(default_factory=list)
    purge_task: asyncio.Task[None] | None = None
    key_task: asyncio.Task[None] | None = None
    keys: dict[str, AccountCheck] = field(default_factory=dict)
    keys_checked_at: float | None = None


def create_app(router: Router, settings: WebhookSettings | None = None, *,
               purge_interval: float = PURGE_INTERVAL_SECONDS,
               key_interval: float = KEY_CHECK_INTERVAL_SECONDS,
               started: list[str] | None = None,
               dashboard: DashboardSettings | None = None) -> FastAPI:
    """The web app for ``router``. Its lifespan starts the router (brokers, then recovery of
    unfinished work) before the first request and closes it after the last.

    ``started``: the caller already ran ``router.start()`` (``serve`` does, to report a
    start-up error in one line); these are the problems it returned.

    ``dashboard``: the dashboard's password and settings; default: read from the config.

    Raises ``ConfigError`` when live accounts would sit behind an open webhook."""
    if settings is None:
        path = router.config.path
        settings = WebhookSettings.from_config(
            router.config.server, base_dir=path.parent if path else None,
            file=str(path) if path else None)
    refuse_unguarded_live(router.config, router.plugins, settings, router.brokers)
    if dashboard is None:
        dashboard = DashboardSettings.from_config(router.config, settings)
    state = _State()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.problems = await router.start() if started is None else list(started)
        await _purge(router, settings)
        state.purge_task = asyncio.create_task(_purge_forever(router, settings, purge_interval))
        # The keys are checked beside the first requests, not before them: a slow venue must
        # not hold the webhook up. /readyz says "checking" until the first verdicts are in.
        state.key_task = asyncio.create_task(_check_keys_forever(router, state, key_interval))
        if not settings.authenticates:
            log.warning("the webhook has no passphrase: anyone who can reach it can send "
                        "alerts to the paper account(s)")
        # Start-up's objects set aside from the collector, young collections less often
        # (gc_tuning says why); given back on shutdown.
        restore_gc = tune_for_serving()
        state.ready = True
        try:
            yield
        finally:
            restore_gc()
            state.ready = False
            for task in (state.purge_task, state.key_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            webhook.release_held()  # answered alerts still waiting to start execute now
            # finish in-flight executions within a bound, then close the brokers
            await router.close(drain_seconds=DRAIN_SECONDS)

    app = RouterApp(title="alert-router", version=__version__, lifespan=lifespan,
                    docs_url=None, redoc_url=None)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.state.router = router
    app.state.settings = settings

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail).lower()}, exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "request",
                   "reason": str(e.get("msg", "invalid"))} for e in exc.errors()]
        return JSONResponse(errors, 422)

    # -- the webhook ----------------------------------------------------------------------

    webhook = Webhook(router, settings, is_ready=lambda: state.ready,
                      admin_allowed=lambda request: admin_allowed(request))
    if router.config.metrics.enabled:
        _mount_metrics(app, router, settings, webhook)

    # ``wait`` is read by hand, after the address and token checks: a malformed query string
    # must not answer 422 to a sender that the allowlist would have refused.
    @app.post("/webhook", openapi_extra=_WEBHOOK_OPENAPI, responses=_WEBHOOK_RESPONSES,
              summary="Receive an alert")
    async def post_webhook(request: Request) -> Response:
        return await webhook(request, None, wants_wait(request))

    @app.post("/webhook/{route_token}", openapi_extra=_WEBHOOK_OPENAPI,
              responses=_WEBHOOK_RESPONSES, summary="Receive an alert on a secret route URL")
    async def post_webhook_route(request: Request, route_token: str) -> Response:
        return await webhook(request, route_token, wants_wait(request))

    app.webhook_fast_path = WebhookFastPath(webhook)

    # -- observing ------------------------------------------------------------------------

    @app.get("/healthz", summary="Liveness and readiness; no secrets")
    async def healthz() -> JSONResponse:
        writable = await asyncio.to_thread(router.journal.writable) if state.ready else False
        accounts = {
            name: "not started" if any(p.startswith(f"account {name}:") for p in state.problems)
            else "started"
            for name in router.brokers
        }
        # Each account's fill stream (state only), shown but not counted: without its stream
        # an account still trades and learns its fills by polling, so a refused stream must
        # not make a load balancer take the instance out. /metrics and the log alert on it.
        streams = {name: status.state for name, status in sorted(
            router.fill_streams.states().items())} if router.fill_streams is not None else {}
        ok = state.ready and writable and all(v == "started" for v in accounts.values())
        halted = state.ready and router.journal.get_flag(HALT_FLAG) is not None
        body = {
            "status": "ok" if ok else ("starting" if not state.ready else "degraded"),
            "journal_writable": writable, "accounts": accounts, "halted": halted,
            "fill_streams": streams, "version": __version__,
        }
        if router.cluster is not None:  # which instance this is, what it drives
            body["cluster"] = router.cluster.status()
        return JSONResponse(body, 200 if ok else 503)

    @app.get("/readyz", summary="Whether each account's keys work; no secrets")
    async def readyz() -> JSONResponse:
        mine = _driven_here(router)
        accounts = {
            name: state.keys[name].to_dict() if name in state.keys
            else {"broker": broker.name, "state": "checking", "detail": "not checked yet"}
            if name in mine else {"broker": broker.name, "state": "elsewhere",
                                  "detail": "driven by another instance of the cluster"}
            for name, broker in router.brokers.items()
        }
        ready = state.ready and all(name in state.keys and state.keys[name].state.usable
                                    for name in mine)
        return JSONResponse({"ready": ready, "accounts": accounts,
                             "checked_at": state.keys_checked_at}, 200 if ready else 503)

    def reader_allowed(request: Request) -> bool:
        """Alerts show positions and strategies: the admin token when one is configured,
        else loopback only."""
        if settings.admin_token is not None:
            return secret_matches(bearer_token(request.headers.get("authorization")),
                                  [settings.admin_token])
        return request.client is not None and request.client.host in LOOPBACK

    @app.get("/alerts", summary="Recent alerts, newest first")
    async def list_alerts(request: Request, limit: int = 50) -> JSONResponse:
        if not reader_allowed(request):
            return JSONResponse(UNAUTHORIZED, 401, headers={"WWW-Authenticate": "Bearer"})
        limit = max(1, min(limit, 500))
        records = router.journal.recent_alerts(limit)
        return JSONResponse([_alert_view(r) for r in records])

    @app.get("/alerts/{alert_id}", summary="One alert: its state and execution report")
    async def get_alert(request: Request, alert_id: str) -> JSONResponse:
        if not reader_allowed(request):
            return JSONResponse(UNAUTHORIZED, 401, headers={"WWW-Authenticate": "Bearer"})
        record = router.journal.get_alert(alert_id)
        if record is None:
            return JSONResponse({"error": "no such alert"}, 404)
        return JSONResponse(_alert_view(record))

    # -- operating ------------------------------------------------------------------------

    def admin_allowed(request: Request) -> bool:
        if settings.admin_token is None:
            return False
        return secret_matches(bearer_token(request.headers.get("authorization")),
                              [settings.admin_token])

    @app.post("/admin/halt", summary="Stop placing orders (persisted; cancels still pass)")
    async def admin_halt(request: Request) -> JSONResponse:
        if not admin_allowed(request):
            return JSONResponse(UNAUTHORIZED, 401, headers={"WWW-Authenticate": "Bearer"})
        reason, account = await _halt_request(request)
        if account is not None and account not in router.config.accounts:
            return JSONResponse([{"field": "account", "reason": "no such account"}], 422)
        router.halt(reason, account)
        log.warning("trading halted through the admin endpoint%s: %s",
                    f" on account {account}" if account else "", reason)
        body: dict[str, Any] = {"halted": True, "reason": reason}
        return JSONResponse({**body, "account": account} if account else body)

    @app.post("/admin/reload", summary="Re-read the config file; a bad one changes nothing")
    async def admin_reload(request: Request) -> JSONResponse:
        if not admin_allowed(request):
            return JSONResponse(UNAUTHORIZED, 401, headers={"WWW-Authenticate": "Bearer"})
        outcome = await reload_config(router)
        if outcome.reloaded:
            state.keys = {n: c for n, c in state.keys.items() if n not in
                          outcome.accounts_changed}  # re-checked on the next round
        return JSONResponse(outcome.to_dict(), 200 if outcome.reloaded else 422)

    @app.post("/admin/resume", summary="Place orders again")
    async def admin_resume(request: Request) -> JSONResponse:
        if not admin_allowed(request):
            return JSONResponse(UNAUTHORIZED, 401, headers={"WWW-Authenticate": "Bearer"})
        _, account = await _halt_request(request)
        if account is not None and account not in router.config.accounts:
            return JSONResponse([{"field": "account", "reason": "no such account"}], 422)
        router.resume(account)
        log.warning("trading resumed through the admin endpoint%s",
                    f" on account {account}" if account else "")
        return JSONResponse({"halted": False, "account": account} if account
                            else {"halted": False})

    # -- the dashboard (routes only: nothing of it runs on the webhook's path) -----------------
    mount_dashboard(app, router, settings, dashboard, lambda: state.keys)
    return app


def _mount_metrics(app: FastAPI, router: Router, settings: WebhookSettings,
                   webhook: Webhook) -> None:
    """``GET /metrics`` (``[metrics]``, docs/metrics.md): with ``token_env`` a bearer token
    opens it from anywhere; without, loopback peers only, unless ``public``. prometheus_client
    is imported here, so only an app that serves metrics pays for it."""
    from .metrics import CONTENT_TYPE, RouterMetrics, scrape_token

    config = router.config.metrics
    token = scrape_token(config, router.config.path)
    metrics = RouterMetrics(router)
    metrics.attach()
    webhook.metrics = metrics
    app.state.metrics = metrics

    @app.get("/metrics", summary="Prometheus metrics (docs/metrics.md); no secrets",
             response_class=Response)
    async def get_metrics(request: Request) -> Response:
        if token is not None:
            if not secret_matches(bearer_token(request.headers.get("authorization")), [token]):
                return JSONResponse(UNAUTHORIZED, 401, headers={"WWW-Authenticate": "Bearer"})
        elif not config.public:
            peer = request.client.host if request.client else None
            sender = client_address(peer, request.headers.get("x-forwarded-for"),
                                    settings.trusted_proxies)
            if sender not in LOOPBACK:
                return JSONResponse({"error": "forbidden", "detail": "/metrics answers loopback "
                                     "addresses only: set [metrics] token_env (or public = "
                                     "true on a private network)"}, 403)
        return Response(metrics.render(), media_type=CONTENT_TYPE)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the native alert schema (the webhook reads its body itself, so
    FastAPI cannot know it)."""
    if app.openapi_schema:
        return app.openapi_schema
    import json

    from fastapi.openapi.utils import get_openapi

    from .alert import alert_json_schema

    document = get_openapi(title=app.title, version=app.version, routes=app.routes)
    alert = alert_json_schema()
    definitions = alert.pop("$defs", {})
    alert.pop("$schema", None)
    alert.pop("$id", None)
    text = json.dumps({"Alert": alert, **definitions})
    schemas = json.loads(text.replace('"#/$defs/', '"#/components/schemas/'))
    document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
    app.openapi_schema = document
    return document


def _driven_here(router: Router) -> set[str]:
    """The accounts whose keys this process drives: all of them, unless it is one instance of
    a cluster (router_core.cluster)."""
    if router.cluster is None:
        return set(router.brokers)
    return {name for name in router.brokers if router.cluster.drives(name)}


async def _check_keys_forever(router: Router, state: _State, interval: float) -> None:
    """Check every account's keys now, then every ``interval`` seconds; one log line per
    account at start and whenever an account's verdict changes."""
    while True:
        # In a cluster only the keys this instance drives: a check is a signed call, and a
        # key's nonces must come from one instance at a time.
        mine = _driven_here(router)
        checks = await check_accounts([(n, b) for n, b in router.brokers.items() if n in mine])
        for check in checks:
            previous = state.keys.get(check.account)
            if previous is None or previous.state is not check.state:
                level = logging.INFO if check.state.usable else logging.ERROR
                log.log(level, "keys of account %s", check.line())
        state.keys = {check.account: check for check in checks}
        state.keys_checked_at = time.time()
        # Sleep the interval, but check again at once after a reload (a new config object):
        # a changed or added account should not wait ten minutes to show on /readyz.
        checked_under, slept = router.config, 0.0
        while slept < interval and router.config is checked_under:
            step = min(RELOAD_POLL_SECONDS, interval - slept)
            await asyncio.sleep(step)
            slept += step


def _alert_view(record: AlertRecord) -> dict[str, Any]:
    return {
        "alert_id": record.alert_id,
        "intent_key": record.intent_key,
        "state": record.state.value,
        "received_at": record.received_at,
        "source": record.source,
        "peer": record.peer,
        "reason": record.reason,
        "alert": record.alert,  # stored without the passphrase
        "report": record.report,
    }


async def _halt_request(request: Request) -> tuple[str, str | None]:
    """The optional JSON body of /admin/halt and /admin/resume: ``reason`` and ``account``
    (only that account is halted or resumed)."""
    import json

    raw = await read_limited(request, 4096) or b""
    reason, account = "", None
    if raw.strip():
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("reason"), str):
            reason = data["reason"]
        if isinstance(data, dict) and isinstance(data.get("account"), str):
            account = data["account"].strip() or None
    reason = " ".join(reason.split())[:200]
    return reason or "halted through the admin endpoint", account


async def _purge(router: Router, settings: WebhookSettings) -> None:
    try:
        removed = await asyncio.to_thread(router.journal.purge, settings.retention_seconds)
    except Exception as exc:  # retention is housekeeping: never stop the server for it
        log.warning("journal purge failed: %s: %s", type(exc).__name__, exc)
        return
    if removed:
        log.info("journal: purged %d finished alert(s) past the retention", removed)


async def _purge_forever(router: Router, settings: WebhookSettings, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        await _purge(router, settings)
