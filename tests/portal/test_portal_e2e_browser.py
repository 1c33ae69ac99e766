"""End to end in headless Chromium: register (following the link the portal emails to the SMTP sink), read the
dashboard, watch it update itself, log out; a registration of a seeded recipient's address that goes nowhere
without their inbox; forgot password, change password; a cookie from before logout that no longer works.

The portal runs in uvicorn on a loopback port (a thread of this process), on the seeded warehouse; the browser is
Debian's chromium (scripts/bootstrap.sh installs it) driven by Playwright. The numbers on the page are compared
with the analytics tables, read here with plain SQL. Charts must be drawn, and the page must log no error (a
Content-Security-Policy violation would be one).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import portal_seed as seed
import pytest
from portal_helpers import EMAIL, PASSWORD, expected_rows, ordered, pairs

from include.inventory.db import transaction
from include.portal.app import create_app, fmt_money, fmt_pct, fmt_units

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The network is closed here: no first-run, sync, component-update or background requests.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000
# PORTAL_SCREENSHOTS=<dir>: save a full-page screenshot of each dashboard there, to look at.
SCREENSHOTS = os.environ.get("PORTAL_SCREENSHOTS")


@pytest.fixture
def server(settings, seeded):
    """The portal on 127.0.0.1:<free port>, polling every second."""
    import uvicorn

    app = create_app(replace(settings, poll_seconds=1))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the portal did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install` (scripts/bootstrap.sh installs Debian's chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def new_tab(browser):
    """A page in a browser context of its own (its own cookies: another person's browser)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.problems = []  # console errors and uncaught exceptions
    tab.on("console", lambda m: tab.problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))
    return tab


@pytest.fixture
def page(browser, tmp_path):
    tab = new_tab(browser)
    yield tab
    if tab.problems:
        tab.screenshot(path=str(tmp_path / "failed.png"), full_page=True)


def snap(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def one(conn, query: str, params=()) -> tuple:
    with conn.cursor() as cur:
        cur.execute(query, params)
        row = cur.fetchone()
    conn.rollback()
    return row


def fill_registration(
    page, base: str, role_heading: str, role: str, extra: tuple[str, str], location: str, **who: str
) -> None:
    page.goto(base + "/")
    page.get_by_role("region", name=role_heading).get_by_role("link", name="Register").click()
    page.wait_for_url(f"**/register/{role}")
    password = who.get("password", PASSWORD)
    page.get_by_label("Full name").fill(who.get("name", "Ann Lee"))
    page.get_by_label("Email").fill(who.get("email", EMAIL))
    page.get_by_label("Phone").fill("+1 555 010 0199")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)
    page.get_by_label(extra[0]).fill(extra[1])
    page.get_by_label("Address").fill("1 Harbour Road")
    page.get_by_label("Location").select_option(label=location)
    page.get_by_role("button", name="Register").click()
    page.wait_for_url("**/register/**")
    assert page.get_by_role("heading", level=1).inner_text() == "Check your email"


def follow_link(page, base: str, mailbox, address: str, password: str = PASSWORD, nth: int = 1) -> None:
    """Open the link of the `nth` email to `address` (read from the SMTP sink) and confirm with the password."""
    page.goto(base + mailbox.last_link(address, nth))
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Confirm and open my account").click()


def register_and_log_in(page, base: str, mailbox, role_heading: str, role: str, extra, location: str) -> None:
    fill_registration(page, base, role_heading, role, extra, location)
    snap(page, "check_your_email")
    page.goto(base + mailbox.last_link(EMAIL))
    assert "Confirm your registration" in page.get_by_role("heading", level=1).inner_text()
    snap(page, "confirm_registration")
    follow_link(page, base, mailbox, EMAIL)
    page.wait_for_url("**/dashboard")
    assert "Your email address is confirmed" in page.get_by_role("status").first.inner_text()


def kpi_text(page, key: str) -> str:
    return page.locator(f"#kpi-{key}").inner_text()


def charts_drawn(page) -> list[str]:
    return page.evaluate(
        "Array.from(document.querySelectorAll('canvas[data-chart]'))"
        ".filter(c => window.Chart && Chart.getChart(c) && c.width > 0).map(c => c.dataset.chart)"
    )


def log_out(page, base: str) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(base + "/")
    assert "You have logged out." in page.inner_text("main")
    page.goto(base + "/dashboard")
    page.wait_for_url(base + "/")  # no session: back to the start page


