"""The minute under the real scheduler: `python -m bench.live` (after `make demo`; it starts `make airflow` itself).

    python -m bench.live [--quiet-minutes 8] [--hog-minutes 5] [--recover-minutes 6] [--no-hog]

1. Starts the local stack as `make airflow` does (scripts/airflow.sh: Airflow standalone, the Spark Connect
   server, the mail sink, the portal) and measures its idle CPU with both DAGs paused (the baseline).
2. Unpauses the minute ingest DAG and the analytics DAG and lets them run: for every minute, when its data
   was published (`analytics.publish_log`: the first publish as of that minute or later; lag = published_at -
   minute end) and the CPU seconds every process of the stack used in that minute.
3. Starts a CPU hog on one core for --hog-minutes, then stops it and watches the pipeline catch up.
4. Prints the per-minute lag series and the figures the targets are about, pauses the DAGs again (as they were
   found) and stops the stack. Results: bench/results/live.md (+ .json).

Needs the demo's warehouse (90 days of history published); nothing is deleted, minutes are only added.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import cpu
from include.inventory.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DAGS = ("insert_fake_inventory_dag", "build_inventory_analytics")
ON_TIME_S = 60.0  # a minute is on time when it is published before the next minute's data lands


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def _hog(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x = (x * 31 + 7) % 1_000_003


def airflow_cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "airflow", *args], check=True, capture_output=True, text=True)


def stack_roots(stack: subprocess.Popen) -> dict[str, list[int]]:
    """The stack's process trees: scripts/airflow.sh (Airflow, sink, portal), Spark Connect, PostgreSQL."""
    roots = {"Airflow (scheduler, dag-processor, api-server, triggerer, tasks), portal, mail sink": [stack.pid]}
    connect = cpu.pid_from_file(ROOT / ".local" / "spark-connect" / "server.pid")
    if connect:
        roots["Spark Connect server"] = [connect]
    postmaster = cpu.pid_from_file(Path(os.environ.get("LOCAL_PG_DATA", ROOT / ".local" / "pg")) / "postmaster.pid")
    if postmaster:
        roots["PostgreSQL (local cluster)"] = [postmaster]
    return roots


def publishes_since(conn, since: datetime) -> list[tuple[datetime, datetime, str]]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT as_of, published_at, mode FROM analytics.publish_log WHERE published_at >= %s ORDER BY publish_id",
            (since,),
        )
        rows = cur.fetchall()
    conn.rollback()
    return rows


def minute_lags(conn, first: datetime, last: datetime, since: datetime) -> list[dict]:
    """Each minute end M in [first, last]: the first publish (after `since`) with as_of >= M, and its lag."""
    publishes = publishes_since(conn, since)
    out, m = [], first
    while m <= last:
        hit = next((p for p in publishes if p[0] >= m), None)
        out.append(
            {
                "minute_end": m.isoformat(),
                "published_at": hit[1].isoformat() if hit else None,
                "lag_s": round((hit[1] - m).total_seconds(), 1) if hit else None,
                "mode": hit[2] if hit else None,
            }
        )
        m += timedelta(minutes=1)
    return out


