"""The Airflow side of the analytics build: plan the run, gate staging on data quality, publish atomically.

- plan: the instant the run is "as of" (the end of the last simulated window at or before the run), the
  settings it uses (read once), and how much it recomputes: everything (full), the fact days from a date and
  every other table whole (window), or only the pairs and days the new batches touched (pairs).
- gate: checks on what the Spark job wrote to `staging` (keys, stock, aging, reconciliation identity, ...).
- publish: one transaction under an advisory lock: each analytics table gets the staging rows for the part
  the run recomputed (the whole table, some days, some pairs), and only the rows that changed are written.
  Readers see the old tables until the commit and the new ones after it, never a missing, empty or
  half-written table. Tables keep their indexes, comments and grants.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor
from psycopg2.extras import execute_values

from include.inventory.db import SQL_DIR, load_sql, transaction
from spark_jobs import registry

log = logging.getLogger(__name__)

PUBLISH_LOCK = "inventory.analytics.publish"
BI_ROLE = "bi_reader"
# The published tables, in the registry's order (spark_jobs/registry.py declares each one).
EXPECTED_TABLES = tuple(registry.TABLES)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


# The run parameters the plan resolves once (Variable -> plan field); every consumer reads them from the plan.
PLAN_SETTINGS = {
    "low_stock_threshold": "low_stock_threshold",
    "demand_window_days": "demand_window_days",
    "overstock_days": "overstock_coverage_days",
    "aging_threshold_days": "aging_threshold_days",
    "period_days": "kpi_period_days",
}
# A minute whose batches touched more pairs than this share of all pairs rebuilds the windows of every pair.
PAIRS_MODE_MAX_SHARE = 0.25


def default_settings() -> dict[str, int]:
    """The plan's settings at their defaults (config.SETTINGS), for code and tests outside a DAG run."""
    from include.inventory.config import SETTINGS

    return {name: int(SETTINGS[var].default) for name, var in PLAN_SETTINGS.items()}


class NothingToBuild(RuntimeError):
    pass


class QualityGateFailed(RuntimeError):
    pass


class PublishConflict(RuntimeError):
    pass


@dataclass(frozen=True)
class Plan:
    """What one analytics run builds: as of when, in which mode, from which published state, with which settings.

    mode: full (every table from all of raw), window (fact days from from_date, the rest whole), pairs (only the
    pairs the new batches touched, the days from from_date; see spark_jobs/build_analytics.py). base_publish_id:
    the publish an incremental run builds on; publishing refuses if another publish came in between.

    "New batches" are those that finished after the base publish's watermark (the newest `finished_at` it
    covered; a batch stamps it with clock_timestamp() as its last statement). Minute batches load one at a time
    (the ingest DAG's max_active_runs=1); a batch loaded concurrently that commits after a later one could be
    missed by the pairs mode, and is then picked up by the next window-mode run, at the latest the next midnight.
    """

    as_of: datetime
    from_date: date | None
    watermark: datetime | None
    mode: str = "full"
    base_publish_id: int | None = None
    pairs: tuple[tuple[int, int], ...] = ()
    settings: dict[str, int] = field(default_factory=dict)
    reason: str = ""

    def to_xcom(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "from_date": self.from_date.isoformat() if self.from_date else "",
            "watermark": self.watermark.isoformat() if self.watermark else "",
            "mode": self.mode,
            "base_publish_id": self.base_publish_id,
            "pairs": [list(p) for p in self.pairs],
            "settings": dict(self.settings),
            "reason": self.reason,
        }

    def spark_args(self, run_id: str) -> list[str]:
        """build_analytics.py's arguments for this plan (no secret among them: credentials go by environment)."""
        args = ["--as-of", self.as_of.isoformat(), "--run-id", run_id, "--mode", self.mode]
        if self.from_date:
            args += ["--from-date", self.from_date.isoformat()]
        if self.pairs:
            args += ["--pairs", ",".join(f"{p}:{w}" for p, w in self.pairs)]
        for name in PLAN_SETTINGS:
            args += [f"--{name.replace('_', '-')}", str(self.settings[name])]
        return args

    def summary(self) -> str:
        scope = {
            "full": "full rebuild",
            "window": f"window mode, fact days from {self.from_date}",
            "pairs": f"pairs mode, {len(self.pairs)} pairs, days from {self.from_date}",
        }[self.mode]
        return f"as of {self.as_of.isoformat()}: {scope}" + (f" ({self.reason})" if self.reason else "")


