"""The inventory manager's working view over HTTP, on the real PostgreSQL: the stock list's search, filters, sort,
paging and CSV export, the stock and sales trends, top sellers and the labels that say the thresholds.

The seed (portal_seed.py) gets 60 more products in Northfield's two warehouses here, so the list has pages; the
expected rows are read with plain SQL from the analytics tables and filtered and sorted in Python, independently
of sql/portal/stock_list.sql.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import portal_seed as seed
import pytest
from portal_helpers import SORT_FIELDS, expected_rows, ordered, pairs, registered_and_logged_in

from include.inventory.db import transaction
from include.portal.accounts import INVENTORY_MANAGER, STORE_MANAGER

NORTH = [1, 2]


@pytest.fixture
def north(make_client, seeded):
    """An inventory manager of Northfield (warehouses 1 and 2), logged in, over the seed and 60 more products."""
    seed.add_bulk_products(seeded)
    return registered_and_logged_in(make_client(), INVENTORY_MANAGER, location_id="1")


def api(client, **params) -> dict:
    response = client.get("/api/dashboard", params=params)
    assert response.status_code == 200, response.text
    return response.json()["stock"]


def page_pairs(html: str) -> list[tuple[int, int]]:
    """The (product, warehouse) of each row of the page's stock table, in order."""
    table = html[html.index('id="stock-table"') : html.index("</table>", html.index('id="stock-table"'))]
    return [(int(p), int(w)) for p, w in re.findall(r'data-product-id="(\d+)" data-warehouse-id="(\d+)"', table)]


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def test_the_default_list_is_every_pair_of_the_location_by_product(north, seeded):
    expected = ordered(expected_rows(seeded, NORTH))
    assert len(expected) == 70  # 5 seeded products x 2 warehouses + 60
    stock = api(north)
    assert stock["total_rows"] == 70 and stock["page"] == 1 and stock["pages"] == 2
    assert pairs(stock["rows"]) == pairs(expected[:50])
    assert stock["total_units"] == sum(r["quantity"] for r in expected)
    assert Decimal(stock["total_value"]) == sum(r["stock_value"] for r in expected)
    for got, want in zip(stock["rows"], expected, strict=False):
        assert got["quantity"] == want["quantity"] and Decimal(got["stock_value"]) == want["stock_value"]
        assert Decimal(got["avg_daily_demand"]) == want["avg_daily_demand"]
        assert (got["coverage_days"] and Decimal(got["coverage_days"])) == want["coverage_days"]
        assert got["aged_units"] == want["aged_units"]
        assert got["on_order_qty"] == want["on_order_qty"]
        assert got["suggested_order_qty"] == want["suggested_order_qty"]
        assert got["status_rank"] == want["status_rank"]
    assert {r["status"] for r in expected} == {"out", "low", "ok", "overstock"}  # the data has every kind
    assert {r["on_order_qty"] > 0 for r in expected} == {True, False}  # some pairs have units on order, some none

    page = north.get("/dashboard").text
    assert page_pairs(page) == pairs(expected[:50])
    assert "Rows 1–50 of 70: " in page and 'id="stock-page">Page 1 of 2<' in page
    assert "Southport" not in page and "Eastbrook" not in page


def row_cells(html: str, table_id: str, pair: tuple[int, int]) -> list[str]:
    """The text of every cell (th and td) of one pair's row in the page's table `table_id`."""
    table = html[html.index(f'id="{table_id}"') : html.index("</table>", html.index(f'id="{table_id}"'))]
    start = table.index(f'data-product-id="{pair[0]}" data-warehouse-id="{pair[1]}"')
    row = table[start : table.index("</tr>", start)]
    return [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]


