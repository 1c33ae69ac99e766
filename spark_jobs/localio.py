"""Small I/O for the minute's pairs mode on Spark Connect: one PostgreSQL connection in the client, not JDBC.

A minute recomputes a few pairs: its inputs and outputs are a few hundred rows. Read and written through Spark's
JDBC source, each input and each output table is a Spark job of its own (a hundred per minute, each with its
scheduling, planning and JDBC connection). Here the client reads every input in one REPEATABLE READ
transaction (one consistent snapshot, which the JDBC reads could not give), hands the rows to the server as
local relations, runs the same transforms, collects every output table in a single action, and writes them to
staging in one transaction. The transforms, and so every number, are the same as on the JDBC path; the
incremental = full tests hold the two to each other.

Only for small row counts (the pairs mode): the full and window modes read and write through JDBC in parallel
partitions, on the server (or the cluster).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from spark_jobs.jobio import MANIFEST_TABLE, Warehouse

_LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "options")


def libpq_kwargs(db: Warehouse) -> dict:
    """psycopg2.connect() arguments for the database of a JDBC URL (jdbc:postgresql://host:port/db?sslmode=...)."""
    if not db.url.startswith("jdbc:postgresql://"):
        raise ValueError(f"not a PostgreSQL JDBC URL: {db.url.split('?')[0]!r}")
    parts = urlsplit(db.url.removeprefix("jdbc:"))
    options = {k: v for k, v in parse_qsl(parts.query) if k in _LIBPQ_OPTIONS}
    return {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "dbname": parts.path.lstrip("/"),
        "user": db.user,
        "password": db.password,
        "application_name": "inventory-analytics-minute",
        "connect_timeout": 10,
        **options,
    }


class LocalReader:
    """Reads queries into DataFrames of local rows, all in one snapshot of the database."""

    def __init__(self, spark: SparkSession, conn):
        self.spark = spark
        self.conn = conn
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)

    def query(self, sql: str, schema: StructType) -> DataFrame:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            names = [d.name for d in cur.description]
            position = {n: i for i, n in enumerate(names)}
            missing = [f.name for f in schema.fields if f.name not in position]
            if missing:
                raise ValueError(f"the query returns no column {missing}: {sql[:200]}")
            picks = [position[f.name] for f in schema.fields]
            rows = [tuple(r[i] for i in picks) for r in cur.fetchall()]
        return self.spark.createDataFrame(rows, schema)

    def partitioned(self, sql: str, schema: StructType, *_args, **_kwargs) -> DataFrame:
        return self.query(sql, schema)


def collect_tables(tables: dict[str, DataFrame], refreshed_at: datetime) -> dict[str, list[dict]]:
    """Every table's rows, as JSON objects (plus refreshed_at), from one Spark action over all of them."""
    parts = [
        df.select(
            F.lit(name).alias("t"),
            F.to_json(F.struct(*df.columns, F.lit(refreshed_at).cast("timestamp").alias("refreshed_at"))).alias("j"),
        )
        for name, df in tables.items()
    ]
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    rows: dict[str, list[dict]] = defaultdict(list)
    for row in union.collect():
        rows[row["t"]].append(json.loads(row["j"]))
    return {name: rows.get(name, []) for name in tables}


def write_staging(conn, rows: dict[str, list[dict]], manifest: list[tuple]) -> None:
    """Replace each staging table's rows and the manifest in one transaction (the tables exist: an earlier full
    or window run created them)."""
    conn.set_session(isolation_level="READ COMMITTED", readonly=False)
    with conn.cursor() as cur:
        for table, records in rows.items():
            cur.execute(f"TRUNCATE staging.{table}")  # our own table names (build_analytics.SCOPES), never user text
            if records:
                cur.execute(
                    f"INSERT INTO staging.{table} SELECT * FROM json_populate_recordset(NULL::staging.{table}, %s)",
                    (json.dumps(records),),
                )
        cur.execute(f"TRUNCATE {MANIFEST_TABLE}")
        cur.executemany(
            f"INSERT INTO {MANIFEST_TABLE} (table_name, key_columns, scope, from_date, as_of, run_id, refreshed_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, now())",
            manifest,
        )
    conn.commit()
