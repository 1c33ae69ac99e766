"""Idempotent, atomic ingest batches: bulk COPY, replace-by-batch_id, and the `raw.ingest_batches` audit row.

A batch is written in one transaction: its earlier rows (if the batch ran before) are deleted, the new rows are
COPYed in, and its audit row is upserted with status `success`. Anything failing rolls the whole batch back;
the audit row then records `failed` with the error, in a transaction of its own.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor

from include.inventory.schema import EXPECTED_TABLES

# Tables whose rows belong to exactly one batch (replaced as a unit when the batch re-runs).
BATCH_FACT_TABLES = (
    "raw.product_sales",
    "raw.stock_receipts",
    "raw.purchase_orders",
    "raw.inventory",
    "sim.shrinkage_events",
)


@dataclass(frozen=True)
class Batch:
    batch_id: str
    kind: str  # catalogue | master | simulation
    source: str  # api | snapshot | simulator
    window_start: datetime | None = None
    window_end: datetime | None = None


def table_identifier(name: str) -> sql.Composed:
    if name not in EXPECTED_TABLES:
        raise ValueError(f"{name!r} is not a warehouse table")
    schema_name, table_name = name.split(".")
    return sql.SQL("{}.{}").format(sql.Identifier(schema_name), sql.Identifier(table_name))


def copy_rows(cur: PgCursor, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY rows into a table (CSV over STDIN); None becomes NULL. Returns the number of rows sent."""
    unknown = [c for c in columns if c not in EXPECTED_TABLES[table]]
    if unknown:
        raise ValueError(f"{table} has no column(s) {unknown}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    if count == 0:
        return 0
    buffer.seek(0)
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        table_identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    cur.copy_expert(statement.as_string(cur), buffer)
    return count


def delete_batch_rows(cur: PgCursor, batch_id: str, tables: Sequence[str] = BATCH_FACT_TABLES) -> dict[str, int]:
    deleted = {}
    for table in tables:
        cur.execute(sql.SQL("DELETE FROM {} WHERE batch_id = %s").format(table_identifier(table)), (batch_id,))
        deleted[table] = cur.rowcount
    return deleted


def upsert_audit(
    cur: PgCursor,
    batch: Batch,
    *,
    status: str,
    row_counts: dict[str, int] | None = None,
    rejected: int = 0,
    started_at: datetime | None = None,
    duration_ms: int | None = None,
    error: str | None = None,
) -> None:
    cur.execute(
        """
        INSERT INTO raw.ingest_batches AS b (batch_id, kind, window_start, window_end, source, status, row_counts,
                                             rejected_count, started_at, finished_at, duration_ms, error)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()),
                CASE WHEN %s = 'running' THEN NULL ELSE clock_timestamp() END, %s, %s)
        ON CONFLICT (batch_id) DO UPDATE SET
            kind = EXCLUDED.kind, window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
            source = EXCLUDED.source, status = EXCLUDED.status, row_counts = EXCLUDED.row_counts,
            rejected_count = EXCLUDED.rejected_count, started_at = EXCLUDED.started_at,
            finished_at = EXCLUDED.finished_at, duration_ms = EXCLUDED.duration_ms, error = EXCLUDED.error
        """,
        (
            batch.batch_id,
            batch.kind,
            batch.window_start,
            batch.window_end,
            batch.source,
            status,
            json.dumps(row_counts or {}, sort_keys=True),
            rejected,
            started_at,
            status,
            duration_ms,
            error,
        ),
    )


@dataclass
class BatchResult:
    batch: Batch
    row_counts: dict[str, int]
    rejected: int
    duration_ms: int
    replaced: dict[str, int]

    def summary(self) -> str:
        counts = ", ".join(f"{t.split('.')[-1]}={n}" for t, n in sorted(self.row_counts.items()))
        again = sum(self.replaced.values())
        return (
            f"batch {self.batch.batch_id} ({self.batch.source}): {counts or 'no rows'}"
            + (f", {self.rejected} rejected" if self.rejected else "")
            + (f", replaced {again} rows of an earlier run" if again else "")
            + f" in {self.duration_ms} ms"
        )


Writer = Callable[[PgCursor], tuple[dict[str, int], int]]


def run_batch(
    conn: PgConnection, batch: Batch, write: Writer, replace: Sequence[str] = BATCH_FACT_TABLES
) -> BatchResult:
    """Write one batch atomically. `write(cur)` inserts the rows and returns (row counts per table, rejected)."""
    began = time.monotonic()
    try:
        with conn.cursor() as cur:
            # The audit row goes in first: fact rows reference it.
            upsert_audit(cur, batch, status="running")
            replaced = delete_batch_rows(cur, batch.batch_id, replace)
            row_counts, rejected = write(cur)
            duration_ms = int((time.monotonic() - began) * 1000)
            upsert_audit(
                cur, batch, status="success", row_counts=row_counts, rejected=rejected, duration_ms=duration_ms
            )
        conn.commit()
    except BaseException as exc:
        conn.rollback()
        _record_failure(conn, batch, exc, began)
        raise
    return BatchResult(batch, row_counts, rejected, duration_ms, {k: v for k, v in replaced.items() if v})


def _record_failure(conn: PgConnection, batch: Batch, exc: BaseException, began: float) -> None:
    """Keep a `failed` audit row, unless the batch already succeeded before (its rows are still intact)."""
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT status FROM raw.ingest_batches WHERE batch_id = %s", (batch.batch_id,))
            row = cur.fetchone()
            if row is None or row[0] != "success":
                upsert_audit(
                    cur,
                    batch,
                    status="failed",
                    duration_ms=int((time.monotonic() - began) * 1000),
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                )
        conn.commit()
    except Exception:  # noqa: BLE001 - the original error matters more than the audit row
        conn.rollback()


def audit_row(conn: PgConnection, batch_id: str) -> dict | None:
    """The `raw.ingest_batches` row of a batch, as a dict (None when the batch never ran)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT batch_id, kind, source, status, row_counts, rejected_count, duration_ms, error "
            "FROM raw.ingest_batches WHERE batch_id = %s",
            (batch_id,),
        )
        row = cur.fetchone()
        names = [d.name for d in cur.description]
    conn.rollback()
    return dict(zip(names, row, strict=True)) if row else None
