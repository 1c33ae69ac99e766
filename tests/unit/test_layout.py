"""The product's imports show what production runs: nothing under include/ imports the developer tooling in tools/,
and the files that docstrings, comments and docs name exist."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A path a reader would look for: top-level folder, at least one more part, a file extension.
FOLDERS = ("bench", "dags", "docker", "docs", "include", "scripts", "spark_jobs", "sql", "tests", "tools")
PATH = re.compile(
    rf"(?<![\w./-])((?:{'|'.join(FOLDERS)})/(?:[\w.-]+/)*[\w-]+\.(?:py|sql|md|sh|yaml|yml|toml|txt|csv|html|js|css))\b"
)
GENERATED = {"bench/results/S.json"}  # written by `make bench`, not kept in git


def generated(named: str, by: str) -> bool:
    """A result the bench writes: named by the bench code that writes it, or listed in GENERATED."""
    return named in GENERATED or (named.startswith("bench/results/") and by.startswith("bench/"))


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_nothing_under_include_imports_the_developer_tooling():
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m == "tools" or m.startswith("tools."))
        for path in (ROOT / "include").rglob("*.py")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_the_check_sees_a_tools_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from tools.localpg import LocalCluster\n    import tools.demo\n")
    assert imported_modules(probe) == {"tools.localpg", "tools.demo"}


def test_named_files_exist():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    missing = []
    for name in tracked.split():
        if not name.endswith((".py", ".sql", ".md", ".sh", ".toml", ".yml", ".yaml")) and name not in ("Makefile",):
            continue
        path = ROOT / name
        if not path.is_file():
            continue
        for match in PATH.finditer(path.read_text(errors="replace")):
            named = match.group(1)
            if not generated(named, name) and not (ROOT / named).exists():
                missing.append(f"{name}: {named}")
    assert missing == []


def test_tasks_log_through_the_task_logger_not_print():
    """DAG files and the pipeline's modules log with `logging` (Airflow routes it into the task log); print is for
    the command-line tools (tools/, bench/, the portal's admin command)."""
    printing = []
    for path in [*(ROOT / "dags").glob("*.py"), *(ROOT / "include" / "inventory").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                printing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert printing == []
