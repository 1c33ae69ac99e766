"""The warehouse database as one resource: where it is, and how each consumer connects to it.

The `warehouse_db` connection is read in one of two ways, and turned into what each consumer needs here only:

- `Warehouse.from_airflow()` inside a task or callback: the Airflow Connection (Admin > Connections, or the
  AIRFLOW_CONN_WAREHOUSE_DB variable Airflow itself reads).
- `Warehouse.from_env()` outside Airflow (scripts, the portal, bench, tests): the same AIRFLOW_CONN_WAREHOUSE_DB,
  as a URI (`postgresql://user:password@host:port/database?sslmode=require`) or Airflow's JSON form;
  `Warehouse.from_uri(uri)` for any other URI.

What a `Warehouse` gives:

    warehouse = Warehouse.from_airflow()
    with warehouse.connect() as conn:       # psycopg2; closed on leaving the block, whatever happens
        ...
    warehouse.connect_kwargs()              # psycopg2.connect(**kwargs), e.g. for a connection pool
    warehouse.uri                           # libpq URI, password included: hand it over in process only
    warehouse.jdbc_url                      # jdbc:postgresql://host:port/database (no credentials in it)
    warehouse.jdbc_properties()             # spark.inventory.warehouse.url/user/password (for a properties file)
    warehouse.jdbc_env()                    # WAREHOUSE_JDBC_URL, WAREHOUSE_DB_USER, WAREHOUSE_DB_PASSWORD

The password never appears in `repr`, in `jdbc_url` or on a command line: the Airflow task hands it to Spark in a
private properties file (`jdbc_properties`, written by include/inventory/spark.py), a spark-submit run by hand
through the environment (`jdbc_env`). A connection without a host or a database fails at once with
`WarehouseConfigError` naming the field, instead of quietly reaching another server or database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import psycopg2
from psycopg2.extensions import connection as PgConnection

from include.inventory.config import WAREHOUSE_CONN_ID

# Without AIRFLOW_CONN_WAREHOUSE_DB: the project-local cluster (tools/localpg.py) on LOCAL_PG_PORT, as scripts/env.sh.
LOCAL_DEFAULT_URI = "postgresql://inventory@127.0.0.1:{port}/inventory"
LOCAL_DEFAULT_PORT = "55432"
DEFAULT_PORT = 5432
CONNECT_TIMEOUT_SECONDS = 10
URI_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg2")
CONN_TYPES = ("postgres", "postgresql")
# Connection options (URI query parameters, or the Connection's extras) passed on to libpq; others are ignored,
# as PostgresHook ignores the extras that are not libpq's. The JDBC driver takes the same names for TLS.
LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "options", "target_session_attrs")
JDBC_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "options")
# The Spark properties spark_jobs/jobio.py reads the JDBC settings from (it keeps the same names: jobs never import
# include/; tests/unit/test_warehouse.py checks the two agree).
JDBC_URL_PROPERTY = "spark.inventory.warehouse.url"
JDBC_USER_PROPERTY = "spark.inventory.warehouse.user"
JDBC_PASSWORD_PROPERTY = "spark.inventory.warehouse.password"


class WarehouseConfigError(ValueError):
    """The warehouse connection is missing a field or has a wrong one; the message says which and where to set it."""


def _env_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


@dataclass(frozen=True)
class Warehouse:
    """A PostgreSQL database the project reads and writes; build it with from_airflow, from_env or from_uri."""

    host: str
    port: int
    dbname: str
    user: str = ""
    password: str = field(default="", repr=False)
    options: Mapping[str, str] = field(default_factory=dict)
    application_name: str = "inventory"
    conn_id: str = WAREHOUSE_CONN_ID

    def __post_init__(self) -> None:
        where = f"set {{}} in Admin > Connections or {_env_var(self.conn_id)}"
        if not self.host:
            raise WarehouseConfigError(f"connection {self.conn_id} has no host: {where.format('Host')}")
        if not self.dbname:
            raise WarehouseConfigError(
                f"connection {self.conn_id} has no database (the schema field): {where.format('Schema')}"
            )
        if not 0 < self.port < 65536:
            raise WarehouseConfigError(f"connection {self.conn_id} has port {self.port}: {where.format('Port')}")
        object.__setattr__(self, "options", MappingProxyType({k: str(v) for k, v in self.options.items()}))

    def __str__(self) -> str:  # for messages: the URI without the password
        return f"postgresql://{quote(self.user, safe='') + '@' if self.user else ''}{self._netloc}/{self.dbname}"

    # ------------------------------------------------------------------------------------------ building one

    @classmethod
    def from_airflow(cls, conn_id: str = WAREHOUSE_CONN_ID) -> Warehouse:
        """The Airflow Connection `conn_id` (call inside a task or a callback: it asks Airflow's secrets backends).

        Built from the Connection's fields, not PostgresHook.get_conn(), which may return a psycopg 3 connection;
        our loaders use psycopg2's COPY and execute_values.
        """
        from airflow.sdk import BaseHook

        c = BaseHook.get_connection(conn_id)
        if c.conn_type and c.conn_type not in CONN_TYPES:
            raise WarehouseConfigError(
                f"connection {conn_id} has type {c.conn_type!r}: set Connection Type to Postgres in "
                f"Admin > Connections or {_env_var(conn_id)}"
            )
        return cls._from_fields(
            conn_id, c.host, c.port, c.schema, c.login, c.password, c.extra_dejson, "inventory-airflow"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, conn_id: str = WAREHOUSE_CONN_ID) -> Warehouse:
        """AIRFLOW_CONN_WAREHOUSE_DB (a URI or Airflow's JSON form) outside Airflow; unset: the local cluster."""
        env = os.environ if environ is None else environ
        local = LOCAL_DEFAULT_URI.format(port=env.get("LOCAL_PG_PORT") or LOCAL_DEFAULT_PORT)
        return cls.from_uri(env.get(_env_var(conn_id)) or local, conn_id)

    @classmethod
    def from_uri(cls, uri: str, conn_id: str = WAREHOUSE_CONN_ID) -> Warehouse:
        """A `postgresql://` (or `postgres://`, `postgresql+psycopg2://`) URI, or an Airflow JSON connection."""
        if uri.lstrip().startswith("{"):
            try:
                c = json.loads(uri)
            except json.JSONDecodeError as exc:
                raise WarehouseConfigError(f"connection {conn_id} is not valid JSON: {exc}") from None
            extra = c.get("extra") or {}
            extra = json.loads(extra) if isinstance(extra, str) else extra
            return cls._from_fields(
                conn_id, c.get("host"), c.get("port"), c.get("schema"), c.get("login"), c.get("password"), extra
            )
        parts = urlsplit(uri)
        if parts.scheme not in URI_SCHEMES:
            raise WarehouseConfigError(
                f"connection {conn_id} is not a PostgreSQL URI (scheme {parts.scheme!r}; expected postgresql://): "
                f"fix {_env_var(conn_id)}"
            )
        try:
            port = parts.port
        except ValueError:
            raise WarehouseConfigError(f"connection {conn_id} has an invalid port: fix {_env_var(conn_id)}") from None
        query = dict(parse_qsl(parts.query))
        extra = json.loads(query.pop("__extra__")) if "__extra__" in query else query  # Airflow's URI form
        return cls._from_fields(
            conn_id,
            unquote(parts.hostname or ""),
            port,
            unquote(parts.path.lstrip("/")),
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            extra,
        )

    @classmethod
    def _from_fields(cls, conn_id, host, port, dbname, user, password, extra, application_name="inventory"):
        return cls(
            host=host or "",
            port=int(port) if port else DEFAULT_PORT,
            dbname=dbname or "",
            user=user or "",
            password=password or "",
            options={k: v for k, v in (extra or {}).items() if k in LIBPQ_OPTIONS},
            application_name=application_name,
            conn_id=conn_id,
        )

    def with_database(self, dbname: str) -> Warehouse:
        """The same server and credentials, another database (bench datasets, tests' admin connections)."""
        return replace(self, dbname=dbname)

    # ------------------------------------------------------------------------------------------ what consumers need

    def connect_kwargs(self, application_name: str | None = None) -> dict[str, object]:
        """Keyword arguments for psycopg2.connect (or a psycopg2 pool)."""
        kwargs: dict[str, object] = {"host": self.host, "port": self.port, "dbname": self.dbname}
        if self.user:
            kwargs["user"] = self.user
        if self.password:
            kwargs["password"] = self.password
        return {
            **kwargs,
            **self.options,
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": application_name or self.application_name,
        }

    @contextmanager
    def connect(self, application_name: str | None = None) -> Iterator[PgConnection]:
        """A psycopg2 connection, closed when the block ends (an open transaction is rolled back by the close)."""
        conn = psycopg2.connect(**self.connect_kwargs(application_name))
        try:
            yield conn
        finally:
            conn.close()

    @property
    def uri(self) -> str:
        """The libpq URI, password included (percent-encoded): for in-process use, never for a log or argv."""
        auth = quote(self.user, safe="") + (":" + quote(self.password, safe="") if self.password else "")
        query = f"?{urlencode(dict(self.options))}" if self.options else ""
        return f"postgresql://{auth + '@' if auth else ''}{self._netloc}/{quote(self.dbname, safe='')}{query}"

    @property
    def sqlalchemy_url(self) -> str:
        """The same as `uri`, for SQLAlchemy with psycopg2 (Airflow's metadata database setting takes this form)."""
        return "postgresql+psycopg2://" + self.uri.split("://", 1)[1]

    @property
    def jdbc_url(self) -> str:
        """jdbc:postgresql://host:port/database, with the TLS options; no user or password in it."""
        jdbc = {k: v for k, v in self.options.items() if k in JDBC_OPTIONS}
        query = f"?{urlencode(jdbc)}" if jdbc else ""
        return f"jdbc:postgresql://{self._netloc}/{quote(self.dbname, safe='')}{query}"

    def jdbc_properties(self) -> dict[str, str]:
        """The Spark properties spark_jobs/jobio.py reads first: the JDBC URL, the user and the password.

        For a properties file only (never `--conf`: that is argv). Spark trims a property's value when it loads the
        file, so a user or password that begins or ends with whitespace is refused here rather than changed there.
        """
        values = {
            JDBC_URL_PROPERTY: self.jdbc_url,
            JDBC_USER_PROPERTY: self.user,
            JDBC_PASSWORD_PROPERTY: self.password,
        }
        for field_name, value in (("Login", self.user), ("Password", self.password)):
            if value != value.strip():
                raise WarehouseConfigError(
                    f"connection {self.conn_id}'s {field_name} begins or ends with whitespace, which Spark strips "
                    f"from the properties it loads: fix {field_name} in Admin > Connections or {_env_var(self.conn_id)}"
                )
        return values

    def jdbc_env(self) -> dict[str, str]:
        """The environment spark_jobs/jobio.py falls back to (a spark-submit run by hand, bench): never argv."""
        return {
            "WAREHOUSE_JDBC_URL": self.jdbc_url,
            "WAREHOUSE_DB_USER": self.user,
            "WAREHOUSE_DB_PASSWORD": self.password,
        }

    @property
    def _netloc(self) -> str:
        if self.host.startswith("/"):  # a Unix-socket directory
            return f"{quote(self.host, safe='')}:{self.port}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"  # [IPv6]:port
