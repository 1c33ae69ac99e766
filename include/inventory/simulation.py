"""A coherent retail simulation: stable master data, then one window of business time per batch.

Within a window, for every product x warehouse: sales arrive as a Poisson process (a demand rate per pair,
busier at weekends), a replenishment order is placed when on-hand stock falls to the reorder point and its goods
arrive after the product's lead time, and rare shrinkage (theft, damage, expiry) removes stock without a sale or
receipt. Stock counts record the true on-hand quantity at the end of the window for every pair whose stock
moved, and for every pair at the end of each day (00:00 UTC).

Deterministic: every random draw comes from a generator seeded with (seed, window start, product, warehouse), and
the window starts from the stock state as of its start, read back from the raw tables. Re-running a past
batch therefore reproduces exactly the same rows. Shrinkage is also written to `sim.shrinkage_events`, the
ground truth reconciliation is tested against.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from faker import Faker
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor
from psycopg2.extras import execute_values

from include.inventory.batches import Batch, BatchResult, copy_rows, run_batch, table_identifier
from include.inventory.schema import EXPECTED_TABLES

DAY = timedelta(days=1)
SHRINKAGE_REASONS = ("theft", "damage", "expiry")


@dataclass(frozen=True)
class SimConfig:
    """Scale and behaviour knobs. Defaults suit the demo; benchmarks raise the counts."""

    seed: int = 42
    locations: int = 3
    warehouses: int = 5
    suppliers: int = 8
    shrinkage_per_pair_day: float = 0.02  # expected shrinkage events per product x warehouse per day
    demand_scale: float = 1.0  # multiplies every pair's demand rate

    def __post_init__(self):
        for name in ("locations", "warehouses", "suppliers"):
            if getattr(self, name) < 1:
                raise ValueError(f"SimConfig.{name} must be at least 1")
        if self.warehouses < self.locations:
            raise ValueError("SimConfig.warehouses must be at least SimConfig.locations (each location has one)")


# --------------------------------------------------------------------------------------------- master data


@dataclass
class MasterData:
    locations: list[tuple]
    warehouses: list[tuple]
    suppliers: list[tuple]


def build_master_data(config: SimConfig) -> MasterData:
    """Locations (Faker cities), warehouses spread over them, suppliers. Same seed, same rows."""
    # One generator per entity type: a larger count extends the list, the first rows stay the same.
    fake = Faker("en_US")
    fake.seed_instance(f"{config.seed}|locations")
    locations, seen = [], set()
    while len(locations) < config.locations:
        city, state = fake.city(), fake.state_abbr()
        name = f"{city}, {state}"
        if name in seen:
            continue
        seen.add(name)
        locations.append((len(locations) + 1, name, city, state, "United States"))
    warehouses = []
    for wid in range(1, config.warehouses + 1):
        loc = locations[(wid - 1) % len(locations)]
        capacity = 50_000 + 10_000 * ((wid * 7) % 6)
        warehouses.append((wid, f"{loc[2]} DC {wid:02d}", loc[0], capacity))
    fake.seed_instance(f"{config.seed}|suppliers")
    suppliers, names = [], set()
    while len(suppliers) < config.suppliers:
        name = fake.company()
        if name in names:
            continue
        names.add(name)
        sid = len(suppliers) + 1
        slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20] or f"supplier{sid}"
        # example.com is reserved for documentation: no simulated email can reach a real mailbox.
        suppliers.append((sid, name, f"orders@{slug}.example.com", fake.numerify("+1-###-###-####"), "United States"))
    return MasterData(locations, warehouses, suppliers)


def product_supplier_links(config: SimConfig, products: Iterable[tuple[int, Decimal]]) -> list[tuple]:
    """1-3 suppliers per product (the first is primary) at a supply price near the product's cost."""
    links = []
    for product_id, cost_price in products:
        rng = random.Random(f"{config.seed}|suppliers|{product_id}")
        chosen = rng.sample(range(1, config.suppliers + 1), k=min(config.suppliers, rng.randint(1, 3)))
        for i, supplier_id in enumerate(chosen):
            factor = Decimal(1) if i == 0 else Decimal(str(round(rng.uniform(0.97, 1.08), 2)))
            price = max(Decimal("0.01"), (Decimal(cost_price) * factor).quantize(Decimal("0.01")))
            links.append((product_id, supplier_id, price, i == 0))
    return links