def test_inventory_manager_end_to_end(server, page, seeded, mailbox):
    register_and_log_in(
        page, server, mailbox, "Inventory managers", "inventory_manager", ("Department", "Stock"), "Southport"
    )
    assert page.get_by_role("heading", level=1).inner_text() == "Inventory · Southport"

    warehouses = [3, 4]
    units, value = one(
        seeded,
        "SELECT sum(quantity), sum(stock_value) FROM analytics.current_stock WHERE warehouse_id = ANY(%s)",
        (warehouses,),
    )
    low, out = one(
        seeded,
        "SELECT count(*), count(*) FILTER (WHERE is_stock_out) FROM analytics.low_stock_data "
        "WHERE warehouse_id = ANY(%s)",
        (warehouses,),
    )
    assert kpi_text(page, "total_units") == fmt_units(units)
    assert kpi_text(page, "stock_value") == fmt_money(value)
    assert kpi_text(page, "low_stock_products") == str(low) and kpi_text(page, "stock_out_products") == str(out)
    assert page.locator("#low-stock tbody tr").count() == low
    first_product = one(
        seeded,
        "SELECT product_name FROM analytics.low_stock_data WHERE warehouse_id = ANY(%s) AND is_stock_out",
        (warehouses,),
    )[0]
    assert page.locator("#low-stock tbody tr").first.locator("th").inner_text().startswith(first_product)
    assert page.locator("#aging tbody tr").count() == 4
    assert "Eastbrook" not in page.inner_text("main") and "Northfield" not in page.inner_text("main")
    inventory_charts = ["aging", "reconciliation", "stock_by_warehouse", "stock_trend", "top_products", "trend"]
    page.wait_for_function("n => document.querySelectorAll('canvas[data-chart]').length === n", arg=6)
    assert sorted(charts_drawn(page)) == inventory_charts
    assert "2026-11-25 12:00 UTC" in page.locator("#as-of").inner_text()
    snap(page, "inventory_dashboard")

    # A new publish lands: the page picks it up by itself, without a reload.
    with transaction(seeded) as cur:
        cur.execute("UPDATE analytics.current_stock SET quantity = quantity + 500 WHERE warehouse_id = 3")
        seed.publish(cur, seed.AS_OF + timedelta(minutes=1), "next")
    (new_units,) = one(
        seeded, "SELECT sum(quantity) FROM analytics.current_stock WHERE warehouse_id = ANY(%s)", (warehouses,)
    )
    assert new_units > units
    page.wait_for_function(
        "t => document.querySelector('#kpi-total_units').textContent.trim() === t", arg=fmt_units(new_units)
    )
    assert "2026-11-25 12:01 UTC" in page.locator("#as-of").inner_text()
    assert "new data was published" in page.locator("#live-status").inner_text()
    assert sorted(charts_drawn(page)) == inventory_charts  # redrawn

    log_out(page, server)
    assert page.problems == []


def test_store_manager_end_to_end(server, page, seeded, mailbox):
    register_and_log_in(
        page, server, mailbox, "Store managers", "store_manager", ("Store name", "Harbour Store"), "Eastbrook"
    )
    assert page.get_by_role("heading", level=1).inner_text() == "Sales · Harbour Store"

    today = seed.TODAY
    first = today - timedelta(days=seed.PERIOD_DAYS - 1)
    revenue, units = one(
        seeded,
        "SELECT sum(revenue), sum(units) FROM analytics.fact_daily_sales "
        "WHERE warehouse_id = 5 AND date_key BETWEEN %s AND %s",
        (first, today),
    )
    # Day on day on complete days: the seed is as of noon, so yesterday against the day before.
    dod_rev, previous_rev = one(
        seeded,
        "SELECT sum(revenue) FILTER (WHERE date_key = %s), sum(revenue) FILTER (WHERE date_key = %s) "
        "FROM analytics.fact_daily_sales WHERE warehouse_id = 5",
        (today - timedelta(days=1), today - timedelta(days=2)),
    )
    growth = ((dod_rev - previous_rev) * 100 / previous_rev).quantize(Decimal("0.01"), "ROUND_HALF_UP")
    assert kpi_text(page, "total_revenue") == fmt_money(revenue)
    assert kpi_text(page, "total_units") == fmt_units(units)
    assert kpi_text(page, "avg_daily_sales") == fmt_money(revenue / seed.PERIOD_DAYS)
    assert kpi_text(page, "dod_growth_pct") == fmt_pct(growth)
    top = page.locator("#top-products tbody tr").first
    assert top.locator("th").inner_text() in {name for name, *_ in seed.PRODUCTS.values()}
    assert page.locator("#sales-by-warehouse tbody tr").count() == 1
    assert "Eastbrook Hub" in page.locator("#sales-by-warehouse").inner_text()
    page.wait_for_function("document.querySelectorAll('canvas[data-chart]').length === 3")
    assert sorted(charts_drawn(page)) == ["sales_by_warehouse", "top_products", "trend"]
    snap(page, "sales_dashboard")

    log_out(page, server)
    assert page.problems == []


