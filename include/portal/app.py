"""The portal's web application: `create_app(settings)` builds it; uvicorn serves it (`python -m include.portal`).

Pages (HTML, Jinja templates in templates/) and JSON endpoints:

- `GET /`: choose a role, register or log in. `GET /healthz`: 200 when the database answers.
- `GET/POST /register/{role}` (`store_manager` or `inventory_manager`), `GET/POST /login/{role}` (throttled),
  `POST /logout`.
- `GET /dashboard`: sales for a store manager, inventory for an inventory manager, for their location.
- `GET /dashboard/live?after=<publish_id>`: 204 while no newer publish has landed, else the page's data section
  (HTML) for the page to swap in.
- `GET /account`, `POST /account/alerts` (low-stock emails on/off), `POST /account/deactivate`.
- `GET /api/dashboard`, `GET /api/watermark`: the same data as JSON (exact decimals as strings).

Sessions are Starlette's signed cookies (itsdangerous; HttpOnly, SameSite=Lax, Secure when `https_only`), holding
the account id and the CSRF token only; the account is read again on every request, so a deactivated account is
logged out at once. Every POST carries the CSRF token.
"""

from __future__ import annotations

import logging
import math
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from include.portal import accounts, dashboards
from include.portal.accounts import ROLE_FIELD, ROLES, Account, EmailTaken, LoginThrottled
from include.portal.config import PortalSettings
from include.portal.db import Database
from include.portal.security import CSRF_FIELD, Passwords, Throttle, csrf_matches, make_hasher, new_csrf_token

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "portal_session"
LOGIN_FAILED = "Email or password is incorrect."
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class CsrfFailed(Exception):
    pass


# ------------------------------------------------------------------------------------------------ formatting


def fmt_money(value: Any) -> str:
    if value is None:
        return "–"
    return f"{Decimal(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


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