def test_the_stock_table_shows_units_on_order_beside_the_net_suggestion(north, seeded):
    html = north.get("/dashboard", params={"q": "doohickey"}).text
    table = html[html.index('id="stock-table"') : html.index("</thead>", html.index('id="stock-table"'))]
    keys = re.findall(r'data-sort="(\w+)">([^<]+)<', table)
    column = keys.index(("on_order", "On order"))
    assert keys[column + 1] == ("order", "Suggested order")
    # Doohickey in Northfield Central: 19 on hand, 120 on order cover all it needs (nothing more to order); in the
    # Depot 80 of the 90 units it needs are on order (10 more); Gadget in Central: not low, 40 on order, no
    # suggestion.
    assert row_cells(html, "stock-table", (4, 1))[column : column + 2] == ["120", "0"]
    assert row_cells(html, "stock-table", (4, 2))[column : column + 2] == ["80", "10"]
    html = north.get("/dashboard", params={"q": "gadget"}).text
    assert row_cells(html, "stock-table", (2, 1))[column : column + 2] == ["40", "–"]
    assert "On order: units on open purchase orders (placed, not yet received)" in html


@pytest.mark.parametrize("sort", list(SORT_FIELDS))
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_every_column_sorts_both_ways_across_pages(north, seeded, sort, direction):
    expected = pairs(ordered(expected_rows(seeded, NORTH), sort, direction))
    got = []
    for page in (1, 2, 3):
        stock = api(north, sort=sort, dir=direction, per_page=25, page=page)
        assert stock["page"] == page and stock["pages"] == 3 and stock["total_rows"] == 70
        got += pairs(stock["rows"])
    assert got == expected  # every row once, in order, none repeated or skipped between pages
    html = north.get("/dashboard", params={"sort": sort, "dir": direction, "per_page": 25, "page": 2}).text
    assert page_pairs(html) == expected[25:50]
    assert 'aria-sort="ascending"' in html if direction == "asc" else 'aria-sort="descending"' in html


def test_search_by_name_or_sku_case_insensitive_and_literal(north, seeded):
    rows = expected_rows(seeded, NORTH)
    stock = api(north, q="  bulk ITEM 1 ")
    assert pairs(stock["rows"]) == pairs(ordered([r for r in rows if "bulk item 1" in r["product_name"].lower()]))
    assert stock["total_rows"] == 10
    assert pairs(api(north, q="blk-0123")["rows"]) == [(123, seed.bulk_pair(123)[0])]
    assert pairs(api(north, q="sku-00003")["rows"]) == pairs(ordered([r for r in rows if r["product_id"] == 3]))
    # % and _ are matched as themselves, not as wildcards; quotes are text.
    assert api(north, q="%")["total_rows"] == 0 and api(north, q="Bulk_Item")["total_rows"] == 0
    assert api(north, q="'; DROP TABLE analytics.current_stock; --")["total_rows"] == 0
    assert api(north)["total_rows"] == 70
    with transaction(seeded) as cur:
        cur.execute("UPDATE analytics.current_stock SET product_name = '50% Off_Bin' WHERE product_id = 100")
    assert pairs(api(north, q="0% off_")["rows"]) == [(100, 1)]


def test_filters_by_warehouse_category_and_status_and_combined(north, seeded):
    rows = expected_rows(seeded, NORTH)

    def check(params: dict, keep) -> None:
        want = ordered([r for r in rows if keep(r)])
        stock = api(north, per_page=200, **params)
        assert pairs(stock["rows"]) == pairs(want) and stock["total_rows"] == len(want), params
        assert want, f"the filter {params} selects nothing: the test would prove little"

    check({"warehouse": 2}, lambda r: r["warehouse_id"] == 2)
    check({"category": "Tools"}, lambda r: r["category"] == "Tools")
    check({"status": "low"}, lambda r: r["status"] in ("low", "out"))
    check({"status": "out"}, lambda r: r["status"] == "out")
    check({"status": "overstock"}, lambda r: r["is_overstock"])  # the published flag, low stock or not
    check({"status": "aging"}, lambda r: r["aged_units"] > 0)
    check(
        {"warehouse": 1, "category": "Bulk", "status": "low", "q": "item"},
        lambda r: r["warehouse_id"] == 1 and r["category"] == "Bulk" and r["status"] in ("low", "out"),
    )
    assert api(north, category="No Such Category")["total_rows"] == 0

    html = north.get("/dashboard", params={"warehouse": 2, "category": "Tools"}).text
    assert page_pairs(html) == pairs(ordered([r for r in rows if r["warehouse_id"] == 2 and r["category"] == "Tools"]))
    assert '<option value="2" selected>Northfield Depot</option>' in html
    assert '<option value="Tools" selected>Tools</option>' in html
    assert "Clear filters" in html