def test_a_wrong_password_shows_the_generic_error(server, page, seeded):
    page.goto(server + "/login/store_manager")
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_label("Password").fill("whatever it is")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Email or password is incorrect."
    assert page.get_by_label("Email").input_value() == "nobody@example.com"  # kept, the password is not
    assert page.get_by_label("Password").input_value() == ""
    # The browser logs the 401 status of the page itself as a failed load; nothing else may be logged.
    assert [p for p in page.problems if "status of 401" not in p] == []


def test_a_seeded_recipient_is_not_taken_over_from_another_browser(server, browser, seeded, mailbox):
    with transaction(seeded) as cur:
        cur.execute(
            "INSERT INTO portal.inventory_managers (name, email, phone, location_id, active) "
            "VALUES ('Donna Kim', 'donna.kim@example.com', '+1-555-010-0101', 1, true) RETURNING manager_id"
        )
        (manager_id,) = cur.fetchone()
    before = one(seeded, "SELECT name, phone, location_id, active FROM portal.inventory_managers")
    mallory, donna = new_tab(browser), new_tab(browser)
    fill_registration(
        mallory,
        server,
        "Inventory managers",
        "inventory_manager",
        ("Department", "Stock"),
        "Eastbrook",
        name="Mallory Attacker",
        email="donna.kim@example.com",
        password="mallory knows this one",
    )
    assert one(seeded, "SELECT name, phone, location_id, active FROM portal.inventory_managers") == before
    mallory.goto(server + "/login/inventory_manager")
    mallory.get_by_label("Email").fill("donna.kim@example.com")
    mallory.get_by_label("Password").fill("mallory knows this one")
    mallory.get_by_role("button", name="Log in").click()
    assert mallory.get_by_role("alert").inner_text() == "Email or password is incorrect."

    # The link is in Donna's inbox; opened in her browser it asks for a password she does not know.
    follow_link(donna, server, mailbox, "donna.kim@example.com", password="donna's own passphrase")
    assert "not the password chosen" in donna.get_by_role("alert").inner_text()
    assert one(seeded, "SELECT count(*) FROM portal.accounts") == (0,)
    assert one(seeded, "SELECT name, phone, location_id, active FROM portal.inventory_managers") == before

    # Donna registers herself, follows her own link: her row, now linked to her account.
    fill_registration(
        donna,
        server,
        "Inventory managers",
        "inventory_manager",
        ("Department", "Stock"),
        "Northfield",
        name="Donna Kim",
        email="donna.kim@example.com",
        password="donna's own passphrase",
    )
    follow_link(donna, server, mailbox, "donna.kim@example.com", password="donna's own passphrase", nth=2)
    donna.wait_for_url("**/dashboard")
    assert one(seeded, "SELECT manager_id, name FROM portal.accounts") == (manager_id, "Donna Kim")
    assert one(seeded, "SELECT location_id, active FROM portal.inventory_managers") == (1, True)
    assert [p for p in mallory.problems + donna.problems if "status of 401" not in p] == []


