"""The dummyjson product catalogue: fetch it, validate and map it to `raw.products`, load it as one ingest batch.

A `CatalogueSource` returns raw product dicts: `DummyJsonClient` (the live API, paged, with timeouts and retries)
or `SnapshotCatalogue` (the copy shipped in include/dummyjson_products.json). `validate_and_map` turns them into
`Product`s and `Reject`s; `load_catalogue` upserts the products and quarantines the rejects in one batch.

Mapping rules. Everything derived is a pure function of the record, so every run on every machine produces
the same catalogue (hashes are SHA-256: Python's `hash()` is salted per process).

- `sku` is `SKU-%05d` of the dummyjson id; `product_name` the title, stripped; `category` the slug in
  capitalised words ("home-decoration" -> "Home Decoration"); `brand` None when absent, null or blank.
- `unit`: dummyjson sells by the piece except food and drink, so groceries -> kg, beverages -> ltr, anything
  else pcs (`UNIT_BY_CATEGORY`; dummyjson has no beverages category today, the rule is ready for one).
- `cost_price`: the selling price times a fraction in [0.60, 0.90] taken from a hash of the id, rounded to
  cents and kept within [0.01, selling price]. `lead_time`: 1-14 days from another hash of the id.
- A record that breaks a rule is never dropped and never raises: it becomes a `Reject` whose reason names the
  field and the bad value; several problems are joined with "; ". Of records sharing an id the first one is
  judged on its own and every later one is rejected as "duplicate id N" (even when the first was rejected
  itself: two versions of one product, one of them broken, is not something to guess about).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import astuple, dataclass, fields, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Protocol

import requests
from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor
from psycopg2.extras import Json, execute_values

from include.inventory.batches import Batch, BatchResult, run_batch

logger = logging.getLogger(__name__)

SNAPSHOT_PATH = Path(__file__).resolve().parents[1] / "dummyjson_products.json"
# The fields we ask the API for (it always adds `id`); `stock` is not mapped here but kept in quarantine payloads.
SELECT_FIELDS = ("id", "title", "category", "price", "brand", "stock")
UNIT_BY_CATEGORY = {"groceries": "kg", "beverages": "ltr"}
DEFAULT_UNIT = "pcs"
VARIANT_ID_BASE = 100_000

CENT = Decimal("0.01")
MAX_PRICE = Decimal("9999999999.99")  # numeric(12, 2)
COST_FRACTION_MIN, COST_FRACTION_MAX = Decimal("0.60"), Decimal("0.90")
VARIANT_FACTOR_MIN, VARIANT_FACTOR_MAX = Decimal("0.80"), Decimal("1.20")
MAX_LEAD_TIME = 14


class CatalogueError(Exception):
    """The catalogue could not be fetched, or what came back is not shaped like a dummyjson product list."""


class CatalogueSource(Protocol):
    name: str  # "api" or "snapshot": recorded as the batch's source

    def fetch_products(self) -> list[dict]: ...


# --- sources ---------------------------------------------------------------------------------------------------


class DummyJsonClient:
    """The live API: `GET {base_url}/products?limit=&skip=&select=` page by page until `skip >= total`.

    Paging follows the server's own account of each page: the next request starts at the `skip` the body echoes
    plus the `limit` it says it applied (dummyjson echoes both; a server may cap `limit` below what we asked), never
    more than the `page_size` we asked for, and never at the number of records a page happened to hold: a page
    that repeats records would otherwise push the next request past products no page ever returned. A body whose
    `skip` is not the one we asked for is an error. At the end the distinct products are reconciled with the
    `total` the server reported: records repeating an id are kept (`validate_and_map` quarantines them as
    duplicates) and logged, and when fewer distinct products arrived than `total` says exist, `fetch_products`
    raises `IncompleteCatalogue` naming how many are missing, so the caller falls back rather than load a
    catalogue with silent holes.

    Every request has a timeout (requests applies it to the connect and to each socket read, not to the whole
    response). Timeouts, connection errors, bodies cut off mid-transfer and 5xx answers are retried up to
    `max_retries` times after the first attempt, sleeping `backoff * 2**n` in between; a 4xx or a malformed body
    is not retried. `time_budget` (seconds, None: unbounded) bounds a whole `fetch_products` call, every page and
    retry included: each request's timeout is the smaller of `timeout` and what is left of the budget, and no
    retry or back-off starts that the budget cannot cover. An Airflow task derives it from its own
    `execution_timeout` (ingest_tasks.fetch_budget), so a slow API ends in a fallback, not a task timeout.
    Giving up raises `CatalogueError` naming the URL, the status or error, and the attempts.
    """

    name = "api"

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 5.0,
        page_size: int = 100,
        max_retries: int = 3,
        backoff: float = 0.5,
        time_budget: float | None = None,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if max_retries < 0:
            raise ValueError(f"max_retries must not be negative, got {max_retries}")
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = timeout
        self.page_size = page_size
        self.max_retries = max_retries
        self.backoff = backoff
        self.time_budget = time_budget
        self.sleep = sleep
        self.clock = clock

    def fetch_products(self) -> list[dict]:
        deadline = None if self.time_budget is None else self.clock() + self.time_budget
        session = self.session or requests.Session()
        try:
            return self._fetch_all(session, deadline)
        finally:
            if self.session is None:  # ours to close; an injected session belongs to the caller
                session.close()

    def _fetch_all(self, session: requests.Session, deadline: float | None) -> list[dict]:
        records: list = []
        skip, total, pages = 0, None, 0
        while total is None or skip < total:
            url, page = self._fetch_page(session, skip, deadline)
            pages += 1
            if page.skip is not None and page.skip != skip:
                raise CatalogueError(
                    f"GET {url}: the server answered for skip={page.skip}, not the skip={skip} asked for; "
                    "it does not page as dummyjson does"
                )
            total = page.total
            if not page.products:
                break  # ran dry (before `total`, when the reconciliation below says so): never ask for it again
            records.extend(page.products)
            applied = page.limit or len(page.products)  # no echo (or limit=0, "all"): what the page held
            skip += min(applied, self.page_size)
        return self._reconcile(records, total, pages)

    def _reconcile(self, records: list, total: int, pages: int) -> list:
        """`records` when every product `total` counts arrived (repeats included), else IncompleteCatalogue."""
        distinct, repeated = distinct_products(records)
        where = f"{self.base_url}/products"
        if distinct < total:
            raise IncompleteCatalogue(
                f"{where} is incomplete: the API reported total={total} products but {distinct} distinct ones "
                f"arrived in {len(records)} records over {pages} pages, {total - distinct} missing"
                + (f" ({len(repeated)} records repeated an id, e.g. {_ids(repeated)})" if repeated else "")
            )
        if repeated:
            logger.warning(
                "%s: %d of %d records repeat an id already fetched (e.g. %s); every product of total=%d arrived, "
                "the repeats go to quarantine as duplicates",
                where,
                len(repeated),
                len(records),
                _ids(repeated),
                total,
            )
        return records

    def _fetch_page(self, session: requests.Session, skip: int, deadline: float | None) -> tuple[str, Page]:
        params = {"limit": self.page_size, "skip": skip, "select": ",".join(SELECT_FIELDS)}
        url = requests.Request("GET", f"{self.base_url}/products", params=params).prepare().url
        attempts = self.max_retries + 1
        failure = ""
        for attempt in range(1, attempts + 1):
            timeout = self.timeout
            if deadline is not None:
                left = deadline - self.clock()
                if left <= 0:
                    raise CatalogueError(self._out_of_time(url, attempt - 1, failure))
                timeout = min(timeout, left)
            try:
                response = session.get(url, timeout=timeout, headers={"Accept": "application/json"})
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                failure = f"{type(exc).__name__}: {exc}"
            except requests.RequestException as exc:
                raise CatalogueError(f"GET {url} failed on attempt {attempt}: {type(exc).__name__}: {exc}") from exc
            else:
                status = response.status_code
                if status >= 500:
                    failure = f"HTTP {status} {response.reason}"
                elif not 200 <= status < 300:
                    raise CatalogueError(
                        f"GET {url} failed: HTTP {status} {response.reason} on attempt {attempt} "
                        "(not retried: only 5xx, timeouts and connection errors are); "
                        f"body starts {response.content[:200]!r}"
                    )
                else:
                    return url, _parse_page(response.content, f"GET {url}")
            if attempt < attempts:
                delay = self.backoff * 2 ** (attempt - 1)
                if deadline is not None and deadline - self.clock() <= delay:
                    raise CatalogueError(self._out_of_time(url, attempt, failure))
                logger.info("GET %s: %s (attempt %d of %d), retrying in %.2f s", url, failure, attempt, attempts, delay)
                self.sleep(delay)
        raise CatalogueError(f"GET {url} failed after {attempts} attempts; last error: {failure}")

    def _out_of_time(self, url: str, attempts: int, failure: str) -> str:
        return (
            f"GET {url}: the fetch's time budget of {self.time_budget:.1f} s ran out after {attempts} attempts "
            f"at this page (per-request timeout {self.timeout:g} s, at most {self.max_retries + 1} attempts); "
            f"last error: {failure or 'none'}"
        )


class IncompleteCatalogue(CatalogueError):
    """The API answered every page, but fewer distinct products arrived than the `total` it reported."""


def distinct_products(records: Sequence[Any]) -> tuple[int, list]:
    """(how many distinct products `records` hold, the records repeating an id seen before them).

    A record with a positive integer id is one product per id; a record without a usable one is a product of its
    own (broken, and quarantined by `validate_and_map`, but not missing).
    """
    seen: set[int] = set()
    repeated, distinct = [], 0
    for record in records:
        product_id = record.get("id") if isinstance(record, dict) else None
        if not _is_positive_int(product_id):
            distinct += 1
        elif product_id in seen:
            repeated.append(record)
        else:
            seen.add(product_id)
            distinct += 1
    return distinct, repeated


def _ids(records: Sequence[dict], limit: int = 5) -> str:
    ids = sorted({r["id"] for r in records})
    return ", ".join(map(str, ids[:limit])) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


class SnapshotCatalogue:
    """The catalogue shipped with the project (see include/dummyjson_products.NOTICE.md)."""

    name = "snapshot"

    def __init__(self, path: Path | str = SNAPSHOT_PATH) -> None:
        self.path = Path(path)

    def fetch_products(self) -> list[dict]:
        try:
            text = self.path.read_bytes()
        except OSError as exc:
            raise CatalogueError(f"cannot read the catalogue snapshot {self.path}: {exc}") from exc
        return _parse_page(text, f"snapshot {self.path}").products


def fetch_with_fallback(
    primary: CatalogueSource, fallback: CatalogueSource, log: logging.Logger = logger
) -> tuple[list[dict], str]:
    """(raw products, source name) from `primary`, or from `fallback` when the primary raises CatalogueError."""
    try:
        return primary.fetch_products(), primary.name
    except CatalogueError as exc:
        log.warning("catalogue source %r failed, using the %r catalogue instead: %s", primary.name, fallback.name, exc)
        return fallback.fetch_products(), fallback.name


_MISSING = object()


@dataclass(frozen=True)
class Page:
    """One /products answer: its records, the `total` it reports, and the `skip` and `limit` it echoes (or None)."""

    products: list
    total: int
    skip: int | None
    limit: int | None


def _parse_page(text: bytes | str, where: str) -> Page:
    """One response body as a Page, or CatalogueError saying what is wrong with it."""
    try:
        body = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError for bytes in no UTF encoding
        raise CatalogueError(
            f"{where}: body is not valid JSON ({exc}); {len(text)} bytes, starting {text[:80]!r}"
        ) from exc
    if not isinstance(body, dict):
        raise CatalogueError(f"{where}: body is {_describe(body)}, expected a JSON object")
    products = body.get("products", _MISSING)
    if not isinstance(products, list):
        raise CatalogueError(f"{where}: 'products' is {_describe(products)}, expected a list")
    counts = {}
    for key in ("total", "skip", "limit"):  # total is required; skip and limit are echoes some servers leave out
        value = body.get(key, _MISSING)
        if (key != "total" and value in (_MISSING, None)) or (_is_int(value) and value >= 0):
            counts[key] = None if value is _MISSING else value
        else:
            raise CatalogueError(f"{where}: '{key}' is {_describe(value)}, expected a non-negative integer")
    return Page(products, counts["total"], counts["skip"], counts["limit"])


def _describe(value: Any) -> str:
    if value is _MISSING:
        return "missing"
    return f"{type(value).__name__} {_short(value)}"


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- validation and mapping ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    """One row of raw.products (without batch_id and the timestamps, which the load sets)."""

    product_id: int
    sku: str
    product_name: str
    category: str
    brand: str | None
    unit: str
    cost_price: Decimal
    selling_price: Decimal
    lead_time: int
    source_id: int


PRODUCT_COLUMNS = tuple(f.name for f in fields(Product))


@dataclass(frozen=True)
class Reject:
    """A record that failed validation, kept for raw.product_quarantine."""

    source_id: str | None
    reason: str
    payload: dict


def validate_and_map(raw_products: Iterable[Any]) -> tuple[list[Product], list[Reject]]:
    """Split raw dummyjson records into mapped products and rejects, in input order. Never raises for bad data."""
    products: list[Product] = []
    rejects: list[Reject] = []
    seen: set[int] = set()
    for raw in raw_products:
        if not isinstance(raw, dict):
            rejects.append(Reject(None, f"product is {_describe(raw)}, expected an object", {"value": raw}))
            continue
        product_id = raw.get("id", _MISSING)
        if _is_positive_int(product_id):
            if product_id in seen:
                rejects.append(Reject(str(product_id), f"duplicate id {product_id}", raw))
                continue
            seen.add(product_id)
        problems = _problems(raw)
        if problems:
            rejects.append(Reject(_source_id(product_id), "; ".join(problems), raw))
        else:
            products.append(_map(raw))
    return products, rejects


def _problems(raw: dict) -> list[str]:
    problems = []
    product_id = raw.get("id", _MISSING)
    if product_id is _MISSING:
        problems.append("id missing")
    elif not _is_positive_int(product_id):
        problems.append(f"id is not a positive integer: {_short(product_id)}")
    for name in ("title", "category"):
        problem = _text_problem(raw.get(name, _MISSING))
        if problem:
            problems.append(f"{name} {problem}")
        elif name == "category" and not _words(raw[name]):
            problems.append(f"category has no words: {_short(raw[name])}")
    brand = raw.get("brand")
    if brand is not None and not isinstance(brand, str):
        problems.append(f"brand is not a string: {_short(brand)}")
    elif brand is not None and "\x00" in brand:
        problems.append(f"brand contains a NUL character: {_short(brand)}")
    problem = _price_problem(raw.get("price", _MISSING))
    if problem:
        problems.append(f"price {problem}")
    return problems


def _text_problem(value: Any) -> str | None:
    if value is _MISSING:
        return "missing"
    if not isinstance(value, str) or not value.strip():
        return f"is not a non-empty string: {_short(value)}"
    if "\x00" in value:  # PostgreSQL text cannot hold it; the whole batch would fail
        return f"contains a NUL character: {_short(value)}"
    return None


def _price_problem(value: Any) -> str | None:
    if value is _MISSING:
        return "missing"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"is not a number: {_short(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"is not finite: {_short(value)}"
    if value <= 0:
        return f"is not above 0: {_short(value)}"
    price = _money(Decimal(str(value)))
    if price < CENT:
        return f"rounds to 0.00: {_short(value)}"
    if price > MAX_PRICE:
        return f"is too large for numeric(12,2): {_short(value)}"
    return None


def _map(raw: dict) -> Product:
    product_id = raw["id"]
    words = _words(raw["category"])
    brand = raw.get("brand")
    selling_price = _money(Decimal(str(raw["price"])))
    return Product(
        product_id=product_id,
        sku=sku_for(product_id),
        product_name=raw["title"].strip(),
        category=" ".join(w.capitalize() for w in words),
        brand=(brand.strip() or None) if isinstance(brand, str) else None,
        unit=UNIT_BY_CATEGORY.get("-".join(words).lower(), DEFAULT_UNIT),
        cost_price=cost_price_for(product_id, selling_price),
        selling_price=selling_price,
        lead_time=lead_time_for(product_id),
        source_id=product_id,
    )


def sku_for(product_id: int) -> str:
    return f"SKU-{product_id:05d}"


def cost_price_for(product_id: int, selling_price: Decimal) -> Decimal:
    """A fraction in [0.60, 0.90] of the selling price, fixed per id; within [0.01, selling price]."""
    fraction = COST_FRACTION_MIN + (COST_FRACTION_MAX - COST_FRACTION_MIN) * _stable_unit("cost", product_id)
    return _clamp(_money(selling_price * fraction), CENT, selling_price)


def lead_time_for(product_id: int) -> int:
    """Supplier lead time in days, 1-14, fixed per id."""
    return 1 + _stable_int("lead_time", product_id) % MAX_LEAD_TIME


def _stable_int(label: str, key: int) -> int:
    digest = hashlib.sha256(f"{label}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _stable_unit(label: str, key: int) -> Decimal:
    """A number in [0, 1] (both ends included, 4 decimal places), fixed per (label, key)."""
    return Decimal(_stable_int(label, key) % 10_001) / 10_000


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _clamp(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    return max(low, min(value, high))


def _words(category: str) -> list[str]:
    return [w for w in re.split(r"[-_\s]+", category.strip()) if w]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive_int(value: Any) -> bool:
    return _is_int(value) and value > 0


def _source_id(value: Any) -> str | None:
    if value is _MISSING or value is None:
        return None
    return str(value).replace("\x00", "\ufffd")[:64]


def expand_catalogue(products: Sequence[Product], count: int) -> list[Product]:
    """`count` products: the first `count` by id, or all of them plus deterministic variants to make up the rest.

    Variant n (1-based) has id VARIANT_ID_BASE + n and copies product n-1 (mod the catalogue size, by id) with
    " (variant k)" added to its name (k = 2 for the first round, the original being variant 1), both prices
    scaled by a factor in [0.80, 1.20] fixed per variant id, and cost kept at or below the selling price.
    `source_id` stays the dummyjson id the variant was derived from.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    ordered = sorted(products, key=lambda p: p.product_id)
    if count <= len(ordered):
        return ordered[:count]
    if not ordered:
        raise ValueError(f"cannot derive {count} products from an empty catalogue")
    if ordered[-1].product_id > VARIANT_ID_BASE:
        raise ValueError(f"product id {ordered[-1].product_id} is in the variant id range (> {VARIANT_ID_BASE})")
    variants = []
    for n in range(1, count - len(ordered) + 1):
        parent = ordered[(n - 1) % len(ordered)]
        variant_id = VARIANT_ID_BASE + n
        factor = VARIANT_FACTOR_MIN + (VARIANT_FACTOR_MAX - VARIANT_FACTOR_MIN) * _stable_unit("variant", variant_id)
        selling_price = _clamp(_money(parent.selling_price * factor), CENT, MAX_PRICE)
        variants.append(
            replace(
                parent,
                product_id=variant_id,
                sku=sku_for(variant_id),
                product_name=f"{parent.product_name} (variant {2 + (n - 1) // len(ordered)})",
                selling_price=selling_price,
                cost_price=_clamp(_money(parent.cost_price * factor), CENT, selling_price),
                lead_time=lead_time_for(variant_id),
            )
        )
    return ordered + variants


