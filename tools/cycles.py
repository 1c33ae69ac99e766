"""How long the minute cycle really takes under the scheduler: `python -m tools.cycles [--last N]`.

For each scheduled run of the minute ingest DAG it reads Airflow's metadata database: when its minute ended
(the data interval's end, the earliest the run can start), when the ingest run finished, and when the analytics
run that consumed its Asset event finished publishing. The cycle is minute end -> analytics done: what a
dashboard reader waits for a minute's sales. Several ingest runs can feed one analytics run (the Asset's events
are batched while an analytics run is busy); each is measured to the run that consumed it.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from datetime import datetime

INGEST_DAG = "insert_fake_inventory_dag"
ANALYTICS_DAG = "build_inventory_analytics"


@dataclass(frozen=True)
class Cycle:
    minute_end: datetime
    ingest_done: datetime | None
    analytics_done: datetime | None
    analytics_run: str | None

    @property
    def seconds(self) -> float | None:
        return (self.analytics_done - self.minute_end).total_seconds() if self.analytics_done else None


def read_cycles(last: int) -> list[Cycle]:
    """The last `last` finished scheduled ingest runs and the analytics runs that consumed them."""
    from airflow.models import DagRun
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    cycles = []
    with create_session() as session:
        runs = session.scalars(
            select(DagRun)
            .where(DagRun.dag_id == INGEST_DAG, DagRun.run_type == "scheduled", DagRun.state == "success")
            .order_by(DagRun.data_interval_end.desc())
            .limit(last)
        ).all()
        for run in reversed(runs):
            events = session.scalars(
                select(AssetEvent).where(AssetEvent.source_dag_id == INGEST_DAG, AssetEvent.source_run_id == run.run_id)
            ).all()
            consumers = [r for e in events for r in e.created_dagruns if r.dag_id == ANALYTICS_DAG]
            done = min((r for r in consumers if r.state == "success"), key=lambda r: r.end_date, default=None)
            finished, consumer = (done.end_date, done.run_id) if done else (None, None)
            cycles.append(Cycle(run.data_interval_end, run.end_date, finished, consumer))
    return cycles


def summary(cycles: list[Cycle]) -> dict[str, float | int]:
    """Count, median, p95 and max of the complete cycles, in seconds (nearest-rank p95)."""
    seconds = sorted(c.seconds for c in cycles if c.seconds is not None)
    if not seconds:
        return {"cycles": 0}
    p95 = seconds[max(0, -(-95 * len(seconds) // 100) - 1)]
    return {
        "cycles": len(seconds),
        "median_s": round(statistics.median(seconds), 1),
        "p95_s": round(p95, 1),
        "max_s": round(seconds[-1], 1),
        "within_60s": sum(s < 60 for s in seconds),
    }


def render(cycles: list[Cycle]) -> str:
    lines = [f"{'minute ended (UTC)':<20} {'ingest done':>12} {'analytics done':>15}"]
    for c in cycles:
        ingest = f"+{(c.ingest_done - c.minute_end).total_seconds():.1f} s" if c.ingest_done else "-"
        analytics = f"+{c.seconds:.1f} s" if c.seconds is not None else "not yet"
        lines.append(f"{c.minute_end:%Y-%m-%d %H:%M}     {ingest:>12} {analytics:>15}")
    s = summary(cycles)
    if s["cycles"]:
        lines.append(
            f"{s['cycles']} complete cycles: median {s['median_s']} s, p95 {s['p95_s']} s, max {s['max_s']} s; "
            f"{s['within_60s']} of {s['cycles']} within the minute"
        )
    else:
        lines.append("no complete cycle yet: unpause both DAGs in `make airflow` and give them a few minutes")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--last", type=int, default=15, help="how many minute runs to show (default 15)")
    print(render(read_cycles(parser.parse_args(argv).last)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
