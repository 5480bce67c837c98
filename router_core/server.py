"""The webhook: FastAPI on uvicorn, in front of ``Router``.

Each delivery is checked in this order, and the first failure answers:

1. method (405, by routing);
2. the IP allowlist on the socket peer (403), before a byte of the body is read;
   ``X-Forwarded-For`` counts only when the peer is a trusted proxy;
3. the route token in ``/webhook/{token}`` (401), before the body is read;
4. the content type (415): ``application/json`` or ``text/plain``; none reads as text/plain;
5. the size (413): ``Content-Length`` first, then while streaming, never past the limit + 1;
6. an ``X-Router-Signature`` HMAC when one is sent and secrets are configured (401);
7. parsing and validation (422 with ``[{"field", "reason"}]``);
8. the passphrase in the body (401), compared in constant time;
9. ``[server] max_lag_seconds``: an alert that arrived too late, or does not say when it fired
   while the limit is set, is refused (422, naming ``timenow`` or ``time``);
10. the durable claim in the journal: NEW 200 (executed in the background after the answer),
    DUPLICATE 200 with the first delivery's outcome, CONFLICT 409. A failed journal write is
    the only 5xx (503): nothing was recorded, so the sender may retry.

A 401 body is always ``{"error": "unauthorized"}``; no answer or log line carries a secret, a
signature or the raw body. Every 4xx above (except 405) is also journaled as a refused
delivery (``Journal.record_refused``: time, peer, route, body size and sha256, content type,
status and reason; rate-limited, not awaited), for ``alert-router journal --refused``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .credentials import AccountCheck, check_accounts
from .errors import AlertError
from .intake import media_type_of
from .journal import AlertRecord, AlertState, ClaimOutcome
from .reload import reload_config
from .router import HALT_FLAG
from .security import (
    SIGNATURE_HEADER,
    SignatureVerifier,
    Unauthorized,
    WebhookSettings,
    bearer_token,
    client_address,
    in_networks,
    refuse_unguarded_live,
    route_for_token,
    scrub,
    secret_matches,
)

if TYPE_CHECKING:
    from .alert import Alert
    from .router import Router

log = logging.getLogger("router_core.server")

PURGE_INTERVAL_SECONDS = 3600.0
KEY_CHECK_INTERVAL_SECONDS = 600.0  # a revoked or expired key shows on /readyz within this
DRAIN_SECONDS = 30.0  # on shutdown, how long executing alerts may still run
WAIT_LIMIT_SECONDS = 60.0
LOOPBACK = ("127.0.0.1", "::1")
FINISHED = (AlertState.DONE, AlertState.REFUSED)
UNAUTHORIZED = {"error": "unauthorized"}

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
               started: list[str] | None = None) -> FastAPI:
    """The web app for ``router``. Its lifespan starts the router (brokers, then recovery of
    unfinished work) before the first request and closes it after the last.

    ``started``: the caller already ran ``router.start()`` (``serve`` does, to report a
    start-up error in one line); these are the problems it returned.

    Raises ``ConfigError`` when live accounts would sit behind an open webhook."""
    if settings is None:
        path = router.config.path
        settings = WebhookSettings.from_config(
            router.config.server, base_dir=path.parent if path else None,
            file=str(path) if path else None)
    refuse_unguarded_live(router.config, router.plugins, settings)
    verifier = SignatureVerifier(settings.hmac_secrets)
    secrets = settings.secret_values()
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
        state.ready = True
        try:
            yield
        finally:
            state.ready = False
            for task in (state.purge_task, state.key_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # finish in-flight executions within a bound, then close the brokers
            await router.close(drain_seconds=DRAIN_SECONDS)

    app = FastAPI(title="alert-router", version=__version__, lifespan=lifespan,
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

    async def webhook(request: Request, route_token: str | None, wait: bool) -> JSONResponse:
        if not state.ready:
            return JSONResponse({"error": "starting; retry"}, 503)
        peer = request.client.host if request.client else None
        sender = client_address(peer, request.headers.get("x-forwarded-for"),
                                settings.trusted_proxies)
        route = None
        content_type = request.headers.get("content-type")
        raw: bytes | None = None
        sha256: str | None = None

        def refuse(status: int, body: Any, reason: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
            """The answer, and a row in the journal's refused deliveries (rate-limited, not
            awaited): the body's size and hash only, never the body or a secret."""
            router.journal.record_refused(
                status=status, reason=scrub(reason, secrets), peer=sender, route=route,
                body_bytes=len(raw) if raw is not None else _declared_length(request),
                content_type=content_type, body_sha256=sha256,
            )
            return JSONResponse(body, status, headers=headers)

        if settings.allowlist is not None and not in_networks(sender, settings.allowlist):
            log.warning("webhook from %s refused: not in the IP allowlist", sender)
            return refuse(403, {"error": "forbidden"}, "not in the IP allowlist")

        if route_token is not None:
            route = route_for_token(route_token, settings.route_tokens)
            if route is None:
                log.warning("webhook from %s refused: unknown route token", sender)
                return refuse(401, UNAUTHORIZED, "unknown route token")

        try:
            media_type_of(content_type)
        except AlertError as exc:
            return refuse(415, {"error": "unsupported media type", "detail": exc.reason},
                          f"unsupported media type: {exc.reason}")

        raw = await _read_limited(request, settings.max_body_bytes)
        if raw is None:
            return refuse(413, {"error": f"body larger than {settings.max_body_bytes} bytes"},
                          f"body larger than max_body_bytes ({settings.max_body_bytes})")
        sha256 = hashlib.sha256(raw).hexdigest()

        signed = False
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature is not None and verifier.enabled:
            try:
                verifier.verify(signature, raw)
            except Unauthorized as exc:
                log.warning("webhook from %s refused: %s", sender, exc.reason)
                return refuse(401, UNAUTHORIZED, exc.reason)
            signed = True

        if _wants(request, "dry_run"):
            if not admin_allowed(request):
                return refuse(401, UNAUTHORIZED, "dry run without the admin token",
                              headers={"WWW-Authenticate": "Bearer"})
            return await _dry_run(router, raw, content_type)

        parsed = False

        def authorize(alert: Alert) -> None:
            nonlocal parsed
            parsed = True
            _authorize(alert, settings, vouched=route is not None or signed)

        source = f"webhook:{route}" if route else "webhook"
        digest = sha256[:16]
        try:
            # The claim joins the journal's next group commit; the loop keeps answering.
            acceptance = await router.accept_async(
                raw, content_type, peer=sender, source=source, authorize=authorize,
            )
        except Unauthorized as exc:
            log.warning("webhook from %s refused: %s (body sha256 %s)", sender, exc.reason, digest)
            return refuse(401, UNAUTHORIZED, exc.reason)
        except AlertError as exc:
            from .alert import alert_errors

            errors = [{"field": scrub(e.field, secrets)[:200],
                       "reason": scrub(e.reason, secrets)[:300]} for e in alert_errors(exc)]
            summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
            log.info("webhook from %s: invalid alert (body sha256 %s): %s", sender, digest,
                     summary)
            return refuse(422, errors, summary)
        except Exception as exc:
            if not parsed:  # a dialect crashed on this body: the body's fault, not ours
                log.error("webhook from %s: a dialect failed with %s (body sha256 %s)",
                          sender, type(exc).__name__, digest)
                return refuse(422, [{"field": "body", "reason": "no dialect could read it"}],
                              f"body: no dialect could read it ({type(exc).__name__})")
            log.error("journal write failed, nothing recorded (body sha256 %s): %s: %s",
                      digest, type(exc).__name__, scrub(str(exc), secrets)[:200])
            return JSONResponse({"error": "could not record the alert; nothing was placed, "
                                 "retry"}, 503)

        alert_id = acceptance.alert_id
        if acceptance.outcome is ClaimOutcome.CONFLICT:
            log.warning("alert from %s conflicts with alert %s: same intent key, different "
                        "content; nothing placed", sender, alert_id)
            return refuse(409, {
                "error": "conflict", "alert_id": alert_id,
                "detail": "an alert with the same intent key but different content was "
                "accepted before; nothing placed",
            }, f"same intent key as alert {alert_id}, different content; nothing placed")
        if acceptance.outcome is ClaimOutcome.DUPLICATE:
            log.info("alert %s delivered again from %s: duplicate, nothing placed",
                     alert_id, sender)
            record = router.journal.get_alert(alert_id)
            if wait and record is not None and record.state not in FINISHED:
                record = await _wait_finished(router, alert_id)
            return JSONResponse(_duplicate_body(alert_id, record), 200)

        log.info("alert %s accepted from %s via %s: %s", alert_id, sender, source,
                 acceptance.alert.summary() if acceptance.alert else "")
        if not wait:
            async def execute_after_answer() -> None:
                router.spawn(alert_id)

            # The sender has its 200 before any broker work starts.
            return JSONResponse({"alert_id": alert_id, "status": "accepted"}, 200,
                                background=BackgroundTask(execute_after_answer))
        task = router.spawn(alert_id)
        try:
            # shield: a sender hanging up must not cancel the execution.
            report = await asyncio.wait_for(asyncio.shield(task), WAIT_LIMIT_SECONDS)
        except TimeoutError:
            return JSONResponse({"alert_id": alert_id, "status": "accepted",
                                 "detail": "still executing; see GET /alerts/" + alert_id}, 200)
        except Exception as exc:
            log.error("alert %s: execution failed: %s", alert_id, type(exc).__name__)
            return JSONResponse({"alert_id": alert_id, "status": "accepted",
                                 "detail": "execution failed; see GET /alerts/" + alert_id}, 200)
        return JSONResponse({"alert_id": alert_id, "status": "done", "report": report.to_dict()},
                            200)

    # ``wait`` is read by hand, after the address and token checks: a malformed query string
    # must not answer 422 to a sender that the allowlist would have refused.
    @app.post("/webhook", openapi_extra=_WEBHOOK_OPENAPI, responses=_WEBHOOK_RESPONSES,
              summary="Receive an alert")
    async def post_webhook(request: Request) -> JSONResponse:
        return await webhook(request, None, _wants_wait(request))

    @app.post("/webhook/{route_token}", openapi_extra=_WEBHOOK_OPENAPI,
              responses=_WEBHOOK_RESPONSES, summary="Receive an alert on a secret route URL")
    async def post_webhook_route(request: Request, route_token: str) -> JSONResponse:
        return await webhook(request, route_token, _wants_wait(request))

    app.add_middleware(WebhookFastPath, webhook=webhook)

    # -- observing ------------------------------------------------------------------------

    @app.get("/healthz", summary="Liveness and readiness; no secrets")
    async def healthz() -> JSONResponse:
        writable = await asyncio.to_thread(router.journal.writable) if state.ready else False
        accounts = {
            name: "not started" if any(p.startswith(f"account {name}:") for p in state.problems)
            else "started"
            for name in router.brokers
        }
        ok = state.ready and writable and all(v == "started" for v in accounts.values())
        halted = state.ready and router.journal.get_flag(HALT_FLAG) is not None
        body = {
            "status": "ok" if ok else ("starting" if not state.ready else "degraded"),
            "journal_writable": writable, "accounts": accounts, "halted": halted,
            "version": __version__,
        }
        return JSONResponse(body, 200 if ok else 503)

    @app.get("/readyz", summary="Whether each account's keys work; no secrets")
    async def readyz() -> JSONResponse:
        accounts = {
            name: state.keys[name].to_dict() if name in state.keys
            else {"broker": broker.name, "state": "checking", "detail": "not checked yet"}
            for name, broker in router.brokers.items()
        }
        ready = state.ready and all(name in state.keys and state.keys[name].state.usable
                                    for name in router.brokers)
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
        reason = await _halt_reason(request)
        router.halt(reason)
        log.warning("trading halted through the admin endpoint: %s", reason)
        return JSONResponse({"halted": True, "reason": reason})

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
        router.resume()
        log.warning("trading resumed through the admin endpoint")
        return JSONResponse({"halted": False})

    return app


