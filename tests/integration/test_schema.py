"""The refresh DAG against a real PostgreSQL, run through Airflow's own dag.test()."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from include.inventory import schema

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture
def refresh_dag(airflow_db):
    """Parsed anew for each test: dag.test(run_conf=...) updates the in-process DAG's params."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / "refresh_inventory_tables_dag.py"))
    assert not bag.import_errors
    return bag.dags["refresh_inventory_tables_dag"]


def _snapshot(conn) -> dict:
    """Tables with their columns, plus every constraint and index: what 'the same schema' means."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT n.nspname || '.' || c.relname || ':' || k.conname || ':' || pg_get_constraintdef(k.oid)
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY(%s) ORDER BY 1
            """,
            (list(schema.SCHEMAS),),
        )
        constraints = [r[0] for r in cur.fetchall()]
        cur.execute(
            "SELECT schemaname || '.' || indexname FROM pg_indexes WHERE schemaname = ANY(%s) ORDER BY 1",
            (list(schema.SCHEMAS),),
        )
        indexes = [r[0] for r in cur.fetchall()]
    conn.rollback()
    return {"columns": schema.catalog_columns(conn), "constraints": constraints, "indexes": indexes}


def test_manifest_matches_ddl(fresh_schema):
    """EXPECTED_TABLES (what verify checks) is exactly what the DDL creates: neither can drift."""
    found = schema.catalog_columns(fresh_schema)
    assert {t: tuple(cols) for t, cols in found.items()} == schema.EXPECTED_TABLES


def test_verify_names_missing_table_and_column(fresh_schema):
    with fresh_schema.cursor() as cur:
        cur.execute("DROP TABLE raw.stock_receipts; ALTER TABLE raw.product_sales DROP COLUMN batch_id")
    fresh_schema.commit()
    result = schema.verify(fresh_schema)
    assert not result.ok
    assert result.missing_tables == ["raw.stock_receipts"]
    assert result.missing_columns == ["raw.product_sales.batch_id"]
    assert "raw.stock_receipts" in result.problems() and "raw.product_sales.batch_id" in result.problems()


def test_refresh_dag_creates_and_verifies_the_schema(refresh_dag, conn):
    schema.drop(conn)
    run = refresh_dag.test(run_conf={"confirm": True})
    assert run.state == "success"
    result = schema.verify(conn)
    assert result.ok, result.problems()
    assert result.checked_tables == len(schema.EXPECTED_TABLES)
    first = _snapshot(conn)
    assert any(":PRIMARY KEY" in c or "_pkey:" in c for c in first["constraints"])
    assert any("FOREIGN KEY" in c for c in first["constraints"])

    # A second run drops everything (data included) and leaves exactly the same schema.
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO raw.ingest_batches (batch_id, kind, source, status) VALUES ('x', 'master', "
            "'simulator', 'success')"
        )
    conn.commit()
    run = refresh_dag.test(run_conf={"confirm": True})
    assert run.state == "success"
    assert _snapshot(conn) == first
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM raw.ingest_batches")
        assert cur.fetchone()[0] == 0
    conn.rollback()


def test_refresh_dag_refuses_without_confirm(refresh_dag, fresh_schema):
    with fresh_schema.cursor() as cur:
        cur.execute(
            "INSERT INTO raw.ingest_batches (batch_id, kind, source, status) VALUES ('keep', 'master', "
            "'simulator', 'success')"
        )
    fresh_schema.commit()
    run = refresh_dag.test()
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["clear_tables"] == "failed"
    assert states["create_tables"] in ("upstream_failed", None)
    with fresh_schema.cursor() as cur:
        cur.execute("SELECT batch_id FROM raw.ingest_batches")
        assert cur.fetchall() == [("keep",)]
    fresh_schema.rollback()


def test_refresh_dag_reports_through_the_task_logger(refresh_dag, conn, caplog):
    """What each task did, with counts and durations, in its task log (stdlib logging, not print)."""
    caplog.set_level(logging.INFO)
    run = refresh_dag.test(run_conf={"confirm": True})
    assert run.state == "success"
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    schemas = ", ".join(schema.SCHEMAS)
    assert any(re.fullmatch(rf"dropped schemas {schemas} in \d+\.\d s", m) for m in messages), messages
    assert any(re.match(r"applied \d+ DDL files in \d+\.\d s: ddl/", m) for m in messages), messages
    assert f"verified {len(schema.EXPECTED_TABLES)} tables in schemas {schemas}" in messages
