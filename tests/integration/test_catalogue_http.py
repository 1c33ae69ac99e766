"""The dummyjson client against a real HTTP server on loopback, and the catalogue load against real PostgreSQL.

The server speaks dummyjson's paging (limit, skip, select; limit=0 means everything) over the shipped snapshot,
or whatever a test tells it to answer: errors, slow replies, truncated or mistyped bodies, bad products.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from include.inventory.catalogue import (
    SELECT_FIELDS,
    SNAPSHOT_PATH,
    CatalogueError,
    DummyJsonClient,
    IncompleteCatalogue,
    SnapshotCatalogue,
    fetch_with_fallback,
    load_catalogue,
    load_catalogue_records,
)
from tools.dummyjson_standin import DummyJsonStandIn

SNAPSHOT = json.loads(SNAPSHOT_PATH.read_text())["products"]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0
    content_length: int | None = None  # set it above len(body) to cut the body off mid-transfer


def json_reply(value, status: int = 200) -> Reply:
    return Reply(status, json.dumps(value).encode())


def paged(products: list, total: int | None = None) -> Callable[[str, dict, int], Reply]:
    """dummyjson's /products: limit (default 30, 0 = all), skip, select (id is always included)."""

    def respond(path: str, query: dict, _: int) -> Reply:
        if path != "/products":
            return json_reply({"message": f"Route GET:{path} not found"}, 404)
        limit, skip = int(query.get("limit", 30)), int(query.get("skip", 0))
        chosen = products[skip:] if limit == 0 else products[skip : skip + limit]
        if "select" in query:
            keep = {"id", *query["select"].split(",")}
            chosen = [{k: v for k, v in p.items() if k in keep} if isinstance(p, dict) else p for p in chosen]
        size = len(products) if total is None else total
        return json_reply({"products": chosen, "total": size, "skip": skip, "limit": len(chosen)})

    return respond


class CatalogueServer:
    """A ThreadingHTTPServer whose answers come from `respond(path, query, request_number)`."""

    def __init__(self) -> None:
        self.respond: Callable[[str, dict, int], Reply] = paged(SNAPSHOT)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.release = threading.Event()  # cuts short any slow reply still waiting when the test ends
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.catalogue = self
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        app: CatalogueServer = self.server.catalogue
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with app.lock:
            app.requests.append(query)
            number = len(app.requests)
        reply = app.respond(parts.path, query, number)
        if reply.delay:
            app.release.wait(reply.delay)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            length = len(reply.body) if reply.content_length is None else reply.content_length
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        pass


@pytest.fixture
def server():
    app = CatalogueServer()
    thread = threading.Thread(target=app.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield app
    app.release.set()
    app.httpd.shutdown()
    app.httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff delays a client asked for (recorded instead of slept, so the tests stay fast)."""
    return []


@pytest.fixture
def client(server, sleeps):
    sessions = []

    def make(**options) -> DummyJsonClient:
        session = requests.Session()
        session.trust_env = False  # loopback must not go through a proxy from the environment
        sessions.append(session)
        defaults = {"session": session, "timeout": 2.0, "max_retries": 3, "backoff": 0.5, "sleep": sleeps.append}
        return DummyJsonClient(server.url, **(defaults | options))

    yield make
    for session in sessions:
        session.close()


def selected(product: dict) -> dict:
    return {k: product[k] for k in SELECT_FIELDS if k in product}


# --- the client over HTTP --------------------------------------------------------------------------------------


def test_pages_through_the_catalogue(server, client):
    products = client(page_size=50).fetch_products()
    assert products == [selected(p) for p in SNAPSHOT]
    assert [q["skip"] for q in server.requests] == ["0", "50", "100", "150"]
    assert {q["limit"] for q in server.requests} == {"50"}
    assert {q["select"] for q in server.requests} == {"id,title,category,price,brand,stock"}


def test_own_session_and_trailing_slash(server):
    products = DummyJsonClient(server.url + "/", timeout=2.0).fetch_products()
    assert len(products) == 194 and len(server.requests) == 2


def test_a_catalogue_short_of_total_is_incomplete(server, client):
    server.respond = paged(SNAPSHOT, total=1000)
    with pytest.raises(
        IncompleteCatalogue,
        match="reported total=1000 products but 194 distinct ones arrived in 194 records over 3 pages, 806 missing",
    ):
        client(page_size=100).fetch_products()
    assert [q["skip"] for q in server.requests] == ["0", "100", "194"]  # ran dry at 194: not asked again


def test_repeated_records_in_a_page_are_quarantined_not_skipped(fresh_schema, sleeps):
    """A server capping pages at 30 and repeating each page's first record at its end (echoing the skip asked and
    the limit applied): paging by the server's skip/limit reaches every product; the repeats are quarantined."""
    with DummyJsonStandIn(max_limit=30, repeat=1) as api:
        client = DummyJsonClient(api.url, timeout=2.0, page_size=100, sleep=sleeps.append)
        result = load_catalogue(fresh_schema, client, SnapshotCatalogue(), "catalogue-repeats")
    assert [skip for skip, _ in api.requests] == list(range(0, 194, 30))
    assert result.batch.source == "api"
    assert result.row_counts == {"raw.products": 194, "raw.product_quarantine": 7}
    with fresh_schema.cursor() as cur:
        cur.execute("SELECT count(*) FROM raw.products")
        (loaded,) = cur.fetchone()
        cur.execute("SELECT source_id, reason FROM raw.product_quarantine ORDER BY source_id::int")
        quarantined = cur.fetchall()
    fresh_schema.rollback()
    assert loaded == 194
    assert quarantined == [(str(i), f"duplicate id {i}") for i in range(1, 194, 30)]