def ensure_master_data(conn: PgConnection, config: SimConfig) -> BatchResult | None:
    """Create the master data once; later calls only link products that have no supplier yet."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM raw.warehouse_locations), (SELECT count(*) FROM raw.warehouse), "
            "(SELECT count(*) FROM raw.suppliers)"
        )
        have = cur.fetchone()
        cur.execute(
            "SELECT p.product_id, p.cost_price FROM raw.products p WHERE NOT EXISTS "
            "(SELECT 1 FROM raw.product_suppliers ps WHERE ps.product_id = p.product_id) ORDER BY 1"
        )
        unlinked = cur.fetchall()
    conn.rollback()
    if (
        all(h >= n for h, n in zip(have, (config.locations, config.warehouses, config.suppliers), strict=True))
        and not unlinked
    ):
        return None
    master = build_master_data(config)

    def write(cur: PgCursor) -> tuple[dict[str, int], int]:
        counts = {}
        for table, columns, rows in (
            ("raw.warehouse_locations", ("location_id", "location_name", "city", "state", "country"), master.locations),
            ("raw.warehouse", ("warehouse_id", "warehouse_name", "location_id", "capacity"), master.warehouses),
            (
                "raw.suppliers",
                ("supplier_id", "supplier_name", "contact_email", "contact_phone", "country"),
                master.suppliers,
            ),
            (
                "raw.product_suppliers",
                ("product_id", "supplier_id", "supply_price", "is_primary"),
                product_supplier_links(config, unlinked),
            ),
        ):
            statement = sql.SQL("INSERT INTO {} ({}) VALUES %s ON CONFLICT DO NOTHING RETURNING 1").format(
                table_identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            counts[table] = len(execute_values(cur, statement, rows, page_size=10_000, fetch=True))
        return counts, 0

    return run_batch(conn, Batch(f"master-seed{config.seed}", "master", "simulator"), write, replace=())


# --------------------------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class PairParams:
    product_id: int
    warehouse_id: int
    daily_demand: float
    max_units_per_sale: int
    reorder_point: int
    order_quantity: int
    initial_stock: int
    lead_time_days: int
    supplier_id: int
    unit_cost: Decimal
    unit_price: Decimal


@dataclass
class PendingOrder:
    order_id: str
    quantity: int
    supplier_id: int
    unit_cost: Decimal
    ordered_at: datetime
    expected_at: datetime


@dataclass
class PairState:
    on_hand: int | None  # None: never counted, the window writes the initial count
    pending: list[PendingOrder] = field(default_factory=list)


# Demand falls with price: units a day ~ price^-ELASTICITY around a reference price (a 2.50 loaf sells about 8
# times as often as a 25.00 shirt), times a per-category factor (staples turn faster than their price alone says,
# vehicles and luxury slower) and a per-pair draw. Clamped to [DEMAND_FLOOR, DEMAND_CEILING] units a day: every
# pair still sells sometimes (a 30,000.00 car about once a month), and no shelf empties in minutes.
REFERENCE_PRICE = 25.0
ELASTICITY = 0.9
DEMAND_AT_REFERENCE = (4.0, 16.0)  # units a day at the reference price: a log-uniform draw per pair
DEMAND_FLOOR, DEMAND_CEILING = 1 / 30, 60.0
CATEGORY_DEMAND = {  # raw.products.category -> factor (1.0 for any other)
    "Groceries": 2.0,
    "Kitchen Accessories": 1.3,
    "Beauty": 1.3,
    "Skin Care": 1.3,
    "Tops": 1.2,
    "Mens Shirts": 1.2,
    "Furniture": 0.6,
    "Laptops": 0.7,
    "Smartphones": 0.8,
    "Tablets": 0.7,
    "Mens Watches": 0.5,
    "Womens Watches": 0.5,
    "Womens Jewellery": 0.6,
    "Motorcycle": 0.4,
    "Vehicle": 0.3,
}


def daily_demand(rng: random.Random, category: str, selling_price: Decimal, demand_scale: float = 1.0) -> float:
    """A pair's mean units a day (see REFERENCE_PRICE): one draw from `rng`."""
    at_reference = math.exp(rng.uniform(*(math.log(v) for v in DEMAND_AT_REFERENCE)))
    price = max(float(selling_price), 0.01)
    rate = at_reference * CATEGORY_DEMAND.get(category, 1.0) * (price / REFERENCE_PRICE) ** -ELASTICITY
    return min(max(rate, DEMAND_FLOOR), DEMAND_CEILING) * demand_scale


