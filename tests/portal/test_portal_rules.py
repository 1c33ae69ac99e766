"""Pure rules of the portal, no database: registration validation, the throttle's arithmetic, number formatting,
settings."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from psycopg2 import sql as psycopg2_sql

from include.portal.accounts import INVENTORY_MANAGER, STORE_MANAGER, validate_registration
from include.portal.app import fmt_money, fmt_pct, fmt_units
from include.portal.config import PortalSettings, settings_from_env
from include.portal.dashboards import last_day, sales_period
from include.portal.security import RecentFailures, Throttle, common_passwords, password_problem, throttle_delay
from include.portal.stock import InvalidStockQuery, StockQuery

LOCATIONS = {1: "Northfield", 2: "Southport"}
GOOD = {
    "name": "  Ann   Lee ",
    "email": "ann.lee@example.com",
    "phone": "+1 (555) 010-0199",
    "password": "correct horse battery staple",
    "password_confirm": "correct horse battery staple",
    "address": "1 Main Street, Northfield",
    "location_id": "2",
    "store_name": "Northfield Store",
    "department": "Replenishment",
}


def test_a_valid_store_manager_registration_is_cleaned():
    reg, errors = validate_registration(STORE_MANAGER, GOOD, LOCATIONS)
    assert errors == {}
    assert (reg.name, reg.email, reg.location_id, reg.store_name, reg.department) == (
        "Ann Lee",
        "ann.lee@example.com",
        2,
        "Northfield Store",
        None,
    )
    assert "correct horse" not in repr(reg)  # the password never reaches a log line


def test_an_inventory_manager_needs_a_department_not_a_store():
    reg, errors = validate_registration(INVENTORY_MANAGER, {**GOOD, "store_name": ""}, LOCATIONS)
    assert errors == {} and reg.department == "Replenishment" and reg.store_name is None
    _, errors = validate_registration(INVENTORY_MANAGER, {**GOOD, "department": " "}, LOCATIONS)
    assert errors == {"department": "Department is required."}
    _, errors = validate_registration(STORE_MANAGER, {**GOOD, "store_name": ""}, LOCATIONS)
    assert errors == {"store_name": "Store name is required."}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Name is required."),
        ("name", "A", "Name must be 2 to 100 characters long."),
        ("name", "x" * 101, "Name must be 2 to 100 characters long."),
        ("email", "", "Email is required."),
        ("email", "ann.lee", "Enter an email address like name@example.com."),
        ("email", "Ann <ann@example.com>", "Enter an email address like name@example.com."),
        ("email", "ann@example.com\r\nBcc: x@example.net", "Enter an email address like name@example.com."),
        ("phone", "", "Phone is required."),
        ("phone", "call me", "Enter a phone number of 7 to 15 digits, e.g. +1 555 010 0199."),
        ("phone", "12345", "Enter a phone number of 7 to 15 digits, e.g. +1 555 010 0199."),
        ("address", "here", "Address must be 5 to 300 characters long."),
        ("location_id", "", "Choose your location from the list."),
        ("location_id", "99", "Choose your location from the list."),
        ("location_id", "1 OR 1=1", "Choose your location from the list."),
        ("store_name", "Shop\x00", "Store name contains characters that are not allowed."),
    ],
)
def test_each_invalid_field_gets_a_clear_message(field, value, message):
    reg, errors = validate_registration(STORE_MANAGER, {**GOOD, field: value}, LOCATIONS)
    assert reg is None
    assert errors == {field: message}


COMMON = "This password is too common or too easy to guess: choose another, e.g. a few unrelated words."


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "Tr0ub4dor&3 is long enough", "sprocket ledger window 9"],
)
def test_good_passwords_pass(password):
    assert password_problem(password, "ann.lee@example.com") is None


def test_the_shipped_common_password_list():
    common = common_passwords()
    assert len(common) > 95_000 and {"password1234", "123456789012", "qwerty123456"} <= common


@pytest.mark.parametrize(
    ("password", "confirm", "errors"),
    [
        ("short pass", "short pass", {"password": "Password must have at least 12 characters."}),
        ("a" * 257, "a" * 257, {"password": "Password must have at most 256 characters."}),
        ("abababababab", "abababababab", {"password": COMMON}),
        ("password1234", "password1234", {"password": COMMON}),
        ("Password1234", "Password1234", {"password": COMMON}),  # compared whatever the case
        ("ann.lee@example.com", "ann.lee@example.com", {"password": "Password must not contain your email address."}),
        ("my-ANN.LEE-pass", "my-ANN.LEE-pass", {"password": "Password must not contain your email address."}),
        (
            "correct horse battery staple",
            "correct horse battery stapel",
            {"password_confirm": "The two passwords differ."},
        ),
    ],
)
def test_password_rules(password, confirm, errors):
    assert (
        validate_registration(STORE_MANAGER, {**GOOD, "password": password, "password_confirm": confirm}, LOCATIONS)[1]
        == errors
    )


def test_every_problem_is_reported_at_once():
    _, errors = validate_registration(INVENTORY_MANAGER, {}, LOCATIONS)
    # In the form's order: the error summary at the top of the page lists them so.
    assert list(errors) == ["name", "email", "phone", "password", "department", "address", "location_id"]


def test_unknown_role_is_a_programming_error():
    with pytest.raises(ValueError):
        validate_registration("admin", GOOD, LOCATIONS)


# ------------------------------------------------------------------------------------------------ throttle

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RULE = Throttle(max_failures=3, max_failures_per_account=4, max_failures_per_ip=5, window=timedelta(minutes=15))


def ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def delay(device_known: bool = False, address_known: bool = False, **failures) -> timedelta | None:
    return throttle_delay(NOW, RecentFailures(**failures), RULE, device_known, address_known)


def test_throttle_lets_checks_through_below_the_limits():
    assert delay(pair=ago(1, 2), account=ago(1, 2, 3), ip=ago(1, 2, 3, 4)) is None
    assert delay(pair=ago(1, 2, 20, 30)) is None  # two of them are out of the window


def test_throttle_waits_until_the_oldest_counted_failure_leaves_the_window():
    assert delay(pair=ago(1, 2, 10)) == timedelta(minutes=5)
    # Four failures: the two oldest (10 and 12 minutes ago) must both age out, so the wait follows the 10.
    assert delay(pair=ago(1, 2, 10, 12)) == timedelta(minutes=5)


def test_throttle_per_account_across_addresses_and_per_address_across_accounts():
    assert delay(account=ago(1, 2, 3, 14)) == timedelta(minutes=1)
    assert delay(ip=ago(1, 2, 3, 4, 13)) == timedelta(minutes=2)
    assert delay(ip=ago(1, 2, 3, 4)) is None


def test_a_known_address_passes_the_account_and_address_limits_not_its_own():
    noisy = {"account": ago(1, 2, 3, 4), "ip": ago(1, 2, 3, 4, 5)}
    assert delay(**noisy) is not None
    assert delay(address_known=True, **noisy) is None
    assert delay(address_known=True, pair=ago(1, 2, 3), **noisy) == timedelta(minutes=12)


def test_a_known_device_is_held_back_by_its_own_failures_only():
    everything = {"pair": ago(1, 2, 3), "account": ago(1, 2, 3, 4), "ip": ago(1, 2, 3, 4, 5)}
    assert delay(device_known=True, **everything) is None
    assert delay(device_known=True, device=ago(1, 2, 3)) == timedelta(minutes=12)


# ------------------------------------------------------------------------------------------------ formatting


def test_numbers_are_formatted_to_the_cent_with_separators_and_currency():
    assert fmt_money(Decimal("1234567.5")) == "$1,234,567.50"
    assert fmt_money(Decimal("-0.125")) == "-$0.13"  # half away from zero, as docs/metrics.md rounds
    assert fmt_money(Decimal("0.005"), "EUR") == "€0.01"
    assert fmt_money(Decimal("12"), "CHF") == "12.00 CHF"  # no symbol known: the code after the number
    assert fmt_money(None) == "–"
    assert fmt_units(1234567) == "1,234,567"
    assert fmt_pct(Decimal("5.5")) == "+5.50 %" and fmt_pct(Decimal("-3")) == "-3.00 %" and fmt_pct(None) == "–"


def test_the_sales_period_follows_the_transforms_rule_for_today():
    assert last_day(datetime(2026, 11, 25, 12, tzinfo=UTC)).isoformat() == "2026-11-25"
    assert last_day(datetime(2026, 11, 25, 0, tzinfo=UTC)).isoformat() == "2026-11-24"  # 00:00 ends the day before
    period = sales_period(datetime(2026, 11, 25, 12, tzinfo=UTC), 30)
    assert {k: v.isoformat() for k, v in period.items()} == {
        "today": "2026-11-25",
        "dod_day": "2026-11-24",
        "dod_previous_day": "2026-11-23",
        "monday": "2026-11-23",
        "first_day": "2026-10-27",
    }
    # At 00:00 the day before has just ended: it is today and the last complete day at once.
    midnight = sales_period(datetime(2026, 11, 25, 0, tzinfo=UTC), 30)
    assert midnight["today"].isoformat() == midnight["dod_day"].isoformat() == "2026-11-24"


# ------------------------------------------------------------------------------------------------ settings


def test_settings_from_the_environment(tmp_path):
    env = {
        "PORTAL_DATABASE_URL": "postgresql://portal@db/inventory",
        "PORTAL_SECRET_KEY": "k" * 40,
        "PORTAL_PORT": "9000",
        "PORTAL_HTTPS_ONLY": "true",
        "AIRFLOW_VAR_KPI_PERIOD_DAYS": "14",
        "PORTAL_CURRENCY": "eur",
    }
    s = settings_from_env(env, secret_file=tmp_path / "unused")
    assert (s.database_url, s.secret_key, s.port, s.https_only, s.kpi_period_days, s.currency) == (
        "postgresql://portal@db/inventory",
        "k" * 40,
        9000,
        True,
        14,
        "EUR",
    )
    assert settings_from_env({**env, "PORTAL_CURRENCY": ""}, secret_file=tmp_path / "unused").currency == "USD"
    with pytest.raises(ValueError, match="ISO 4217"):
        settings_from_env({**env, "PORTAL_CURRENCY": "dollars"}, secret_file=tmp_path / "unused")
    assert not (tmp_path / "unused").exists()
    assert "k" * 40 not in repr(s)


def test_without_a_key_one_is_generated_once_and_kept_private(tmp_path):
    key_file = tmp_path / "portal" / "secret_key"
    first = settings_from_env({"AIRFLOW_CONN_WAREHOUSE_DB": "postgresql://x@y/z"}, secret_file=key_file)
    second = settings_from_env({"AIRFLOW_CONN_WAREHOUSE_DB": "postgresql://x@y/z"}, secret_file=key_file)
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    assert first.database_url == "postgresql://x@y:5432/z"  # the warehouse connection, through Warehouse.from_env
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = settings_from_env({}, secret_file=tmp_path / "other" / "secret_key")
    assert other.secret_key != first.secret_key  # random, not a constant in the code


def test_links_smtp_and_session_expiry_from_the_environment(tmp_path):
    smtp = {
        "conn_type": "smtp",
        "host": "mail.example.com",
        "port": 587,
        "login": "portal",
        "password": "s3cret-pass",
        "extra": {"disable_ssl": True, "from_email": "portal@example.com"},
    }
    env = {
        "PORTAL_SECRET_KEY": "k" * 40,
        "AIRFLOW_VAR_PORTAL_BASE_URL": "https://portal.example.com/",
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp),
        "PORTAL_SESSION_IDLE_MINUTES": "10",
        "PORTAL_SESSION_HOURS": "2",
    }
    s = settings_from_env(env, secret_file=tmp_path / "unused")
    assert s.base_url == "https://portal.example.com"
    assert (s.smtp.host, s.smtp.port, s.smtp.starttls, s.smtp.ssl) == ("mail.example.com", 587, True, False)
    assert (s.smtp.login, s.smtp.password, s.smtp.sender) == ("portal", "s3cret-pass", "portal@example.com")
    assert "s3cret-pass" not in repr(s) and "s3cret-pass" not in repr(s.smtp)
    assert (s.session_idle_seconds, s.session_absolute_seconds) == (600, 7200)
    uri = settings_from_env(
        {**env, "AIRFLOW_CONN_SMTP_DEFAULT": "smtp://u:p%40ss@mx.example.com:2525?disable_tls=true&disable_ssl=true"},
        secret_file=tmp_path / "unused",
    ).smtp
    assert (uri.host, uri.port, uri.login, uri.password, uri.starttls, uri.ssl) == (
        "mx.example.com",
        2525,
        "u",
        "p@ss",
        False,
        False,
    )
    defaults = settings_from_env({"PORTAL_SECRET_KEY": "k" * 40}, secret_file=tmp_path / "unused")
    assert (defaults.base_url, defaults.smtp.host, defaults.smtp.port) == ("http://localhost:8090", "127.0.0.1", 8025)
    assert (defaults.session_idle_seconds, defaults.session_absolute_seconds) == (1800, 8 * 3600)


def test_a_short_secret_key_is_refused():
    with pytest.raises(ValueError, match="at least 32"):
        PortalSettings(database_url="postgresql://x@y/z", secret_key="short")


# ------------------------------------------------------------------------------------------------ the stock list


def test_the_stock_query_is_checked_against_allowlists():
    q = StockQuery.parse({"q": "  wid   get ", "warehouse": "2", "category": "Tools", "sort": "value", "dir": "desc"})
    assert (q.q, q.warehouse, q.category, q.sort, q.dir, q.page, q.per_page) == (
        "wid get",
        2,
        "Tools",
        "value",
        "desc",
        1,
        50,
    )
    assert StockQuery.parse({}) == StockQuery()
    assert StockQuery.parse({"after": "17", "unrelated": "x"}) == StockQuery()  # other parameters are not its
    for bad in ({"sort": "quantity"}, {"sort": "1; DROP TABLE x"}, {"dir": "up"}, {"page": "-1"}, {"page": "1e3"}):
        with pytest.raises(InvalidStockQuery):
            StockQuery.parse(bad)
    with pytest.raises(InvalidStockQuery, match="not one of your location's warehouses"):
        StockQuery(warehouse=3).check_scope([1, 2])
    StockQuery(warehouse=2).check_scope([1, 2])


def test_the_order_by_is_composed_from_identifiers_only():
    def leaves(node):
        return [x for part in node.seq for x in leaves(part)] if isinstance(node, psycopg2_sql.Composed) else [node]

    found = leaves(StockQuery(sort="cover", dir="desc").order_by())
    assert {type(x) for x in found} == {psycopg2_sql.Identifier, psycopg2_sql.SQL}  # no literal, no placeholder
    assert [x.strings for x in found if isinstance(x, psycopg2_sql.Identifier)] == [
        ("coverage_days",),
        ("product_name",),  # then the tie-breakers, so pages never overlap
        ("warehouse_name",),
        ("product_id",),
        ("warehouse_id",),
    ]
    assert "".join(x.string for x in found if isinstance(x, psycopg2_sql.SQL)) == " DESC NULLS LAST, , , , "
    # A search is a bound LIKE pattern matching the text itself.
    assert StockQuery(q="50%_off\\").bind([1, 2], 25)["pattern"] == "%50\\%\\_off\\\\%"
    assert StockQuery(warehouse=2).bind([1, 2], None)["warehouse_ids"] == [2]
    assert StockQuery(warehouse=9).bind([1, 2], None)["warehouse_ids"] == []  # never outside the scope


def test_stock_urls_keep_filters_and_drop_defaults():
    q = StockQuery(q="bulk item", warehouse=2, sort="on_hand", dir="desc", page=3, per_page=25)
    assert q.url() == "/dashboard?q=bulk+item&warehouse=2&sort=on_hand&dir=desc&page=3&per_page=25#stock"
    assert q.url(page=1) == "/dashboard?q=bulk+item&warehouse=2&sort=on_hand&dir=desc&per_page=25#stock"
    assert q.csv_url() == "/dashboard/stock.csv?q=bulk+item&warehouse=2&sort=on_hand&dir=desc"
    assert StockQuery().url() == "/dashboard#stock" and StockQuery().csv_url() == "/dashboard/stock.csv"
    # Sorting: the same column flips; a new text column starts A-Z, a new number column largest first; page 1.
    assert q.sort_url("on_hand").endswith("sort=on_hand&per_page=25#stock")  # asc is the default: not written
    assert "sort=value&dir=desc" in q.sort_url("value")
    assert q.sort_url("product") == "/dashboard?q=bulk+item&warehouse=2&per_page=25#stock"  # the default order
