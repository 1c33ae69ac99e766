"""A project-local PostgreSQL cluster for `make demo`, `make airflow` and `make test`.

Used only when no warehouse database is configured. The server binaries come from the machine
(`pg_config --bindir`, `initdb` on the PATH, or Debian's /usr/lib/postgresql/*/bin) and, on a machine with
only Python, from the `pgserver` wheel, which ships PostgreSQL's binaries; we drive those binaries ourselves so
the server listens on 127.0.0.1 (JDBC needs TCP). initdb refuses to run as root, so as root the cluster runs
as an unprivileged user (`postgres` when it exists, else `nobody`).

    python -m tools.localpg start   # init on first use, start, create the databases
    python -m tools.localpg stop
    python -m tools.localpg status
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg2 import sql

from include.inventory.warehouse import Warehouse

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = PROJECT_ROOT / ".local" / "pg"
DEFAULT_PORT = 55432
# database -> its owner, the role that logs in to it (none is a superuser; postgres is for this tool and the tests).
DATABASES = {"inventory": "inventory", "airflow": "airflow"}
# role -> attributes. inventory: the pipeline (warehouse_db); it may create databases (bench, tests on a configured
# server). airflow: the metadata database. portal_app: the manager portal (sql/ddl/070_portal_app.sql grants what it
# may do). bi_reader: the read-only BI role, never logged in to here. Trust authentication locally: no passwords.
ROLES = {
    "inventory": "LOGIN CREATEDB",
    "airflow": "LOGIN",
    "portal_app": "LOGIN",
    "bi_reader": "NOLOGIN",
}


class LocalPgError(RuntimeError):
    """The local cluster could not be set up; the message says what to do."""


def find_bin_dir() -> Path:
    """Directory holding initdb, pg_ctl and postgres: PG_BIN_DIR, the machine's, or the pgserver wheel's."""
    candidates: list[str] = []
    if os.environ.get("PG_BIN_DIR"):
        candidates.append(os.environ["PG_BIN_DIR"])
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).resolve().parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    try:
        import pgserver  # noqa: PLC0415 - optional, only on machines without PostgreSQL

        candidates.append(str(Path(pgserver.__file__).parent / "pginstall" / "bin"))
    except ImportError:
        pass
    for candidate in candidates:
        if candidate and all((Path(candidate) / exe).exists() for exe in ("initdb", "pg_ctl", "postgres")):
            return Path(candidate)
    raise LocalPgError(
        "no PostgreSQL server binaries found (initdb, pg_ctl, postgres). Install Debian's postgresql package, "
        "`pip install pgserver`, set PG_BIN_DIR, or point AIRFLOW_CONN_WAREHOUSE_DB at an existing server."
    )


def _version_key(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


def _run_as() -> str | None:
    """The unprivileged user to run the server as when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise LocalPgError("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


@dataclass(frozen=True)
class Cluster:
    data_dir: Path
    port: int
    bin_dir: Path
    user: str | None

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgresql.log"

    def url(self, database: str = "inventory") -> str:
        """The superuser's URL: for this tool and the test suite's set-up only (LOCAL_PG_ADMIN_URL)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _cmd(self, exe: str, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / exe), *args]
        return ["runuser", "-u", self.user, "--", *cmd] if self.user else cmd

    def _run(self, exe: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(self._cmd(exe, *args), capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise LocalPgError(
                f"{exe} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
                f"\nSee {self.log_file} for the server log."
            )
        return proc

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def init(self) -> bool:
        """Create the cluster on first use; returns True when it was created now."""
        if (self.data_dir / "PG_VERSION").exists():
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.data_dir, self.user)
            shutil.chown(self.data_dir.parent, self.user)
        self.data_dir.chmod(0o700)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-instructions",
        )
        return True

    def check_port(self) -> None:
        """Fail naming LOCAL_PG_PORT when the port is not this cluster's to take: scripts/env.sh points the
        warehouse connection at 127.0.0.1:LOCAL_PG_PORT, which must not reach another server."""
        pid_file = self.data_dir / "postmaster.pid"
        if self.is_running():
            running = int(pid_file.read_text().splitlines()[3]) if pid_file.exists() else self.port
            if running != self.port:
                raise LocalPgError(
                    f"the cluster in {self.data_dir} runs on port {running}, LOCAL_PG_PORT is {self.port}: "
                    f"`make db-stop` first, or set LOCAL_PG_PORT={running}"
                )
            return
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", self.port))
            except OSError:
                raise LocalPgError(
                    f"port {self.port} (LOCAL_PG_PORT) is taken by another program: set LOCAL_PG_PORT to a free "
                    f"port, e.g. `LOCAL_PG_PORT={self.port + 1} make demo`"
                ) from None

    def start(self) -> None:
        if self.is_running():
            return
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data_dir} "
            "-c max_connections=200 -c shared_buffers=256MB"
            # A full analytics publish rewrites millions of rows in one transaction: with the default 1 GB,
            # PostgreSQL logs "checkpoints are occurring too frequently" and spends the publish checkpointing.
            " -c max_wal_size=4GB"
        )
        self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options
        )

    def stop(self) -> None:
        if self.is_running():
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))

    def create_databases(self, databases=DATABASES) -> list[str]:
        """The roles (ROLES) and each database owned by its role; a database or its objects still owned by the
        superuser (a cluster from before these roles) are handed to that role. Returns the databases created."""
        created = []
        with Warehouse.from_uri(self.url("postgres")).connect() as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                for role, attributes in ROLES.items():
                    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                    if cur.fetchone() is None:
                        cur.execute(sql.SQL("CREATE ROLE {} " + attributes).format(sql.Identifier(role)))
                # The portal reads its dashboards as bi_reader (SET LOCAL ROLE).
                cur.execute("GRANT bi_reader TO portal_app")
                for name, owner in databases.items():
                    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                    if cur.fetchone() is None:
                        cur.execute(
                            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
                        )
                        created.append(name)
                    else:
                        cur.execute(
                            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(owner))
                        )
        for name, owner in databases.items():
            self._hand_over(name, owner)
        return created

    def _hand_over(self, database: str, owner: str) -> None:
        """Schemas, tables, views and sequences of `database` still owned by the superuser become `owner`'s
        (REASSIGN OWNED cannot take the superuser's objects: it owns the system catalogs too)."""
        with Warehouse.from_uri(self.url(database)).connect() as conn:
            with conn.cursor() as cur:
                cur.execute(
                    r"""
                    DO $$
                    DECLARE r record;
                    BEGIN
                        FOR r IN SELECT n.nspname FROM pg_namespace n JOIN pg_roles o ON o.oid = n.nspowner
                                 WHERE o.rolname = 'postgres' AND n.nspname NOT LIKE 'pg\_%%'
                                   AND n.nspname NOT IN ('information_schema', 'public')
                        LOOP
                            EXECUTE format('ALTER SCHEMA %%I OWNER TO %%I', r.nspname, %(owner)s);
                        END LOOP;
                        FOR r IN SELECT c.relkind, n.nspname, c.relname FROM pg_class c
                                 JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles o ON o.oid = c.relowner
                                 WHERE o.rolname = 'postgres' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                                   AND n.nspname NOT LIKE 'pg\_%%' AND n.nspname <> 'information_schema'
                                   AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d
                                        WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
                        LOOP
                            EXECUTE format('ALTER %%s %%I.%%I OWNER TO %%I',
                                CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                               WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                                r.nspname, r.relname, %(owner)s);
                        END LOOP;
                    END
                    $$
                    """,
                    {"owner": owner},
                )
            conn.commit()


def _usable_data_dir(preferred: Path, user: str | None) -> Path:
    """The preferred folder, unless the server's user cannot reach it (a checkout under a private home)."""
    if user is None:
        return preferred
    probe = preferred.parent
    while not probe.exists():
        probe = probe.parent
    reachable = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(probe)], check=False).returncode == 0
    if reachable:
        return preferred
    digest = hashlib.sha1(str(preferred).encode()).hexdigest()[:10]
    fallback = Path(tempfile.gettempdir()) / f"inventory-pg-{digest}" / "pg"
    print(f"localpg: {user} cannot reach {preferred}; keeping the cluster in {fallback} instead", file=sys.stderr)
    return fallback


