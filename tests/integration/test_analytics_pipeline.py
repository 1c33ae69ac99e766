"""The analytics DAG end to end: real spark-submit, real PostgreSQL, dag.test().

60 simulated days (fixed seed) -> build_inventory_analytics -> the published tables are checked against the
simulator's ground truth and against plain-SQL recomputations; then incremental vs full rebuild, concurrent
readers during publishes, and a failing quality gate.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import message_from_string
from email.policy import default as default_policy
from pathlib import Path

import psycopg2
import pytest
from analytics_helpers import DAGS_DIR, on_order_against_raw, orphan_keys, published, run_analytics
from db_helpers import rows as query

from include.inventory import analytics
from include.inventory import simulation as sim
from spark_jobs import registry

pytestmark = pytest.mark.slow

CONFIG = sim.SimConfig(seed=2026, locations=2, warehouses=3, suppliers=5, shrinkage_per_pair_day=0.05)
END = datetime(2026, 9, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pipeline(airflow_db, simulated_history, spark_connect_server):
    """60 days of history for 30 products x 3 warehouses, then one published analytics run."""
    with simulated_history(CONFIG, END, 60, 30, "analytics") as conn:
        run_analytics(END + timedelta(hours=1))
        yield conn


def test_discrepancies_are_exactly_the_injected_shrinkage(pipeline):
    rows = query(
        pipeline,
        """
        WITH found AS (SELECT date_key, product_id, warehouse_id, -discrepancy_amount AS units
                       FROM analytics.fact_inventory_reconciliation WHERE discrepancy_amount <> 0),
             truth AS (SELECT (occurred_at AT TIME ZONE 'UTC')::date AS date_key, product_id, warehouse_id,
                              sum(units) AS units
                       FROM sim.shrinkage_events GROUP BY 1, 2, 3)
        SELECT f.units, t.units FROM found f FULL JOIN truth t USING (date_key, product_id, warehouse_id)
        """,
    )
    assert len(rows) > 20, "the fixture should inject a few dozen shrinkage days"
    false_positives = [r for r in rows if r[1] is None]
    missed = [r for r in rows if r[0] is None]
    wrong = [r for r in rows if None not in r and r[0] != r[1]]
    assert (false_positives, missed, wrong) == ([], [], [])  # 100 % precision and recall
    (days,) = query(pipeline, "SELECT count(DISTINCT date_key) FROM analytics.fact_inventory_reconciliation")[0]
    assert days == 60


def test_headline_kpis_equal_plain_sql(pipeline):
    kpi = query(
        pipeline,
        "SELECT total_units, unique_products, stock_value, low_stock_products FROM analytics.kpi_inventory_summary",
    )
    expected = query(
        pipeline,
        """
        WITH latest AS (SELECT DISTINCT ON (product_id, warehouse_id) product_id, warehouse_id, quantity
                        FROM raw.inventory WHERE counted_at <= %(as_of)s
                        ORDER BY product_id, warehouse_id, counted_at DESC)
        SELECT sum(quantity), count(DISTINCT product_id), sum(quantity * p.cost_price),
               count(*) FILTER (WHERE quantity <= 50)
        FROM latest JOIN raw.products p USING (product_id)
        """,
        {"as_of": END},
    )
    assert kpi == expected
    sales = query(pipeline, "SELECT total_revenue, total_units FROM analytics.kpi_sales_summary")
    expected_sales = query(
        pipeline,
        "SELECT sum(total_revenue), sum(units_sold) FROM raw.product_sales WHERE sale_date >= %s AND sale_date < %s",
        (END - timedelta(days=30), END),
    )
    assert sales == expected_sales
    revenue = query(pipeline, "SELECT sum(revenue) FROM analytics.fact_daily_sales")[0][0]
    assert revenue == query(pipeline, "SELECT sum(total_revenue) FROM raw.product_sales")[0][0]
    assert isinstance(revenue, Decimal)
    aging = query(
        pipeline,
        "SELECT count(*) FROM (SELECT product_id, warehouse_id, sum(units) u FROM analytics.inventory_aging "
        "GROUP BY 1, 2) a JOIN analytics.current_stock c USING (product_id, warehouse_id) WHERE a.u <> c.quantity",
    )
    assert aging == [(0,)]


def test_on_order_equals_plain_sql_over_raw_for_every_pair(pipeline):
    wrong, with_orders, low_with_orders = on_order_against_raw(pipeline)
    assert wrong == []
    assert with_orders > 0 and low_with_orders > 0  # the data has open orders, some of them for low pairs
    # A low pair's order tops on hand + on order up to the target, reorder point + 30 days of demand, rounded up
    # (the published demand is rounded to 4 places: 30 days of it are within 0.0015 of the exact ones).
    rows = query(
        pipeline,
        "SELECT suggested_order_qty, quantity + on_order_qty + suggested_order_qty - reorder_point "
        "- avg_daily_demand * 30 FROM analytics.low_stock_data WHERE on_order_qty > 0",
    )
    topped_up = [excess for order, excess in rows if order > 0]
    covered = [excess for order, excess in rows if order == 0]
    assert topped_up and all(Decimal("-0.01") < e < Decimal("1.01") for e in topped_up), topped_up
    assert all(e > Decimal("-0.01") for e in covered), covered


def test_every_key_has_its_dimension_row_and_the_by_warehouse_facts_add_up(pipeline):
    """Foreign-key closure after a full build (Power BI's relationships), the sliceable KPI facts summing to the
    one-row summaries, and the facts' indexes."""
    orphans = orphan_keys(pipeline)
    assert len(orphans) > 25 and set(orphans.values()) == {0}, orphans
    days = query(
        pipeline,
        "SELECT min(date_key), max(date_key), count(*), count(*) FILTER (WHERE NOT is_complete_day) "
        "FROM analytics.dim_date",
    )
    assert days == [
        (END.date() - timedelta(days=60), END.date(), 61, 1)
    ]  # 60 whole days, and as_of's own (as_of is 00:00)
    assert query(pipeline, "SELECT count(*) FROM analytics.dim_stock_item") == query(
        pipeline, "SELECT count(*) FROM raw.products CROSS JOIN raw.warehouse"
    )
    by_warehouse = query(
        pipeline,
        "SELECT sum(total_units), sum(stock_value), sum(low_stock_products), sum(aging_units), sum(aging_value), "
        "sum(overstock_products), count(*) FROM analytics.inventory_by_warehouse",
    )
    summary = query(
        pipeline,
        "SELECT total_units, stock_value, low_stock_products, aging_units, aging_value, overstock_products, "
        "(SELECT count(*) FROM raw.warehouse) FROM analytics.kpi_inventory_summary",
    )
    assert by_warehouse == summary
    wtd = query(
        pipeline,
        "SELECT sum(s.revenue), sum(s.units) FROM analytics.sales_daily_by_warehouse s "
        "JOIN analytics.dim_date d USING (date_key) WHERE d.is_week_to_date",
    )
    assert wtd == query(pipeline, "SELECT wtd_revenue, wtd_units FROM analytics.kpi_sales_summary")
    suppliers, a_products = query(
        pipeline,
        "SELECT count(DISTINCT primary_supplier_id), count(*) FILTER (WHERE abc_class = 'A') "
        "FROM analytics.dim_products",
    )[0]
    assert suppliers > 1 and a_products > 0
    # DirectQuery's filtered scans: the secondary indexes the registry declares
    indexes = query(pipeline, "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'analytics'")
    for table, declared in ((name, t.indexes) for name, t in registry.TABLES.items()):
        for columns in declared:
            assert any(t == table and d.endswith(f"btree ({', '.join(columns)})") for t, d in indexes), (table, columns)


def test_incremental_equals_full_rebuild(pipeline):
    # Two more days arrive; the next run recomputes only the days from the last published one.
    sim.run_windows(
        pipeline, CONFIG, [(END, END + timedelta(days=1)), (END + timedelta(days=1), END + timedelta(days=2))]
    )
    run_analytics(END + timedelta(days=2, hours=1))
    log = query(pipeline, "SELECT from_date FROM analytics.publish_log ORDER BY publish_id DESC LIMIT 1")
    assert log == [(END.date(),)]
    incremental = published(pipeline)
    assert set(orphan_keys(pipeline).values()) == {0}
    # The full rebuild comes from a release upgrade: tables of an older shape (a column fewer in a published and in
    # a staging table) send the next run to a full rebuild by itself, which replaces them with the declared ones.
    with pipeline.cursor() as cur:
        cur.execute("ALTER TABLE analytics.sales_daily DROP COLUMN is_complete_day")
        cur.execute("ALTER TABLE staging.top_products DROP COLUMN ranking_label")
    pipeline.commit()
    run_analytics(END + timedelta(days=2, hours=2))
    last = "SELECT mode, from_date FROM analytics.publish_log ORDER BY publish_id DESC LIMIT 1"
    assert query(pipeline, last) == [("full", None)]
    with pipeline.cursor() as cur:
        assert analytics.reshaped_tables(cur, "analytics") == [] and analytics.reshaped_tables(cur, "staging") == []
    pipeline.rollback()
    assert published(pipeline) == incremental


def test_readers_never_see_a_missing_or_empty_table(pipeline, warehouse_db):
    run_id = query(pipeline, "SELECT DISTINCT run_id FROM staging.publish_manifest")[0][0]
    plan = analytics.plan(pipeline, END + timedelta(days=30), analytics.default_settings(), full_refresh=True)
    errors, seen, stop = [], [], threading.Event()

    def reader():
        with warehouse_db.connect() as conn:
            conn.autocommit = True
            while not stop.is_set():
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT count(*) FROM analytics.current_stock")
                        a = cur.fetchone()[0]
                        cur.execute("SELECT count(*) FROM analytics.fact_inventory_reconciliation")
                        b = cur.fetchone()[0]
                    seen.append((a, b))
                except psycopg2.Error as exc:
                    errors.append(repr(exc))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(8):
        analytics.publish(pipeline, run_id, plan)
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(seen) > 20
    assert all(a > 0 and b > 0 for a, b in seen)
    assert len(set(seen)) == 1  # always the whole table, never a partial one


def test_each_quality_check_is_its_own_task_and_one_failure_publishes_nothing(pipeline):
    """The gate in the DAG: one mapped instance per check, named after it; the failing ones fail, publish waits.

    Staging is spoiled after the fixture's build, so this run marks build_analytics successful instead of running
    Spark (which would write staging anew) and claims the staged output as its own.
    """
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    before = published(pipeline)
    logical_date = END + timedelta(hours=3)
    run_after = datetime(2026, 9, 1, 3, 0, 7, tzinfo=UTC)
    run_id = DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=logical_date, run_after=run_after)
    with pipeline.cursor() as cur:
        cur.execute(
            "UPDATE staging.current_stock SET quantity = -1 WHERE product_id = (SELECT min(product_id) "
            "FROM staging.current_stock)"
        )
        cur.execute("INSERT INTO staging.dim_products SELECT * FROM staging.dim_products LIMIT 1")
        cur.execute("UPDATE staging.publish_manifest SET run_id = %s", (run_id,))
    pipeline.commit()
    settings = analytics.default_settings()
    checks = analytics.gate_checks(analytics.read_manifest(pipeline, run_id), settings)
    found = analytics.run_checks(pipeline, checks)
    violated = {c.group for c in checks if found[c.name]}
    assert {"no_negative_stock", "aging_sums_to_on_hand", "unique_keys"} <= violated
    assert len({c.group for c in checks}) < len(checks)  # the key checks of all tables are one instance

    bag = DagBag(dag_folder=str(DAGS_DIR / "build_inventory_analytics.py"))
    # A full run: one instance per check (a minute's pairs-mode run puts them all in one, `all_checks`).
    run = bag.dags["build_inventory_analytics"].test(
        logical_date=logical_date,
        run_after=run_after,
        run_conf={"full_refresh": True},
        mark_success_pattern="build_analytics",
    )
    assert run.run_id == run_id
    instances = run.get_task_instances()
    states = {ti.rendered_map_index: ti.state for ti in instances if ti.task_id == "quality_gate.check"}
    assert sorted(states) == sorted({c.group for c in checks})  # every check, each named after it in the UI
    assert {name for name, state in states.items() if state == "failed"} == violated
    others = {ti.task_id: ti.state for ti in instances if ti.task_id != "quality_gate.check"}
    assert others["publish"] == others["alerts.send_alerts"] == "upstream_failed"
    failed_tries = {ti.try_number for ti in instances if ti.task_id == "quality_gate.check" and ti.state == "failed"}
    assert failed_tries == {1}, "a violation fails at once: staging does not change between tries"
    assert run.state == "failed"
    assert published(pipeline) == before
    # On-call is told which check failed, and for keys which table.
    mails = query(
        pipeline,
        "SELECT mime FROM alerts.alert_log WHERE kind = 'failure' AND dedup_key LIKE %s",
        (f"failure:build_inventory_analytics:quality_gate.check:{run_id}:%",),
    )
    texts = [message_from_string(m, policy=default_policy).get_body(("plain",)).get_content() for (m,) in mails]
    assert len(texts) == len(violated)
    assert any("quality check unique_keys failed" in t and "unique_key_dim_products: 1 violations" in t for t in texts)
    # The minute's single instance runs every check and names each failure too.
    with pytest.raises(analytics.QualityGateFailed) as failure:
        analytics.run_check_group(pipeline, run_id, settings, analytics.ALL_CHECKS)
    assert all(c.name in str(failure.value) for c in checks if found[c.name])
    # Outside Airflow (bench) the gate runs the same checks in one go, naming each failure.
    with pytest.raises(analytics.QualityGateFailed) as failure:
        analytics.quality_gate(pipeline, run_id, settings)
    assert all(c.name in str(failure.value) for c in checks if found[c.name])
    with pytest.raises(analytics.QualityGateFailed, match="not of other-run"):
        analytics.quality_gate(pipeline, "other-run", settings)


def test_the_first_run_left_a_class_data_sharing_archive_for_the_driver(pipeline):
    """The runs above started the Spark driver from it (include/inventory/spark.py); no dump left half-written."""
    import os

    made = sorted(p.name for p in (Path(os.environ["AIRFLOW_HOME"]) / "spark-cds").iterdir())
    assert len(made) == 1 and made[0].endswith(".jsa"), made
