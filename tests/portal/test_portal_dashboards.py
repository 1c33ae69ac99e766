"""The dashboards on the real PostgreSQL: their numbers are the analytics tables' over the manager's location only,
read as bi_reader, and the page notices a new publish by itself."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import portal_seed as seed
import psycopg2.errors
import pytest
from portal_helpers import registered_and_logged_in

from include.inventory.db import transaction
from include.portal import dashboards
from include.portal.accounts import INVENTORY_MANAGER, STORE_MANAGER
from include.portal.db import Database

LOCATION_WAREHOUSES = {1: [1, 2], 2: [3, 4], 3: [5]}


def one(conn, query: str, params=()) -> tuple:
    with conn.cursor() as cur:
        cur.execute(query, params)
        row = cur.fetchone()
    conn.rollback()
    return row


def inventory_expected(conn, warehouses: list[int]) -> dict:
    """The KPIs recomputed here with plain SQL over the given warehouses (an independent check of sql/portal)."""
    units, products, value = one(
        conn,
        "SELECT sum(quantity), count(DISTINCT product_id), sum(stock_value) FROM analytics.current_stock "
        "WHERE warehouse_id = ANY(%s)",
        (warehouses,),
    )
    low, out, order = one(
        conn,
        "SELECT count(*), count(*) FILTER (WHERE is_stock_out), sum(suggested_order_qty) "
        "FROM analytics.low_stock_data WHERE warehouse_id = ANY(%s)",
        (warehouses,),
    )
    aged_units, aged_value, age_sum, layer_units = one(
        conn,
        "SELECT sum(aged_units), sum(aged_value), sum(unit_age_days_sum), sum(units) FROM analytics.inventory_aging "
        "WHERE warehouse_id = ANY(%s)",
        (warehouses,),
    )
    cogs, avg_value, demand, overstock = one(
        conn,
        "SELECT sum(cogs), sum(avg_inventory_value), sum(avg_daily_demand), count(*) FILTER (WHERE is_overstock) "
        "FROM analytics.product_inventory_metrics WHERE warehouse_id = ANY(%s)",
        (warehouses,),
    )
    q2, q4 = Decimal("0.01"), Decimal("0.0001")
    return {
        "total_units": units,
        "unique_products": products,
        "stock_value": value,
        "low_stock_products": low,
        "stock_out_products": out,
        "suggested_order_units": order,
        "aging_units": aged_units,
        "aging_value": aged_value,
        "weighted_aging_days": (Decimal(age_sum) / layer_units).quantize(q2, "ROUND_HALF_UP"),
        "avg_price_aging_stock": (aged_value / aged_units).quantize(q2, "ROUND_HALF_UP"),
        "inventory_turnover": (cogs / avg_value).quantize(q4, "ROUND_HALF_UP"),
        "avg_daily_demand": demand,
        "overstock_products": overstock,
    }


@pytest.mark.parametrize("location_id", [1, 2, 3])
def test_inventory_kpis_are_those_of_the_managers_location(make_client, seeded, location_id):
    client = registered_and_logged_in(make_client(), INVENTORY_MANAGER, location_id=str(location_id))
    data = client.get("/api/dashboard").json()
    assert data["ready"] and data["scope"]["location_name"] == seed.LOCATIONS[location_id]
    assert [w["warehouse_id"] for w in data["scope"]["warehouses"]] == sorted(
        LOCATION_WAREHOUSES[location_id], key=lambda w: seed.WAREHOUSES[w][0]
    )
    expected = inventory_expected(seeded, LOCATION_WAREHOUSES[location_id])
    got = {k: (Decimal(v) if isinstance(v, str) else v) for k, v in data["kpis"].items()}
    assert got == expected

    # The page shows the same numbers, formatted to the cent, with the currency.
    page = client.get("/dashboard").text
    assert f'id="kpi-stock_value" data-value="{data["kpis"]["stock_value"]}">${expected["stock_value"]:,}<' in page
    assert f'id="kpi-total_units" data-value="{expected["total_units"]}">{expected["total_units"]:,}<' in page


def test_low_stock_list_shows_units_on_order_beside_the_net_suggestion(make_client, seeded):
    client = registered_and_logged_in(make_client(), INVENTORY_MANAGER, location_id="2")
    rows = client.get("/api/dashboard").json()["low_stock"]["rows"]
    with seeded.cursor() as cur:
        cur.execute(
            "SELECT product_id, warehouse_id, on_order_qty, suggested_order_qty FROM analytics.low_stock_data "
            "WHERE warehouse_id = ANY(%s)",
            (LOCATION_WAREHOUSES[2],),
        )
        published = {(p, w): (on_order, order) for p, w, on_order, order in cur.fetchall()}
    seeded.rollback()
    assert {(r["product_id"], r["warehouse_id"]): (r["on_order_qty"], r["suggested_order_qty"]) for r in rows} == (
        published
    )
    # Southport's low pairs: covered by open orders (nothing more to order, still listed), in part, and not at all.
    assert published[(2, 3)] == (120, 0) and published[(4, 3)] == (40, 59) and published[(3, 3)] == (0, 101)

    page = client.get("/dashboard").text
    table = page[page.index('id="low-stock"') : page.index("</table>", page.index('id="low-stock"'))]
    assert '<th scope="col" class="num">On order</th><th scope="col" class="num">Suggested order</th>' in table
    for (product_id, warehouse_id), (on_order, order) in published.items():
        start = table.index(f'data-product-id="{product_id}" data-warehouse-id="{warehouse_id}"')
        row = table[start : table.index("</tr>", start)]
        assert f'<td class="num">{on_order:,}</td><td class="num">{order:,}</td>' in row
    assert "Suggested order: what still needs ordering after what is on hand and on order" in page


def test_a_manager_never_sees_another_locations_data(make_client, seeded):
    north = registered_and_logged_in(make_client(), INVENTORY_MANAGER, location_id="1")
    data = north.get("/api/dashboard").json()
    page = north.get("/dashboard").text
    mine = {1, 2}
    assert {w["warehouse_id"] for w in data["scope"]["warehouses"]} == mine
    assert {r["warehouse_id"] for r in data["low_stock"]["rows"]} <= mine and data["low_stock"]["rows"]
    assert {r["warehouse_id"] for r in data["discrepancies"]["rows"]} <= mine and data["discrepancies"]["rows"]
    assert {w["warehouse_id"] for w in data["warehouses"]} == mine
    for other in ("Southport", "Eastbrook", "Eastbrook Exclusive Lamp", "SKU-00006"):
        assert other not in page

    east = registered_and_logged_in(make_client(), STORE_MANAGER, location_id="3", email="east@example.com")
    sales = east.get("/api/dashboard").json()
    assert {w["warehouse_id"] for w in sales["warehouses"]} == {5}
    assert "Eastbrook Exclusive Lamp" in {p["product_name"] for p in sales["top_products"]}
    north_store = registered_and_logged_in(make_client(), STORE_MANAGER, location_id="1", email="n@example.com")
    north_sales = north_store.get("/api/dashboard").json()
    assert "Eastbrook Exclusive Lamp" not in {p["product_name"] for p in north_sales["top_products"]}
    assert Decimal(north_sales["kpis"]["total_revenue"]) != Decimal(sales["kpis"]["total_revenue"])


def sales_expected(conn, warehouses: list[int]) -> dict:
    today = seed.TODAY
    first, monday = today - timedelta(days=seed.PERIOD_DAYS - 1), today - timedelta(days=today.weekday())

    def total(column: str, since, until=today):
        return one(
            conn,
            f"SELECT coalesce(sum({column}), 0) FROM analytics.fact_daily_sales "
            "WHERE warehouse_id = ANY(%s) AND date_key BETWEEN %s AND %s",
            (warehouses, since, until),
        )[0]

    revenue = total("revenue", first)
    # Day on day on complete days: as of noon, today is under way; the last complete day is yesterday.
    dod_day = seed.AS_OF.date() - timedelta(days=1)
    previous_day = dod_day - timedelta(days=1)
    dod_rev, dod_previous_rev = total("revenue", dod_day, dod_day), total("revenue", previous_day, previous_day)
    q2 = Decimal("0.01")
    return {
        "wtd_revenue": total("revenue", monday),
        "wtd_units": total("units", monday),
        "total_revenue": revenue,
        "total_units": total("units", first),
        "avg_daily_sales": (revenue / seed.PERIOD_DAYS).quantize(q2, "ROUND_HALF_UP"),
        "dod_day": dod_day.isoformat(),
        "dod_revenue": dod_rev,
        "dod_previous_revenue": dod_previous_rev,
        "dod_growth_pct": ((dod_rev - dod_previous_rev) * 100 / dod_previous_rev).quantize(q2, "ROUND_HALF_UP"),
    }


@pytest.mark.parametrize("location_id", [1, 2, 3])
def test_sales_kpis_trend_and_top_products_for_the_store(make_client, seeded, location_id):
    client = registered_and_logged_in(make_client(), STORE_MANAGER, location_id=str(location_id))
    data = client.get("/api/dashboard").json()
    warehouses = LOCATION_WAREHOUSES[location_id]
    got = {k: (Decimal(v) if isinstance(v, str) and k != "dod_day" else v) for k, v in data["kpis"].items()}
    assert got == sales_expected(seeded, warehouses)

    trend = data["trend"]
    assert len(trend) == seed.PERIOD_DAYS and trend[-1]["date_key"] == seed.TODAY.isoformat()
    assert [d["is_complete_day"] for d in trend] == [True] * (seed.PERIOD_DAYS - 1) + [False]  # today: so far
    assert sum(Decimal(d["revenue"]) for d in trend) == got["total_revenue"]
    assert sum(d["units"] for d in trend) == got["total_units"]

    # sales_by_warehouse (published for the same period) agrees with the KPI computed from the daily facts.
    assert sum(Decimal(w["revenue"]) for w in data["warehouses"]) == got["total_revenue"]
    assert {w["warehouse_id"] for w in data["warehouses"]} == set(warehouses)

    top = data["top_products"]
    by_product = {}
    for p, w in seed.pairs():
        if w in warehouses:
            by_product[p] = sum(
                Decimal(r["revenue"])
                for r in (seed.fact_daily_sales_rows())
                if r["product_id"] == p and r["warehouse_id"] == w and r["date_key"] > seed.TODAY - timedelta(days=30)
            ) + by_product.get(p, Decimal(0))
    best = max(by_product, key=by_product.get)
    by_revenue = [t for t in top if t["ranking"] == "revenue"]
    assert by_revenue[0]["product_id"] == best and by_revenue[0]["rank"] == 1
    assert by_revenue[0]["ranking_label"] == "Top by revenue"
    assert Decimal(by_revenue[0]["revenue"]) == by_product[best]
    assert [t["rank"] for t in by_revenue] == sorted(t["rank"] for t in by_revenue)
    by_units = [t for t in top if t["ranking"] == "units"]
    assert by_units and [t["units"] for t in by_units] == sorted((t["units"] for t in by_units), reverse=True)

    page = client.get("/dashboard").text
    k = data["kpis"]
    assert f'id="kpi-total_revenue" data-value="{k["total_revenue"]}">${got["total_revenue"]:,}<' in page
    sign = "+" if got["dod_growth_pct"] > 0 else ""
    assert f'id="kpi-dod_growth_pct" data-value="{k["dod_growth_pct"]}">{sign}{got["dod_growth_pct"]:,} %<' in page


def test_the_reads_run_as_the_read_only_role(seeded, settings):
    """The analytics queries run under the configured role: a role without grants fails, bi_reader works, and the
    transaction cannot write."""
    db = Database(settings.database_url, size=1)
    try:
        with transaction(seeded) as cur:
            cur.execute("DROP ROLE IF EXISTS portal_test_nobody")
            cur.execute("CREATE ROLE portal_test_nobody NOLOGIN")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            with db.transaction(read_only=True) as cur:
                dashboards.read_dashboard(cur, INVENTORY_MANAGER, 1, "portal_test_nobody", 30)
        with db.transaction(read_only=True) as cur:
            data = dashboards.read_dashboard(cur, INVENTORY_MANAGER, 1, "bi_reader", 30)
            cur.execute("SELECT current_user")
            assert cur.fetchone() == ("bi_reader",)
        assert data["ready"] and data["kpis"]["total_units"] > 0
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            with db.transaction(read_only=True) as cur:
                cur.execute("DELETE FROM portal.password_checks")
    finally:
        db.close()
        with transaction(seeded) as cur:
            cur.execute("DROP ROLE IF EXISTS portal_test_nobody")


def test_a_connection_that_broke_is_replaced_not_lent_again(seeded, settings):
    """A connection the server dropped, under either way of borrowing (connection, transaction): the caller gets the
    server's error (not "connection already closed" from a rollback on it), the next borrower a new connection."""

    def drop(pid: int) -> None:
        with transaction(seeded) as cur:
            cur.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))

    def backend(cur) -> int:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]

    db = Database(settings.database_url, size=1)
    try:
        with db.transaction() as cur:
            first = backend(cur)
        drop(first)
        with pytest.raises(psycopg2.OperationalError), db.transaction() as cur:
            cur.execute("SELECT 1")
        with db.connection() as conn, conn.cursor() as cur:
            second = backend(cur)
        assert second != first
        drop(second)
        with pytest.raises(psycopg2.OperationalError), db.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
        with db.transaction(read_only=True) as cur:
            assert backend(cur) not in (first, second)
    finally:
        db.close()