def test_paging_numbers_and_a_page_past_the_end(north, seeded):
    expected = pairs(ordered(expected_rows(seeded, NORTH)))
    last = api(north, per_page=25, page=3)
    assert pairs(last["rows"]) == expected[50:] and last["first_row"] == 51 and last["last_row"] == 70
    beyond = api(north, per_page=25, page=99)  # clamped to the last page, as the page says
    assert beyond["page"] == 3 and pairs(beyond["rows"]) == expected[50:]
    html = north.get("/dashboard", params={"per_page": 25, "page": 2}).text
    assert "Rows 26–50 of 70: " in html and 'id="stock-page">Page 2 of 3<' in html
    # The pager keeps the sort and filters, and goes to the neighbouring pages.
    assert 'href="/dashboard?per_page=25#stock" rel="prev"' in html
    assert 'href="/dashboard?page=3&amp;per_page=25#stock" rel="next"' in html
    nothing = api(north, q="no such product")
    assert nothing["total_rows"] == 0 and nothing["rows"] == [] and nothing["page"] == 1 and nothing["pages"] == 1
    assert "No stock matches these filters" in north.get("/dashboard", params={"q": "no such product"}).text


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"sort": "cost_price; DROP TABLE analytics.current_stock"}, "cannot be sorted by"),
        ({"sort": "quantity"}, "cannot be sorted by 'quantity'"),
        ({"dir": "sideways"}, "Unknown sort direction"),
        ({"status": "lost"}, "Unknown status 'lost'"),
        ({"page": "0"}, "The page number starts at 1."),
        ({"page": "two"}, "The page must be a whole number"),
        ({"per_page": "7"}, "Rows per page can be 25, 50, 100, 200, not 7."),
        ({"warehouse": "3"}, "Warehouse 3 is not one of your location's warehouses."),
        ({"warehouse": "x"}, "The warehouse must be a whole number"),
        ({"q": "x" * 101}, "at most 100 characters"),
    ],
)
def test_bad_parameters_get_a_clear_error_everywhere(north, seeded, params, says):
    page = north.get("/dashboard", params=params)
    assert page.status_code == 400 and says in unescape(page.text)
    assert 'href="/dashboard#stock"' in page.text  # the way back to the whole list
    json = north.get("/api/dashboard", params=params)
    assert json.status_code == 400 and says in json.json()["detail"]
    export = north.get("/dashboard/stock.csv", params=params)
    assert export.status_code == 400 and says in unescape(export.text)
    with seeded.cursor() as cur:
        cur.execute("SELECT count(*) FROM analytics.current_stock")
        assert cur.fetchone()[0] > 0
    seeded.rollback()


def test_csv_export_is_exactly_the_filtered_list_in_order_all_pages(north, seeded):
    rows = expected_rows(seeded, NORTH)
    params = {"q": "bulk", "sort": "value", "dir": "desc", "per_page": 25, "page": 2}
    want = ordered([r for r in rows if "bulk" in r["product_name"].lower()], "value", "desc")
    assert len(want) == 60

    html = north.get("/dashboard", params=params).text
    assert len(page_pairs(html)) == 25  # the page shows 25 of them; the file has them all
    link = re.search(r'id="stock-csv" href="([^"]+)"', html)[1].replace("&amp;", "&")
    assert link == "/dashboard/stock.csv?q=bulk&sort=value&dir=desc"  # no page: every page
    assert "Download CSV (60 rows)" in html
    response = north.get(link)
    table = read_csv(response)
    assert table[0] == [
        "Product",
        "SKU",
        "Category",
        "Warehouse",
        "On hand (units)",
        "Cost price (USD)",
        "Stock value (USD)",
        "Daily demand (units)",
        "Days of cover",
        "Units older than 90 days",
        "Reorder point (units)",
        "On open purchase orders (units)",
        "Suggested order, net of open orders (units)",
        "Status",
        "Counted at (UTC)",
    ]
    body = table[1:]
    assert [(r[1], r[3]) for r in body] == [(w["sku"], w["warehouse_name"]) for w in want]
    for line, w in zip(body, want, strict=True):
        assert line[4] == str(w["quantity"]) and Decimal(line[6]) == w["stock_value"]
        assert line[9] == str(w["aged_units"]) and line[8] == (
            "" if w["coverage_days"] is None else str(w["coverage_days"])
        )
        assert line[11] == str(w["on_order_qty"])
        assert line[12] == ("" if w["suggested_order_qty"] is None else str(w["suggested_order_qty"]))
        assert line[14] == "2026-11-25 12:00:00"
    assert response.headers["content-disposition"] == 'attachment; filename="stock_northfield_20261125-1200.csv"'
    assert response.headers["x-data-as-of"] == seed.AS_OF.isoformat()
    assert response.headers["x-row-count"] == str(len(want))

    everything = read_csv(north.get("/dashboard/stock.csv"))
    assert len(everything) == 1 + len(rows)