def stage_profile(first: datetime, last: datetime) -> list[dict]:
    """Where a minute's seconds go: per task of both DAGs, the median wait (queued -> start, and the gap since the
    run's previous task ended) and run time, over the task instances that started in [first, last)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    query = text(
        "SELECT dag_id, task_id, extract(epoch FROM start_date - queued_dttm), "
        "extract(epoch FROM end_date - start_date), "
        "extract(epoch FROM start_date - lag(end_date) OVER (PARTITION BY dag_id, run_id ORDER BY start_date)) "
        "FROM task_instance WHERE dag_id = ANY(:dags) AND start_date >= :first AND start_date < :last "
        "AND end_date IS NOT NULL ORDER BY start_date"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"dags": list(DAGS), "first": first, "last": last}).fetchall()
    engine.dispose()
    by_task: dict[tuple[str, str], list[tuple]] = {}
    for dag_id, task_id, queued, ran, gap in rows:
        by_task.setdefault((dag_id, task_id), []).append((queued, ran, gap))

    def median(values) -> float | None:
        values = [float(v) for v in values if v is not None]
        return round(statistics.median(values), 2) if values else None

    return [
        {
            "dag": dag_id,
            "task": task_id,
            "instances": len(v),
            "queued_s": median(x[0] for x in v),
            "run_s": median(x[1] for x in v),
            "gap_after_previous_s": median(x[2] for x in v),
        }
        for (dag_id, task_id), v in by_task.items()
    ]


def wait_healthy(url: str, stack: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if stack.poll() is not None:
            raise SystemExit(f"make airflow exited ({stack.returncode}): see .local/airflow/standalone.log")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=3):
                return
        except OSError:
            time.sleep(2)
    raise SystemExit(f"Airflow did not answer on {url} within {seconds:.0f}s")


def measure_cpu(roots, seconds: float) -> dict[str, float]:
    before = cpu.reading(roots)
    time.sleep(seconds)
    return cpu.delta(before, cpu.reading(roots))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__.split("\n\n")[0])
    parser.add_argument("--warmup-minutes", type=int, default=3)
    parser.add_argument("--quiet-minutes", type=int, default=8)
    parser.add_argument("--hog-minutes", type=int, default=5)
    parser.add_argument("--recover-minutes", type=int, default=6)
    parser.add_argument("--no-hog", action="store_true")
    a = parser.parse_args(argv)
    url = f"http://localhost:{os.environ.get('AIRFLOW__API__PORT', '8080')}"
    log(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    log("starting the stack (scripts/airflow.sh: Airflow, Spark Connect, mail sink, portal) ...")
    stack = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "airflow.sh")],
        stdout=(ROOT / ".local" / "bench-live-stack.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    hog: multiprocessing.Process | None = None
    results: dict = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "load_at_start": os.getloadavg()[0]}
    try:
        wait_healthy(url, stack)
        for dag_id in DAGS:
            airflow_cli("dags", "pause", dag_id)
        time.sleep(20)
        roots = stack_roots(stack)
        log("idle baseline: 2 minutes with both DAGs paused ...")
        idle = measure_cpu(roots, 120)
        results["idle_cpu_per_minute"] = {k: round(v / 2, 2) for k, v in idle.items()}
        log(f"  idle CPU per minute: {results['idle_cpu_per_minute']}")
        began = datetime.now(UTC)
        for dag_id in DAGS:
            airflow_cli("dags", "unpause", dag_id)
        log(f"DAGs unpaused; {a.warmup_minutes} minutes of warm-up (the first runs catch up and start the day) ...")
        time.sleep(a.warmup_minutes * 60)
        quiet_from = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        time.sleep((quiet_from - datetime.now(UTC)).total_seconds())
        log(f"quiet phase: {a.quiet_minutes} minutes, CPU read every minute ...")
        per_minute = []
        for _ in range(a.quiet_minutes):
            per_minute.append(measure_cpu(roots, 60))
            log(f"  CPU this minute: {sum(per_minute[-1].values()):.1f} s {per_minute[-1]}")
        quiet_to = datetime.now(UTC).replace(second=0, microsecond=0)
        hog_from = hog_to = None
        if not a.no_hog:
            hog_from = datetime.now(UTC)
            stop_at = time.time() + a.hog_minutes * 60
            hog = multiprocessing.Process(target=_hog, args=(stop_at,), daemon=True)
            hog.start()
            log(f"hog: one core busy for {a.hog_minutes} minutes ...")
            hog.join()
            hog_to = datetime.now(UTC)
            log(f"hog stopped; watching the recovery for {a.recover_minutes} minutes ...")
            time.sleep(a.recover_minutes * 60)
        time.sleep(70)  # the last minute's publish
        end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        with Warehouse.from_env().connect() as conn:
            lags = minute_lags(conn, quiet_from, end, began)
        results["minutes"] = lags
        results["stages"] = stage_profile(quiet_from, quiet_to)
        # A minute is quiet when its whole cycle ran in the quiet phase: the minute that ends as the hog starts is
        # processed under the hog.
        quiet = [m["lag_s"] for m in lags if quiet_from <= datetime.fromisoformat(m["minute_end"]) < quiet_to]
        results["quiet"] = {
            "minutes": len(quiet),
            "published": sum(v is not None for v in quiet),
            "median_s": round(statistics.median([v for v in quiet if v is not None]), 1) if any(quiet) else None,
            "p95_s": p95([v if v is not None else 1e9 for v in quiet]) if quiet else None,
            "cpu_per_minute_s": round(statistics.median(sum(m.values()) for m in per_minute), 2),
            "cpu_per_minute_by_group_s": {
                k: round(statistics.median(m[k] for m in per_minute), 2) for k in per_minute[0]
            },
        }
        idle_total = sum(results["idle_cpu_per_minute"].values())
        results["quiet"]["cycle_cpu_per_minute_s"] = round(results["quiet"]["cpu_per_minute_s"] - idle_total, 2)
        if hog_from:
            window = [m for m in lags if datetime.fromisoformat(m["minute_end"]) >= hog_from - timedelta(minutes=1)]
            worst = max((m["lag_s"] or 1e9) for m in window)
            on_time = next(
                (
                    m
                    for m in window
                    if datetime.fromisoformat(m["minute_end"]) >= hog_to - timedelta(minutes=1)
                    and all(
                        (n["lag_s"] or 1e9) < ON_TIME_S
                        for n in window
                        if datetime.fromisoformat(n["minute_end"]) >= datetime.fromisoformat(m["minute_end"])
                    )
                ),
                None,
            )
            results["hog"] = {
                "from": hog_from.isoformat(timespec="seconds"),
                "to": hog_to.isoformat(timespec="seconds"),
                "max_lag_s": worst,
                "back_on_time_after_s": round(
                    (datetime.fromisoformat(on_time["minute_end"]) - hog_to).total_seconds() + on_time["lag_s"], 1
                )
                if on_time
                else None,
            }
    finally:
        if hog is not None and hog.is_alive():
            hog.terminate()
        for dag_id in DAGS:
            try:
                airflow_cli("dags", "pause", dag_id)
            except subprocess.CalledProcessError:
                pass
        os.killpg(stack.pid, signal.SIGTERM)
        stack.wait(timeout=120)
        log("stack stopped")
    report(results)
    return 0


def report(results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "live.json").write_text(json.dumps(results, indent=2))
    q = results["quiet"]
    lines = [
        "# The minute under the real scheduler (`python -m bench.live`)",
        "",
        f"- started {results['started']}, load average at start {results['load_at_start']:.2f}",
        f"- quiet: {q['published']} of {q['minutes']} minutes published; minute end -> published median "
        f"{q['median_s']} s, p95 {q['p95_s']} s (target p95 <= 10 s)",
        f"- CPU per steady minute, every process of the stack: {q['cpu_per_minute_s']} s; idle with the DAGs paused: "
        f"{round(sum(results['idle_cpu_per_minute'].values()), 2)} s; the cycle's own work: "
        f"{q['cycle_cpu_per_minute_s']} s (target <= 5 s)",
        f"- by process group, per steady minute: {q['cpu_per_minute_by_group_s']}; idle: "
        f"{results['idle_cpu_per_minute']}",
    ]
    if "hog" in results:
        h = results["hog"]
        lines.append(
            f"- hog on one core {h['from']} .. {h['to']}: at most {h['max_lag_s']} s behind (target <= 120 s); "
            f"back on time {h['back_on_time_after_s']} s after it stopped (target <= 180 s)"
        )
    if results.get("stages"):
        lines += [
            "",
            "Where a quiet minute's seconds go (medians per task instance; gap = start minus the end of the run's",
            "previous task, the scheduling latency; negative when it ran beside that task):",
            "",
            "| DAG | task | instances | queued -> start (s) | gap (s) | run (s) |",
            "|---|---|---|---|---|---|",
        ]
        for st in results["stages"]:
            lines.append(
                f"| {st['dag']} | {st['task']} | {st['instances']} | {st['queued_s']} | "
                f"{st['gap_after_previous_s']} | {st['run_s']} |"
            )
    lines += ["", "| minute end (UTC) | published (UTC) | lag (s) | mode |", "|---|---|---|---|"]
    for m in results["minutes"]:
        published = m["published_at"][11:19] if m["published_at"] else "-"
        lines.append(f"| {m['minute_end'][11:16]} | {published} | {m['lag_s']} | {m['mode'] or '-'} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "live.md").write_text(text)
    print(text)


if __name__ == "__main__":
    raise SystemExit(main())
