"""Pins hold together: one pyspark on both sides of py4j, requirements equal to the frozen constraints."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pyspark

ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s#]+)", line.strip())
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1).lower())] = match.group(2)
    return pins


def test_pyspark_python_package_and_jvm_report_the_same_version(spark):
    assert version("pyspark") == version("pyspark-client") == pyspark.__version__
    # Both of these ask the JVM (SparkSession.version and JavaSparkContext.version), not the Python package.
    assert spark.version == pyspark.__version__
    assert spark.sparkContext._jsc.version() == pyspark.__version__


def test_requirements_pins_match_constraints_and_installed():
    constraints = _pins(ROOT / "constraints.txt")
    for req in ("requirements.txt", "requirements-dev.txt"):
        for name, pinned in _pins(ROOT / req).items():
            assert constraints.get(name) == pinned, (
                f"{req}: {name}=={pinned} but constraints.txt has {constraints.get(name)}"
            )
            assert version(name) == pinned, f"{name}: installed {version(name)}, pinned {pinned}"
