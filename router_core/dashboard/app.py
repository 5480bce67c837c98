"""The dashboard's routes: pages under ``/ui/``, ``/`` pointing at them, static files, the
event stream, and the controls.

Routes only, no middleware: nothing here runs for ``POST /webhook``. Every page needs a
session (``auth``); every POST needs the session's CSRF token and, when the browser sends an
``Origin``, this server's own. Every response carries a strict Content-Security-Policy
(scripts and styles from this server only) and is never cached.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.staticfiles import StaticFiles

from .. import journal_views
from ..journal import ClaimOutcome
from ..router import HALT_FLAG
from ..security import client_address, in_networks
from . import auth, pnl
from .feed import ChangeFeed
from .masking import masked_config
from .settings import DashboardSettings
from .venue import VenueSnapshots

if TYPE_CHECKING:
    import jinja2

    from ..credentials import AccountCheck
    from ..router import Router
    from ..security import WebhookSettings

log = logging.getLogger("router_core.dashboard")

HERE = Path(__file__).parent
MAX_FORM_BYTES = 8192
OUTCOMES = ("ok", "failed", "refused", "pending")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make the browser send Origin: null
    "Cache-Control": "no-store",
}


def templates() -> jinja2.Environment:
    """Autoescape on for every template, whatever its name: an alert's text is shown as text."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["ms"] = lambda v: "-" if v is None else f"{v:,.0f} ms"
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, default=str)
    env.filters["num"] = _num
    return env


