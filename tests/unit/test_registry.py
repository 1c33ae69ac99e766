"""The published-table registry (spark_jobs/registry.py) against everything declared from it or written about it:
the generated DDL file and docs block, the Spark output schemas, the publish list and docs/metrics.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from include.inventory import analytics
from include.inventory import schema as warehouse_schema
from spark_jobs import build_analytics, registry, schemas

METRICS_MD = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_generated_ddl_and_docs_are_the_registrys():
    """sql/ddl/045_published_tables.sql and the docs/tables.md block are exactly what `make ddl` writes."""
    assert registry.main([]) == 0, "run `make ddl`"


def test_every_published_table_is_declared_once_and_used_everywhere():
    names = list(registry.TABLES)
    assert list(analytics.EXPECTED_TABLES) == names
    assert set(build_analytics.SCOPES) == set(names)
    for name, table in registry.TABLES.items():
        fields = [(f.name, f.nullable) for f in schemas.OUTPUTS[name].fields]
        assert fields == [(c.name, c.nullable) for c in table.columns], name
        assert schemas.OUTPUT_KEYS[name] == list(table.keys)
        # the DDL the schema applies declares both layers' tables with the registry's columns (+ refreshed_at)
        for layer in ("staging", "analytics"):
            assert warehouse_schema.EXPECTED_TABLES[f"{layer}.{name}"] == (*table.column_names, "refreshed_at")
        assert (f"analytics.{name}" in warehouse_schema.KEYED_TABLES) == bool(table.keys)


def test_the_spark_types_are_the_registrys():
    from pyspark.sql.types import DecimalType, LongType, TimestampType

    assert schemas.spark_type("numeric(18,2)") == DecimalType(18, 2)
    assert schemas.spark_type(registry.BIGINT) == LongType()
    assert schemas.spark_type(registry.TIMESTAMP) == TimestampType()
    with pytest.raises(KeyError):
        schemas.spark_type("money")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"keys": ("nope",)}, "key nope is not a column"),
        ({"indexes": (("nope",),)}, "index column nope is not a column"),
        ({"scopes": {"window": "all"}}, "scopes"),
        ({"kind": "fact"}, "kind"),
        ({"columns": (registry.PRODUCT_ID, registry.PRODUCT_ID)}, "declared twice"),
    ],
)
def test_a_bad_entry_fails_naming_its_table(change, message):
    good = registry.TABLES["dim_products"]
    bad = registry.Table(**{**good.__dict__, "name": "dim_bad", **change})
    with pytest.raises(ValueError, match=rf"table dim_bad: .*{re.escape(message)}"):
        registry.validate((bad,))


def _metrics_sections() -> dict[str, str]:
    text = METRICS_MD.read_text()
    parts = re.split(r"^#{2,3} ", text, flags=re.M)
    sections = {}
    for part in parts:
        match = re.match(r"`(\w+)`", part)
        if match:
            sections[match[1]] = part
    return sections


def _documented_columns(section: str) -> set[str]:
    """The names in the first cell of the section's column tables ("a, b (may be null)" -> a, b)."""
    names = set()
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) > 2 and cells[1].strip() not in ("column", "---", ""):
            for name in cells[1].split(","):
                names.add(re.sub(r"\(.*?\)|`", "", name).strip())
    return names


@pytest.mark.parametrize("table", list(registry.TABLES))
def test_metrics_md_defines_exactly_the_registrys_columns(table):
    """Both ways: every declared column is defined in the table's section of docs/metrics.md (pair_key once, in
    its conventions), and every column the section's tables define is declared."""
    section = _metrics_sections()[table]
    declared = registry.TABLES[table].column_names
    inherited = re.search(r"every `(\w+)` column", section, re.I)
    own = set(declared) - (set(registry.TABLES[inherited[1]].column_names) if inherited else set())
    undefined = [c for c in own - {"pair_key"} if not re.search(rf"\b{c}\b", section)]
    assert not undefined, f"docs/metrics.md, {table}: no definition of {undefined}"
    assert _documented_columns(section) <= set(declared), f"docs/metrics.md, {table}: defines undeclared columns"