def pair_params(
    config: SimConfig,
    product_id: int,
    warehouse_id: int,
    lead_time: int,
    selling_price: Decimal,
    supplier_id: int,
    supply_price: Decimal,
    category: str = "",
) -> PairParams:
    rng = random.Random(f"{config.seed}|pair|{product_id}|{warehouse_id}")
    daily = daily_demand(rng, category, selling_price, config.demand_scale)
    # Units per sale: up to 4, but a pair selling about one unit a day or less sells them one at a time.
    max_units = min(rng.choice((1, 2, 3, 4)), math.ceil(daily))
    safety = math.ceil(daily * 3)
    reorder_point = math.ceil(daily * lead_time) + safety
    # Three to six weeks of demand; at least 2 units (a slow, dear item is not ordered by the score).
    order_quantity = max(2, math.ceil(daily * rng.uniform(21, 45)))
    initial = reorder_point + math.ceil(order_quantity * rng.uniform(0.2, 1.0))
    return PairParams(
        product_id,
        warehouse_id,
        daily,
        max_units,
        reorder_point,
        order_quantity,
        initial,
        lead_time,
        supplier_id,
        Decimal(supply_price),
        Decimal(selling_price),
    )


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:  # normal approximation: exact enough and O(1)
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def demand_factor(moment: datetime) -> float:
    """Busier at weekends."""
    return 1.35 if moment.weekday() >= 5 else 0.9


@dataclass
class WindowRows:
    sales: list[tuple] = field(default_factory=list)  # product, warehouse, units, unit_price, sale_date
    orders: list[tuple] = field(default_factory=list)
    receipts: list[tuple] = field(default_factory=list)
    counts: list[tuple] = field(default_factory=list)  # product, warehouse, quantity, count_type, counted_at
    shrinkage: list[tuple] = field(default_factory=list)


def is_day_boundary(moment: datetime) -> bool:
    return moment.hour == 0 and moment.minute == 0 and moment.second == 0 and moment.microsecond == 0


def simulate_pair(
    config: SimConfig, params: PairParams, state: PairState, start: datetime, end: datetime, rows: WindowRows
) -> PairState:
    """Advance one product x warehouse through [start, end); append its rows; return the state at `end`."""
    p, w = params.product_id, params.warehouse_id
    rng = random.Random(f"{config.seed}|window|{start.isoformat()}|{p}|{w}")
    on_hand = state.on_hand
    if on_hand is None:
        on_hand = params.initial_stock
        rows.counts.append((p, w, on_hand, "initial", start))
    pending = list(state.pending)
    seconds = (end - start).total_seconds()
    days = seconds / 86_400

    events: list[tuple[datetime, int, str, object]] = []  # (time, tie-breaker, kind, payload)
    seq = 0
    mean_units = (1 + params.max_units_per_sale) / 2
    for _ in range(poisson(rng, params.daily_demand / mean_units * days * demand_factor(start))):
        seq += 1
        at = start + timedelta(seconds=int(rng.random() * seconds))
        events.append((at, seq, "sale", rng.randint(1, params.max_units_per_sale)))
    for _ in range(poisson(rng, config.shrinkage_per_pair_day * days)):
        seq += 1
        at = start + timedelta(seconds=int(rng.random() * seconds))
        events.append((at, seq, "shrink", (rng.randint(1, 5), rng.choice(SHRINKAGE_REASONS))))
    for order in pending:
        if order.expected_at < end:
            seq += 1
            events.append((max(order.expected_at, start), seq, "arrival", order))
    heapq.heapify(events)

    moved = False
    while events:
        at, _, kind, payload = heapq.heappop(events)
        if kind == "arrival":
            order = payload
            on_hand += order.quantity
            pending.remove(order)
            rows.receipts.append(
                (order.order_id, p, w, order.supplier_id, order.quantity, order.unit_cost, order.ordered_at, at)
            )
            moved = True
            continue
        if kind == "sale":
            units = min(payload, on_hand)
            if units == 0:
                continue  # a lost sale: nothing on the shelf
            on_hand -= units
            rows.sales.append((p, w, units, params.unit_price, at))
        else:
            units = min(payload[0], on_hand)
            if units == 0:
                continue
            on_hand -= units
            rows.shrinkage.append((p, w, at, units, payload[1]))
        moved = True
        if not pending and on_hand <= params.reorder_point:
            hours = rng.uniform(0, 12)
            expected = at + timedelta(days=params.lead_time_days, hours=hours)
            order = PendingOrder(
                f"PO-{p}-{w}-{at:%Y%m%d%H%M%S}",
                params.order_quantity,
                params.supplier_id,
                params.unit_cost,
                at,
                expected.replace(microsecond=0),
            )
            pending.append(order)
            rows.orders.append(
                (order.order_id, p, w, order.supplier_id, order.quantity, order.unit_cost, at, order.expected_at)
            )
            if order.expected_at < end:
                seq += 1
                heapq.heappush(events, (order.expected_at, seq, "arrival", order))

    if is_day_boundary(end):
        rows.counts.append((p, w, on_hand, "daily", end))
    elif moved:
        rows.counts.append((p, w, on_hand, "window", end))
    return PairState(on_hand, pending)


