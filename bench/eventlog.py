"""Where a Spark application's time goes, from its event log (`spark.eventLog.enabled=true`).

    python -m bench.eventlog /path/to/eventlog_dir_or_file

Prints the application's span, each SQL execution (what triggered it, its wall time and its jobs' stage time)
and the stages that read over JDBC, so a profile needs no Spark UI.
"""

from __future__ import annotations

import io
import json
import sys
from collections import defaultdict
from pathlib import Path


def events(path: Path):
    files = sorted(path.glob("events_*")) if path.is_dir() else [path]
    for file in files:
        with file.open("rb") as raw:
            if file.suffix == ".zstd":  # Spark 4 compresses event logs with zstd by default
                import zstandard

                stream = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(raw), encoding="utf-8")
            else:
                stream = io.TextIOWrapper(raw, encoding="utf-8")
            for line in stream:
                yield json.loads(line)


def summarize(path: Path) -> dict:
    app_start = app_end = None
    sql: dict[int, dict] = {}
    job_sql: dict[int, int] = {}
    stages: dict[int, dict] = {}
    stage_job: dict[int, int] = {}
    for e in events(path):
        kind = e["Event"]
        if kind == "SparkListenerApplicationStart":
            app_start = e["Timestamp"]
        elif kind == "SparkListenerApplicationEnd":
            app_end = e["Timestamp"]
        elif kind.endswith("SparkListenerSQLExecutionStart"):
            sql[e["executionId"]] = {"description": e.get("description", ""), "start": e["time"], "end": None}
        elif kind.endswith("SparkListenerSQLExecutionEnd"):
            sql.setdefault(e["executionId"], {"description": "", "start": e["time"]})["end"] = e["time"]
        elif kind == "SparkListenerJobStart":
            props = e.get("Properties") or {}
            if "spark.sql.execution.id" in props:
                job_sql[e["Job ID"]] = int(props["spark.sql.execution.id"])
            for sid in e.get("Stage IDs", []):
                stage_job[sid] = e["Job ID"]
        elif kind == "SparkListenerStageCompleted":
            info = e["Stage Info"]
            rdds = " ".join(r.get("Name", "") for r in info.get("RDD Info", []))
            stages[info["Stage ID"]] = {
                "name": info["Stage Name"],
                "tasks": info["Number of Tasks"],
                "seconds": (info.get("Completion Time", 0) - info.get("Submission Time", 0)) / 1000,
                "jdbc": "JDBCRDD" in rdds,
                "submitted": info.get("Submission Time", 0),
            }
    per_sql_stage = defaultdict(float)
    jdbc_stage = defaultdict(float)
    for sid, st in stages.items():
        ex = job_sql.get(stage_job.get(sid, -1))
        per_sql_stage[ex] += st["seconds"]
        if st["jdbc"]:
            jdbc_stage[ex] += st["seconds"]
    return {
        "app_seconds": ((app_end or 0) - (app_start or 0)) / 1000,
        "app_start": app_start,
        "sql": [
            {
                "id": ex,
                "description": v["description"][:90],
                "offset": (v["start"] - app_start) / 1000 if app_start else 0,
                "seconds": ((v["end"] or v["start"]) - v["start"]) / 1000,
                "stage_seconds": per_sql_stage.get(ex, 0.0),
                "jdbc_read_stage_seconds": jdbc_stage.get(ex, 0.0),
            }
            for ex, v in sorted(sql.items())
        ],
        "stages": len(stages),
        "stage_seconds": sum(s["seconds"] for s in stages.values()),
        "jdbc_read_stage_seconds": sum(s["seconds"] for s in stages.values() if s["jdbc"]),
    }


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print(__doc__)
        return 2
    s = summarize(Path(args[0]))
    print(
        f"application: {s['app_seconds']:.1f}s from SparkContext start to stop; {s['stages']} stages, "
        f"{s['stage_seconds']:.1f}s of stage time ({s['jdbc_read_stage_seconds']:.1f}s in stages reading JDBC)"
    )
    print(f"{'id':>3} {'at':>7} {'wall':>7} {'stages':>7} {'jdbc':>6}  description")
    for q in s["sql"]:
        print(
            f"{q['id']:>3} {q['offset']:>6.1f}s {q['seconds']:>6.1f}s {q['stage_seconds']:>6.1f}s "
            f"{q['jdbc_read_stage_seconds']:>5.1f}s  {q['description']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
