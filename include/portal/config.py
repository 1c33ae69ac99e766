"""The portal's settings: one dataclass, filled from the environment by `settings_from_env`, or built by tests.

- `PORTAL_DATABASE_URL`: default the warehouse connection (`AIRFLOW_CONN_WAREHOUSE_DB`, as the pipeline uses).
- `PORTAL_SECRET_KEY`: signs the session cookies. Unset, one is generated once into `.local/portal/secret_key`
  (mode 0600), so a local run needs no setup; a deployment sets it (docker-compose.yml requires it).
- `PORTAL_HOST`, `PORTAL_PORT`: `127.0.0.1`, `8090`.
- `PORTAL_HTTPS_ONLY`: `false`, cookies also over plain HTTP (local); set `true` behind TLS.
- `PORTAL_READ_ROLE`: `bi_reader`, the role dashboard reads run as (`SET LOCAL ROLE`); the portal's database user
  must be a member of it (a superuser is).
- `PORTAL_POLL_SECONDS`: `5`, how often an open dashboard asks whether a new publish landed.
- `AIRFLOW_VAR_KPI_PERIOD_DAYS`: `30`, the sales period: the same Variable the analytics build uses.

docs/portal.md describes them too.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from include.inventory.config import SETTINGS
from include.inventory.warehouse import Warehouse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCAL_SECRET_FILE = PROJECT_ROOT / ".local" / "portal" / "secret_key"
MIN_SECRET_LENGTH = 32


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
    session_max_age: int = 8 * 3600  # seconds; the signed cookie carries its own timestamp
    # Login throttling: failures in the window per (email, client address) since its last success, and per address.
    login_max_failures: int = 5
    login_max_failures_per_ip: int = 50
    login_window_seconds: int = 15 * 60
    # argon2id parameters: argon2-cffi's defaults (RFC 9106's low-memory profile). Tests lower them for speed.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    argon2_parallelism: int = 4
    db_pool_size: int = 4

    def __post_init__(self) -> None:
        if len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(f"the portal's secret key must have at least {MIN_SECRET_LENGTH} characters")
        if self.poll_seconds <= 0 or self.kpi_period_days < 1 or self.login_max_failures < 1:
            raise ValueError("poll_seconds, kpi_period_days and login_max_failures must be positive")

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
    )