def simulate_window(
    config: SimConfig,
    params: list[PairParams],
    states: dict[tuple[int, int], PairState],
    start: datetime,
    end: datetime,
) -> tuple[WindowRows, dict[tuple[int, int], PairState]]:
    if end <= start:
        raise ValueError(f"empty window: {start} .. {end}")
    rows = WindowRows()
    new_states = {}
    for pp in params:
        key = (pp.product_id, pp.warehouse_id)
        new_states[key] = simulate_pair(config, pp, states.get(key, PairState(None)), start, end, rows)
    return rows, new_states


# --------------------------------------------------------------------------------------------- database I/O


def load_params(cur: PgCursor, config: SimConfig) -> list[PairParams]:
    cur.execute(
        """
        SELECT p.product_id, w.warehouse_id, p.lead_time, p.selling_price, ps.supplier_id, ps.supply_price,
               p.category
        FROM raw.products p
        JOIN raw.product_suppliers ps ON ps.product_id = p.product_id AND ps.is_primary
        CROSS JOIN raw.warehouse w
        ORDER BY p.product_id, w.warehouse_id
        """
    )
    return [pair_params(config, *row) for row in cur.fetchall()]


def load_states(cur: PgCursor, at: datetime) -> dict[tuple[int, int], PairState]:
    """Stock state as of `at`: the latest count at or before it, and orders placed before it not yet received."""
    cur.execute(
        """
        SELECT p.product_id, w.warehouse_id, c.quantity
        FROM raw.products p CROSS JOIN raw.warehouse w
        CROSS JOIN LATERAL (
            SELECT i.quantity FROM raw.inventory i
            WHERE i.product_id = p.product_id AND i.warehouse_id = w.warehouse_id AND i.counted_at <= %(at)s
            ORDER BY i.counted_at DESC LIMIT 1
        ) c
        """,
        {"at": at},
    )
    states = {(p, w): PairState(q) for p, w, q in cur.fetchall()}
    cur.execute(
        """
        SELECT o.order_id, o.product_id, o.warehouse_id, o.quantity, o.supplier_id, o.unit_cost, o.ordered_at,
               o.expected_at
        FROM raw.purchase_orders o
        WHERE o.ordered_at < %(at)s AND o.ordered_at >= %(at)s - interval '60 days'
          AND NOT EXISTS (SELECT 1 FROM raw.stock_receipts r WHERE r.order_id = o.order_id AND r.received_at < %(at)s)
        """,
        {"at": at},
    )
    for order_id, p, w, qty, supplier, cost, ordered_at, expected_at in cur.fetchall():
        states.setdefault((p, w), PairState(None)).pending.append(
            PendingOrder(order_id, qty, supplier, cost, ordered_at, expected_at)
        )
    return states


def window_batch_id(start: datetime, end: datetime) -> str:
    return f"sim-{start.astimezone(UTC):%Y%m%dT%H%M%SZ}-{int((end - start).total_seconds())}s"


# Columns the database fills in itself (surrogate keys, generated revenue): never loaded.
_DB_FILLED = {"sale_id", "total_revenue", "receipt_id", "inventory_id", "event_id"}


def load_columns(table: str) -> tuple[str, ...]:
    """The columns a batch loads into `table`, in table order: the simulator's row tuples follow it."""
    return tuple(c for c in EXPECTED_TABLES[table] if c not in _DB_FILLED)


