"""Validation, mapping and variants of the dummyjson catalogue, on hand-written records and the shipped snapshot."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from decimal import Decimal

import pytest

from include.inventory.catalogue import (
    PRODUCT_COLUMNS,
    VARIANT_ID_BASE,
    CatalogueError,
    Product,
    SnapshotCatalogue,
    cost_price_for,
    distinct_products,
    expand_catalogue,
    fetch_with_fallback,
    lead_time_for,
    validate_and_map,
)
from include.inventory.ingest_tasks import fetch_budget
from include.inventory.schema import EXPECTED_TABLES


def record(**overrides) -> dict:
    base = {"id": 7, "title": "  Green Tea  ", "category": "home-decoration", "price": 12.5, "brand": "Leaf"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}  # `...` drops a key


@pytest.fixture(scope="module")
def snapshot_products() -> list[Product]:
    products, rejects = validate_and_map(SnapshotCatalogue().fetch_products())
    assert rejects == []
    return products


def test_maps_a_good_record():
    products, rejects = validate_and_map([record()])
    assert rejects == []
    (product,) = products
    assert product == Product(
        product_id=7,
        sku="SKU-00007",
        product_name="Green Tea",
        category="Home Decoration",
        brand="Leaf",
        unit="pcs",
        cost_price=cost_price_for(7, Decimal("12.50")),
        selling_price=Decimal("12.50"),
        lead_time=lead_time_for(7),
        source_id=7,
    )


def test_product_fields_are_columns_of_raw_products():
    assert set(PRODUCT_COLUMNS) <= set(EXPECTED_TABLES["raw.products"])


@pytest.mark.parametrize(
    ("overrides", "source_id", "reason"),
    [
        ({"id": ...}, None, "id missing"),
        ({"id": "5"}, "5", "id is not a positive integer: '5'"),
        ({"id": True}, "True", "id is not a positive integer: True"),
        ({"id": -1}, "-1", "id is not a positive integer: -1"),
        ({"id": 0}, "0", "id is not a positive integer: 0"),
        ({"id": 2.0}, "2.0", "id is not a positive integer: 2.0"),
        ({"title": ""}, "7", "title is not a non-empty string: ''"),
        ({"title": "   "}, "7", "title is not a non-empty string: '   '"),
        ({"title": ...}, "7", "title missing"),
        ({"title": "a\x00b"}, "7", "title contains a NUL character: 'a\\x00b'"),
        ({"category": None}, "7", "category is not a non-empty string: None"),
        ({"category": "--"}, "7", "category has no words: '--'"),
        ({"price": 0}, "7", "price is not above 0: 0"),
        ({"price": -3.5}, "7", "price is not above 0: -3.5"),
        ({"price": "12"}, "7", "price is not a number: '12'"),
        ({"price": float("nan")}, "7", "price is not finite: nan"),
        ({"price": float("inf")}, "7", "price is not finite: inf"),
        ({"price": True}, "7", "price is not a number: True"),
        ({"price": ...}, "7", "price missing"),
        ({"price": 0.001}, "7", "price rounds to 0.00: 0.001"),
        ({"price": 1e12}, "7", "price is too large for numeric(12,2): 1000000000000.0"),
        ({"brand": 5}, "7", "brand is not a string: 5"),
    ],
)
def test_rejects_a_bad_field(overrides, source_id, reason):
    raw = record(**overrides)
    products, rejects = validate_and_map([raw])
    assert products == []
    assert [(r.source_id, r.reason, r.payload) for r in rejects] == [(source_id, reason, raw)]


def test_names_every_problem_of_a_record():
    _, (reject,) = validate_and_map([record(title="", price="12", brand=5)])
    assert reject.reason == "title is not a non-empty string: ''; brand is not a string: 5; price is not a number: '12'"


def test_non_object_record_is_rejected_not_raised():
    products, rejects = validate_and_map([[1, 2], None, "x"])
    assert products == []
    assert [r.reason for r in rejects] == [
        "product is list [1, 2], expected an object",
        "product is NoneType None, expected an object",
        "product is str 'x', expected an object",
    ]
    assert rejects[0].payload == {"value": [1, 2]} and rejects[0].source_id is None


def test_duplicate_ids_keep_the_first():
    first, second, third = record(title="First"), record(title="Second"), record(id=8)
    products, rejects = validate_and_map([first, second, third])
    assert [(p.product_id, p.product_name) for p in products] == [(7, "First"), (8, "Green Tea")]
    assert [(r.source_id, r.reason, r.payload) for r in rejects] == [("7", "duplicate id 7", second)]


def test_a_later_duplicate_of_a_rejected_record_is_rejected_too():
    _, rejects = validate_and_map([record(price=0), record()])
    assert [r.reason for r in rejects] == ["price is not above 0: 0", "duplicate id 7"]


@pytest.mark.parametrize(
    ("overrides", "brand"),
    [({"brand": ...}, None), ({"brand": None}, None), ({"brand": "  "}, None), ({"brand": " Acme "}, "Acme")],
)
def test_brand_is_optional(overrides, brand):
    (product,), _ = validate_and_map([record(**overrides)])
    assert product.brand == brand


@pytest.mark.parametrize(
    ("category", "expected", "unit"),
    [
        ("home-decoration", "Home Decoration", "pcs"),
        ("beauty", "Beauty", "pcs"),
        ("womens-jewellery", "Womens Jewellery", "pcs"),
        ("groceries", "Groceries", "kg"),
        ("Groceries", "Groceries", "kg"),
        ("beverages", "Beverages", "ltr"),
        ("sports_accessories", "Sports Accessories", "pcs"),
    ],
)
def test_category_words_and_unit(category, expected, unit):
    (product,), _ = validate_and_map([record(category=category)])
    assert (product.category, product.unit) == (expected, unit)


def test_integer_price_and_rounding():
    (a, b), _ = validate_and_map([record(id=1, price=3), record(id=2, price=0.125)])
    assert (a.selling_price, b.selling_price) == (Decimal("3.00"), Decimal("0.13"))


def test_cost_and_lead_time_are_pinned():
    # A change to these formulas changes every cost in the warehouse: it should be a deliberate one.
    assert [cost_price_for(i, Decimal("100.00")) for i in (1, 2, 3)] == [
        Decimal("68.54"),
        Decimal("86.68"),
        Decimal("61.39"),
    ]
    assert [lead_time_for(i) for i in range(1, 10)] == [9, 5, 8, 5, 11, 14, 2, 3, 13]


def test_cost_and_lead_time_are_deterministic():
    raw = [record(id=i, price=10 + i) for i in range(1, 60)]
    assert validate_and_map(raw) == validate_and_map(json.loads(json.dumps(raw)))


@pytest.mark.parametrize("price", [0.01, 0.79, 1, 9.99, 499.99, 36999.99])
def test_cost_within_its_band(price):
    selling = Decimal(str(price)).quantize(Decimal("0.01"))
    for product_id in range(1, 200):
        cost = cost_price_for(product_id, selling)
        assert Decimal("0.01") <= cost <= selling
        # Rounding to cents may move the cost half a cent outside [0.6, 0.9] x price; the floor of a cent more.
        assert selling * Decimal("0.6") - Decimal("0.005") <= cost or cost == Decimal("0.01")
        assert cost <= selling * Decimal("0.9") + Decimal("0.005")


def test_snapshot_products_all_validate(snapshot_products):
    assert len(snapshot_products) == 194
    assert len({p.sku for p in snapshot_products}) == 194
    assert sum(p.brand is None for p in snapshot_products) == 92
    assert {p.unit for p in snapshot_products if p.category == "Groceries"} == {"kg"}
    for p in snapshot_products:
        assert p.selling_price * Decimal("0.6") - Decimal("0.005") <= p.cost_price <= p.selling_price * Decimal("0.9")
        assert 1 <= p.lead_time <= 14
    assert len({p.lead_time for p in snapshot_products}) == 14


def test_snapshot_errors_are_catalogue_errors(tmp_path):
    with pytest.raises(CatalogueError, match="cannot read the catalogue snapshot"):
        SnapshotCatalogue(tmp_path / "absent.json").fetch_products()
    broken = tmp_path / "broken.json"
    broken.write_text('{"products": {}, "total": 1}')
    with pytest.raises(CatalogueError, match="'products' is dict {}, expected a list"):
        SnapshotCatalogue(broken).fetch_products()


class BrokenSource:
    name = "api"

    def fetch_products(self) -> list[dict]:
        raise CatalogueError("GET http://example.invalid/products failed after 4 attempts; last error: HTTP 503")


def test_fallback_to_the_snapshot_says_why(caplog):
    with caplog.at_level(logging.WARNING, logger="include.inventory.catalogue"):
        products, source = fetch_with_fallback(BrokenSource(), SnapshotCatalogue())
    assert (len(products), source) == (194, "snapshot")
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "'snapshot'" in message and "HTTP 503" in message


def test_expand_catalogue_below_the_catalogue_size(snapshot_products):
    shuffled = list(reversed(snapshot_products))
    assert expand_catalogue(shuffled, 5) == snapshot_products[:5]
    assert expand_catalogue(shuffled, 0) == []
    assert expand_catalogue(shuffled, 194) == snapshot_products


def test_expand_catalogue_adds_deterministic_variants(snapshot_products):
    expanded = expand_catalogue(snapshot_products, 500)
    assert len(expanded) == 500
    assert expanded == expand_catalogue(list(reversed(snapshot_products)), 500)
    assert expanded[:194] == snapshot_products
    assert len({p.product_id for p in expanded}) == len({p.sku for p in expanded}) == 500
    first, last = expanded[194], expanded[-1]
    assert (first.product_id, first.sku, first.source_id) == (VARIANT_ID_BASE + 1, "SKU-100001", 1)
    assert first.product_name == "Essence Mascara Lash Princess (variant 2)"
    assert (last.product_id, last.source_id) == (VARIANT_ID_BASE + 306, 112)
    assert last.product_name.endswith("(variant 3)")
    by_id = {p.product_id: p for p in snapshot_products}
    for variant in expanded[194:]:
        parent = by_id[variant.source_id]
        assert Decimal("0.8") * parent.selling_price - Decimal("0.005") <= variant.selling_price
        assert variant.selling_price <= Decimal("1.2") * parent.selling_price + Decimal("0.005")
        assert Decimal("0.01") <= variant.cost_price <= variant.selling_price
        assert 1 <= variant.lead_time <= 14
        assert (variant.category, variant.brand, variant.unit) == (parent.category, parent.brand, parent.unit)


def test_expand_catalogue_rejects_impossible_requests(snapshot_products):
    with pytest.raises(ValueError, match="empty catalogue"):
        expand_catalogue([], 3)
    with pytest.raises(ValueError, match="negative"):
        expand_catalogue(snapshot_products, -1)


def test_distinct_products_counts_broken_records_but_not_repeats():
    records = [record(id=1), record(id=2), record(id=1, title="again"), record(id="3"), "junk", record(id=...)]
    distinct, repeated = distinct_products(records)
    assert distinct == 5  # ids 1 and 2, and three records without a usable id (quarantined, not missing)
    assert repeated == [records[2]]


def test_fetch_budget_keeps_time_for_the_load():
    assert fetch_budget(timedelta(seconds=50)) == 40.0  # the minute DAG: 10 s kept
    assert fetch_budget(timedelta(seconds=4)) == 2.0  # short timeouts keep half
    assert fetch_budget(timedelta(hours=2)) == 7190.0
    assert fetch_budget(None) is None
