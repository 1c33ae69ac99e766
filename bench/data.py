"""The bench's datasets: generated with the project's own catalogue, master data and simulation, cached by scale.

Each dataset lives in a database of its own on the configured PostgreSQL server (never the demo's `inventory`):
`<prefix>_inventory_<scale>` holds `days` one-day batches ending at END, `<prefix>_inventory_<scale>_1d` the
same products and warehouses with one day. A small `bench.dataset` table records what was generated; a later
run with the same scale, seed and days reuses the database instead of generating it again, and says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import psycopg2
from psycopg2 import sql

from include.inventory import alerts, db, schema, simulation
from include.inventory.batches import BATCH_FACT_TABLES, delete_batch_rows
from include.inventory.catalogue import SnapshotCatalogue, load_catalogue_records
from include.inventory.warehouse import Warehouse

# History ends here (00:00 UTC); the minute cycles run after it. Fixed, so the data (and the cache) are stable.
END = datetime(2026, 6, 1, tzinfo=UTC)
SEED = 42
SHRINKAGE = 0.02  # the sim_shrinkage_rate default: the minute DAG simulates with the same rate


@dataclass(frozen=True)
class Scale:
    name: str
    products: int
    locations: int
    warehouses: int
    suppliers: int
    days: int
    demand_scale: float  # SimConfig.demand_scale: sets the sales volume (about 9.8 sales a pair-day at 1.0)
    ingest_days: int  # one-day batches the ingest comparison loads

    def sim_config(self, seed: int = SEED) -> simulation.SimConfig:
        return simulation.SimConfig(
            seed=seed,
            locations=self.locations,
            warehouses=self.warehouses,
            suppliers=self.suppliers,
            shrinkage_per_pair_day=SHRINKAGE,
            demand_scale=self.demand_scale,
        )


SCALES = {
    # S and M: the products x warehouses of include.inventory.ingest_tasks.SCALES, with the sales volume set by
    # demand_scale: S about 1 M sales in a year, M about 10 M in 90 days (40,000 pairs).
    "tiny": Scale("tiny", 2, 1, 2, 2, 3, 1.0, 1),
    "S": Scale("S", 200, 5, 5, 20, 365, 0.28, 3),
    "M": Scale("M", 2000, 10, 20, 50, 90, 0.28, 1),
}

FACT_TABLES = ("raw.product_sales", "raw.inventory", "raw.purchase_orders", "raw.stock_receipts")


# ------------------------------------------------------------------------------------------------ databases


def server() -> Warehouse:
    """The configured warehouse server (AIRFLOW_CONN_WAREHOUSE_DB): each dataset is a database of its own on it."""
    return Warehouse.from_env()


def _admin(server: Warehouse, statement: sql.Composable, params=None) -> list[tuple]:
    with server.with_database("postgres").connect() as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []


def database_exists(server: Warehouse, name: str) -> bool:
    return bool(_admin(server, sql.SQL("SELECT 1 FROM pg_database WHERE datname = %s"), (name,)))


def create_database(server: Warehouse, name: str) -> None:
    _admin(server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server: Warehouse, name: str) -> None:
    _admin(server, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def bench_databases(server: Warehouse, prefix: str) -> list[str]:
    rows = _admin(server, sql.SQL("SELECT datname FROM pg_database WHERE datname LIKE %s"), (f"{prefix}\\_%",))
    return sorted(r[0] for r in rows)


# ------------------------------------------------------------------------------------------------ datasets


@dataclass
class Dataset:
    database: str
    warehouse: Warehouse
    scale: str
    days: int
    reused: bool
    seconds: float  # generation time (0 when reused)
    rows: dict[str, int]

    @property
    def uri(self) -> str:
        return self.warehouse.uri

    def summary(self) -> str:
        rows = ", ".join(f"{t.split('.')[-1]} {n:,}" for t, n in self.rows.items())
        how = "reused (same scale, seed and days)" if self.reused else f"generated in {self.seconds:.0f}s"
        return f"{self.database}: {self.days} days at scale {self.scale}, {how}: {rows}"


def fingerprint(scale: Scale, days: int, seed: int) -> dict:
    return {**asdict(scale), "days": days, "seed": seed, "end": END.isoformat(), "shrinkage": SHRINKAGE}


def _recorded(warehouse: Warehouse) -> dict | None:
    try:
        with warehouse.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('bench.dataset')")
            if cur.fetchone()[0] is None:
                return None
            cur.execute("SELECT spec FROM bench.dataset")
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                "SELECT count(*) FROM raw.ingest_batches WHERE kind = 'simulation' AND status = 'success' "
                "AND window_end <= %s AND window_end - window_start = interval '1 day'",
                (END,),
            )
            return {**row[0], "_day_batches": cur.fetchone()[0]}
    except psycopg2.Error:
        return None


def row_counts(conn) -> dict[str, int]:
    counts = {}
    with conn.cursor() as cur:
        for table in FACT_TABLES:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(table)))
            counts[table] = cur.fetchone()[0]
    conn.rollback()
    return counts


def ensure_dataset(
    server: Warehouse, name: str, scale: Scale, days: int, seed: int = SEED, log: Callable[[str], None] = print
) -> Dataset:
    """The database `name` holding `days` days at `scale`: reused when it already does, generated otherwise."""
    warehouse = server.with_database(name)
    spec = fingerprint(scale, days, seed)
    if database_exists(server, name):
        found = _recorded(warehouse)
        if found is not None and found.pop("_day_batches") == days and found == spec:
            with warehouse.connect() as conn:
                schema.create(conn)  # a newer release's indexes and columns (IF NOT EXISTS): the data stays
                return Dataset(name, warehouse, scale.name, days, True, 0.0, row_counts(conn))
        log(f"{name} holds another dataset (or an unfinished one): dropping it")
        drop_database(server, name)
    create_database(server, name)
    began = time.monotonic()
    config = scale.sim_config(seed)
    with warehouse.connect() as conn:
        schema.create(conn)
        load_catalogue_records(
            conn, SnapshotCatalogue().fetch_products(), "snapshot", f"catalogue-bench-{scale.name}", scale.products
        )
        simulation.ensure_master_data(conn, config)
        alerts.seed_managers(conn, seed)
        windows = simulation.day_windows(END, days)
        step = max(1, days // 10)

        def progress(done: int, total: int, result) -> None:
            if done == total or done % step == 0:
                log(f"  {name}: day {done}/{total} loaded ({time.monotonic() - began:.0f}s)")

        simulation.run_windows(conn, config, windows, progress)
        conn.autocommit = True
        with conn.cursor() as cur:
            # The planner must see the real sizes before anything is timed, and the first side timed must not pay
            # for setting every freshly loaded row's hint bits (a table autovacuum has caught up with).
            cur.execute("VACUUM (FREEZE, ANALYZE)")
        conn.autocommit = False
        with db.transaction(conn) as cur:
            cur.execute("CREATE SCHEMA IF NOT EXISTS bench")
            cur.execute("CREATE TABLE bench.dataset (spec jsonb NOT NULL, generated_at timestamptz DEFAULT now())")
            cur.execute("INSERT INTO bench.dataset (spec) VALUES (%s)", (json.dumps(spec),))
        return Dataset(name, warehouse, scale.name, days, False, time.monotonic() - began, row_counts(conn))


def reset_after_history(conn) -> int:
    """Forget everything after the history: minute batches of an earlier bench run and publishes after END.

    Keeps the cycle measurements reproducible: every run starts from the history and one publish as of END.
    Returns the number of batches removed.
    """
    with db.transaction(conn) as cur:
        cur.execute("SELECT batch_id FROM raw.ingest_batches WHERE kind = 'simulation' AND window_start >= %s", (END,))
        batches = [r[0] for r in cur.fetchall()]
        for batch_id in batches:
            delete_batch_rows(cur, batch_id, BATCH_FACT_TABLES)
        cur.execute("DELETE FROM raw.ingest_batches WHERE batch_id = ANY(%s)", (batches,))
        cur.execute("DELETE FROM analytics.publish_log WHERE as_of > %s", (END,))
    return len(batches)


def minute_windows(count: int, start: datetime = END) -> list[tuple[datetime, datetime]]:
    """`count` consecutive one-minute windows from `start` (after the history, as the minute DAG requires)."""
    return [(start + timedelta(minutes=i), start + timedelta(minutes=i + 1)) for i in range(count)]
