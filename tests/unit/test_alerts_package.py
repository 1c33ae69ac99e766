"""The alerts package: parsing a DAG loads only the failure callback, and every name it re-exports exists."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from include.inventory import alerts

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 300


def test_dag_defaults_loads_only_the_failure_callback():
    """What a DAG file pulls in through dag_defaults, in a fresh interpreter: no rendering, outbox, SMTP or Faker."""
    probe = (
        "import json, sys; import include.inventory.dag_defaults; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('include.', 'faker', 'psycopg2')))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [
        "include.inventory",
        "include.inventory.alerts",
        "include.inventory.alerts.failure",
        "include.inventory.dag_defaults",
    ]


@pytest.mark.parametrize("name", alerts.__all__)
def test_every_re_exported_name_resolves(name):
    assert getattr(alerts, name) is not None


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        alerts.nope  # noqa: B018


def test_each_module_stays_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in (ROOT / "include/inventory/alerts").glob("*.py")}
    assert {name for name, n in sizes.items() if n > MAX_MODULE_LINES} == set(), sizes
