"""Every Variable the code reads is declared once, documented, and in airflow_settings.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from include.inventory.config import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def _read_keys() -> set[str]:
    # config.setting("key") in Python, {{ var.value.get('key', ...) }} in templated operator arguments.
    pattern = re.compile(r"""(?:setting|var\.value\.get)\(\s*["']([a-z0-9_]+)["']""")
    keys = set()
    for path in [*ROOT.glob("dags/*.py"), *ROOT.glob("include/inventory/**/*.py")]:
        keys |= set(pattern.findall(path.read_text()))
    # The analytics plan reads its settings through one table (Variable names as values).
    from include.inventory.analytics import PLAN_SETTINGS

    return keys | set(PLAN_SETTINGS.values())


def test_code_reads_only_declared_variables():
    read = _read_keys()
    assert {"low_stock_threshold", "spark_jdbc_jar", "sim_seed"} <= read
    assert read <= set(SETTINGS), f"undeclared Variables: {read - set(SETTINGS)}"


def test_templated_defaults_equal_the_declared_ones():
    pattern = re.compile(r"""var\.value\.get\(\s*'([a-z0-9_]+)'\s*,\s*'([^']*)'\s*\)""")
    for path in ROOT.glob("dags/*.py"):
        for key, default in pattern.findall(path.read_text()):
            assert SETTINGS[key].default == default, f"{path.name}: {key} defaults to {default!r}"


def test_every_variable_is_documented_and_in_airflow_settings():
    docs = (ROOT / "docs" / "configuration.md").read_text()
    settings = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())["airflow"]
    declared = {v["variable_name"]: str(v["variable_value"]) for v in settings["variables"]}
    for key, s in SETTINGS.items():
        assert f"`{key}`" in docs, f"{key} missing from docs/configuration.md"
        assert declared.get(key) == s.default, (
            f"airflow_settings.yaml: {key}={declared.get(key)!r}, default {s.default!r}"
        )
    conn_ids = {c["conn_id"] for c in settings["connections"]}
    assert conn_ids == {"warehouse_db", "spark_default", "spark_connect_default", "smtp_default"}