def plan_from_xcom(data: dict) -> Plan:
    return Plan(
        datetime.fromisoformat(data["as_of"]),
        date.fromisoformat(data["from_date"]) if data["from_date"] else None,
        datetime.fromisoformat(data["watermark"]) if data["watermark"] else None,
        mode=data.get("mode", "full" if not data["from_date"] else "window"),
        base_publish_id=data.get("base_publish_id"),
        pairs=tuple(tuple(p) for p in data.get("pairs", [])),
        settings=dict(data.get("settings", {})),
        reason=data.get("reason", ""),
    )


def _utc_date(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _last_day(moment: datetime) -> date:
    """The last day with any time before the instant (the day before, at exactly 00:00)."""
    return _utc_date(moment - timedelta(microseconds=1))


def plan(conn: PgConnection, run_after: datetime, settings: dict[str, int], full_refresh: bool = False) -> Plan:
    """Decide what the run builds. `settings`: the PLAN_SETTINGS values, read once by the calling task.

    The run is as of the end of the last simulated window at or before `run_after` (so a re-run reproduces it)
    and covers every batch loaded since the last publish, however many minutes that is. The cheapest correct
    mode wins: pairs when only the current day's batches changed and they touched few pairs; window when a day
    turned (the rolling windows moved for every pair), settings or master data changed, or older days were
    re-loaded; full on request, before the first publish, for a run older than the last publish, or when a published
    table has an older release's shape. First makes the staging tables the registry's (`prepare_staging`).
    """
    missing = set(PLAN_SETTINGS) - set(settings)
    if missing:
        raise ValueError(f"plan needs the settings {sorted(missing)}")
    prepare_staging(conn)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT max(window_end), max(finished_at) FROM raw.ingest_batches "
            "WHERE kind = 'simulation' AND status = 'success' AND window_end <= %s",
            (run_after,),
        )
        as_of, watermark = cur.fetchone()
        if as_of is None:
            raise NothingToBuild(
                "no simulated data at or before this run: trigger simulate_retail_history (or let "
                "insert_fake_inventory_dag run) first"
            )
        cur.execute(
            "SELECT publish_id, as_of, watermark, settings FROM analytics.publish_log ORDER BY publish_id DESC LIMIT 1"
        )
        last = cur.fetchone()
        result = _choose(cur, as_of, watermark, settings, full_refresh, last)
    conn.rollback()
    return result


def reshaped_tables(cur: PgCursor, schema: str) -> list[str]:
    """The published tables whose columns in `schema` (names and types, in order) are not the registry's:
    missing, or left by an older release."""
    found = _columns_of(cur, schema, EXPECTED_TABLES)
    declared = {
        name: [(c.name, c.type) for c in t.columns] + [(registry.REFRESHED_AT, registry.TIMESTAMP)]
        for name, t in registry.TABLES.items()
    }
    return [name for name in EXPECTED_TABLES if found.get(name) != declared[name]]


def prepare_staging(conn: PgConnection) -> list[str]:
    """Make every staging table the registry's before the Spark job writes to it: one an older release left (or
    that is missing) is dropped and created as declared. Staging is scratch space nobody else reads. Returns the
    tables it replaced."""
    with transaction(conn) as cur:
        replaced = reshaped_tables(cur, "staging")
        for name in replaced:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS staging.{}").format(sql.Identifier(name)))
            cur.execute(registry.create_table(registry.TABLES[name], "staging"))
    if replaced:
        log.info("staging tables created as spark_jobs/registry.py declares them: %s", ", ".join(replaced))
    return replaced


