"""``POST /webhook``: one delivery, checked in order; the first failure answers.

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
10. the durable claim in the journal: NEW 200 (executed in the background after the answer,
    once the other deliveries being taken in are answered too: ``Webhook.execute_soon``),
    DUPLICATE 200 with the first delivery's outcome, CONFLICT 409. A failed journal write is
    the only 5xx (503): nothing was recorded, so the sender may retry.

``?dry_run=true`` with the admin token answers the plans instead (nothing journaled or sent).
A 401 body is always ``{"error": "unauthorized"}``; no answer or log line carries a secret, a
signature or the raw body. Every 4xx above (except 405) is also journaled as a refused
delivery (``Journal.record_refused``: time, peer, route, body size and sha256, content type,
status and reason; rate-limited, not awaited), for ``alert-router journal --refused``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from .errors import AlertError
from .intake import media_type_of
from .journal import AlertRecord, AlertState, ClaimOutcome
from .security import (
    SIGNATURE_HEADER,
    AddressSet,
    SignatureVerifier,
    Unauthorized,
    WebhookSettings,
    client_address,
    route_for_token,
    scrub,
    secret_matches,
)

if TYPE_CHECKING:
    from .alert import Alert
    from .metrics import RouterMetrics
    from .router import Acceptance, Router

log = logging.getLogger("router_core.server")

WAIT_LIMIT_SECONDS = 60.0
HOLD_SECONDS = 0.1  # the longest an answered alert's execution waits for a burst's other acks
FINISHED = (AlertState.DONE, AlertState.REFUSED)
UNAUTHORIZED = {"error": "unauthorized"}
LAG_SETTING = "[server] max_lag_seconds"  # named by every refusal of a late alert


@dataclass
class Delivery:
    """What is known of one request as the checks go: the sender, the route, the body."""

    request: Request
    headers: dict[bytes, bytes]  # ``request_headers``: looked up once each, without Starlette's
    sender: str | None
    content_type: str | None
    route: str | None = None
    raw: bytes | None = None
    sha256: str | None = None
    signed: bool = False
    received: float = 0.0  # perf_counter() when the handler took it (metrics: end to end)

    @property
    def source(self) -> str:
        return f"webhook:{self.route}" if self.route else "webhook"


class Webhook:
    """The handler behind ``POST /webhook`` and ``POST /webhook/{route_token}``."""

    def __init__(self, router: Router, settings: WebhookSettings, *,
                 is_ready: Callable[[], bool],
                 admin_allowed: Callable[[Request], bool]) -> None:
        self.router = router
        self.settings = settings
        self.is_ready = is_ready
        self.admin_allowed = admin_allowed
        self.verifier = SignatureVerifier(settings.hmac_secrets)
        # The allowlist's and the proxies' answers, remembered per address (``AddressSet``).
        self.allowed = AddressSet(settings.allowlist) if settings.allowlist is not None else None
        self.proxies = AddressSet(settings.trusted_proxies)
        self.secrets = settings.secret_values()
        self.metrics: RouterMetrics | None = None  # set by the app when [metrics] is on
        self.taking = 0  # deliveries (without ?wait=true) between arrival and answer
        self._held: list[str] = []  # accepted alerts whose execution waits for them
        self._hold_timer: asyncio.TimerHandle | None = None

    async def __call__(self, request: Request, route_token: str | None,
                       wait: bool) -> Response:
        counted = 0 if wait else 1  # ?wait=true stays till its execution ends: it holds nothing
        self.taking += counted
        try:
            metrics = self.metrics
            if metrics is None:
                return await self._deliver(request, route_token, wait, 0.0)
            started = time.perf_counter()
            response = await self._deliver(request, route_token, wait, started)
            # With ?wait=true the answer waits for the execution (end to end: not an ack). A
            # new alert's ack is counted once it is sent (``_accepted``), off the burst's path.
            if not wait and not isinstance(response, Accepted):
                metrics.acked(time.perf_counter() - started)
            return response
        finally:
            self.taking -= counted
            if not self.taking and self._held:  # after this answer is written
                asyncio.get_running_loop().call_soon(self.release_held)

    def execute_soon(self, alert_id: str) -> None:
        """Execute an accepted (and answered) alert: now, unless other deliveries are being
        taken in. Then it waits until the last of them is answered, at most
        ``HOLD_SECONDS``: a burst's acks do not queue behind its first alerts' executions
        (planning, the durable leg intents, the venue calls on the same loop)."""
        self._held.append(alert_id)
        if not self.taking:
            self.release_held()
        elif self._hold_timer is None:
            self._hold_timer = asyncio.get_running_loop().call_later(HOLD_SECONDS,
                                                                     self.release_held)

    def release_held(self) -> None:
        """Start every held execution, in the order the alerts were accepted (also called
        on shutdown, before the router drains its executions)."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        held, self._held = self._held, []
        for alert_id in held:
            self.router.spawn(alert_id)

    async def _deliver(self, request: Request, route_token: str | None, wait: bool,
                       started: float) -> Response:
        if not self.is_ready():
            if self.metrics is not None:
                self.metrics.refused("not_ready")
            return JSONResponse({"error": "starting; retry"}, 503)
        client = request.scope.get("client")
        headers = request_headers(request)
        forwarded = headers.get(b"x-forwarded-for")
        content_type = headers.get(b"content-type")
        delivery = Delivery(
            request,
            headers,
            client_address(client[0] if client else None,
                           forwarded.decode("latin-1") if forwarded is not None else None,
                           self.proxies),
            content_type.decode("latin-1") if content_type is not None else None,
            received=started,
        )
        refused = await self._screen(delivery, route_token)
        if refused is not None:
            return refused
        assert delivery.raw is not None
        if wants(request, "dry_run"):
            if not self.admin_allowed(request):
                return self._refuse(delivery, 401, UNAUTHORIZED, "dry run without the admin "
                                    "token", headers={"WWW-Authenticate": "Bearer"},
                                    code="dry_run_unauthorized")
            return await dry_run(self.router, delivery.raw, delivery.content_type)
        acceptance = await self._claim(delivery, durable=not wait)
        if isinstance(acceptance, JSONResponse):
            return acceptance
        response = await self._answer(delivery, acceptance, wait)
        if acceptance.deferred_group is not None:  # ?wait=true: no fsync of its own till now
            await self.router.make_durable(acceptance)
        return response

    # -- the steps, in order ----------------------------------------------------------------

    async def _screen(self, delivery: Delivery, route_token: str | None) -> JSONResponse | None:
        """Address, route token, media type, size and signature: the checks that need no
        parsing. ``None`` when the delivery passed them (its body is then read)."""
        settings, sender = self.settings, delivery.sender
        if self.allowed is not None and sender not in self.allowed:
            log.warning("webhook from %s refused: not in the IP allowlist", sender)
            return self._refuse(delivery, 403, {"error": "forbidden"}, "not in the IP allowlist",
                                code="ip_not_allowed")
        if route_token is not None:
            delivery.route = route_for_token(route_token, settings.route_tokens)
            if delivery.route is None:
                log.warning("webhook from %s refused: unknown route token", sender)
                return self._refuse(delivery, 401, UNAUTHORIZED, "unknown route token",
                                    code="unknown_route_token")
        try:
            media_type_of(delivery.content_type)
        except AlertError as exc:
            return self._refuse(delivery, 415, {"error": "unsupported media type",
                                                "detail": exc.reason},
                                f"unsupported media type: {exc.reason}",
                                code="unsupported_media_type")
        delivery.raw = await read_body(delivery.request, delivery.headers,
                                       settings.max_body_bytes)
        if delivery.raw is None:
            return self._refuse(
                delivery, 413, {"error": f"body larger than {settings.max_body_bytes} bytes"},
                f"body larger than max_body_bytes ({settings.max_body_bytes})",
                code="body_too_large")
        delivery.sha256 = hashlib.sha256(delivery.raw).hexdigest()
        signature = delivery.headers.get(_SIGNATURE_KEY)
        if signature is not None and self.verifier.enabled:
            try:
                self.verifier.verify(signature.decode("latin-1"), delivery.raw)
            except Unauthorized as exc:
                log.warning("webhook from %s refused: %s", sender, exc.reason)
                return self._refuse(delivery, 401, UNAUTHORIZED, exc.reason,
                                    code="bad_signature")
            delivery.signed = True
        return None

    async def _claim(self, delivery: Delivery, *, durable: bool) -> Acceptance | JSONResponse:
        """Parse, authorize, check the lag and claim (``durable``: with its own fsync, before
        the answer, which then comes before the execution); a refusal as a response."""
        assert delivery.raw is not None and delivery.sha256 is not None
        parsed = False

        def authorize(alert: Alert) -> None:
            nonlocal parsed
            parsed = True
            check_passphrase(alert, self.settings,
                             vouched=delivery.route is not None or delivery.signed)

        digest, sender = delivery.sha256[:16], delivery.sender
        try:
            # The claim joins the journal's next group commit; the loop keeps answering.
            return await self.router.accept_async(
                delivery.raw, delivery.content_type, peer=sender, source=delivery.source,
                authorize=authorize, durable=durable, delivery_key=delivery.sha256,
            )
        except Unauthorized as exc:
            log.warning("webhook from %s refused: %s (body sha256 %s)", sender, exc.reason, digest)
            return self._refuse(delivery, 401, UNAUTHORIZED, exc.reason, code="unauthorized")
        except AlertError as exc:
            from .alert import alert_errors

            errors = [{"field": scrub(e.field, self.secrets)[:200],
                       "reason": scrub(e.reason, self.secrets)[:300]} for e in alert_errors(exc)]
            summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
            log.info("webhook from %s: invalid alert (body sha256 %s): %s", sender, digest,
                     summary)
            late = LAG_SETTING in summary  # Router._too_late: arrived past max_lag_seconds
            return self._refuse(delivery, 422, errors, summary,
                                code="too_late" if late else "invalid_alert")
        except Exception as exc:
            if not parsed:  # a dialect crashed on this body: the body's fault, not ours
                log.error("webhook from %s: a dialect failed with %s (body sha256 %s)",
                          sender, type(exc).__name__, digest)
                return self._refuse(
                    delivery, 422, [{"field": "body", "reason": "no dialect could read it"}],
                    f"body: no dialect could read it ({type(exc).__name__})",
                    code="unreadable_body")
            log.error("journal write failed, nothing recorded (body sha256 %s): %s: %s",
                      digest, type(exc).__name__, scrub(str(exc), self.secrets)[:200])
            if self.metrics is not None:
                self.metrics.refused("journal_unavailable")
            return JSONResponse({"error": "could not record the alert; nothing was placed, "
                                 "retry"}, 503)

    async def _answer(self, delivery: Delivery, acceptance: Acceptance,
                      wait: bool) -> Response:
        """What the sender hears once the alert is journaled (or found journaled before)."""
        router, alert_id, sender = self.router, acceptance.alert_id, delivery.sender
        if acceptance.outcome is ClaimOutcome.CONFLICT:
            log.warning("alert from %s conflicts with alert %s: same intent key, different "
                        "content; nothing placed", sender, alert_id)
            return self._refuse(delivery, 409, {
                "error": "conflict", "alert_id": alert_id,
                "detail": "an alert with the same intent key but different content was "
                "accepted before; nothing placed",
            }, f"same intent key as alert {alert_id}, different content; nothing placed",
                code="conflict")
        if acceptance.outcome is ClaimOutcome.DUPLICATE:
            if self.metrics is not None:  # a new alert's claim is counted by ``_accepted``
                self.metrics.claimed(delivery.source, True)
            log.info("alert %s delivered again from %s: duplicate, nothing placed",
                     alert_id, sender)
            record = router.journal.get_alert(alert_id)
            if wait and record is not None and record.state not in FINISHED:
                record = await wait_finished(router, alert_id)
            return Answer(duplicate_body(alert_id, record))
        if not wait:
            async def after_answer() -> None:
                # The answer is written; the log line, the metrics and the execution wait one
                # turn of the loop, behind the answers of a burst that are ready to go too.
                answered = time.perf_counter()
                await asyncio.sleep(0)
                self._accepted(delivery, acceptance, answered)
                self.execute_soon(alert_id)

            # The sender has its 200 before any broker work starts.
            return Accepted(alert_id, after_answer)
        self._accepted(delivery, acceptance)
        task = router.spawn(alert_id)
        try:
            # A sender hanging up cancels this wait, never the execution.
            if not await finished_within(task, WAIT_LIMIT_SECONDS):
                return Answer({"alert_id": alert_id, "status": "accepted",
                               "detail": "still executing; see GET /alerts/" + alert_id})
            report = task.result()
        except Exception as exc:
            log.error("alert %s: execution failed: %s", alert_id, type(exc).__name__)
            return Answer({"alert_id": alert_id, "status": "accepted",
                           "detail": "execution failed; see GET /alerts/" + alert_id})
        return Answer({"alert_id": alert_id, "status": "done", "report": report.to_dict()})

    def _accepted(self, delivery: Delivery, acceptance: Acceptance,
                  answered: float | None = None) -> None:
        """The log line of a new alert (product output), its claim and receipt for /metrics
        and, once its 200 was sent (``answered``: ``perf_counter()`` then), its ack time.
        Counted here, after the answer, not before it: a burst's acks do not wait for a
        hundred counter and histogram updates (~4 µs each delivery)."""
        if log.isEnabledFor(logging.INFO):  # the summary (~2 µs) only for a line that is kept
            log.info("alert %s accepted from %s via %s: %s", acceptance.alert_id,
                     delivery.sender, delivery.source,
                     acceptance.alert.summary() if acceptance.alert else "")
        metrics = self.metrics
        if metrics is not None:
            metrics.claimed(delivery.source, False)
            if answered is not None:
                metrics.acked(answered - delivery.received)
            metrics.received(acceptance.alert_id, delivery.received)

    def _refuse(self, delivery: Delivery, status: int, body: Any, reason: str,
                headers: dict[str, str] | None = None, *, code: str) -> JSONResponse:
        """The answer, and a row in the journal's refused deliveries (rate-limited, not
        awaited): the body's size and hash only, never the body or a secret. ``code``: the
        reason as /metrics counts it (a closed set: ``metrics.WEBHOOK_REASONS``)."""
        if self.metrics is not None:
            self.metrics.refused(code)
        raw = delivery.raw
        self.router.journal.record_refused(
            status=status, reason=scrub(reason, self.secrets), peer=delivery.sender,
            route=delivery.route,
            body_bytes=len(raw) if raw is not None else declared_length(delivery.request),
            content_type=delivery.content_type, body_sha256=delivery.sha256,
        )
        return JSONResponse(body, status, headers=headers)