class WebhookFastPath:
    """Takes ``POST /webhook`` and ``POST /webhook/{route_token}`` straight to the handler.

    FastAPI's routing, dependency solving and exception middleware cost more per request than
    the webhook's own work (bench/: about half of a burst's intake), and a burst of alerts is
    exactly when the acks must be quick. The handler reads the body and answers every
    foreseeable failure itself; an unforeseen one still meets Starlette's error middleware,
    which sits outside this one. The FastAPI routes stay: they document the webhook in the
    OpenAPI schema and answer what this path does not take (other methods, odd paths).
    """

    def __init__(self, app: Any, webhook: Any) -> None:
        self.app = app
        self.webhook = webhook

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            token: str | None = None
            if path == "/webhook" or (
                path.startswith("/webhook/")
                and (token := path[len("/webhook/"):])
                and "/" not in token
            ):
                request = Request(scope, receive)
                response = await self.webhook(request, token, _wants_wait(request))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _wants_wait(request: Request) -> bool:
    return _wants(request, "wait")


def _wants(request: Request, flag: str) -> bool:
    return request.query_params.get(flag, "").strip().lower() in ("1", "true", "yes")


async def _dry_run(router: Router, raw: bytes, content_type: str | None) -> JSONResponse:
    """``?dry_run=true`` (admin token only): the plans, read from the venues; nothing is
    journaled or sent."""
    from .alert import alert_errors

    try:
        alert = router.parse(raw, content_type)
    except AlertError as exc:
        return JSONResponse([{"field": e.field, "reason": e.reason} for e in alert_errors(exc)],
                            422)
    plans = await router.preview(alert, router.intent_key(alert, raw))
    return JSONResponse({"dry_run": True, "plans": [
        plan.to_dict() if not isinstance(plan, str) else {"refused": plan} for plan in plans
    ]})


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