def _choose(cur: PgCursor, as_of, watermark, settings, full_refresh, last) -> Plan:
    def full(reason: str) -> Plan:
        return Plan(as_of, None, watermark, "full", None, (), settings, reason)

    if full_refresh:
        return full("full_refresh requested")
    if last is None or last[2] is None:
        return full("nothing published yet")
    reshaped = reshaped_tables(cur, "analytics")
    if reshaped:
        return full(f"published tables of an older release's shape: {', '.join(reshaped)}")
    base_id, base_as_of, base_watermark, base_settings = last
    if base_as_of > as_of:
        return full(f"older than the last publish (as of {base_as_of.isoformat()})")
    cur.execute(
        "SELECT min(window_start) FROM raw.ingest_batches "
        "WHERE kind = 'simulation' AND status = 'success' AND finished_at > %s AND window_end <= %s",
        (base_watermark, as_of),
    )
    (changed_from,) = cur.fetchone()
    # Master data the tables join (names, prices, lead times): rows only move on when a value really changed.
    cur.execute(
        "SELECT (SELECT count(*) FROM raw.products WHERE updated_at > %(w)s) "
        "+ (SELECT count(*) FROM raw.warehouse WHERE created_at > %(w)s) "
        "+ (SELECT count(*) FROM raw.warehouse_locations WHERE created_at > %(w)s) "
        "+ (SELECT count(*) FROM raw.suppliers WHERE created_at > %(w)s)",
        {"w": base_watermark},
    )
    (master_changes,) = cur.fetchone()
    # Days changed since the last publish: those of batches loaded after its watermark, and the last published
    # day itself (it was probably partial).
    from_date = min(_utc_date(c) for c in [base_as_of] + ([changed_from] if changed_from else []))

    def window(reason: str) -> Plan:
        return Plan(as_of, from_date, watermark, "window", base_id, (), settings, reason)

    if (base_settings or {}) != settings:
        return window("settings changed since the last publish")
    if master_changes:
        return window("catalogue or master data reloaded")
    if _utc_date(as_of) != _utc_date(base_as_of) or _last_day(as_of) != _last_day(base_as_of):
        return window("a new day began: every pair's rolling windows moved")
    if from_date < _last_day(as_of):
        return window(f"days from {from_date} were reloaded")
    cur.execute(
        """
        WITH changed AS (
            SELECT batch_id FROM raw.ingest_batches
            WHERE kind = 'simulation' AND status = 'success' AND finished_at > %(since)s AND window_end <= %(as_of)s
        )
        SELECT product_id, warehouse_id FROM raw.inventory WHERE batch_id IN (SELECT batch_id FROM changed)
        UNION SELECT product_id, warehouse_id FROM raw.product_sales WHERE batch_id IN (SELECT batch_id FROM changed)
        UNION SELECT product_id, warehouse_id FROM raw.stock_receipts WHERE batch_id IN (SELECT batch_id FROM changed)
        UNION SELECT product_id, warehouse_id FROM raw.purchase_orders WHERE batch_id IN (SELECT batch_id FROM changed)
        ORDER BY 1, 2
        """,
        {"since": base_watermark, "as_of": as_of},
    )
    pairs = tuple((p, w) for p, w in cur.fetchall())
    cur.execute("SELECT count(*) FROM raw.products CROSS JOIN raw.warehouse")
    (all_pairs,) = cur.fetchone()
    if len(pairs) > max(50, PAIRS_MODE_MAX_SHARE * all_pairs):
        return window(f"{len(pairs)} of {all_pairs} pairs moved")
    return Plan(as_of, from_date, watermark, "pairs", base_id, pairs, settings, "")


# ----------------------------------------------------------------------------------------------- gate


@dataclass(frozen=True)
class ManifestEntry:
    table: str
    keys: tuple[str, ...]
    scope: str  # all | days | pairs | pair_days | keys | skip (spark_jobs/build_analytics.py SCOPES)
    from_date: date | None


SCOPES = ("all", "days", "pairs", "pair_days", "keys")


