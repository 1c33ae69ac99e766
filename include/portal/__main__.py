"""Run the portal, or (de)activate an account from the command line.

    python -m include.portal [serve] [--host 127.0.0.1] [--port 8090]
    python -m include.portal deactivate EMAIL [--role inventory_manager|store_manager]
    python -m include.portal activate EMAIL [--role ...]

Deactivating an account stops its logins, ends its sessions and, for an inventory manager, their low-stock emails
(their alert recipient row becomes inactive). Settings come from the environment (include/portal/config.py).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from include.portal.accounts import ROLES


def ensure_schema(database_url: str) -> bool:
    """Apply the warehouse DDL (sql/ddl, idempotent: IF NOT EXISTS throughout) when the portal's tables are missing,
    e.g. on a database created before the portal existed. Returns whether it did.

    `database_url` must be the warehouse owner's (the pipeline's AIRFLOW_CONN_WAREHOUSE_DB): the portal's own role
    may not create anything. Without it, a missing table is an error that says what to run."""
    from include.inventory import schema
    from include.inventory.warehouse import Warehouse

    with Warehouse.from_uri(database_url).connect("inventory-portal") as conn:
        with conn.cursor() as cur:
            # The newest of the portal's tables: missing on a database from before it (or before the portal).
            cur.execute("SELECT to_regclass('portal.sessions') IS NULL")
            (missing,) = cur.fetchone()
        conn.rollback()
        if missing:
            schema.create(conn)
            print("the portal's tables were missing: applied sql/ddl (creates what is missing, changes nothing else)")
        return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.portal", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve the portal with uvicorn (the default)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    for name, verb in (("deactivate", "stop logins and low-stock emails of"), ("activate", "re-enable")):
        p = sub.add_parser(name, help=f"{verb} the account(s) with this email")
        p.add_argument("email")
        p.add_argument("--role", choices=sorted(ROLES), help="only this role's account (default: both)")
    args = parser.parse_args(argv)

    from include.portal.config import settings_from_env

    settings = settings_from_env()
    if args.command in ("deactivate", "activate"):
        from include.portal.accounts import set_active_by_email
        from include.portal.db import Database

        db = Database(settings.database_url, size=1)
        try:
            with db.transaction() as cur:
                changed = set_active_by_email(cur, args.email, args.command == "activate", args.role)
        finally:
            db.close()
        if not changed:
            print(f"no account with email {args.email}", file=sys.stderr)
            return 1
        for account_id, role in changed:
            print(f"{args.command}d account {account_id} ({ROLES[role].lower()}) {args.email}")
        return 0

    import uvicorn

    from include.portal.app import create_app

    host = getattr(args, "host", None) or settings.host
    port = getattr(args, "port", None) or settings.port
    with socket.socket() as probe:  # uvicorn's own error would not say which setting to change
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            print(f"cannot listen on {host}:{port} ({exc.strerror}): set PORTAL_PORT to a free port", file=sys.stderr)
            return 1
    try:
        ensure_schema(os.environ.get("AIRFLOW_CONN_WAREHOUSE_DB") or settings.database_url)
    except Exception as exc:  # noqa: BLE001 - reported as one clear line; the traceback helps nobody here
        print(
            f"cannot prepare the warehouse database: {exc}\nCreate the schema first as the warehouse owner "
            "(`make demo`, or trigger refresh_inventory_tables_dag with confirm=true), then start the portal again.",
            file=sys.stderr,
        )
        return 1
    print(f"Manager portal on http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