def test_pages_that_hide_products_fall_back_to_the_snapshot(fresh_schema, sleeps, caplog):
    """The same server echoing the number of records it sent as `limit`: the client cannot tell the repeat from a
    product, pages past one product a page, and the reconciliation with `total` finds them missing."""
    with DummyJsonStandIn(max_limit=30, repeat=1, echo_body_length=True) as api:
        client = DummyJsonClient(api.url, timeout=2.0, page_size=100, sleep=sleeps.append)
        with caplog.at_level(logging.WARNING, logger="include.inventory.catalogue"):
            result = load_catalogue(fresh_schema, client, SnapshotCatalogue(), "catalogue-holes")
    assert [skip for skip, _ in api.requests] == list(range(0, 194, 31))
    assert result.batch.source == "snapshot"
    assert result.row_counts == {"raw.products": 194, "raw.product_quarantine": 0}
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "using the 'snapshot' catalogue instead" in warning
    assert "reported total=194 products but 188 distinct ones arrived in 195 records over 7 pages, 6 missing" in warning


def test_an_answer_for_another_skip_is_an_error(server, client):
    server.respond = lambda path, query, n: json_reply(
        {"products": SNAPSHOT[:100], "total": 194, "skip": 0, "limit": 100}
    )
    with pytest.raises(CatalogueError, match="answered for skip=0, not the skip=100 asked for"):
        client(page_size=100).fetch_products()
    assert len(server.requests) == 2


def test_the_time_budget_bounds_timeouts_and_retries(server, client, sleeps):
    server.respond = lambda path, query, n: Reply(body=b'{"products": [], "total": 0}', delay=5.0)
    began = time.monotonic()
    with pytest.raises(CatalogueError, match=r"time budget of 0\.6 s ran out after 1 attempts .*ReadTimeout"):
        client(timeout=3.0, max_retries=3, time_budget=0.6).fetch_products()
    assert time.monotonic() - began < 1.5  # the budget, not 4 x 3 s of timeouts and back-off
    assert len(server.requests) == 1 and sleeps == []  # the 0.5 s back-off did not fit: no retry started


def test_the_time_budget_spans_pages(server, client, sleeps):
    snapshot = paged(SNAPSHOT)
    server.respond = lambda path, query, n: replace(snapshot(path, query, n), delay=0.4)
    with pytest.raises(CatalogueError, match=r"time budget of 1\.0 s ran out"):
        client(page_size=50, timeout=2.0, time_budget=1.0).fetch_products()
    assert len(server.requests) == 3  # pages 1 and 2, then page 3 with what was left: 0.2 s


def test_retries_server_errors_then_succeeds(server, client, sleeps):
    snapshot = paged(SNAPSHOT)
    server.respond = lambda path, query, n: Reply(500, b"oops") if n <= 2 else snapshot(path, query, n)
    products = client(page_size=200).fetch_products()
    assert len(products) == 194
    assert len(server.requests) == 3
    assert sleeps == [0.5, 1.0]


def test_gives_up_after_max_retries_and_falls_back(server, client, sleeps, caplog):
    server.respond = lambda path, query, n: Reply(503, b"down for maintenance")
    api = client(max_retries=2)
    with pytest.raises(CatalogueError) as failure:
        api.fetch_products()
    message = str(failure.value)
    assert f"GET {server.url}/products?limit=100&skip=0&select=" in message
    assert "failed after 3 attempts" in message and "HTTP 503" in message
    assert len(server.requests) == 3 and sleeps == [0.5, 1.0]

    with caplog.at_level(logging.WARNING, logger="include.inventory.catalogue"):
        products, source = fetch_with_fallback(api, SnapshotCatalogue())
    assert (len(products), source) == (194, "snapshot")
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "'snapshot'" in warning.getMessage() and "HTTP 503" in warning.getMessage()