def _authorize(alert: Alert, settings: WebhookSettings, *, vouched: bool) -> None:
    """The passphrase rule. A passphrase in the body must be right whenever one is configured;
    a route token or a valid signature (``vouched``) stands in for a missing one; an open
    webhook (no secret configured at all, paper only) lets everything through."""
    given = alert.passphrase.get_secret_value() if alert.passphrase is not None else None
    if settings.passphrase is not None and given is not None:
        if not secret_matches(given, [settings.passphrase]):
            raise Unauthorized("wrong passphrase")
        return
    if vouched or not settings.authenticates:
        return
    raise Unauthorized("no passphrase in the body")


def _declared_length(request: Request) -> int | None:
    """The ``Content-Length`` a refused request announced, when its body was never read."""
    declared = request.headers.get("content-length", "").strip()
    return int(declared) if declared.isdigit() and len(declared) < 19 else None


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` when it is larger than ``limit`` (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _check_keys_forever(router: Router, state: _State, interval: float) -> None:
    """Check every account's keys now, then every ``interval`` seconds; one log line per
    account at start and whenever an account's verdict changes."""
    while True:
        checks = await check_accounts(list(router.brokers.items()))
        for check in checks:
            previous = state.keys.get(check.account)
            if previous is None or previous.state is not check.state:
                level = logging.INFO if check.state.usable else logging.ERROR
                log.log(level, "keys of account %s", check.line())
        state.keys = {check.account: check for check in checks}
        state.keys_checked_at = time.time()
        await asyncio.sleep(interval)


async def _wait_finished(router: Router, alert_id: str) -> AlertRecord | None:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    record = router.journal.get_alert(alert_id)
    while record is not None and record.state not in FINISHED and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        record = router.journal.get_alert(alert_id)
    return record


def _duplicate_body(alert_id: str, record: AlertRecord | None) -> dict[str, Any]:
    body: dict[str, Any] = {"alert_id": alert_id, "status": "duplicate"}
    if record is not None:
        body["state"] = record.state.value
        if record.reason:
            body["reason"] = record.reason
        if record.report is not None:
            body["report"] = record.report
    return body


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


async def _halt_reason(request: Request) -> str:
    import json

    raw = await _read_limited(request, 4096) or b""
    reason = ""
    if raw.strip():
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("reason"), str):
            reason = data["reason"]
    reason = " ".join(reason.split())[:200]
    return reason or "halted through the admin endpoint"


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