def test_forgotten_password_changed_password_and_a_cookie_from_before_logout(server, browser, seeded, mailbox):
    ann = new_tab(browser)
    register_and_log_in(ann, server, mailbox, "Store managers", "store_manager", ("Store name", "Harbour"), "Eastbrook")
    saved = ann.context.cookies()

    # Change the password on the account page.
    ann.goto(server + "/account")
    ann.get_by_label("Current password").fill(PASSWORD)
    ann.get_by_label("New password", exact=True).fill("password1234")
    ann.get_by_label("New password again").fill("password1234")
    ann.get_by_role("button", name="Change password").click()
    assert "too common" in ann.locator("#new_password-error").inner_text()
    snap(ann, "account_change_password")
    ann.get_by_label("Current password").fill(PASSWORD)
    ann.get_by_label("New password", exact=True).fill("lantern meadow copper 8")
    ann.get_by_label("New password again").fill("lantern meadow copper 8")
    ann.get_by_role("button", name="Change password").click()
    assert "Your password is changed" in ann.get_by_role("status").first.inner_text()

    # The cookies from before the change (and so before logout) open nothing.
    ann.get_by_role("button", name="Log out").click()
    ann.wait_for_url(server + "/")
    thief = new_tab(browser)
    thief.context.add_cookies(saved)
    response = thief.goto(server + "/api/dashboard")
    assert response.status == 401

    # Forgot password: the link from the email, a new password, then log in with it.
    ann.goto(server + "/login/store_manager")
    ann.get_by_role("link", name="Forgot your password?").click()
    ann.get_by_label("Email").fill(EMAIL)
    ann.get_by_role("button", name="Email me a link").click()
    assert ann.get_by_role("heading", level=1).inner_text() == "Check your email"
    ann.goto(server + mailbox.last_link(EMAIL, nth=2))
    ann.get_by_label("New password", exact=True).fill("harbour lights at dusk 3")
    ann.get_by_label("New password again").fill("harbour lights at dusk 3")
    snap(ann, "reset_password")
    ann.get_by_role("button", name="Save the new password").click()
    ann.wait_for_url("**/login/store_manager")
    ann.get_by_label("Email").fill(EMAIL)
    ann.get_by_label("Password").fill("harbour lights at dusk 3")
    ann.get_by_role("button", name="Log in").click()
    ann.wait_for_url("**/dashboard")
    assert [p for p in ann.problems if "status of 401" not in p and "status of 400" not in p] == []


def stock_rows_shown(page) -> list[tuple[int, int]]:
    return [
        (int(p), int(w))
        for p, w in page.eval_on_selector_all(
            "#stock-table tbody tr[data-product-id]",
            "rows => rows.map(r => [r.dataset.productId, r.dataset.warehouseId])",
        )
    ]


def overflowing(page) -> list[str]:
    """What does not fit: a key figure wider than its card or broken over two lines, or the page wider than the
    window."""
    return page.evaluate(
        """() => {
          const out = [];
          document.querySelectorAll('.kpi').forEach(card => {
            const dd = card.querySelector('dd.value');
            const range = document.createRange();
            range.selectNodeContents(dd);
            const lines = new Set(Array.from(range.getClientRects(), r => Math.round(r.top))).size;
            if (card.scrollWidth > card.clientWidth || dd.scrollWidth > dd.clientWidth || lines > 1) {
              out.push(`${dd.id}: ${dd.textContent} (${lines} lines)`);
            }
          });
          const wide = document.documentElement.scrollWidth;
          if (wide > window.innerWidth) out.push(`page ${wide} px wide in a ${window.innerWidth} px window`);
          return out;
        }"""
    )


