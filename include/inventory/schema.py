"""Create, drop and verify the warehouse schema defined by the DDL files in sql/ddl/.

`EXPECTED_TABLES` is the checklist `verify` holds the database to; a test keeps it equal to what the DDL
creates, so the two cannot drift apart. docs/tables.md describes every table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg2.extensions import connection as PgConnection

from include.inventory.db import SQL_DIR, load_sql, transaction

SCHEMAS = ("raw", "staging", "analytics", "sim", "alerts", "portal")

EXPECTED_TABLES: dict[str, tuple[str, ...]] = {
    "raw.ingest_batches": (
        "batch_id",
        "kind",
        "window_start",
        "window_end",
        "source",
        "status",
        "row_counts",
        "rejected_count",
        "started_at",
        "finished_at",
        "duration_ms",
        "error",
    ),
    "raw.warehouse_locations": ("location_id", "location_name", "city", "state", "country", "created_at"),
    "raw.warehouse": ("warehouse_id", "warehouse_name", "location_id", "capacity", "created_at"),
    "raw.suppliers": ("supplier_id", "supplier_name", "contact_email", "contact_phone", "country", "created_at"),
    "raw.products": (
        "product_id",
        "sku",
        "product_name",
        "category",
        "brand",
        "unit",
        "cost_price",
        "selling_price",
        "lead_time",
        "source_id",
        "batch_id",
        "created_at",
        "updated_at",
    ),
    "raw.product_quarantine": ("quarantine_id", "batch_id", "source_id", "reason", "payload", "quarantined_at"),
    "raw.product_suppliers": ("product_id", "supplier_id", "supply_price", "is_primary"),
    "raw.inventory": ("inventory_id", "product_id", "warehouse_id", "quantity", "count_type", "counted_at", "batch_id"),
    "raw.product_sales": (
        "sale_id",
        "product_id",
        "warehouse_id",
        "units_sold",
        "unit_price",
        "total_revenue",
        "sale_date",
        "batch_id",
    ),
    "raw.purchase_orders": (
        "order_id",
        "product_id",
        "warehouse_id",
        "supplier_id",
        "quantity",
        "unit_cost",
        "ordered_at",
        "expected_at",
        "batch_id",
    ),
    "raw.stock_receipts": (
        "receipt_id",
        "order_id",
        "product_id",
        "warehouse_id",
        "supplier_id",
        "quantity",
        "unit_cost",
        "ordered_at",
        "received_at",
        "batch_id",
    ),
    "analytics.publish_log": (
        "publish_id",
        "run_id",
        "as_of",
        "from_date",
        "watermark",
        "tables",
        "published_at",
        "mode",
        "pairs",
        "settings",
        "lag_seconds",
    ),
    "alerts.low_stock_episodes": (
        "episode_id",
        "product_id",
        "warehouse_id",
        "opened_at",
        "closed_at",
        "level",
        "opened_quantity",
        "last_quantity",
        "notified_level",
    ),
    "alerts.freshness_episodes": (
        "episode_id",
        "opened_at",
        "as_of_at_open",
        "worst_lag_seconds",
        "closed_at",
        "lag_at_close_seconds",
    ),
    "alerts.alert_log": (
        "alert_id",
        "kind",
        "dedup_key",
        "recipients",
        "subject",
        "episode_keys",
        "status",
        "attempts",
        "last_error",
        "message_id",
        "mime",
        "created_at",
        "sent_at",
    ),
    "sim.shrinkage_events": ("event_id", "product_id", "warehouse_id", "occurred_at", "units", "reason", "batch_id"),
    "portal.inventory_managers": ("manager_id", "name", "email", "phone", "location_id", "active", "created_at"),
    "portal.accounts": (
        "account_id",
        "role",
        "name",
        "email",
        "phone",
        "password_hash",
        "address",
        "location_id",
        "store_name",
        "department",
        "manager_id",
        "active",
        "created_at",
        "last_login_at",
        "email_verified_at",
        "password_changed_at",
    ),
    "portal.registrations": (
        "registration_id",
        "role",
        "name",
        "email",
        "phone",
        "password_hash",
        "address",
        "location_id",
        "store_name",
        "department",
        "token_hash",
        "client_ip",
        "created_at",
        "expires_at",
        "confirmed_at",
        "account_id",
    ),
    "portal.password_resets": (
        "reset_id",
        "account_id",
        "token_hash",
        "client_ip",
        "created_at",
        "expires_at",
        "used_at",
    ),
    "portal.sessions": (
        "session_hash",
        "account_id",
        "client_ip",
        "created_at",
        "last_seen_at",
        "revoked_at",
        "revoked_reason",
    ),
    "portal.password_checks": (
        "check_id",
        "account_key",
        "client_ip",
        "device",
        "trusted",
        "purpose",
        "succeeded",
        "checked_at",
    ),
    "portal.rate_events": ("event_id", "kind", "key", "happened_at"),
}


def ddl_files() -> list[str]:
    return sorted(f"ddl/{p.name}" for p in (SQL_DIR / "ddl").glob("*.sql"))


def create(conn: PgConnection) -> list[str]:
    """Apply every DDL file in order, in one transaction (idempotent: IF NOT EXISTS throughout)."""
    files = ddl_files()
    with transaction(conn) as cur:
        for name in files:
            cur.execute(load_sql(name))
    return files


def drop(conn: PgConnection) -> None:
    with transaction(conn) as cur:
        cur.execute(load_sql("drop_schemas.sql"))


@dataclass
class Verification:
    missing_schemas: list[str] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    tables_without_primary_key: list[str] = field(default_factory=list)
    checked_tables: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.missing_schemas or self.missing_tables or self.missing_columns or self.tables_without_primary_key
        )

    def problems(self) -> str:
        parts = []
        for label, items in (
            ("missing schemas", self.missing_schemas),
            ("missing tables", self.missing_tables),
            ("missing columns", self.missing_columns),
            ("tables without a primary key", self.tables_without_primary_key),
        ):
            if items:
                parts.append(f"{label}: {', '.join(items)}")
        return "; ".join(parts)


def catalog_columns(conn: PgConnection, schemas=SCHEMAS) -> dict[str, list[str]]:
    """Ordinary tables (and their columns, in order) that exist in the given schemas."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT c.table_schema || '.' || c.table_name, c.column_name
            FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = ANY(%s) AND t.table_type = 'BASE TABLE'
            ORDER BY 1, c.ordinal_position
            """,
            (list(schemas),),
        )
        found: dict[str, list[str]] = {}
        for table, column in cur.fetchall():
            found.setdefault(table, []).append(column)
    conn.rollback()
    return found


def verify(conn: PgConnection) -> Verification:
    """Compare the database with EXPECTED_TABLES: every schema, table, column and primary key."""
    result = Verification()
    with conn.cursor() as cur:
        cur.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(SCHEMAS),))
        present = {row[0] for row in cur.fetchall()}
        result.missing_schemas = [s for s in SCHEMAS if s not in present]
        cur.execute(
            """
            SELECT n.nspname || '.' || c.relname
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE k.contype = 'p' AND n.nspname = ANY(%s)
            """,
            (list(SCHEMAS),),
        )
        with_pk = {row[0] for row in cur.fetchall()}
    found = catalog_columns(conn)
    for table, columns in EXPECTED_TABLES.items():
        if table not in found:
            result.missing_tables.append(table)
            continue
        result.checked_tables += 1
        result.missing_columns += [f"{table}.{c}" for c in columns if c not in found[table]]
        if table not in with_pk:
            result.tables_without_primary_key.append(table)
    return result