def test_bi_reader_cannot_read_the_portals_accounts(client, seeded):
    registered_and_logged_in(client, STORE_MANAGER)
    for table in ("portal.accounts", "portal.sessions", "portal.password_checks", "portal.registrations"):
        with seeded.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("SET LOCAL ROLE bi_reader")
            cur.execute(f"SELECT * FROM {table}")
        seeded.rollback()


def test_the_page_updates_when_a_new_publish_lands(client, seeded):
    registered_and_logged_in(client, INVENTORY_MANAGER)
    before = client.get("/api/watermark").json()["watermark"]
    assert before["as_of"] == seed.AS_OF.isoformat()
    assert client.get(f"/dashboard/live?after={before['publish_id']}").status_code == 204
    page = client.get("/dashboard").text
    assert f'data-publish-id="{before["publish_id"]}"' in page and "Data as of" in page
    assert 'data-live-url="/dashboard/live"' in page and 'data-poll-seconds="1' in page

    # A publish: new stock in warehouse 1 and a new publish_log row, in one transaction, as the publish step does.
    with transaction(seeded) as cur:
        cur.execute("UPDATE analytics.current_stock SET quantity = quantity + 1000 WHERE warehouse_id = 1")
        new_id = seed.publish(cur, seed.AS_OF + timedelta(minutes=1), "next")
    live = client.get(f"/dashboard/live?after={before['publish_id']}")
    assert live.status_code == 200
    assert f'data-publish-id="{new_id}"' in live.text
    assert "2026-11-25 12:01 UTC" in live.text  # the new "as of"
    expected = inventory_expected(seeded, [1, 2])["total_units"]
    assert f'id="kpi-total_units" data-value="{expected}"' in live.text
    assert "<html" not in live.text  # the data section only
    assert client.get(f"/dashboard/live?after={new_id}").status_code == 204


def test_before_the_first_publish_the_page_says_it_is_waiting(client, seeded):
    with transaction(seeded) as cur:
        cur.execute("DELETE FROM analytics.publish_log; DROP TABLE analytics.fact_daily_sales")
    registered_and_logged_in(client, STORE_MANAGER)
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "No analytics have been published yet." in page.text and 'id="not-ready"' in page.text
    assert "waiting for: fact_daily_sales" in page.text
    data = client.get("/api/dashboard").json()
    assert data["ready"] is False and data["missing_tables"] == ["fact_daily_sales"]
    assert client.get("/dashboard/live?after=").status_code == 204


def test_live_endpoints_need_a_session(client, seeded):
    assert client.get("/dashboard/live").status_code == 401
    assert client.get("/api/watermark").status_code == 401
    assert client.get("/dashboard").headers["location"] == "/"


def test_health_check_and_static_chart_library(client, seeded):
    assert client.get("/healthz").json() == {"status": "ok"}
    script = client.get("/static/vendor/chart.umd.min.js")
    assert script.status_code == 200 and "Chart.js v4" in script.text[:200]
    assert client.get("/static/portal.js").status_code == 200