def read_manifest(conn: PgConnection, run_id: str) -> list[ManifestEntry]:
    """The tables the run's Spark job wrote to staging, and which part of each published table they replace."""
    with conn.cursor() as cur:
        cur.execute("SELECT table_name, key_columns, scope, from_date, run_id FROM staging.publish_manifest")
        rows = cur.fetchall()
    conn.rollback()
    if not rows:
        raise QualityGateFailed("staging.publish_manifest is empty: the Spark job did not finish")
    runs = {r[4] for r in rows}
    if runs != {run_id}:
        raise QualityGateFailed(f"staging holds the output of run(s) {sorted(runs)}, not of {run_id}")
    entries = []
    for table, keys, scope, from_date, _ in rows:
        names = [table, *keys.split(",")] if keys else [table]
        if not all(_NAME.match(n) for n in names):
            raise QualityGateFailed(f"unexpected name in the manifest: {names}")
        if scope not in SCOPES:
            raise QualityGateFailed(f"unexpected scope {scope!r} for {table} in the manifest")
        entries.append(ManifestEntry(table, tuple(keys.split(",")) if keys else (), scope, from_date))
    unknown = {e.table for e in entries} - set(EXPECTED_TABLES)
    if unknown:
        raise QualityGateFailed(f"the Spark job wrote tables nobody publishes: {sorted(unknown)}")
    return entries


def _staging(table: str) -> sql.Composed:
    return sql.SQL("staging.{}").format(sql.Identifier(table))


@dataclass(frozen=True)
class Check:
    """One quality check: a query that returns the number of violations (0 passes).

    group: the gate task instance that runs it (the DAG maps one over each group, named after it). A rule applied
    to many tables is one group: the key checks of every staged table are `unique_keys`.
    """

    name: str
    description: str
    query: sql.Composable | str
    params: dict = field(default_factory=dict)
    group: str = ""

    def __post_init__(self) -> None:
        if not self.group:
            object.__setattr__(self, "group", self.name)


KEY_CHECKS = "unique_keys"


def _key_check(entry: ManifestEntry) -> Check:
    """Rows whose key repeats an earlier row's, plus every row with a null key part.

    One hash aggregate over the table (count(DISTINCT ...) sorted it instead: 11.6 s against 3.2 s for the
    3.6 M rows of fact_inventory_reconciliation at the bench's scale M).
    """
    keys = [sql.Identifier(k) for k in entry.keys]
    query = sql.SQL(
        "SELECT coalesce(sum(CASE WHEN null_key THEN n ELSE n - 1 END), 0) "
        "FROM (SELECT count(*) AS n, {nulls} AS null_key FROM {t} GROUP BY {keys}) AS k WHERE n > 1 OR null_key"
    ).format(
        keys=sql.SQL(", ").join(keys),
        nulls=sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(k) for k in keys),
        t=_staging(entry.table),
    )
    return Check(
        f"unique_key_{entry.table}", f"{entry.table}: unique, non-null key {entry.keys}", query, group=KEY_CHECKS
    )


def _whole_tables(text: str) -> set[str]:
    """A check file's `-- whole: t1 t2` line: tables it can only judge when staged whole (scope all)."""
    for line in text.splitlines():
        if line.startswith("-- whole:"):
            return set(line.split(":", 1)[1].split())
    return set()


def gate_checks(entries: list[ManifestEntry], settings: dict[str, int]) -> list[Check]:
    """The checks for what this run staged: a key check per keyed table, and every check in sql/quality/.

    A check file that reads a table the run staged only in part (an incremental run's changed rows) and needs
    it whole (`-- whole:`) does not apply to the run; row-level checks apply to whatever was staged.
    """
    whole = {e.table for e in entries if e.scope == "all"}
    checks = [_key_check(e) for e in entries if e.keys]
    for path in sorted((SQL_DIR / "quality").glob("*.sql")):
        text = load_sql(f"quality/{path.name}")
        if _whole_tables(text) - whole:
            continue
        description = text.splitlines()[0].removeprefix("-- ").strip()
        params = {"threshold": settings["low_stock_threshold"]} if "%(threshold)s" in text else {}
        checks.append(Check(path.stem, description, text, params))
    return checks