class Templates:
    """The dashboard's templates, their environment built when the first page is rendered:
    a server whose dashboard nobody opens does not import jinja2 (about 2 MB resident)."""

    def __init__(self) -> None:
        self._env: jinja2.Environment | None = None

    def get_template(self, name: str) -> jinja2.Template:
        if self._env is None:
            self._env = templates()
        return self._env.get_template(name)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _num(value: Any) -> str:
    if value is None:
        return "-"
    text = format(value, "f") if not isinstance(value, str) else value
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def mount_dashboard(app: FastAPI, router: Router, webhook: WebhookSettings,
                    settings: DashboardSettings,
                    key_checks: Callable[[], Mapping[str, AccountCheck]]) -> None:
    """Add the dashboard's routes to ``app``. ``key_checks``: the verdicts /readyz shows."""
    env = Templates()
    if not settings.enabled:
        _mount_off(app, env, settings)
        return
    assert settings.secret is not None
    secret = settings.secret
    sessions = auth.Sessions(settings.session_seconds)
    throttle = auth.LoginThrottle()
    feed = ChangeFeed(lambda: journal_views.change_marker(router.journal))
    venues = VenueSnapshots(router)
    app.state.dashboard_feed = feed
    api = APIRouter(include_in_schema=False)

    # -- helpers ----------------------------------------------------------------------------

    def halts() -> dict[str, Any]:
        """The global halt and the accounts' halts, for the banner."""
        return {"halted": router.journal.get_flag(HALT_FLAG),
                "halted_accounts": journal_views.halted_accounts(router.journal)}

    async def page(request: Request, name: str, session: auth.Session | None,
                   status: int = 200, **context: Any) -> HTMLResponse:
        # Journal reads leave the event loop: on a networked journal they wait for the
        # database, and the webhook shares this loop.
        banner = await asyncio.to_thread(halts)
        # A notice comes from the session, never from the URL: a crafted link cannot put
        # words on the page.
        notice = session.notice if session is not None else None
        if session is not None:
            session.notice = None
        if request.query_params.get("logged_out") == "1":
            notice = "Logged out."
        text = env.get_template(name).render(
            request_path=request.url.path, session=session, notice=notice, **banner,
            **context)
        return HTMLResponse(text, status, headers=SECURITY_HEADERS)

    def session_of(request: Request) -> auth.Session | None:
        return sessions.get(request.cookies.get(auth.COOKIE))

    def peer(request: Request) -> str:
        host = request.client.host if request.client else None
        return client_address(host, request.headers.get("x-forwarded-for"),
                              webhook.trusted_proxies) or "-"

    def over_tls(request: Request) -> bool:
        if request.url.scheme == "https":
            return True
        host = request.client.host if request.client else None
        return (in_networks(host, webhook.trusted_proxies)
                and request.headers.get("x-forwarded-proto", "").lower() == "https")

    def to_login(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/ui/login?" + urlencode({"next": target}), 303,
                                headers=SECURITY_HEADERS)

    def foreign_origin(request: Request) -> bool:
        """Whether the browser says the request comes from another site's page. Behind a
        trusted proxy that rewrites Host, its X-Forwarded-Host names this site too."""
        origin = request.headers.get("origin")
        if not origin or origin == "null":
            return origin == "null"
        hosts = {request.headers.get("host", "")}
        socket_peer = request.client.host if request.client else None
        if in_networks(socket_peer, webhook.trusted_proxies):
            hosts.add(request.headers.get("x-forwarded-host", "").split(",")[0].strip())
        return urlsplit(origin).netloc not in hosts - {""}

    async def form_of(request: Request) -> dict[str, str]:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return {}
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in fields.items()}

    async def checked_post(request: Request) -> tuple[auth.Session | None, dict[str, str],
                                                      Response | None]:
        """The session and form of a state-changing request, or the answer refusing it."""
        session = session_of(request)
        if session is None:
            return None, {}, Response("login required", 401, headers=SECURITY_HEADERS)
        form = await form_of(request)
        given = request.headers.get("x-csrf-token") or form.get("csrf_token")
        if foreign_origin(request) or not auth.csrf_ok(session, given):
            log.warning("dashboard: refused a %s without a valid CSRF token from %s",
                        request.url.path, peer(request))
            return session, form, Response("CSRF token missing or wrong", 403,
                                           headers=SECURITY_HEADERS)
        return session, form, None

    def back(session: auth.Session | None, path: str, notice: str) -> RedirectResponse:
        if session is not None:
            session.notice = notice
        return RedirectResponse(path, 303, headers=SECURITY_HEADERS)

    def filters(request: Request) -> dict[str, str]:
        query = request.query_params
        outcome = query.get("outcome", "")
        return {"account": query.get("account", "").strip()[:100],
                "symbol": query.get("symbol", "").strip()[:40],
                "outcome": outcome if outcome in OUTCOMES else ""}

    def alert_rows(chosen: dict[str, str]) -> list[journal_views.AlertRow]:
        return journal_views.alerts(router.journal, account=chosen["account"] or None,
                                    symbol=chosen["symbol"] or None,
                                    outcome=chosen["outcome"] or None)

    # -- login ------------------------------------------------------------------------------

    @api.get("/")
    async def home() -> Response:
        return RedirectResponse("/ui/", 303)

    @api.get("/ui/login")
    async def login_form(request: Request) -> Response:
        if session_of(request) is not None:  # logged in already
            return RedirectResponse(_safe_next(request.query_params), 303)
        return await page(request, "login.html", None, next=_safe_next(request.query_params),
                          error=None, generated=secret.generated)

    @api.post("/ui/login")
    async def login(request: Request) -> Response:
        address = peer(request)
        form = await form_of(request)
        target = _safe_next(form)
        if foreign_origin(request):
            return Response("cross-site login refused", 403, headers=SECURITY_HEADERS)
        wait = throttle.wait_seconds(address)
        if wait > 0:
            return await page(request, "login.html", None, 429, next=target,
                              generated=secret.generated,
                              error=f"Too many wrong passwords: try again in {wait:.0f} s.")
        if not auth.password_ok(form.get("password", ""), secret):
            delay = throttle.failed(address)
            log.warning("dashboard: wrong password from %s", address)
            error = "Wrong password."
            if delay:
                error += f" Too many wrong passwords: the next try is possible in {delay:.0f} s."
            return await page(request, "login.html", None, 401, next=target,
                              generated=secret.generated, error=error)
        throttle.succeeded(address)
        sessions.end(request.cookies.get(auth.COOKIE))  # a login never keeps an old id
        session = sessions.create()
        log.info("dashboard: login from %s", address)
        response = RedirectResponse(target, 303, headers=SECURITY_HEADERS)
        response.set_cookie(auth.COOKIE, session.session_id, max_age=int(sessions.lifetime),
                            path="/", httponly=True, samesite="strict",
                            secure=over_tls(request))
        return response

    @api.post("/ui/logout")
    async def logout(request: Request) -> Response:
        session, _, refused = await checked_post(request)
        if refused is not None:
            return refused
        assert session is not None
        sessions.end(session.session_id)
        response = RedirectResponse("/ui/login?logged_out=1", 303, headers=SECURITY_HEADERS)
        response.delete_cookie(auth.COOKIE, path="/", httponly=True, samesite="strict",
                               secure=over_tls(request))
        return response

    # -- alerts -----------------------------------------------------------------------------

    @api.get("/ui/")
    async def alerts_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        chosen = filters(request)
        rows = await asyncio.to_thread(alert_rows, chosen)
        return await page(request, "alerts.html", session, rows=rows, filters=chosen,
                          outcomes=OUTCOMES, accounts=list(router.config.accounts),
                          stream="/ui/events?" + urlencode(chosen))

    @api.get("/ui/events")
    async def events(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return Response("login required", 401, headers=SECURITY_HEADERS)
        chosen = filters(request)
        rows_template = env.get_template("_alert_rows.html")
        banner_template = env.get_template("_banner.html")

        async def stream() -> AsyncIterator[str]:
            async for _ in feed.changes():
                if sessions.get(session.session_id) is None:
                    return  # logged out or expired: the page's next load asks to log in
                rows = await asyncio.to_thread(alert_rows, chosen)
                banner = await asyncio.to_thread(halts)
                yield _event("alerts", rows_template.render(rows=rows))
                yield _event("banner", banner_template.render(**banner))

        headers = {**SECURITY_HEADERS, "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    @api.get("/ui/alerts/{alert_id}")
    async def alert_page(request: Request, alert_id: str) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        row = await asyncio.to_thread(journal_views.alert, router.journal, alert_id)
        if row is None:
            return await page(request, "missing.html", session, 404, what=f"alert {alert_id}")
        legs = await asyncio.to_thread(journal_views.legs_of, router.journal, alert_id)
        body = {k: v for k, v in row.alert.items() if k != "passphrase"}
        return await page(request, "alert.html", session, row=row, legs=legs, body=body)

    # -- accounts ---------------------------------------------------------------------------

    @api.get("/ui/accounts")
    async def accounts_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        checks = key_checks()
        names = list(router.config.accounts)
        # The first view reads each venue (all at once); later ones show the cache.
        await asyncio.gather(*(venues.refresh(name) for name in names
                               if venues.cached(name) is None and name in router.brokers))
        resting = await asyncio.to_thread(journal_views.resting_legs, router.journal)
        streams = router.fill_streams.states() if router.fill_streams is not None else {}
        accounts = [{
            "name": name,
            "broker": router.config.accounts[name].broker,
            "enabled": router.config.accounts[name].enabled,
            "check": checks.get(name),
            "snapshot": venues.cached(name),
            "resting": [leg for leg in resting if leg.account == name],
            "stream": streams.get(name),
        } for name in names]
        return await page(request, "accounts.html", session, accounts=accounts, now=time.time())

    @api.post("/ui/accounts/refresh")
    async def refresh_account(request: Request) -> Response:
        session, form, refused = await checked_post(request)
        if refused is not None:
            return refused
        name = form.get("account", "")
        if name not in router.config.accounts:
            return back(session, "/ui/accounts", "No such account.")
        await venues.refresh(name)
        return back(session, "/ui/accounts", f"Read {name} from its venue again.")

    # -- profit and loss ----------------------------------------------------------------------

    @api.get("/ui/pnl")
    async def pnl_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        scan = await asyncio.to_thread(journal_views.fills, router.journal)
        result = pnl.compute(scan.fills)
        prices = venues.prices()
        points, zero_y = pnl.chart_points(result.curve)
        books = sorted(result.books.values(), key=lambda b: (b.account, b.symbol))
        return await page(request, "pnl.html", session, result=result, books=books, prices=prices,
                          scan=scan, points=points, zero_y=zero_y,
                          fees_seen=any(fill.fee is not None for fill in scan.fills),
                          unrealised=pnl.unrealised_total(books, prices))

    # -- refused deliveries and errors --------------------------------------------------------

    @api.get("/ui/refused")
    async def refused_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)

        def read() -> dict[str, Any]:
            journal = router.journal
            return {"deliveries": journal.refused_deliveries(100),
                    "refused": journal_views.refused_alerts(journal),
                    "failed": journal_views.alerts(journal, outcome="failed", limit=100),
                    "legs": journal_views.failed_legs(journal)}

        return await page(request, "refused.html", session, **await asyncio.to_thread(read))

    # -- controls ---------------------------------------------------------------------------

    @api.get("/ui/controls")
    async def controls_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        resting = await asyncio.to_thread(journal_views.resting_legs, router.journal)
        counts = {name: sum(1 for leg in resting if leg.account == name)
                  for name in router.config.accounts}
        return await page(request, "controls.html", session, accounts=list(router.config.accounts),
                          resting=counts)

    @api.post("/ui/controls/halt")
    async def halt(request: Request) -> Response:
        session, form, refused = await checked_post(request)
        if refused is not None:
            return refused
        account = form.get("account") or None
        if account is not None and account not in router.config.accounts:
            return back(session, "/ui/controls", "No such account.")
        reason = " ".join(form.get("reason", "").split())[:200] or "halted from the dashboard"
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        await asyncio.to_thread(router.halt, f"{reason}, since {stamp}", account)
        log.warning("trading halted from the dashboard%s: %s",
                    f" on account {account}" if account else "", reason)
        what = f"Trading on {account}" if account else "Trading"
        return back(session, "/ui/controls", f"{what} is halted.")

    @api.post("/ui/controls/resume")
    async def resume(request: Request) -> Response:
        session, form, refused = await checked_post(request)
        if refused is not None:
            return refused
        account = form.get("account") or None
        if account is not None and account not in router.config.accounts:
            return back(session, "/ui/controls", "No such account.")
        await asyncio.to_thread(router.resume, account)
        log.warning("trading resumed from the dashboard%s",
                    f" on account {account}" if account else "")
        what = f"Trading on {account}" if account else "Trading"
        return back(session, "/ui/controls", f"{what} resumed.")

    @api.post("/ui/controls/cancel")
    async def cancel(request: Request) -> Response:
        session, form, refused = await checked_post(request)
        if refused is not None:
            return refused
        account = form.get("account", "")
        if account not in router.config.accounts:
            return back(session, "/ui/controls", "No such account.")
        notice = await _cancel_resting(router, account, peer(request))
        return back(session, "/ui/controls", notice)

    # -- config -----------------------------------------------------------------------------

    @api.get("/ui/config")
    async def config_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login(request)
        loaded = webhook.secret_values() + settings.secret_values()
        view = masked_config(router.config, loaded)
        return await page(request, "config.html", session, config=json.dumps(view, indent=2))

    app.include_router(api)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")


def _mount_off(app: FastAPI, env: Templates, settings: DashboardSettings) -> None:
    """Without a password the dashboard is off: ``/`` and ``/ui/...`` say how to enable it."""
    @functools.cache  # rendered on the first request that asks for it
    def text() -> str:
        return env.get_template("off.html").render(reason=settings.off_reason)

    @app.get("/", include_in_schema=False)
    async def off() -> HTMLResponse:
        return HTMLResponse(text(), 200, headers=SECURITY_HEADERS)

    @app.get("/ui/{rest:path}", include_in_schema=False)
    async def off_ui(rest: str) -> HTMLResponse:
        return HTMLResponse(text(), 404, headers=SECURITY_HEADERS)


async def _cancel_resting(router: Router, account: str, peer: str) -> str:
    """Cancel the router's resting orders of an account: one journaled ``cancel`` alert per
    symbol, executed like any alert (so it shows in the Alerts list with its outcome)."""
    resting = await asyncio.to_thread(journal_views.resting_legs, router.journal, account)
    tickers = sorted({str(leg.order.get("ticker")) for leg in resting if leg.order.get("ticker")})
    if not tickers:
        return f"{account} has no resting order placed by this router."
    stamp = datetime.now(UTC)
    outcomes = []
    for ticker in tickers:
        # Its own id per click, account and ticker: the id is the alert's intent key.
        body = {"ticker": ticker, "action": "cancel", "accounts": [account],
                "id": f"dashboard-cancel-{account}-{ticker}-{stamp.strftime('%Y%m%dT%H%M%S.%f')}",
                "timenow": stamp.isoformat().replace("+00:00", "Z")}
        raw = json.dumps(body).encode()
        try:
            accepted = await router.accept_async(raw, "application/json", peer=peer,
                                                 source="dashboard")
            if accepted.outcome is not ClaimOutcome.NEW:
                outcomes.append(f"{ticker}: already sent (alert {accepted.alert_id})")
                continue
            report = await router.spawn(accepted.alert_id)
        except Exception as exc:  # shown to the operator, who can retry
            outcomes.append(f"{ticker}: {type(exc).__name__}: {exc}")
            continue
        outcomes.append(f"{ticker}: {'done' if report.ok else 'see the alert'}")
    return f"Cancel sent for {account}: " + "; ".join(outcomes)


def _safe_next(fields: Mapping[str, str]) -> str:
    """Where to go after logging in: a path on this server only (no open redirect)."""
    target = fields.get("next") or "/ui/"
    if not target.startswith("/ui/") or target.startswith("//") or "\\" in target:
        return "/ui/"
    return target


def _event(name: str, html: str) -> str:
    """One server-sent event; each line of the payload on its own ``data:`` line."""
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {name}\n{lines}\n"