class Accepted(Response):
    """The 200 of a new alert, ``{"alert_id": ..., "status": "accepted"}``: the same bytes and
    headers as ``JSONResponse`` would send, rendered without its per-answer work (a burst
    answers a hundred of these at once). ``after`` runs once the answer is sent (the log line,
    the receipt and the execution: ``Webhook._answer``), as a background task would."""

    media_type = "application/json"

    def __init__(self, alert_id: str, after: Callable[[], Awaitable[None]]) -> None:
        self.status_code = 200
        self.background = None
        self.body = (b'{"alert_id":' + encode_basestring(alert_id).encode("utf-8")
                     + b',"status":"accepted"}')
        self.raw_headers = [(b"content-length", str(len(self.body)).encode("latin-1")),
                            (b"content-type", b"application/json")]
        self.after = after

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body})
        await self.after()


class Answer(Response):
    """A 200 with a JSON body (a duplicate's, or a ``?wait=true`` execution's): the same bytes
    and headers as ``JSONResponse`` would send, encoded by json's C encoder made once instead
    of a new ``JSONEncoder`` and header list per answer (7.0 -> 3.7 µs for a report)."""

    media_type = "application/json"

    def __init__(self, content: Any) -> None:
        self.status_code = 200
        self.background = None
        self.body = _encode_answer(content)
        self.raw_headers = [(b"content-length", str(len(self.body)).encode("latin-1")),
                            (b"content-type", b"application/json")]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body})