def test_client_errors_are_not_retried(server, client, sleeps):
    server.respond = lambda path, query, n: json_reply({"message": "forbidden"}, 403)
    with pytest.raises(CatalogueError, match=r"HTTP 403 Forbidden on attempt 1 \(not retried: only 5xx"):
        client().fetch_products()
    assert len(server.requests) == 1 and sleeps == []


def test_slow_response_times_out(server, client):
    server.respond = lambda path, query, n: Reply(body=b'{"products": [], "total": 0}', delay=1.0)
    began = time.monotonic()
    with pytest.raises(CatalogueError, match=r"failed after 2 attempts; last error: (ReadTimeout|ConnectionError)"):
        client(timeout=0.2, max_retries=1).fetch_products()
    assert time.monotonic() - began < 0.9  # two 0.2 s timeouts, never the server's 1 s
    assert len(server.requests) == 2


def test_connection_refused_is_retried(sleeps):
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = DummyJsonClient(f"http://127.0.0.1:{port}", timeout=1.0, max_retries=2, backoff=0.01, sleep=sleeps.append)
    with pytest.raises(CatalogueError, match="failed after 3 attempts; last error: ConnectionError"):
        api.fetch_products()
    assert sleeps == [0.01, 0.02]


def test_truncated_json_is_not_retried(server, client, sleeps):
    body = SNAPSHOT_PATH.read_bytes()[:500]
    server.respond = lambda path, query, n: Reply(body=body)
    with pytest.raises(CatalogueError, match=r"body is not valid JSON .*; 500 bytes, starting b'\{\\n \"products\""):
        client().fetch_products()
    assert len(server.requests) == 1 and sleeps == []


def test_body_cut_off_mid_transfer_is_retried(server, client, sleeps):
    body = SNAPSHOT_PATH.read_bytes()
    server.respond = lambda path, query, n: Reply(body=body[:500], content_length=len(body))
    with pytest.raises(CatalogueError, match="failed after 2 attempts; last error: ChunkedEncodingError"):
        client(max_retries=1).fetch_products()
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"products": {}, "total": 1}, "'products' is dict {}, expected a list"),
        ({"products": [], "total": "194"}, "'total' is str '194', expected a non-negative integer"),
        ({"products": [], "total": True}, "'total' is bool True, expected a non-negative integer"),
        ({"products": [], "total": -1}, "'total' is int -1, expected a non-negative integer"),
        ({"total": 3}, "'products' is missing, expected a list"),
        ([{"id": 1}], "body is list [{'id': 1}], expected a JSON object"),
    ],
)
def test_mistyped_payloads(server, client, sleeps, body, problem):
    server.respond = lambda path, query, n: json_reply(body)
    with pytest.raises(CatalogueError) as failure:
        client().fetch_products()
    assert str(failure.value).endswith(problem)
    assert str(failure.value).startswith(f"GET {server.url}/products?")
    assert len(server.requests) == 1 and sleeps == []


# --- loading into PostgreSQL -----------------------------------------------------------------------------------

BAD_PRODUCTS = [
    {**SNAPSHOT[1], "title": "Second copy of id 2"},
    {**SNAPSHOT[5], "id": "6"},
    {**SNAPSHOT[6], "price": float("nan")},  # json.dumps writes NaN, which Python's json.loads reads back
    {**SNAPSHOT[7], "brand": 5, "title": "nul\u0000byte"},
    "not a product",
]
# dummyjson's `total` counts products: the second copy of id 2 is a repeated record, not a product of its own.
DISTINCT_BAD = len(BAD_PRODUCTS) - 1
EXPECTED_QUARANTINE = [
    (None, "product is str 'not a product', expected an object"),
    ("2", "duplicate id 2"),
    ("6", "id is not a positive integer: '6'"),
    ("7", "price is not finite: nan"),
    ("8", "title contains a NUL character: 'nul\\x00byte'; brand is not a string: 5"),
]


def table_counts(conn) -> tuple[int, int, int]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM raw.products), (SELECT count(*) FROM raw.product_quarantine),"
            " (SELECT count(*) FROM raw.ingest_batches)"
        )
        counts = cur.fetchone()
    conn.rollback()
    return counts