# --- loading ---------------------------------------------------------------------------------------------------

# A row is only rewritten (and its updated_at / batch_id moved on) when one of its values actually changed.
_UPSERT_PRODUCTS = """
    INSERT INTO raw.products AS p (product_id, sku, product_name, category, brand, unit, cost_price, selling_price,
                                   lead_time, source_id, batch_id)
    VALUES %s
    ON CONFLICT (product_id) DO UPDATE SET
        sku = EXCLUDED.sku, product_name = EXCLUDED.product_name, category = EXCLUDED.category,
        brand = EXCLUDED.brand, unit = EXCLUDED.unit, cost_price = EXCLUDED.cost_price,
        selling_price = EXCLUDED.selling_price, lead_time = EXCLUDED.lead_time, source_id = EXCLUDED.source_id,
        batch_id = EXCLUDED.batch_id, updated_at = now()
    WHERE (p.sku, p.product_name, p.category, p.brand, p.unit, p.cost_price, p.selling_price, p.lead_time,
           p.source_id)
        IS DISTINCT FROM (EXCLUDED.sku, EXCLUDED.product_name, EXCLUDED.category, EXCLUDED.brand, EXCLUDED.unit,
                          EXCLUDED.cost_price, EXCLUDED.selling_price, EXCLUDED.lead_time, EXCLUDED.source_id)
    RETURNING p.product_id
"""