def test_stock_list_search_filter_sort_page_and_export_in_chromium(server, page, seeded, mailbox):
    """An inventory manager of Northfield works through the stock list at 1280 px: searches, filters by warehouse,
    sorts by stock value, pages, downloads the CSV; a publish lands while they type; then the page at phone width."""
    seed.add_bulk_products(seeded)
    register_and_log_in(
        page, server, mailbox, "Inventory managers", "inventory_manager", ("Department", "Stock"), "Northfield"
    )
    rows = expected_rows(seeded, [1, 2])
    assert stock_rows_shown(page) == pairs(ordered(rows))[:50]
    assert page.locator("#stock-page").inner_text() == "Page 1 of 2"
    page.wait_for_function("n => document.querySelectorAll('canvas[data-chart]').length === n", arg=6)
    assert sorted(charts_drawn(page)) == [
        "aging",
        "reconciliation",
        "stock_by_warehouse",
        "stock_trend",
        "top_products",
        "trend",
    ]

    # Search: typed, then Enter.
    page.get_by_label("Product name or SKU").fill("bulk item")
    page.get_by_label("Product name or SKU").press("Enter")
    page.wait_for_url("**q=bulk+item**")
    bulk = [r for r in rows if "bulk item" in r["product_name"].lower()]
    assert "of 60 matching" in page.locator("#stock-count").inner_text()

    # Filter: choosing a warehouse applies at once (portal.js submits the form).
    page.get_by_label("Warehouse", exact=True).select_option(label="Northfield Central")
    page.wait_for_url("**warehouse=1**")
    central = [r for r in bulk if r["warehouse_id"] == 1]
    assert stock_rows_shown(page) == pairs(ordered(central))
    page.get_by_label("Rows per page").select_option("25")
    page.wait_for_url("**per_page=25**")

    # Sort: click the column header (largest first), then page 2.
    page.locator("#stock-table thead").get_by_role("link", name="Stock value").click()
    page.wait_for_url("**sort=value**")
    by_value = pairs(ordered(central, "value", "desc"))
    assert stock_rows_shown(page) == by_value[:25]
    assert page.locator("#stock-table th[aria-sort='descending']").inner_text().startswith("Stock value")
    page.get_by_role("link", name="Next ›").click()
    page.wait_for_url("**page=2**")
    assert stock_rows_shown(page) == by_value[25:]
    assert page.locator("#stock-page").inner_text() == "Page 2 of 2"
    assert page.get_by_label("Product name or SKU").input_value() == "bulk item"  # the form shows the filters
    assert page.get_by_label("Warehouse", exact=True).input_value() == "1"
    first_shown = page.locator("#stock-table tbody tr").first
    want = next(r for r in central if (r["product_id"], r["warehouse_id"]) == by_value[25])
    assert first_shown.locator("th").inner_text() == want["product_name"]
    assert first_shown.locator("td").nth(4).inner_text() == fmt_money(want["stock_value"])
    assert overflowing(page) == []
    snap(page, "stock_list_1280")

    # The CSV: every row of the filtered list (both pages), in the same order.
    with page.expect_download() as download:
        page.locator("#stock-csv").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("Product,SKU,Category,Warehouse,On hand (units),Cost price (USD),Stock value (USD)")
    skus = {r["sku"]: (r["product_id"], r["warehouse_id"]) for r in central}
    assert [skus[line.split(",")[1]] for line in lines[1:]] == by_value

    # A publish lands while a new search is being typed: the rows update, the half-typed search stays.
    page.get_by_label("Product name or SKU").fill("bulk item 0")
    with transaction(seeded) as cur:
        cur.execute("UPDATE analytics.current_stock SET quantity = quantity * 10000, stock_value = stock_value * 10000")
        seed.publish(cur, seed.AS_OF + timedelta(minutes=1), "next")
    page.wait_for_function("t => document.querySelector('#as-of').textContent.includes(t)", arg="12:01")
    assert page.get_by_label("Product name or SKU").input_value() == "bulk item 0"
    assert stock_rows_shown(page) == by_value[25:]  # same filters, sort and page: the values are new
    (value,) = one(seeded, "SELECT sum(stock_value) FROM analytics.current_stock WHERE warehouse_id IN (1, 2)")
    assert kpi_text(page, "stock_value") == fmt_money(value) and len(fmt_money(value)) == 15
    assert overflowing(page) == []  # hundreds of millions, to the cent, on one line of its card at 1280 px
    snap(page, "inventory_1280_large_numbers")

    # A phone: nothing wider than the screen (the stock table scrolls inside its own box).
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_function("n => document.querySelectorAll('canvas[data-chart]').length === n", arg=6)
    assert overflowing(page) == []
    box = page.locator("#stock-table").evaluate("t => [t.parentElement.clientWidth, t.parentElement.scrollWidth]")
    assert box[0] <= 390 and box[1] > box[0]  # the table's own scroll box
    snap(page, "inventory_phone")
    # Scrolled sideways, the product column stays in view.
    page.locator("#stock-table tbody tr").first.scroll_into_view_if_needed()
    wrap_left = page.locator("#stock-table").evaluate(
        "t => { t.parentElement.scrollLeft = 300; return t.parentElement.getBoundingClientRect().left; }"
    )
    page.wait_for_function("() => document.querySelector('#stock-table').parentElement.scrollLeft >= 300")
    product_left = page.locator("#stock-table tbody th").first.bounding_box()["x"]
    assert abs(product_left - wrap_left) <= 2
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "stock_list_phone.png"))
    assert page.problems == []
