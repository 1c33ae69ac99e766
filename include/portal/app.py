"""The portal's web application: `create_app(settings)` builds it; uvicorn serves it (`python -m include.portal`).

Pages (HTML, Jinja templates in templates/) and JSON endpoints:

- `GET /`: choose a role, register or log in. `GET /healthz`: 200 when the database answers.
- `GET/POST /register/{role}` (`store_manager` or `inventory_manager`): emails a link; `GET/POST /verify?token=`:
  the link's page, which asks for the password chosen and creates the account.
- `GET/POST /login/{role}` (throttled), `POST /logout` (ends the server-side session).
- `GET/POST /forgot/{role}`: emails a reset link; `GET/POST /reset?token=`: choose a new password.
- `GET /dashboard`: sales for a store manager, inventory for an inventory manager, for their location.
- `GET /dashboard/live?after=<publish_id>`: 204 while no newer publish has landed, else the page's data section
  (HTML) for the page to swap in.
- `GET /account`, `POST /account/alerts` (low-stock emails on/off), `POST /account/password` (change it, with the
  current one), `POST /account/deactivate`.
- `GET /api/dashboard`, `GET /api/watermark`: the same data as JSON (exact decimals as strings).

The cookie is Starlette's signed session cookie (itsdangerous; HttpOnly, SameSite=Lax, Secure when `https_only`),
holding a random session id, the CSRF token and a one-off message; the session itself lives in portal.sessions
(revoked at logout, password change or reset and account closing; idle and absolute expiry), and the account is
read again on every request. Every POST carries the CSRF token. Every password check goes through the throttle
(`accounts.begin_password_check`), and no password is hashed or verified while a database connection is held.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from include.portal import accounts, dashboards, mail, stock
from include.portal.accounts import ROLE_FIELD, ROLES, Account, EmailTaken, RateLimited, Throttled
from include.portal.config import PortalSettings
from include.portal.db import Database
from include.portal.security import (
    CSRF_FIELD,
    DeviceCookie,
    LinkSigner,
    Passwords,
    Throttle,
    csrf_matches,
    make_hasher,
    new_csrf_token,
)
from include.portal.stock import InvalidStockQuery, StockQuery

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "portal_session"
LOGIN_FAILED = "Email or password is incorrect."
LINK_INVALID = (
    "This link is not valid: it was used already, it expired, or it was not copied whole. Ask for a new one "
    '(register again, or use "Forgot your password?" on the login page).'
)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class CsrfFailed(Exception):
    pass


# ------------------------------------------------------------------------------------------------ formatting


CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "INR": "₹"}


def fmt_money(value: Any, currency: str = "USD") -> str:
    """An amount to the cent (half away from zero, as docs/metrics.md rounds) with its currency: "$1,234.50",
    "-$0.13"; a currency without a symbol here is written after the number: "1,234.50 CHF"."""
    if value is None:
        return "–"
    amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign, digits = ("-" if amount < 0 else ""), f"{abs(amount):,}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


def fmt_units(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}"


def fmt_decimal(value: Any, places: int = 2) -> str:
    if value is None:
        return "–"
    return f"{Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,}"


def fmt_pct(value: Any) -> str:
    if value is None:
        return "–"
    sign = "+" if Decimal(value) > 0 else ""
    return f"{sign}{fmt_decimal(value, 2)} %"


def fmt_time(value: datetime | None) -> str:
    return "–" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# ------------------------------------------------------------------------------------------------ the app


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: PortalSettings, database: Database | None = None, clock: Clock = utc_now) -> FastAPI:
    """The portal, wired to `settings` (database URL, secret key, SMTP, limits). `database` may be passed in, and
    `clock` (the time every session, link and throttle rule is judged by) replaced, by tests."""
    db = database or Database(settings.database_url, size=settings.db_pool_size)
    passwords = Passwords(make_hasher(settings))
    check_rules = accounts.CheckRules(
        Throttle(
            settings.login_max_failures,
            settings.login_max_failures_per_account,
            settings.login_max_failures_per_ip,
            timedelta(seconds=settings.login_window_seconds),
        ),
        known_address=timedelta(days=settings.known_address_days),
    )
    session_rules = accounts.SessionRules(
        idle=timedelta(seconds=settings.session_idle_seconds),
        absolute=timedelta(seconds=settings.session_absolute_seconds),
        touch=timedelta(seconds=settings.session_touch_seconds),
    )
    verify_links = LinkSigner(settings.secret_key, "verify", timedelta(hours=settings.verify_link_hours))
    reset_links = LinkSigner(settings.secret_key, "reset", timedelta(minutes=settings.reset_link_minutes))
    devices = DeviceCookie(settings.secret_key, timedelta(days=settings.device_cookie_days))
    hasher_pool = ThreadPoolExecutor(max_workers=settings.hash_workers, thread_name_prefix="portal-hash")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(
        money=functools.partial(fmt_money, currency=settings.currency),
        units=fmt_units,
        decimal=fmt_decimal,
        pct=fmt_pct,
        time=fmt_time,
    )
    templates.env.globals.update(
        ROLES=ROLES,
        ROLE_FIELD=ROLE_FIELD,
        CSRF_FIELD=CSRF_FIELD,
        CURRENCY=settings.currency,
        STOCK_SORTS=stock.SORTS,
        STOCK_STATUSES=stock.STATUSES,
        PAGE_SIZES=stock.PAGE_SIZES,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        hasher_pool.shutdown(wait=False, cancel_futures=True)
        db.close()

    app = FastAPI(title="Inventory manager portal", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings, app.state.db, app.state.passwords = settings, db, passwords
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_absolute_seconds,
        same_site="lax",
        https_only=settings.https_only,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # -------------------------------------------------------------------------------------------- helpers

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = new_csrf_token()
        return token

    async def checked_form(request: Request) -> FormData:
        form = await request.form()
        if not csrf_matches(request.session.get("csrf"), form.get(CSRF_FIELD)):
            raise CsrfFailed()
        return form

    def render(
        request: Request, name: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
    ) -> HTMLResponse:
        context.setdefault("account", None)
        context.update(request=request, csrf_token=csrf_token(request))
        return templates.TemplateResponse(request, name, context, status_code=status_code, headers=headers)

    def message(request: Request, title: str, text: str, status_code: int = 200, **extra: Any) -> HTMLResponse:
        return render(request, "message.html", status_code=status_code, title=title, message=text, **extra)

    def load_account(request: Request) -> Account | None:
        """The account of the request's server-side session, or None (no session, revoked, idle or too old)."""
        session_id = request.session.get("sid")
        if not session_id:
            return None
        with db.transaction() as cur:
            account_id = accounts.session_account(cur, session_id, clock(), session_rules)
            account = accounts.get_account(cur, account_id) if account_id is not None else None
        if account is None:
            request.session.clear()
        return account

    def start_session(request: Request, cur, account_id: int) -> None:
        """Log the browser in: a new server-side session and a new CSRF token (called inside a transaction)."""
        session_id = accounts.create_session(cur, account_id, client_ip(request), clock())
        request.session.clear()
        request.session.update(sid=session_id, csrf=new_csrf_token())

    def remember_device(request: Request, response: Response, account_id: int) -> None:
        value, _ = devices.add(request.cookies.get(DeviceCookie.NAME), account_id)
        response.set_cookie(
            DeviceCookie.NAME,
            value,
            max_age=settings.device_cookie_days * 86400,
            httponly=True,
            samesite="lax",
            secure=settings.https_only,
        )

    def device_for(request: Request, account_id: int | None) -> str | None:
        if account_id is None:
            return None
        return devices.read(request.cookies.get(DeviceCookie.NAME)).get(account_id)

    async def hashing(fn: Callable[..., Any], *args: Any) -> Any:
        """Run a password hash or verification on the portal's small hashing pool (`hash_workers` threads): no
        database connection is held meanwhile, and a flood of guesses queues there instead of filling the
        request thread pool, so other requests (a dashboard's poll) keep being served."""
        return await asyncio.get_running_loop().run_in_executor(hasher_pool, fn, *args)

    async def check_password(
        request: Request, role: str, email: str, account_id: int | None, stored: str | None, password: str, purpose: str
    ) -> int | None:
        """Throttle, then verify `password` against `stored` with no connection held. Returns the check's id when
        it matched (mark it with `password_check_succeeded` in the transaction that acts on it), else None.
        Raises Throttled without verifying anything."""

        def begin() -> int:
            with db.transaction() as cur:
                return accounts.begin_password_check(
                    cur,
                    accounts.account_key(role, email),
                    client_ip(request),
                    device_for(request, account_id),
                    purpose,
                    check_rules,
                    clock(),
                )

        check_id = await run_in_threadpool(begin)
        matched = await hashing(passwords.verify, stored, password)
        return check_id if matched and stored is not None else None

    def throttled(request: Request, template: str, exc: Throttled, status_code: int = 429, **context: Any):
        minutes = max(1, math.ceil(exc.retry_after.total_seconds() / 60))
        return render(
            request,
            template,
            status_code=status_code,
            error=f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            headers={"Retry-After": str(math.ceil(exc.retry_after.total_seconds()))},
            **context,
        )

    def send_now(alert_ids: list[int]) -> None:
        """Deliver the portal's outbox rows right after the response; what fails stays pending for the next run."""
        if not alert_ids:
            return
        try:
            with db.connection() as conn:
                report = mail.deliver(conn, settings.smtp, alert_ids)
            if report["errors"]:
                logger.warning("portal email not sent yet (stays in the outbox): %s", report["errors"])
        except Exception:  # noqa: BLE001 - the row stays pending; the alerting run sends it later
            logger.exception("portal email %s not sent now; it stays pending in the outbox", alert_ids)

    def email_link(cur, to_email: str, to_name: str, subject: str, paragraphs: list[str], links) -> list[int]:
        """Queue an email in the request's transaction, unless the address had its hourly share already."""
        if not accounts.may_email(cur, to_email, settings.emails_per_address_hour, clock()):
            logger.warning("not emailing %s again this hour (limit %s)", to_email, settings.emails_per_address_hour)
            return []
        msg = mail.link_message(
            sender=settings.smtp.sender,
            to_email=to_email,
            to_name=to_name,
            subject=subject,
            paragraphs=paragraphs,
            links=links,
            now=clock(),
        )
        return [mail.enqueue(cur, msg, to_email)]

    def url(path: str) -> str:
        return settings.base_url + path

    def locations() -> dict[int, str]:
        with db.transaction() as cur:
            return accounts.locations(cur)

    def read_dashboard(account: Account, stock_query: StockQuery | None = None) -> dict[str, Any]:
        with db.transaction(read_only=True) as cur:
            return dashboards.read_dashboard(
                cur, account.role, account.location_id, settings.read_role, settings.kpi_period_days, stock_query
            )

    def stock_query_of(request: Request, account: Account) -> StockQuery | None:
        """The stock list's search, filters, sort and page from the query string (inventory managers only).
        Raises InvalidStockQuery."""
        if account.role != accounts.INVENTORY_MANAGER:
            return None
        return StockQuery.parse(request.query_params)

    def dashboard_context(data: dict[str, Any]) -> dict[str, Any]:
        return {"d": data, "charts": dashboards.chart_data(data)}

    def known_role(role: str) -> str:
        if role not in ROLES:
            raise StarletteHTTPException(404)
        return role

    def client_ip(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    # -------------------------------------------------------------------------------------------- errors

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed):
        return message(
            request,
            "Form expired",
            "This form has expired or did not come from this site. Go back, reload the page and try again.",
            status_code=403,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/api/") or exc.status_code in (204, 304):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        titles = {404: "Page not found", 405: "Not allowed"}
        return message(request, titles.get(exc.status_code, "Error"), str(exc.detail), status_code=exc.status_code)

    # -------------------------------------------------------------------------------------------- pages

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request):
        account = load_account(request)
        if account is not None:
            return RedirectResponse("/dashboard", status_code=303)
        return render(request, "home.html", flash=request.session.pop("flash", None))

    @app.get("/healthz")
    def healthz():
        with db.transaction() as cur:
            cur.execute("SELECT 1")
        return {"status": "ok"}

    # -------------------------------------------------------------------------------------------- registration

    @app.get("/register/{role}", response_class=HTMLResponse)
    def register_form(request: Request, role: str):
        known_role(role)
        return render(request, "register.html", role=role, locations=locations(), values={}, errors={})

    @app.post("/register/{role}", response_class=HTMLResponse)
    async def register(request: Request, role: str, background: BackgroundTasks):
        known_role(role)
        form = await checked_form(request)
        known_locations = await run_in_threadpool(locations)
        registration, errors = accounts.validate_registration(role, form, known_locations)
        if errors:
            values = {k: v for k, v in form.items() if k not in ("password", "password_confirm", CSRF_FIELD)}
            return render(
                request,
                "register.html",
                status_code=400,
                role=role,
                locations=known_locations,
                values=values,
                errors=errors,
            )

        # Hashed before a connection is borrowed, and whether or not the address has an account: the answer takes
        # as long either way.
        password_hash = await hashing(passwords.hash, registration.password)

        def request_link() -> list[int]:
            now = clock()
            with db.transaction() as cur:
                outcome = accounts.request_registration(
                    cur,
                    registration,
                    password_hash,
                    client_ip(request),
                    now,
                    timedelta(hours=settings.verify_link_hours),
                    settings.registrations_per_ip_hour,
                )
                what = f"{ROLES[role].lower()} at {known_locations[registration.location_id]}"
                if outcome.existing is None:
                    link = url(
                        "/verify?" + urlencode({"token": verify_links.dumps(outcome.registration_id, outcome.secret)})
                    )
                    return email_link(
                        cur,
                        registration.email,
                        registration.name,
                        "Confirm your email address for the manager portal",
                        [
                            f"Someone, hopefully you, asked to register this address as {what} on the inventory "
                            "manager portal. To finish, open the link below and type the password you chose. It "
                            f"works once, within {settings.verify_link_hours} hours.",
                            "If it was not you, ignore this email: nothing is created or changed unless the link "
                            "is used with that password.",
                        ],
                        [("Confirm my address", link)],
                    )
                existing = outcome.existing
                state = (
                    "You already have an account with this address: log in, or reset your password if you forgot it."
                    if existing.active
                    else "This address belongs to a closed account; an administrator can reopen it."
                )
                return email_link(
                    cur,
                    registration.email,
                    existing.name,
                    "Someone tried to register your address on the manager portal",
                    [
                        f"Someone asked to register this address as {what} on the inventory manager portal. " + state,
                        "If it was not you, ignore this email: nothing changed.",
                    ],
                    [("Log in", url(f"/login/{role}")), ("Reset my password", url(f"/forgot/{role}"))]
                    if existing.active
                    else [],
                )

        try:
            alert_ids = await run_in_threadpool(request_link)
        except RateLimited:
            return message(
                request,
                "Too many registrations",
                "Too many registrations came from your network in the last hour. Try again later.",
                status_code=429,
                headers={"Retry-After": "3600"},
            )
        background.add_task(send_now, alert_ids)
        return message(
            request,
            "Check your email",
            f"If that address can be registered, we sent a link to it. Open it within {settings.verify_link_hours} "
            "hours and type the password you chose to finish. Nothing is active until then.",
        )

    @app.get("/verify", response_class=HTMLResponse)
    def verify_form(request: Request, token: str = ""):
        # A GET changes nothing (mail scanners open links): the page asks for the password, the POST confirms.
        found = verify_links.loads(token)
        pending = None
        if found is not None:
            with db.transaction() as cur:
                pending = accounts.pending_registration(cur, *found, clock())
        if pending is None:
            return message(request, "Link not valid", LINK_INVALID, status_code=400)
        return render(request, "verify.html", pending=pending, token=token, error=None)

    @app.post("/verify", response_class=HTMLResponse)
    async def verify(request: Request):
        form = await checked_form(request)
        token, password = str(form.get("token") or ""), str(form.get("password") or "")
        found = verify_links.loads(token)

        async def confirm() -> tuple[str, Any]:
            if found is None:
                return "invalid", None

            def pending_one():
                with db.transaction() as cur:
                    return accounts.pending_registration(cur, *found, clock())

            pending = await run_in_threadpool(pending_one)
            if pending is None:
                return "invalid", None
            try:
                check_id = await check_password(
                    request, pending.role, pending.email, None, pending.password_hash, password, "confirm"
                )
            except Throttled as exc:
                return "throttled", (pending, exc)
            if check_id is None:
                return "wrong", pending

            def create() -> int:
                with db.transaction() as cur:
                    account_id = accounts.confirm_registration(cur, *found, clock())
                    accounts.password_check_succeeded(cur, check_id, clock(), check_rules.known_address)
                    start_session(request, cur, account_id)
                    return account_id

            try:
                return "ok", await run_in_threadpool(create)
            except LookupError:
                return "invalid", None
            except EmailTaken:
                return "taken", pending

        outcome, detail = await confirm()
        if outcome == "invalid":
            return message(request, "Link not valid", LINK_INVALID, status_code=400)
        if outcome == "throttled":
            pending, exc = detail
            return throttled(request, "verify.html", exc, pending=pending, token=token)
        if outcome == "wrong":
            return render(
                request,
                "verify.html",
                status_code=401,
                pending=detail,
                token=token,
                error="That is not the password chosen when registering.",
            )
        if outcome == "taken":
            return message(
                request,
                "Already registered",
                "An account with this address exists already. Log in, or reset your password.",
                status_code=409,
            )
        request.session["flash"] = "Your email address is confirmed and your account is ready."
        response = RedirectResponse("/dashboard", status_code=303)
        remember_device(request, response, detail)
        return response

    # -------------------------------------------------------------------------------------------- login, logout

    @app.get("/login/{role}", response_class=HTMLResponse)
    def login_form(request: Request, role: str):
        known_role(role)
        flash = request.session.pop("flash", None)
        return render(request, "login.html", role=role, email="", error=None, flash=flash)

    @app.post("/login/{role}", response_class=HTMLResponse)
    async def login(request: Request, role: str):
        known_role(role)
        form = await checked_form(request)
        email, password = str(form.get("email") or ""), str(form.get("password") or "")

        def find() -> tuple[int | None, str | None, bool]:
            with db.transaction() as cur:
                return accounts.find_account(cur, role, email) or (None, None, False)

        async def attempt() -> int | None:
            account_id, stored, active = await run_in_threadpool(find)
            check_id = await check_password(request, role, email, account_id, stored, password, "login")
            if check_id is None or not active:
                return None
            new_hash = await hashing(passwords.hash, password) if passwords.needs_rehash(stored) else None

            def finish() -> None:
                with db.transaction() as cur:
                    accounts.password_check_succeeded(cur, check_id, clock(), check_rules.known_address)
                    accounts.record_login(cur, account_id, clock(), new_hash)
                    start_session(request, cur, account_id)

            await run_in_threadpool(finish)
            return account_id

        try:
            account_id = await attempt()
        except Throttled as exc:
            return throttled(request, "login.html", exc, role=role, email=email)
        if account_id is None:
            return render(request, "login.html", status_code=401, role=role, email=email, error=LOGIN_FAILED)
        response = RedirectResponse("/dashboard", status_code=303)
        remember_device(request, response, account_id)
        return response

    @app.post("/logout")
    async def logout(request: Request):
        await checked_form(request)
        session_id = request.session.get("sid")
        if session_id:

            def revoke() -> None:
                with db.transaction() as cur:
                    accounts.revoke_session(cur, session_id, clock(), "logged out")

            await run_in_threadpool(revoke)
        request.session.clear()
        request.session["flash"] = "You have logged out."
        return RedirectResponse("/", status_code=303)

    # -------------------------------------------------------------------------------------------- password reset

    @app.get("/forgot/{role}", response_class=HTMLResponse)
    def forgot_form(request: Request, role: str):
        known_role(role)
        return render(request, "forgot.html", role=role, error=None)

    @app.post("/forgot/{role}", response_class=HTMLResponse)
    async def forgot(request: Request, role: str, background: BackgroundTasks):
        known_role(role)
        form = await checked_form(request)
        email = str(form.get("email") or "").strip()

        def request_link() -> list[int]:
            with db.transaction() as cur:
                found = accounts.request_reset(
                    cur,
                    role,
                    email,
                    client_ip(request),
                    clock(),
                    timedelta(minutes=settings.reset_link_minutes),
                    settings.resets_per_ip_hour,
                )
                if found is None:
                    return []
                account, reset_id, secret = found
                link = url("/reset?" + urlencode({"token": reset_links.dumps(reset_id, secret)}))
                return email_link(
                    cur,
                    account.email,
                    account.name,
                    "Reset your manager portal password",
                    [
                        "Someone, hopefully you, asked to reset the password of your "
                        f"{ROLES[role].lower()} account on the inventory manager portal. Open the link below to "
                        f"choose a new one. It works once, within {settings.reset_link_minutes} minutes.",
                        "If it was not you, ignore this email: your password stays as it is.",
                    ],
                    [("Choose a new password", link)],
                )

        try:
            alert_ids = await run_in_threadpool(request_link)
        except RateLimited:
            return message(
                request,
                "Too many requests",
                "Too many password resets were asked for from your network in the last hour. Try again later.",
                status_code=429,
                headers={"Retry-After": "3600"},
            )
        background.add_task(send_now, alert_ids)
        return message(
            request,
            "Check your email",
            "If that address has an account, we sent it a link to choose a new password. Open it within "
            f"{settings.reset_link_minutes} minutes.",
        )

    @app.get("/reset", response_class=HTMLResponse)
    def reset_form(request: Request, token: str = ""):
        found = reset_links.loads(token)
        account = None
        if found is not None:
            with db.transaction() as cur:
                account = accounts.reset_account(cur, *found, clock())
        if account is None:
            return message(request, "Link not valid", LINK_INVALID, status_code=400)
        return render(request, "reset.html", email=account.email, token=token, errors={})

    @app.post("/reset", response_class=HTMLResponse)
    async def reset(request: Request):
        form = await checked_form(request)
        token = str(form.get("token") or "")
        found = reset_links.loads(token)

        def target() -> Account | None:
            with db.transaction() as cur:
                return accounts.reset_account(cur, *found, clock())

        async def apply() -> tuple[str, Any]:
            if found is None:
                return "invalid", None
            account = await run_in_threadpool(target)
            if account is None:
                return "invalid", None
            errors = accounts.new_password_errors(form, account.email)
            if errors:
                return "errors", (account, errors)
            password_hash = await hashing(passwords.hash, str(form.get("password")))

            def complete() -> Account | None:
                with db.transaction() as cur:
                    return accounts.complete_reset(cur, *found, password_hash, clock())

            done = await run_in_threadpool(complete)
            return ("ok", done) if done is not None else ("invalid", None)

        outcome, detail = await apply()
        if outcome == "invalid":
            return message(request, "Link not valid", LINK_INVALID, status_code=400)
        if outcome == "errors":
            account, errors = detail
            return render(request, "reset.html", status_code=400, email=account.email, token=token, errors=errors)
        request.session.clear()
        request.session["flash"] = "Your password is changed, and every session of your account has ended. Log in."
        response = RedirectResponse(f"/login/{detail.role}", status_code=303)
        remember_device(request, response, detail.account_id)  # the inbox is proved: this browser is known
        return response

    # -------------------------------------------------------------------------------------------- dashboards

    def stock_query_refused(request: Request, account: Account, exc: InvalidStockQuery) -> HTMLResponse:
        return message(
            request,
            "This stock list cannot be shown",
            str(exc),
            status_code=400,
            account=account,
            back=("Show the whole stock list", "/dashboard#" + stock.ANCHOR),
        )

    @app.get("/dashboard", response_class=HTMLResponse)
    def dashboard(request: Request):
        account = load_account(request)
        if account is None:
            return RedirectResponse("/", status_code=303)
        try:
            data = read_dashboard(account, stock_query_of(request, account))
        except InvalidStockQuery as exc:
            return stock_query_refused(request, account, exc)
        template = "dashboard_inventory.html" if data["kind"] == "inventory" else "dashboard_sales.html"
        flash = request.session.pop("flash", None)
        return render(
            request,
            template,
            account=account,
            poll_seconds=settings.poll_seconds,
            flash=flash,
            full_page=True,
            **dashboard_context(data),
        )

    @app.get("/dashboard/live")
    def dashboard_live(request: Request, after: str = ""):
        """204 while no newer publish has landed, else the page's live parts (the stock list with the query
        string's search, filters, sort and page)."""
        account = load_account(request)
        if account is None:
            return Response(status_code=401)
        with db.transaction(read_only=True) as cur:
            dashboards.set_local_role(cur, settings.read_role)
            watermark = dashboards.read_watermark(cur)
        current = str(watermark.publish_id) if watermark else ""
        if current == after:
            return Response(status_code=204)
        try:
            data = read_dashboard(account, stock_query_of(request, account))
        except InvalidStockQuery as exc:
            return Response(str(exc), status_code=400, media_type="text/plain")
        template = "_inventory_data.html" if data["kind"] == "inventory" else "_sales_data.html"
        return render(request, template, account=account, full_page=False, **dashboard_context(data))

    @app.get("/dashboard/stock.csv")
    def stock_csv(request: Request):
        """The stock list as filtered and sorted on the page, every row (all pages), as CSV."""
        account = load_account(request)
        if account is None:
            return RedirectResponse("/", status_code=303)
        if account.role != accounts.INVENTORY_MANAGER:
            return message(
                request,
                "Not available",
                "The stock list is on the inventory managers' page.",
                status_code=403,
                account=account,
            )
        try:
            query = StockQuery.parse(request.query_params)
            with db.transaction(read_only=True) as cur:
                scope, watermark, rows = dashboards.read_stock_export(
                    cur, account.location_id, settings.read_role, query
                )
        except InvalidStockQuery as exc:
            return stock_query_refused(request, account, exc)
        except LookupError as exc:
            return message(request, "Not published yet", str(exc), status_code=503, account=account)
        columns = stock.csv_columns(settings.currency, dashboards.Thresholds.of(watermark).aging_days)
        place = re.sub(r"[^A-Za-z0-9]+", "-", scope.location_name).strip("-").lower() or "location"
        filename = f"stock_{place}_{watermark.as_of.astimezone(UTC):%Y%m%d-%H%M}.csv"
        return Response(
            stock.csv_bytes(rows, columns),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "X-Data-As-Of": watermark.as_of.isoformat(),
                "X-Row-Count": str(len(rows)),
            },
        )

    @app.get("/api/watermark")
    def api_watermark(request: Request):
        if load_account(request) is None:
            return JSONResponse({"detail": "not logged in"}, status_code=401)
        with db.transaction(read_only=True) as cur:
            dashboards.set_local_role(cur, settings.read_role)
            watermark = dashboards.read_watermark(cur)
        return {"watermark": watermark.as_dict() if watermark else None}

    @app.get("/api/dashboard")
    def api_dashboard(request: Request):
        account = load_account(request)
        if account is None:
            return JSONResponse({"detail": "not logged in"}, status_code=401)
        try:
            data = read_dashboard(account, stock_query_of(request, account))
        except InvalidStockQuery as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return JSONResponse(dashboards.jsonable(data))

    # -------------------------------------------------------------------------------------------- account

    def account_page_response(request: Request, account: Account, status_code: int = 200, **context: Any):
        context.setdefault("flash", None)
        context.setdefault("error", None)
        context.setdefault("password_errors", {})
        return render(request, "account.html", status_code=status_code, account=account, **context)

    @app.get("/account", response_class=HTMLResponse)
    def account_page(request: Request):
        account = load_account(request)
        if account is None:
            return RedirectResponse("/", status_code=303)
        return account_page_response(request, account, flash=request.session.pop("flash", None))

    @app.post("/account/alerts")
    async def account_alerts(request: Request):
        form = await checked_form(request)
        account = await run_in_threadpool(load_account, request)
        if account is None:
            return RedirectResponse("/", status_code=303)
        enable = form.get("alerts") == "on"

        def switch() -> bool:
            with db.transaction() as cur:
                return accounts.set_alerts(cur, account.account_id, enable)

        if await run_in_threadpool(switch):
            request.session["flash"] = (
                "Low-stock emails are on." if enable else "Low-stock emails are off: you will receive none."
            )
        return RedirectResponse("/account", status_code=303)

    async def check_own_password(request: Request, account: Account, password: str, purpose: str) -> int | None:
        def stored_hash() -> str:
            with db.transaction() as cur:
                return accounts.password_hash_of(cur, account.account_id)

        stored = await run_in_threadpool(stored_hash)
        return await check_password(request, account.role, account.email, account.account_id, stored, password, purpose)

    @app.post("/account/password")
    async def account_password(request: Request):
        form = await checked_form(request)
        account = await run_in_threadpool(load_account, request)
        if account is None:
            return RedirectResponse("/", status_code=303)

        async def change() -> tuple[str, Any]:
            errors = accounts.new_password_errors(form, account.email, "new_password")
            if errors:
                return "errors", errors
            check_id = await check_own_password(request, account, str(form.get("current_password") or ""), "change")
            if check_id is None:
                return "wrong", None
            password_hash = await hashing(passwords.hash, str(form.get("new_password")))

            def save() -> None:
                with db.transaction() as cur:
                    accounts.password_check_succeeded(cur, check_id, clock(), check_rules.known_address)
                    accounts.set_password(cur, account.account_id, password_hash, clock(), "password changed")
                    start_session(request, cur, account.account_id)  # this browser stays logged in; others do not

            await run_in_threadpool(save)
            return "ok", None

        try:
            outcome, errors = await change()
        except Throttled as exc:
            return throttled(request, "account.html", exc, account=account, flash=None, password_errors={})
        if outcome == "errors":
            return account_page_response(request, account, status_code=400, password_errors=errors)
        if outcome == "wrong":
            return account_page_response(
                request, account, status_code=400, password_errors={"current_password": "The password is wrong."}
            )
        request.session["flash"] = "Your password is changed. Every other session of your account has ended."
        return RedirectResponse("/account", status_code=303)

    @app.post("/account/deactivate")
    async def account_deactivate(request: Request):
        form = await checked_form(request)
        account = await run_in_threadpool(load_account, request)
        if account is None:
            return RedirectResponse("/", status_code=303)
        password = str(form.get("password") or "")

        async def close() -> bool:
            check_id = await check_own_password(request, account, password, "deactivate")
            if check_id is None:
                return False

            def deactivate() -> None:
                with db.transaction() as cur:
                    accounts.password_check_succeeded(cur, check_id, clock(), check_rules.known_address)
                    accounts.deactivate(cur, account.account_id, clock())

            await run_in_threadpool(deactivate)
            return True

        try:
            closed = await close()
        except Throttled as exc:
            return throttled(request, "account.html", exc, account=account, flash=None, password_errors={})
        if not closed:
            return account_page_response(request, account, status_code=400, error="The password is wrong.")
        request.session.clear()
        request.session["flash"] = "Your account is closed."
        return RedirectResponse("/", status_code=303)

    return app