def create_app(settings: PortalSettings, database: Database | None = None) -> FastAPI:
    """The portal, wired to `settings` (database URL, secret key, ...). `database` may be passed in (tests)."""
    db = database or Database(settings.database_url, size=settings.db_pool_size)
    passwords = Passwords(make_hasher(settings))
    throttle = Throttle(
        settings.login_max_failures,
        settings.login_max_failures_per_ip,
        timedelta(seconds=settings.login_window_seconds),
    )
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(money=fmt_money, units=fmt_units, decimal=fmt_decimal, pct=fmt_pct, time=fmt_time)
    templates.env.globals.update(ROLES=ROLES, ROLE_FIELD=ROLE_FIELD, CSRF_FIELD=CSRF_FIELD)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        db.close()

    app = FastAPI(title="Inventory manager portal", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings, app.state.db, app.state.passwords = settings, db, passwords
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age,
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

    def load_account(request: Request) -> Account | None:
        account_id = request.session.get("account_id")
        if account_id is None:
            return None
        with db.transaction() as cur:
            account = accounts.get_account(cur, account_id)
        if account is None or not account.active or account.role != request.session.get("role"):
            request.session.clear()
            return None
        return account

    def locations() -> dict[int, str]:
        with db.transaction() as cur:
            return accounts.locations(cur)

    def read_dashboard(account: Account) -> dict[str, Any]:
        with db.transaction(read_only=True) as cur:
            return dashboards.read_dashboard(
                cur, account.role, account.location_id, settings.read_role, settings.kpi_period_days
            )

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
        return render(
            request,
            "message.html",
            status_code=403,
            title="Form expired",
            message="This form has expired or did not come from this site. Go back, reload the page and try again.",
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/api/") or exc.status_code in (204, 304):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        titles = {404: "Page not found", 405: "Not allowed"}
        return render(
            request,
            "message.html",
            status_code=exc.status_code,
            title=titles.get(exc.status_code, "Error"),
            message=str(exc.detail),
        )

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

    @app.get("/register/{role}", response_class=HTMLResponse)
    def register_form(request: Request, role: str):
        known_role(role)
        return render(request, "register.html", role=role, locations=locations(), values={}, errors={})

    @app.post("/register/{role}", response_class=HTMLResponse)
    async def register(request: Request, role: str):
        known_role(role)
        form = await checked_form(request)
        known_locations = await run_in_threadpool(locations)
        registration, errors = accounts.validate_registration(role, form, known_locations)
        if registration is not None:

            def create() -> None:
                with db.transaction() as cur:
                    accounts.register(cur, registration, passwords)

            try:
                await run_in_threadpool(create)
            except EmailTaken:
                errors = {"email": f"A {ROLES[role].lower()} account with this email already exists. Log in instead."}
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
        request.session["flash"] = "Your account is ready. Log in with your email and password."
        return RedirectResponse(f"/login/{role}", status_code=303)

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

        def attempt() -> Account | None:
            with db.transaction() as cur:
                return accounts.authenticate(
                    cur, role, email, password, client_ip(request), passwords, throttle, datetime.now(UTC)
                )

        try:
            account = await run_in_threadpool(attempt)
        except LoginThrottled as exc:
            minutes = max(1, math.ceil(exc.retry_after.total_seconds() / 60))
            return render(
                request,
                "login.html",
                status_code=429,
                role=role,
                email=email,
                error=f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
                headers={"Retry-After": str(math.ceil(exc.retry_after.total_seconds()))},
            )
        if account is None:
            return render(request, "login.html", status_code=401, role=role, email=email, error=LOGIN_FAILED)
        request.session.clear()  # a new session (and CSRF token) for the logged-in user
        request.session.update(account_id=account.account_id, role=account.role, csrf=new_csrf_token())
        return RedirectResponse("/dashboard", status_code=303)

    @app.post("/logout")
    async def logout(request: Request):
        await checked_form(request)
        request.session.clear()
        request.session["flash"] = "You have logged out."
        return RedirectResponse("/", status_code=303)

    @app.get("/dashboard", response_class=HTMLResponse)
    def dashboard(request: Request):
        account = load_account(request)
        if account is None:
            return RedirectResponse("/", status_code=303)
        data = read_dashboard(account)
        template = "dashboard_inventory.html" if data["kind"] == "inventory" else "dashboard_sales.html"
        return render(request, template, account=account, poll_seconds=settings.poll_seconds, **dashboard_context(data))

    @app.get("/dashboard/live")
    def dashboard_live(request: Request, after: str = ""):
        account = load_account(request)
        if account is None:
            return Response(status_code=401)
        with db.transaction(read_only=True) as cur:
            dashboards.set_local_role(cur, settings.read_role)
            watermark = dashboards.read_watermark(cur)
        current = str(watermark.publish_id) if watermark else ""
        if current == after:
            return Response(status_code=204)
        data = read_dashboard(account)
        template = "_inventory_data.html" if data["kind"] == "inventory" else "_sales_data.html"
        return render(request, template, account=account, **dashboard_context(data))

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
        return JSONResponse(dashboards.jsonable(read_dashboard(account)))

    @app.get("/account", response_class=HTMLResponse)
    def account_page(request: Request):
        account = load_account(request)
        if account is None:
            return RedirectResponse("/", status_code=303)
        flash = request.session.pop("flash", None)
        return render(request, "account.html", account=account, flash=flash, error=None)

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

    @app.post("/account/deactivate")
    async def account_deactivate(request: Request):
        form = await checked_form(request)
        account = await run_in_threadpool(load_account, request)
        if account is None:
            return RedirectResponse("/", status_code=303)
        password = str(form.get("password") or "")

        def close() -> bool:
            with db.transaction() as cur:
                cur.execute("SELECT password_hash FROM portal.accounts WHERE account_id = %s", (account.account_id,))
                (stored,) = cur.fetchone()
                if not passwords.verify(stored, password):
                    return False
                accounts.deactivate(cur, account.account_id)
                return True

        if not await run_in_threadpool(close):
            return render(
                request, "account.html", status_code=400, account=account, flash=None, error="The password is wrong."
            )
        request.session.clear()
        request.session["flash"] = "Your account is closed."
        return RedirectResponse("/", status_code=303)

    return app