def run_checks(conn: PgConnection, checks: list[Check]) -> dict[str, int]:
    """Violations per check, in one read-only transaction (rolled back)."""
    found = {}
    with conn.cursor() as cur:
        # Room for the key checks' hash tables (in memory at scale M instead of spilling at the default 4 MB),
        # and no JIT compilation, which costs more than it saves on these scans.
        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute("SET LOCAL jit = off")
        for check in checks:
            cur.execute(check.query, check.params or None)
            found[check.name] = int(cur.fetchone()[0])  # a key check sums to numeric: plain ints in XCom
    conn.rollback()
    return found


def _failures(checks: list[Check], found: dict[str, int]) -> list[str]:
    return [f"{c.name}: {found[c.name]} violations ({c.description})" for c in checks if found[c.name]]


def staged_counts(conn: PgConnection, entries: list[ManifestEntry]) -> dict[str, int]:
    """Rows the run staged, per table."""
    counts = {}
    with conn.cursor() as cur:
        for entry in entries:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(_staging(entry.table)))
            counts[entry.table] = cur.fetchone()[0]
    conn.rollback()
    return counts


ALL_CHECKS = "all_checks"
# Runs whose checks all go in one task instance: a minute's pairs mode stages a few hundred rows, its checks take
# milliseconds, and under the scheduler each extra instance costs the minute about 0.6 s of wall time and 0.6-1
# CPU-s (bench/results/live.md). Full and window runs keep one instance per check.
ONE_INSTANCE_MODES = ("pairs",)


def check_groups(entries: list[ManifestEntry], settings: dict[str, int], mode: str = "full") -> list[str]:
    """The check groups that apply to what a run staged, in gate order (the DAG maps one task instance over each).

    In ONE_INSTANCE_MODES a single group, ALL_CHECKS: one instance runs every check and reports each by name.
    """
    groups = list(dict.fromkeys(c.group for c in gate_checks(entries, settings)))
    if not groups:  # a gate that checks nothing must not pass
        raise QualityGateFailed("no quality check applies to what the run staged")
    return [ALL_CHECKS] if mode in ONE_INSTANCE_MODES else groups


def run_check_group(conn: PgConnection, run_id: str, settings: dict[str, int], group: str) -> dict[str, int]:
    """Run the checks of `group` (every check for ALL_CHECKS) on what the run staged; raise naming each one that
    found violations.

    The checks are looked up again in gate_checks, so the task that runs them carries only the group's name:
    the SQL is the file's (or the key check's) as of this run, never a copy in XCom. Returns {check: 0}.
    """
    checks = [c for c in gate_checks(read_manifest(conn, run_id), settings) if group in (ALL_CHECKS, c.group)]
    if not checks:
        raise QualityGateFailed(f"no check {group!r} applies to what run {run_id} staged")
    found = run_checks(conn, checks)
    failures = _failures(checks, found)
    if failures:
        raise QualityGateFailed(f"quality check {group} failed, nothing published: " + "; ".join(failures))
    return found


def quality_gate(conn: PgConnection, run_id: str, settings: dict[str, int]) -> dict[str, int]:
    """Run every check on what the run staged, in one transaction; raise naming each one that failed.

    Returns staged row counts. The DAG runs the same checks as one task instance per group (check_groups,
    run_check_group); this is for code that gates outside Airflow (bench).
    """
    entries = read_manifest(conn, run_id)
    checks = gate_checks(entries, settings)
    failures = _failures(checks, run_checks(conn, checks))
    if failures:
        raise QualityGateFailed("quality gate failed, nothing published: " + "; ".join(failures))
    return staged_counts(conn, entries)


# ----------------------------------------------------------------------------------------------- publish


def _columns_of(cur: PgCursor, schema: str, tables) -> dict[str, list[tuple[str, str]]]:
    """(column, type) of each of `tables` that exists in `schema`, in column order; types as format_type gives them."""
    cur.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY c.relname, a.attnum",
        (schema, list(tables)),
    )
    found: dict[str, list[tuple[str, str]]] = {}
    for table, column, type_ in cur.fetchall():
        found.setdefault(table, []).append((column, type_))
    return found