def write_rows(cur: PgCursor, batch_id: str, rows: WindowRows) -> dict[str, int]:
    return {
        table: copy_rows(cur, table, load_columns(table), (r + (batch_id,) for r in data))
        for table, data in (
            ("raw.product_sales", rows.sales),
            ("raw.purchase_orders", rows.orders),
            ("raw.stock_receipts", rows.receipts),
            ("raw.inventory", rows.counts),
            ("sim.shrinkage_events", rows.shrinkage),
        )
    }


def run_window(conn: PgConnection, config: SimConfig, start: datetime, end: datetime) -> BatchResult:
    """Simulate [start, end) and load it as one atomic, re-runnable batch."""
    return run_windows(conn, config, [(start, end)])[0]


def run_windows(
    conn: PgConnection, config: SimConfig, windows: list[tuple[datetime, datetime]], progress=None
) -> list[BatchResult]:
    """Simulate consecutive windows, each loaded as its own atomic batch.

    The state is read from the database once, before the first window, then carried forward in memory: it is
    the same state the next window would read back (its latest counts and open orders), without the query.
    """
    results: list[BatchResult] = []
    carried: dict | None = None
    params: list[PairParams] | None = None
    for i, (start, end) in enumerate(windows):
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if i and start != windows[i - 1][1]:
            carried = None  # not contiguous: read the state back from the database
        batch = Batch(window_batch_id(start, end), "simulation", "simulator", start, end)

        def write(cur: PgCursor, start=start, end=end, batch=batch) -> tuple[dict[str, int], int]:
            nonlocal carried, params
            # Runs after this batch's earlier rows were deleted, so the state read is exactly that before it.
            if params is None:
                params = load_params(cur, config)
                if not params:
                    raise RuntimeError(
                        "no products with suppliers, or no warehouses: load the catalogue and the master data first"
                    )
            states = carried if carried is not None else load_states(cur, start)
            rows, carried = simulate_window(config, params, states, start, end)
            return write_rows(cur, batch.batch_id, rows), 0

        try:
            results.append(run_batch(conn, batch, write))
        except BaseException:
            carried = None
            raise
        if progress:
            progress(i + 1, len(windows), results[-1])
    return results


def day_windows(end: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """`days` one-day windows ending at `end` (floored to 00:00 UTC)."""
    last = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [(last - (days - i) * DAY, last - (days - i - 1) * DAY) for i in range(days)]


def check_no_overlap(conn: PgConnection, start: datetime, end: datetime, window: timedelta) -> None:
    """Refuse to simulate a period already simulated with windows of another length (it would count twice)."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT count(*), min(window_start) FROM raw.ingest_batches
            WHERE kind = 'simulation' AND window_start < %s AND window_end > %s
              AND window_end - window_start <> %s
            """,
            (end, start, window),
        )
        clashes, first = cur.fetchone()
    conn.rollback()
    if clashes:
        raise RuntimeError(
            f"{clashes} simulation batches with another window length already cover {start:%Y-%m-%d %H:%M} .. "
            f"{end:%Y-%m-%d %H:%M} (first at {first}); simulating it again would double the activity. "
            "Pick a period before them, or refresh the tables first."
        )


def minutes_to_load(
    conn: PgConnection, start: datetime, end: datetime, limit: int
) -> tuple[list[tuple[datetime, datetime]], datetime | None]:
    """The one-minute windows a minute run loads: its own [start, end), preceded by any minutes since the last
    loaded window that no run loaded (the scheduler skips minutes while a run is late: catchup is off).

    Each missed minute is loaded as the batch its own run would have written (same window, same batch id, the
    same rows), so the raw layer has no hole and a later run of that minute changes nothing. At most `limit`
    missed minutes are loaded (0: none); a longer gap is left as it is, and its start returned so the caller can
    say so (the history DAG fills whole days). Returns (windows, start of a gap left unfilled or None).
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT max(window_end) FROM raw.ingest_batches "
            "WHERE kind = 'simulation' AND status = 'success' AND window_end <= %s",
            (start,),
        )
        (last,) = cur.fetchone()
    conn.rollback()
    step = end - start
    if last is None or last >= start or step != timedelta(minutes=1):
        return [(start, end)], None
    missed = int((start - last) / step)
    if (start - last) % step or missed > limit:
        return [(start, end)], last
    windows = [(last + i * step, last + (i + 1) * step) for i in range(missed)]
    return [*windows, (start, end)], None
