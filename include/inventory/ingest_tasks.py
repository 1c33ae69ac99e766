"""Airflow tasks shared by the ingest DAGs (the every-minute one and the history one).

Each task is a thin wrapper: it reads its Variables at run time, opens the `warehouse_db` connection and calls
the plain functions in catalogue.py and simulation.py, which tests call directly.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, task

from include.inventory import config

log = logging.getLogger(__name__)

# The raw layer as an Airflow Asset: the analytics DAG is scheduled on it.
RAW_LAYER = Asset(name="inventory_raw_layer", uri="x-inventory://warehouse_db/raw")

SCALES = {
    # name: (locations, warehouses, suppliers, products; 0 = the catalogue as it is)
    "demo": (3, 5, 8, 0),
    "S": (5, 5, 20, 200),
    "M": (10, 20, 50, 2000),
}


def sim_config(scale: str | None = None, seed: int | None = None):
    """SimConfig from the Variables, or from a named scale preset (the history DAG's param)."""
    from include.inventory.simulation import SimConfig

    if scale:
        locations, warehouses, suppliers, _ = SCALES[scale]
    else:
        locations = int(config.setting("sim_locations"))
        warehouses = int(config.setting("sim_warehouses"))
        suppliers = int(config.setting("sim_suppliers"))
    return SimConfig(
        seed=int(seed if seed is not None else config.setting("sim_seed")),
        locations=locations,
        warehouses=warehouses,
        suppliers=suppliers,
        shrinkage_per_pair_day=float(config.setting("sim_shrinkage_rate")),
    )


def _product_count(scale: str | None) -> int:
    return SCALES[scale][3] if scale else int(config.setting("sim_products"))


# What a task that fetches the catalogue keeps of its execution_timeout for what comes after the fetch (loading
# the catalogue, or the snapshot instead; in simulate_and_load also the master data and the minute): 10 s, or
# half the timeout when that is shorter. The rest bounds the fetch, retries and back-off included.
LOAD_RESERVE = timedelta(seconds=10)


def fetch_budget(execution_timeout: timedelta | None) -> float | None:
    """Seconds a task with this execution_timeout may spend fetching the catalogue; None without a timeout."""
    if execution_timeout is None:
        return None
    return (execution_timeout - min(LOAD_RESERVE, execution_timeout / 2)).total_seconds()


def fetch_deadline() -> float | None:
    """The time.monotonic() by which the running task's catalogue fetch must be over, for the task to end inside
    its execution_timeout; None when it has none. Call it first thing in the task: the timeout runs from there."""
    from airflow.sdk import get_current_context

    budget = fetch_budget(get_current_context()["task"].execution_timeout)
    return None if budget is None else time.monotonic() + budget


def _fetch(deadline: float | None) -> dict:
    """The catalogue from the API (or the snapshot), the API given up on at `deadline` (time.monotonic())."""
    from include.inventory.catalogue import DummyJsonClient, SnapshotCatalogue, fetch_with_fallback

    began = time.monotonic()
    per_request = float(config.setting("dummyjson_timeout_seconds"))
    budget = None if deadline is None else deadline - began
    if budget is not None:
        log.info(
            "catalogue fetch: %.1f s left for it inside the task's execution_timeout; each request times out after "
            "at most %g s, and the snapshot is used if the API has not answered by then",
            budget,
            per_request,
        )
    client = DummyJsonClient(config.setting("dummyjson_base_url"), timeout=per_request, time_budget=budget)
    products, source = fetch_with_fallback(client, SnapshotCatalogue(), log)
    log.info("fetched %s catalogue records from the %s in %.1f s", len(products), source, time.monotonic() - began)
    return {"products": products, "source": source}


@task
def fetch_catalogue() -> dict:
    """The dummyjson catalogue, or the shipped snapshot (with a WARNING saying why) when the API fails, is
    incomplete, or does not answer within the time this task's execution_timeout leaves for the fetch."""
    return _fetch(fetch_deadline())


@task
def fetch_catalogue_if_due() -> dict:
    """fetch_catalogue, unless the catalogue was refreshed less than `catalogue_refresh_minutes` ago (skipped).

    A product catalogue changes rarely: fetching it every minute would cost the cycle seconds (more while the API
    is down and the client backs off) and hammer the API, for nothing.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from include.inventory.catalogue import last_refresh
    from include.inventory.warehouse import Warehouse

    deadline = fetch_deadline()
    minutes = int(config.setting("catalogue_refresh_minutes"))
    if minutes > 0:
        with Warehouse.from_airflow().connect() as conn:
            last = last_refresh(conn)
        if last is not None and datetime.now(UTC) - last < timedelta(minutes=minutes):
            due = last + timedelta(minutes=minutes)
            raise AirflowSkipException(
                f"catalogue refreshed at {last:%Y-%m-%d %H:%M:%S %Z}; next refresh due after {due:%H:%M:%S} "
                "(Variable catalogue_refresh_minutes)"
            )
    return _fetch(deadline)


@task
def upsert_products(payload: dict, data_interval_start=None, dag_run=None, params=None) -> str:
    """Validate and map the records, quarantine the bad ones, upsert the rest (one batch)."""
    from include.inventory.catalogue import load_catalogue_records
    from include.inventory.warehouse import Warehouse

    # A run triggered from the UI or CLI has no logical date, hence no data interval: its batch is named by run_after.
    batch_id = f"catalogue-{data_interval_start or dag_run.run_after:%Y%m%dT%H%M%SZ}"
    with Warehouse.from_airflow().connect() as conn:
        result = load_catalogue_records(
            conn, payload["products"], payload["source"], batch_id, _product_count((params or {}).get("scale"))
        )
    return result.summary()


def prepare_catalogue_and_master_data(conn, sim, deadline: float | None = None) -> str:
    """On a fresh warehouse (no product yet): the catalogue (API or snapshot) and the master data. Otherwise ''.

    `deadline` (time.monotonic(), from `fetch_deadline()` in the calling task) is when the API is given up for
    the snapshot; None: the client's own timeouts and retries only.

    The minute DAG refreshes the catalogue on a branch of its own; its very first run cannot wait for it.
    """
    from include.inventory.catalogue import load_catalogue_records

    with conn.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM raw.products)")
        (has_products,) = cur.fetchone()
    conn.rollback()
    if has_products:
        return ""
    payload = _fetch(deadline)
    products, source = payload["products"], payload["source"]
    loaded = load_catalogue_records(conn, products, source, "catalogue-initial", _product_count(None))
    return f"{loaded.summary()}; {prepare_master_data(conn, sim)}"


def prepare_master_data(conn, sim) -> str:
    """Locations, warehouses, suppliers, product-supplier links and the simulated managers: created once,
    extended when scaled up; nothing is written when they are in place."""
    from include.inventory import alerts, simulation

    result = simulation.ensure_master_data(conn, sim)
    managers = alerts.seed_managers(conn, sim.seed)
    summary = result.summary() if result else "master data already in place"
    return summary + (f"; {managers} inventory managers added" if managers else "")


@task(trigger_rule="none_failed")  # runs when the catalogue refresh was skipped as not due
def ensure_master_data(params=None) -> str:
    """Locations, warehouses, suppliers and product-supplier links: created once, extended when scaled up."""
    from include.inventory.warehouse import Warehouse

    params = params or {}
    with Warehouse.from_airflow().connect() as conn:
        summary = prepare_master_data(conn, sim_config(params.get("scale"), params.get("seed")))
    log.info("%s", summary)
    return summary