def _answer_encoder() -> Callable[[Any], bytes]:
    """What ``JSONResponse.render`` returns for a content: ``json.dumps`` with
    ``ensure_ascii=False, allow_nan=False, separators=(",", ":")``, UTF-8. Its C encoder is
    made once; like ``json_text.text_encoder`` it skips the circular-reference check (an answer
    is a tree built just before, from the journal's record or the execution's report)."""
    if c_make_encoder is None:  # a Python without json's C accelerator
        encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False,
                                  separators=(",", ":")).encode
        return lambda content: encode(content).encode("utf-8")
    chunks = c_make_encoder(None, json.JSONEncoder().default, encode_basestring, None,
                            ":", ",", False, False, False)
    return lambda content: "".join(chunks(content, 0)).encode("utf-8")


_encode_answer = _answer_encoder()


class WebhookFastPath:
    """Takes ``POST /webhook`` and ``POST /webhook/{route_token}`` straight to the handler,
    ahead of everything FastAPI runs per request (``server.RouterApp`` asks it first).

    FastAPI's routing, dependency solving and middleware (its telemetry check, body limit,
    error and exception middleware) cost more per request than the webhook's own work
    (bench/), and a burst of alerts is exactly when the acks must be quick. The handler reads
    the body under its own size limit and answers every foreseeable failure itself; an
    unforeseen exception reaches the server, which logs it and answers 500 (as Starlette's
    error middleware would). The FastAPI routes stay: they document the webhook in the
    OpenAPI schema and answer what this path does not take (other methods, odd paths).
    """

    def __init__(self, webhook: Webhook) -> None:
        self.webhook = webhook

    @staticmethod
    def takes(scope: Any) -> bool:
        """Whether ``scope`` is a POST to ``/webhook`` or to ``/webhook/{one segment}``."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        path = scope["path"]
        if path == "/webhook":
            return True
        token = path[len("/webhook/"):]
        return path.startswith("/webhook/") and bool(token) and "/" not in token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        token = None if path == "/webhook" else path[len("/webhook/"):]
        request = Request(scope, receive)
        response = await self.webhook(request, token, wants_wait(request))
        await response(scope, receive, send)


def wants_wait(request: Request) -> bool:
    return wants(request, "wait")


def wants(request: Request, flag: str) -> bool:
    if not request.scope.get("query_string"):  # the usual webhook URL: nothing to parse
        return False
    return request.query_params.get(flag, "").strip().lower() in ("1", "true", "yes")


async def dry_run(router: Router, raw: bytes, content_type: str | None) -> JSONResponse:
    """``?dry_run=true`` (admin token only): the plans, read from the venues; nothing is
    journaled or sent."""
    from .alert import alert_errors

    try:
        alert = router.parse(raw, content_type)
    except AlertError as exc:
        return JSONResponse([{"field": e.field, "reason": e.reason} for e in alert_errors(exc)],
                            422)
    return JSONResponse({"dry_run": True, "plans": await router.dry_run(alert, raw)})


def check_passphrase(alert: Alert, settings: WebhookSettings, *, vouched: bool) -> None:
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


def declared_length(request: Request) -> int | None:
    """The ``Content-Length`` a refused request announced, when its body was never read."""
    declared = request_headers(request).get(b"content-length", b"").strip()
    return int(declared) if declared.isdigit() and len(declared) < 19 else None


_SIGNATURE_KEY = SIGNATURE_HEADER.lower().encode("latin-1")


def request_headers(request: Request) -> dict[bytes, bytes]:
    """The request's headers by (lower-case, as ASGI gives them) name; of a repeated header
    the first, as Starlette's ``Headers.get`` answers. Built once per delivery: each lookup
    through ``request.headers`` scans the list again."""
    return dict(reversed(request.scope["headers"]))


async def read_body(request: Request, headers: dict[bytes, bytes], limit: int) -> bytes | None:
    """``read_limited`` for the webhook, straight from the ASGI messages (``headers``: the
    request's, from ``request_headers``): the body, or ``None`` when it is larger than
    ``limit`` (read no further than that). A sender that hangs up raises ``ClientDisconnect``,
    as ``request.stream()`` does."""
    if _declared_over(headers.get(b"content-length"), limit):
        return None
    # The messages read here, not through an async generator of chunks (a webhook body
    # mostly comes in one message): 1.6 -> 0.7 µs a request.
    receive = request.receive
    parts: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        more = message.get("more_body", False)
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or ``None`` when it is larger than ``limit`` (read no further than that)."""
    return await _read_up_to(request.stream(), request.headers.get("content-length"), limit)


def _declared_over(declared: bytes | str | None, limit: int) -> bool:
    """Whether a Content-Length header says the body is larger than ``limit``."""
    return declared is not None and declared.strip().isdigit() and int(declared) > limit


async def _read_up_to(chunks: AsyncIterator[bytes], declared: bytes | str | None,
                      limit: int) -> bytes | None:
    """The chunks joined, or ``None`` as soon as the declared length or what came is over
    ``limit``."""
    if _declared_over(declared, limit):
        return None
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


async def finished_within(task: asyncio.Task[Any], seconds: float) -> bool:
    """Whether ``task`` finished within ``seconds``; cancelling this wait leaves the task
    running. What ``asyncio.wait_for(asyncio.shield(task), seconds)`` waits for, with one
    future and one timer instead of their four futures and callbacks: ~5 µs less for each
    ?wait=true delivery."""
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    task.add_done_callback(wake)
    timer = loop.call_later(seconds, wake)
    try:
        await waiter
    finally:
        timer.cancel()
        task.remove_done_callback(wake)
    return task.done()


async def wait_finished(router: Router, alert_id: str) -> AlertRecord | None:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    record = router.journal.get_alert(alert_id)
    while record is not None and record.state not in FINISHED and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        record = router.journal.get_alert(alert_id)
    return record


def duplicate_body(alert_id: str, record: AlertRecord | None) -> dict[str, Any]:
    body: dict[str, Any] = {"alert_id": alert_id, "status": "duplicate"}
    if record is not None:
        body["state"] = record.state.value
        if record.reason:
            body["reason"] = record.reason
        if record.report is not None:
            body["report"] = record.report
    return body