def _columns(cur: PgCursor, schema: str, table: str) -> list[tuple[str, str]]:
    return _columns_of(cur, schema, [table]).get(table, [])


def _create(cur: PgCursor, table: str) -> None:
    """Create analytics.<table> as the registry declares it (the DDL file's statement: columns, key, indexes)."""
    cur.execute(registry.create_table(registry.TABLES[table], "analytics"))


def _grant(cur: PgCursor, table: sql.Identifier) -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (BI_ROLE,))
    if cur.fetchone():
        cur.execute(sql.SQL("GRANT SELECT ON analytics.{} TO {}").format(table, sql.Identifier(BI_ROLE)))


def _in_scope(entry: ManifestEntry, row: str) -> sql.Composable:
    """The published rows (alias `row`) the entry's staged rows replace."""
    r = sql.Identifier(row)
    day = sql.SQL("{}.date_key >= {}").format(r, sql.Literal(entry.from_date))
    pair = sql.SQL("({r}.product_id, {r}.warehouse_id) IN (SELECT product_id, warehouse_id FROM _run_pairs)").format(
        r=r
    )
    if entry.scope == "all":
        return sql.SQL("TRUE")
    if entry.scope == "days":
        return day
    if entry.scope == "pairs":
        return pair
    if entry.scope == "pair_days":
        return sql.SQL("{} AND {}").format(pair, day)
    if entry.scope == "keys":
        return sql.SQL("EXISTS (SELECT 1 FROM {s} AS s WHERE {match})").format(
            s=_staging(entry.table), match=_key_match(entry, "s", row)
        )
    raise QualityGateFailed(f"unknown scope {entry.scope!r}")


def _key_match(entry: ManifestEntry, a: str, b: str) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("{}.{} = {}.{}").format(sql.Identifier(a), sql.Identifier(k), sql.Identifier(b), sql.Identifier(k))
        for k in entry.keys
    )


def _apply(cur: PgCursor, entry: ManifestEntry, columns: list[str]) -> tuple[int, int]:
    """Replace the entry's scope of the published table with the staged rows, writing only rows that changed.

    A published row in scope stays (with its refreshed_at: when it last changed) when a staged row is equal to
    it in every column; every other row in scope is deleted, and every staged row not already there inserted.
    Returns (deleted, inserted).
    """
    t, s = sql.SQL("analytics.{}").format(sql.Identifier(entry.table)), _staging(entry.table)
    values = [c for c in columns if c != "refreshed_at"]
    others = [c for c in values if c not in entry.keys]
    same_values = sql.SQL("({}) IS NOT DISTINCT FROM ({})").format(
        sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in (others or values)),
        sql.SQL(", ").join(sql.SQL("a.{}").format(sql.Identifier(c)) for c in (others or values)),
    )
    same_row = sql.SQL("{} AND {}").format(_key_match(entry, "s", "a"), same_values) if entry.keys else same_values
    cur.execute(
        sql.SQL("DELETE FROM {t} AS a WHERE {scope} AND NOT EXISTS (SELECT 1 FROM {s} AS s WHERE {same})").format(
            t=t, s=s, scope=_in_scope(entry, "a"), same=same_row
        )
    )
    deleted = cur.rowcount
    present = _key_match(entry, "a", "s") if entry.keys else same_values
    column_list = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    cur.execute(
        sql.SQL(
            "INSERT INTO {t} ({cols}) SELECT {cols} FROM {s} AS s WHERE NOT EXISTS (SELECT 1 FROM {t} AS a WHERE {p})"
        ).format(t=t, s=s, cols=column_list, p=present)
    )
    return deleted, cur.rowcount


def _check_within_scope(cur: PgCursor, entry: ManifestEntry) -> None:
    """Every staged row must fall in the scope it replaces, or publishing it would add rows nobody replaced."""
    if entry.scope in ("all", "keys"):
        return
    cur.execute(
        sql.SQL("SELECT count(*) FROM {s} AS s WHERE NOT ({scope})").format(
            s=_staging(entry.table), scope=_in_scope(entry, "s")
        )
    )
    (outside,) = cur.fetchone()
    if outside:
        raise QualityGateFailed(f"{entry.table}: {outside} staged rows outside the run's scope ({entry.scope})")