_INSERT_QUARANTINE = "INSERT INTO raw.product_quarantine (batch_id, source_id, reason, payload) VALUES %s"


def upsert_products(cur: PgCursor, products: Sequence[Product], batch_id: str) -> int:
    """Insert or update products by product_id inside the caller's transaction. Returns rows inserted or changed.

    Products absent from `products` are left alone: other tables reference them.
    """
    ids = [p.product_id for p in products]
    if len(set(ids)) != len(ids):
        raise ValueError("upsert_products got the same product_id twice; validate_and_map removes duplicates")
    if not products:
        return 0
    # RETURNING with fetch=True counts across execute_values' pages (cur.rowcount only sees the last page).
    written = execute_values(
        cur, _UPSERT_PRODUCTS, [astuple(p) + (batch_id,) for p in products], page_size=1000, fetch=True
    )
    return len(written)


def quarantine(cur: PgCursor, rejects: Sequence[Reject], batch_id: str) -> int:
    """Replace this batch's rows in raw.product_quarantine with `rejects` (caller's transaction). Returns rows."""
    cur.execute("DELETE FROM raw.product_quarantine WHERE batch_id = %s", (batch_id,))
    if not rejects:
        return 0
    rows = [(batch_id, r.source_id, r.reason, Json(r.payload, dumps=_jsonb_dumps)) for r in rejects]
    execute_values(cur, _INSERT_QUARANTINE, rows, page_size=1000)
    return len(rejects)


