"""The portal's settings: one dataclass, filled from the environment by `settings_from_env`, or built by tests.

- `PORTAL_DATABASE_URL`: default the warehouse connection (`AIRFLOW_CONN_WAREHOUSE_DB`, as the pipeline uses).
- `PORTAL_SECRET_KEY`: signs the session cookies. Unset, one is generated once into `.local/portal/secret_key`
  (mode 0600), so a local run needs no setup; a deployment sets it (docker-compose.yml requires it).
- `PORTAL_HOST`, `PORTAL_PORT`: `127.0.0.1`, `8090`.
- `PORTAL_HTTPS_ONLY`: `false`, cookies also over plain HTTP (local); set `true` behind TLS.
- `PORTAL_READ_ROLE`: `bi_reader`, the role dashboard reads run as (`SET LOCAL ROLE`); the portal's database user
  must be a member of it (a superuser is).
- `PORTAL_POLL_SECONDS`: `5`, how often an open dashboard asks whether a new publish landed.
- `AIRFLOW_VAR_PORTAL_BASE_URL`: `http://localhost:8090`, the portal's address as people reach it: the links in
  its emails (and in the low-stock digests, which read the same Variable) start with it.
- `AIRFLOW_CONN_SMTP_DEFAULT`: the SMTP server the pipeline uses (JSON or URI), for the portal's own emails
  (verification and reset links); they go through the same outbox (`alerts.alert_log`).
- `PORTAL_SESSION_IDLE_MINUTES`, `PORTAL_SESSION_HOURS`: `30`, `8`: a session ends after this long unused, and
  this long after login whatever happens.
- `AIRFLOW_VAR_KPI_PERIOD_DAYS`: `30`, the sales period: the same Variable the analytics build uses.
- `PORTAL_CURRENCY`: `USD`, the currency of the amounts (the catalogue's prices), shown with every amount.

docs/portal.md describes them too.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from include.inventory.config import SETTINGS, SMTP_CONN_ID
from include.inventory.warehouse import Warehouse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCAL_SECRET_FILE = PROJECT_ROOT / ".local" / "portal" / "secret_key"
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class SmtpSettings:
    """Where the portal's emails go: the pipeline's `smtp_default` connection, read without Airflow."""

    host: str = "127.0.0.1"
    port: int = 8025
    starttls: bool = False
    ssl: bool = False
    login: str = ""
    password: str = ""
    sender: str = "inventory-alerts@example.com"
    timeout: float = 30.0

    def __repr__(self) -> str:  # never print the password
        return f"SmtpSettings(host={self.host!r}, port={self.port}, starttls={self.starttls}, ssl={self.ssl})"


@dataclass(frozen=True)
class PortalSettings:
    database_url: str
    secret_key: str
    host: str = "127.0.0.1"
    port: int = 8090
    https_only: bool = False
    read_role: str = "bi_reader"
    poll_seconds: float = 5.0
    kpi_period_days: int = 30
    base_url: str = "http://localhost:8090"  # the links in emails start with it
    currency: str = "USD"  # of every amount in the analytics tables (the catalogue's prices: dummyjson's, in USD)
    smtp: SmtpSettings = SmtpSettings()
    # Sessions (portal.sessions): idle and absolute expiry; last_seen is written at most once per touch interval.
    session_idle_seconds: int = 30 * 60
    session_absolute_seconds: int = 8 * 3600
    session_touch_seconds: int = 60
    # Password-check throttling (security.Throttle, docs/portal.md): failures within the window per (account,
    # address) or per known device, per account over unknown addresses, per address over accounts it is unknown to.
    login_max_failures: int = 5
    login_max_failures_per_account: int = 10
    login_max_failures_per_ip: int = 50
    login_window_seconds: int = 15 * 60
    known_address_days: int = 30  # a success from an address makes it known to that account this long
    device_cookie_days: int = 30
    # Links in emails, and the limits on asking for them (per client address per hour; emails per address per hour).
    verify_link_hours: int = 24
    reset_link_minutes: int = 60
    registrations_per_ip_hour: int = 5
    resets_per_ip_hour: int = 5
    emails_per_address_hour: int = 3
    # argon2id parameters: argon2-cffi's defaults (RFC 9106's low-memory profile). Tests lower them for speed.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    argon2_parallelism: int = 4
    db_pool_size: int = 4
    # Password hashing and verification run on their own threads, this many at a time (the cores of a small host):
    # a flood of guesses queues there, holding no connection and no request thread.
    hash_workers: int = 2

    def __post_init__(self) -> None:
        if len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(f"the portal's secret key must have at least {MIN_SECRET_LENGTH} characters")
        if self.poll_seconds <= 0 or self.kpi_period_days < 1 or self.login_max_failures < 1:
            raise ValueError("poll_seconds, kpi_period_days and login_max_failures must be positive")
        if not 0 < self.session_idle_seconds <= self.session_absolute_seconds:
            raise ValueError("sessions need 0 < idle expiry <= absolute expiry")
        if not (len(self.currency) == 3 and self.currency.isascii() and self.currency.isupper()):
            raise ValueError(f"the currency must be an ISO 4217 code such as USD, not {self.currency!r}")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"the portal's base URL must start with http:// or https://, not {self.base_url!r}")

    def __repr__(self) -> str:  # never print the key or a password inside the URL
        return f"PortalSettings(host={self.host!r}, port={self.port}, https_only={self.https_only})"


def local_secret_key(path: Path = LOCAL_SECRET_FILE) -> str:
    """The key in `path`, created once (random, 0600) if missing. For a local checkout only (.local is ignored)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _bool(value: str) -> bool:
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def smtp_from_env(env: Mapping[str, str]) -> SmtpSettings:
    """`AIRFLOW_CONN_SMTP_DEFAULT` as Airflow accepts it (JSON, or an smtp:// URI with `from_email` etc. as query
    parameters), or the local mail sink when it is unset."""
    raw = (env.get(f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}") or "").strip()
    if not raw:
        return SmtpSettings()
    if raw.startswith("{"):
        conn = json.loads(raw)
        extra = conn.get("extra") or {}
        extra = json.loads(extra) if isinstance(extra, str) else extra
        host, port, login, password = conn.get("host"), conn.get("port"), conn.get("login"), conn.get("password")
    else:
        url = urlsplit(raw)
        extra = {k: v[-1] for k, v in parse_qs(url.query).items()}
        host, port = url.hostname, url.port
        login, password = unquote(url.username or ""), unquote(url.password or "")
    disable_tls = _bool(str(extra.get("disable_tls", "false")))
    disable_ssl = _bool(str(extra.get("disable_ssl", "false")))
    return SmtpSettings(
        host=host or "127.0.0.1",
        port=int(port or 25),
        starttls=not disable_tls and disable_ssl,
        ssl=not disable_ssl,
        login=login or "",
        password=password or "",
        sender=extra.get("from_email") or SmtpSettings.sender,
        timeout=float(extra.get("timeout", 30)),
    )


def settings_from_env(
    environ: Mapping[str, str] | None = None, secret_file: Path = LOCAL_SECRET_FILE
) -> PortalSettings:
    env = os.environ if environ is None else environ
    period = env.get("AIRFLOW_VAR_KPI_PERIOD_DAYS", SETTINGS["kpi_period_days"].default)
    return PortalSettings(
        database_url=env.get("PORTAL_DATABASE_URL") or Warehouse.from_env(env).uri,
        secret_key=env.get("PORTAL_SECRET_KEY") or local_secret_key(secret_file),
        host=env.get("PORTAL_HOST", "127.0.0.1"),
        port=int(env.get("PORTAL_PORT", "8090")),
        https_only=_bool(env.get("PORTAL_HTTPS_ONLY", "false")),
        read_role=env.get("PORTAL_READ_ROLE", "bi_reader"),
        poll_seconds=float(env.get("PORTAL_POLL_SECONDS", "5")),
        kpi_period_days=int(period),
        base_url=env.get("AIRFLOW_VAR_PORTAL_BASE_URL", SETTINGS["portal_base_url"].default).rstrip("/"),
        currency=(env.get("PORTAL_CURRENCY") or "USD").strip().upper(),
        smtp=smtp_from_env(env),
        session_idle_seconds=int(float(env.get("PORTAL_SESSION_IDLE_MINUTES", "30")) * 60),
        session_absolute_seconds=int(float(env.get("PORTAL_SESSION_HOURS", "8")) * 3600),
    )