def publish(conn: PgConnection, run_id: str, plan_: Plan, lock_timeout: str = "10s") -> dict[str, dict[str, int]]:
    """Apply every staged table to analytics in one transaction. Returns {table: {deleted, inserted}}.

    Under an advisory lock (a single writer). An incremental run publishes only on top of the publish it was
    built from: if another run published in between, it refuses (the next run covers both), because its rows
    were computed against the published rows it read.
    """
    entries = read_manifest(conn, run_id)
    written: dict[str, dict[str, int]] = {}
    with transaction(conn) as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (PUBLISH_LOCK,))
        cur.execute("SELECT set_config('lock_timeout', %s, true)", (lock_timeout,))
        cur.execute("SELECT max(publish_id) FROM analytics.publish_log")
        (latest,) = cur.fetchone()
        if plan_.mode != "full" and latest != plan_.base_publish_id:
            raise PublishConflict(
                f"this run was built on publish {plan_.base_publish_id}, but publish {latest} came in between: "
                "not publishing it (the next run rebuilds from the newest publish)"
            )
        cur.execute("CREATE TEMPORARY TABLE _run_pairs (product_id integer, warehouse_id integer) ON COMMIT DROP")
        if plan_.pairs:
            execute_values(cur, "INSERT INTO _run_pairs VALUES %s", plan_.pairs)
        for entry in entries:
            name = sql.Identifier(entry.table)
            staged = _columns(cur, "staging", entry.table)
            current = _columns(cur, "analytics", entry.table)
            _check_within_scope(cur, entry)
            if not current:
                _create(cur, entry.table)
            elif current != staged:
                # An older release's table (the plan sends such a run to a full rebuild): replaced in this
                # transaction, so readers see the old table until the commit and the new one after it.
                if entry.scope != "all":
                    raise QualityGateFailed(
                        f"{entry.table} changed shape: run build_inventory_analytics with full_refresh=true"
                    )
                cur.execute(sql.SQL("DROP TABLE analytics.{}").format(name))
                _create(cur, entry.table)
            deleted, inserted = _apply(cur, entry, [c for c, _ in staged])
            written[entry.table] = {"deleted": deleted, "inserted": inserted}
            _grant(cur, name)
        cur.execute(
            "INSERT INTO analytics.publish_log (run_id, as_of, from_date, watermark, tables, mode, pairs, settings) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                run_id,
                plan_.as_of,
                plan_.from_date,
                plan_.watermark,
                json.dumps(written, sort_keys=True),
                plan_.mode,
                len(plan_.pairs),
                json.dumps(plan_.settings, sort_keys=True),
            ),
        )
    return written


# ----------------------------------------------------------------------------------------------- freshness


@dataclass(frozen=True)
class Freshness:
    """How far behind the minute the published tables are: what `publish_log` recorded for the last publish."""

    as_of: datetime  # the newest source minute published
    published_at: datetime
    lag_seconds: float  # published_at - as_of: the lag when it was published
    behind_seconds: float  # now - as_of: the lag a reader sees now

    def __str__(self) -> str:
        return (
            f"as of {self.as_of:%Y-%m-%d %H:%M} UTC, published {self.published_at:%H:%M:%S} "
            f"({self.lag_seconds:.1f} s after that minute); now {self.behind_seconds:.0f} s behind"
        )

    def as_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "published_at": self.published_at.isoformat(),
            "lag_seconds": self.lag_seconds,
            "behind_seconds": self.behind_seconds,
        }


def current_lag(conn: PgConnection) -> Freshness | None:
    """The last publish's freshness (None before the first publish)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT as_of, published_at, lag_seconds, extract(epoch FROM clock_timestamp() - as_of) "
            "FROM analytics.publish_log ORDER BY publish_id DESC LIMIT 1"
        )
        row = cur.fetchone()
    conn.rollback()
    if row is None:
        return None
    return Freshness(row[0], row[1], float(row[2]), round(float(row[3]), 1))