def test_csv_cells_that_look_like_formulas_are_quoted(north, seeded):
    with transaction(seeded) as cur:
        cur.execute(
            "UPDATE analytics.current_stock SET product_name = '=HYPERLINK(\"http://x.example\")' "
            "WHERE product_id = 101"
        )
    (line,) = read_csv(north.get("/dashboard/stock.csv", params={"q": "BLK-0101"}))[1:]
    assert line[0] == '\'=HYPERLINK("http://x.example")'


def test_the_export_is_for_inventory_managers_logged_in(make_client, seeded):
    anonymous = make_client()
    assert anonymous.get("/dashboard/stock.csv").headers["location"] == "/"
    store = registered_and_logged_in(make_client(), STORE_MANAGER, location_id="1")
    response = store.get("/dashboard/stock.csv")
    assert response.status_code == 403 and "inventory managers" in response.text
    assert "stock" not in store.get("/api/dashboard", params={"sort": "nonsense"}).json()  # ignored for them


def test_live_update_keeps_the_filters_and_page(north, seeded):
    params = {"q": "bulk", "warehouse": 2, "sort": "on_hand", "dir": "desc", "per_page": 25, "page": 2}
    before = north.get("/api/watermark").json()["watermark"]["publish_id"]
    with transaction(seeded) as cur:
        cur.execute("UPDATE analytics.current_stock SET quantity = quantity + 1000 WHERE product_id = 131")
        seed.publish(cur, seed.AS_OF + timedelta(minutes=1), "next")
    live = north.get("/dashboard/live", params={**params, "after": before})
    assert live.status_code == 200
    rows = [r for r in expected_rows(seeded, NORTH) if r["warehouse_id"] == 2 and "bulk" in r["product_name"].lower()]
    assert page_pairs(live.text) == pairs(ordered(rows, "on_hand", "desc"))[25:50]
    assert 'data-live-part="stock"' in live.text and 'data-live-part="head"' in live.text
    assert 'id="stock-form"' not in live.text  # what the person is typing is not replaced


