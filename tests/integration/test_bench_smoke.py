"""`python -m bench` end to end at the tiny scale: ingest and publish comparisons, the JSON report complete.

Runs the bench as `make bench` does (its own process, its own databases on this session's server, dropped
afterwards); the cycle section needs an Airflow metadata database and two more Spark runs, so it is left to
`make bench` itself.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_bench_tiny_ingest_and_publish(warehouse_uri, tmp_path):
    prefix = f"test_bench_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "AIRFLOW_CONN_WAREHOUSE_DB": warehouse_uri}
    command = [sys.executable, "-m", "bench", "--scale", "tiny", "--repeats", "1", "--only", "ingest,publish"]
    try:
        proc = subprocess.run(
            [*command, "--prefix", prefix, "--out", str(tmp_path)],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    finally:
        subprocess.run([sys.executable, "-m", "bench", "--clean", "--prefix", prefix], cwd=PROJECT_ROOT, env=env)

    doc = json.loads((tmp_path / "tiny.json").read_text())
    assert (tmp_path / "tiny.md").read_text().count("| |") >= 7
    sections = {s["key"]: s for s in doc["sections"]}
    assert list(sections) == ["ingest", "publish"]
    assert len(sections["ingest"]["series"]) == 2 and len(sections["publish"]["series"]) == 4
    for sec in sections.values():
        medians = {s["label"]: statistics.median(s["samples"]) for s in sec["series"]}
        assert all(s["n"] == 1 for s in sec["series"])
        for ratio in sec["ratios"]:
            assert ratio["value"] == pytest.approx(medians[ratio["numerator"]] / medians[ratio["denominator"]])
            assert ratio["met"] in (True, False)
    # The PostgreSQL-native SQL gives exactly the rows our Spark job published, table by table.
    (equal,) = sections["publish"]["checks"]
    assert equal["value"] == 0 and equal["met"] is True
    differing = next(s for s in sections["publish"]["series"] if s["unit"] == "rows")
    assert set(differing["per_table"]) == {
        "dim_products",
        "current_stock",
        "fact_daily_sales",
        "fact_inventory_reconciliation",
        "sales_daily",
    }
    # The seed's pattern computed the same tables.
    assert any("row counts against ours: equal" in n for n in sections["publish"]["notes"])