def _jsonb_dumps(value: Any) -> str:
    """JSON that jsonb accepts whatever arrived: NaN/Infinity and NUL characters become strings it can hold."""
    return json.dumps(_jsonb_safe(value), default=str, allow_nan=False)


def _jsonb_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_jsonb_safe(str(k)): _jsonb_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonb_safe(v) for v in value]
    return value


def load_catalogue(
    conn: PgConnection, source: CatalogueSource, fallback: CatalogueSource | None, batch_id: str
) -> BatchResult:
    """Fetch (falling back when a fallback is given), validate, and write products + quarantine as one batch.

    The fetch happens before the transaction opens, so no transaction waits on the network. A re-run with the
    same batch_id updates changed products only and replaces that batch's quarantine rows.
    """
    if fallback is None:
        raw_products, source_name = source.fetch_products(), source.name
    else:
        raw_products, source_name = fetch_with_fallback(source, fallback)
    return load_catalogue_records(conn, raw_products, source_name, batch_id)


def load_catalogue_records(
    conn: PgConnection, raw_products: Sequence[Any], source_name: str, batch_id: str, count: int = 0
) -> BatchResult:
    """Validate records already fetched (e.g. passed between Airflow tasks) and write them as one batch.

    `count` > 0 resizes the valid products with `expand_catalogue` (the first `count` by id, or the catalogue
    plus variants); 0 keeps them as they are. Rejects are quarantined either way.
    """
    products, rejects = validate_and_map(raw_products)
    if count:
        products = expand_catalogue(products, count)

    def write(cur: PgCursor) -> tuple[dict[str, int], int]:
        changed = upsert_products(cur, products, batch_id)
        quarantined = quarantine(cur, rejects, batch_id)
        return {"raw.products": changed, "raw.product_quarantine": quarantined}, len(rejects)

    result = run_batch(conn, Batch(batch_id, "catalogue", source_name), write, replace=())
    if rejects:
        logger.warning(
            "catalogue batch %s: %d of %d records quarantined, e.g. %s",
            batch_id,
            len(rejects),
            len(raw_products),
            "; ".join(f"id {r.source_id}: {r.reason}" for r in rejects[:3]),
        )
    logger.info(result.summary())
    return result


def last_refresh(conn: PgConnection) -> datetime | None:
    """When the catalogue was last loaded successfully (from the API or the snapshot), or None."""
    with conn.cursor() as cur:
        cur.execute("SELECT max(finished_at) FROM raw.ingest_batches WHERE kind = 'catalogue' AND status = 'success'")
        (last,) = cur.fetchone()
    conn.rollback()
    return last