def test_bad_products_go_to_quarantine(fresh_schema, server, client):
    server.respond = paged(SNAPSHOT[:5] + BAD_PRODUCTS, total=5 + DISTINCT_BAD)
    result = load_catalogue(fresh_schema, client(), None, "catalogue-bad")
    assert result.row_counts == {"raw.products": 5, "raw.product_quarantine": 5}
    assert result.rejected == 5

    with fresh_schema.cursor() as cur:
        cur.execute("SELECT product_id, sku, product_name, batch_id FROM raw.products ORDER BY product_id")
        rows = cur.fetchall()
        cur.execute("SELECT source_id, reason, payload FROM raw.product_quarantine ORDER BY source_id NULLS FIRST")
        quarantined = cur.fetchall()
        cur.execute("SELECT kind, source, status, rejected_count, row_counts FROM raw.ingest_batches")
        batches = cur.fetchall()
    fresh_schema.rollback()
    assert [r[:2] for r in rows] == [(i, f"SKU-{i:05d}") for i in range(1, 6)]
    assert rows[1][2] == SNAPSHOT[1]["title"]  # the first id 2 is kept, not the later copy
    assert {r[3] for r in rows} == {"catalogue-bad"}
    assert [q[:2] for q in quarantined] == EXPECTED_QUARANTINE
    payloads = {q[0]: q[2] for q in quarantined}
    assert payloads[None] == {"value": "not a product"}
    assert payloads["7"]["price"] == "nan" and payloads["7"]["title"] == SNAPSHOT[6]["title"]
    assert payloads["8"]["title"] == "nul\ufffdbyte"
    assert batches == [
        ("catalogue", "api", "success", 5, {"raw.products": 5, "raw.product_quarantine": 5}),
    ]


def test_rerunning_a_batch_leaves_the_same_rows(fresh_schema, server, client):
    # Ids 2, 7 and 8 of BAD_PRODUCTS repeat the snapshot's: two products more (the "6" and the non-object).
    server.respond = paged(SNAPSHOT + BAD_PRODUCTS, total=196)
    first = load_catalogue(fresh_schema, client(), None, "catalogue-1")
    counts = table_counts(fresh_schema)
    assert counts == (194, 5, 1)
    again = load_catalogue(fresh_schema, client(), None, "catalogue-1")
    assert table_counts(fresh_schema) == counts
    assert first.row_counts == {"raw.products": 194, "raw.product_quarantine": 5}
    assert again.row_counts == {"raw.products": 0, "raw.product_quarantine": 5}  # nothing changed


def test_only_changed_products_move_to_the_new_batch(fresh_schema, server, client):
    server.respond = paged(SNAPSHOT)
    load_catalogue(fresh_schema, client(), None, "catalogue-1")
    server.respond = paged([{**p, "price": 10.0} if p["id"] == 3 else p for p in SNAPSHOT])
    result = load_catalogue(fresh_schema, client(), None, "catalogue-2")
    assert result.row_counts == {"raw.products": 1, "raw.product_quarantine": 0}
    with fresh_schema.cursor() as cur:
        cur.execute(
            "SELECT product_id, selling_price, batch_id, updated_at > created_at FROM raw.products"
            " WHERE batch_id = 'catalogue-2' OR product_id = 4 ORDER BY product_id"
        )
        rows = cur.fetchall()
    fresh_schema.rollback()
    assert rows == [(3, Decimal("10.00"), "catalogue-2", True), (4, Decimal("12.99"), "catalogue-1", False)]


def test_snapshot_fallback_is_recorded_as_the_source(fresh_schema, server, client, caplog):
    server.respond = lambda path, query, n: Reply(500, b"")
    with caplog.at_level(logging.WARNING, logger="include.inventory.catalogue"):
        result = load_catalogue(fresh_schema, client(max_retries=1), SnapshotCatalogue(), "catalogue-fallback")
    assert result.batch.source == "snapshot"
    assert result.row_counts == {"raw.products": 194, "raw.product_quarantine": 0}
    assert table_counts(fresh_schema) == (194, 0, 1)
    assert "using the 'snapshot' catalogue instead" in caplog.text


def test_records_resized_to_a_product_count(fresh_schema):
    result = load_catalogue_records(fresh_schema, SNAPSHOT + BAD_PRODUCTS, "snapshot", "catalogue-scaled", 250)
    assert result.row_counts == {"raw.products": 250, "raw.product_quarantine": 5}
    with fresh_schema.cursor() as cur:
        cur.execute("SELECT count(*), max(product_id), max(sku) FROM raw.products WHERE product_id > 100000")
        variants = cur.fetchone()
    fresh_schema.rollback()
    assert variants == (56, 100056, "SKU-100056")