def cluster_from_env() -> Cluster:
    user = _run_as()
    data_dir = Path(os.environ.get("LOCAL_PG_DATA", DEFAULT_DATA_DIR))
    return Cluster(
        data_dir=_usable_data_dir(data_dir, user),
        port=int(os.environ.get("LOCAL_PG_PORT", DEFAULT_PORT)),
        bin_dir=find_bin_dir(),
        user=user,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    try:
        cluster = cluster_from_env()
        if args.action == "start":
            began = time.monotonic()
            cluster.check_port()
            created = cluster.init()
            already = cluster.is_running()
            cluster.start()
            new_dbs = cluster.create_databases()
            what = "initialised and started" if created else ("already running" if already else "started")
            print(
                f"localpg: PostgreSQL ({cluster.bin_dir}) {what} on 127.0.0.1:{cluster.port}, "
                f"data in {cluster.data_dir}"
                + (f", created databases {', '.join(new_dbs)}" if new_dbs else "")
                + f" [{time.monotonic() - began:.1f}s]"
            )
        elif args.action == "stop":
            cluster.stop()
            print(f"localpg: stopped the cluster in {cluster.data_dir}")
        else:
            state = "running" if cluster.is_running() else "stopped"
            print(f"localpg: {state} (port {cluster.port}, data {cluster.data_dir})")
            return 0 if state == "running" else 3
    except LocalPgError as exc:
        print(f"localpg: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