def test_stock_and_sales_trends_and_top_sellers_of_the_location(make_client, seeded):
    # Some closing counts of 0 in Northfield (warehouse 1) on two days, to count as stock-outs.
    out_days = [seed.TODAY - timedelta(days=2), seed.TODAY - timedelta(days=5)]
    with transaction(seeded) as cur:
        cur.execute(
            "UPDATE analytics.fact_inventory_reconciliation SET actual_closing_stock = 0 "
            "WHERE warehouse_id = 1 AND product_id IN (1, 2) AND date_key = ANY(%s)",
            (out_days,),
        )
    client = registered_and_logged_in(make_client(), INVENTORY_MANAGER, location_id="1")
    data = client.get("/api/dashboard").json()

    with seeded.cursor() as cur:
        cur.execute(
            "SELECT r.date_key, sum(r.actual_closing_stock), sum(r.actual_closing_stock * p.cost_price), "
            "count(*) FILTER (WHERE r.actual_closing_stock = 0) FROM analytics.fact_inventory_reconciliation r "
            "JOIN analytics.dim_products p USING (product_id) WHERE r.warehouse_id = ANY(%s) "
            "GROUP BY r.date_key ORDER BY r.date_key",
            (NORTH,),
        )
        closing = cur.fetchall()
        first = seed.TODAY - timedelta(days=seed.PERIOD_DAYS - 1)
        cur.execute(
            "SELECT date_key, sum(units), sum(revenue) FROM analytics.fact_daily_sales "
            "WHERE warehouse_id = ANY(%s) AND date_key BETWEEN %s AND %s GROUP BY date_key ORDER BY date_key",
            (NORTH, first, seed.TODAY),
        )
        sales = cur.fetchall()
        cur.execute(
            "SELECT product_id, sum(revenue) FROM analytics.fact_daily_sales WHERE warehouse_id = ANY(%s) "
            "AND date_key BETWEEN %s AND %s GROUP BY product_id ORDER BY sum(revenue) DESC",
            (NORTH, first, seed.TODAY),
        )
        revenue_by_product = cur.fetchall()
    seeded.rollback()

    trend = data["stock_trend"]
    assert len(closing) == 20 and len(trend) == 20  # every published day (20 < the 30-day period)
    assert [(t["date_key"], t["units"], Decimal(t["stock_value"]), t["stock_outs"]) for t in trend] == [
        (d.isoformat(), u, v, n) for d, u, v, n in closing
    ]
    assert {t["date_key"] for t in trend if t["stock_outs"]} == {d.isoformat() for d in out_days}
    assert [t["stock_outs"] for t in trend if t["stock_outs"]] == [2, 2]

    by_day = {d: (u, r) for d, u, r in sales}
    assert len(data["sales_trend"]) == seed.PERIOD_DAYS
    for day in data["sales_trend"]:
        units, revenue = by_day.get(date.fromisoformat(day["date_key"]), (0, Decimal(0)))
        assert day["units"] == units and Decimal(day["revenue"]) == revenue

    top = data["top_products"]
    by_revenue = [t["product_id"] for t in top if t["ranking"] == "revenue" and t["rank"] <= 3]
    assert by_revenue == [p for p, _ in revenue_by_product[:3]]
    assert all(t["product_id"] != 6 for t in top)  # the Eastbrook-only product is not Northfield's

    page = client.get("/dashboard").text
    for table in ('id="stock-trend"', 'id="sales-trend"', 'id="top-sellers"'):
        assert table in page
    assert f'<td class="num">${closing[-1][2]:,.2f}</td>' in page


def test_labels_say_the_published_thresholds(make_client, seeded):
    client = registered_and_logged_in(make_client(), INVENTORY_MANAGER, location_id="2")
    page = client.get("/dashboard").text
    assert ">older than 90 days<" in page  # the aging units' card
    assert "pairs at or under 50 units" in page and "with more than 90 days of cover" in page
    assert (
        'Aging units<span class="arrow" aria-hidden="true">↕</span><span class="sub">older than 90 days</span>' in page
    )
    assert "average of the last 30 complete days" in page

    with transaction(seeded) as cur:  # a run with other settings: the labels follow the latest publish
        seed.publish(cur, seed.AS_OF + timedelta(minutes=1), "next", {**seed.SETTINGS, "aging_threshold_days": 120})
    page = client.get("/dashboard").text
    assert ">older than 120 days<" in page and "older than 90 days" not in page
    assert read_csv(client.get("/dashboard/stock.csv"))[0][9] == "Units older than 120 days"

    with transaction(seeded) as cur:  # a publish from before the settings were recorded: no number is made up
        seed.publish(cur, seed.AS_OF + timedelta(minutes=2), "old", None)
    page = client.get("/dashboard").text
    assert ">older than the aging threshold<" in page and "at or under the low-stock threshold" in page


def test_money_shows_its_currency(make_client, seeded):
    client = registered_and_logged_in(make_client(), INVENTORY_MANAGER, location_id="1")
    page = client.get("/dashboard").text
    assert re.search(r'id="kpi-stock_value" data-value="[0-9.]+">\$[0-9,]+\.[0-9]{2}<', page)
    assert "Amounts in USD, at cost." in page
    euro = make_client(currency="EUR")
    registered_and_logged_in(euro, INVENTORY_MANAGER, location_id="1", email="eu@example.com")
    assert re.search(r'id="kpi-stock_value" data-value="[0-9.]+">€[0-9,]+\.[0-9]{2}<', euro.get("/dashboard").text)
