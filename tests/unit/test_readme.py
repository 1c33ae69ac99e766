"""The README's runnable shell blocks work as written, checked without running them (no `make demo` here).

A block is runnable when the line before its ```bash fence is `<!-- runnable -->`. Every command in such a block
must be one this file knows how to check, and pass the check: Make targets exist in the Makefile, `python -m`
modules import and accept the options and sub-commands given (their `--help`), DAG ids exist in dags/, sourced
files exist, and `VAR=value` prefixes name variables the project reads. Commands other than `make` need
`scripts/env.sh` sourced first in the same block (the README's readers run them in a new shell).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARKER = "<!-- runnable -->"
BLOCK = re.compile(rf"^{re.escape(MARKER)}\n```bash\n(.*?)^```", re.M | re.S)
SEPARATORS = {"&&", "||", ";", "|"}
# Where the variables a reader may set before a command are read: the configuration script, the Makefile,
# the scripts it runs and the tooling they start.
VARIABLE_SOURCES = ("scripts/*.sh", "Makefile", "tools/*.py", "include/**/*.py")


def runnable_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, body) of every ```bash block marked runnable."""
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


def commands(block: str) -> list[list[str]]:
    """The block's simple commands, as argv lists (comments dropped, `&&`, `;`, `|` split)."""
    lexer = shlex.shlex(block.replace("\\\n", " "), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    found, current = [], []
    for token in lexer:
        if token in SEPARATORS:
            found, current = found + ([current] if current else []), []
        else:
            current.append(token)
    return found + ([current] if current else [])


def lines_of(block: str) -> list[list[str]]:
    """commands(), line by line, so that `source` on one line covers the lines after it."""
    return [c for line in block.replace("\\\n", " ").splitlines() for c in commands(line)]


@cache
def make_targets() -> frozenset[str]:
    rule = re.compile(r"^([A-Za-z0-9_.][\w./ -]*?)\s*:(?!=)", re.M)
    return frozenset(t for m in rule.finditer((ROOT / "Makefile").read_text()) for t in m.group(1).split())


@cache
def dag_ids() -> frozenset[str]:
    return frozenset(
        m.group(1)
        for path in (ROOT / "dags").glob("*.py")
        for m in re.finditer(r'dag_id="([\w.-]+)"', path.read_text())
    )


@cache
def variables_read() -> str:
    return "\n".join(p.read_text() for pattern in VARIABLE_SOURCES for p in sorted(ROOT.glob(pattern)))


@cache
def module_help(module: str) -> tuple[int, str]:
    """Exit status and output of `python -m MODULE --help` (imports the module, builds its argument parser)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    return proc.returncode, proc.stdout + proc.stderr


def check_python_module(args: list[str]) -> list[str]:
    """`python -m MODULE ARGS`: the module runs, and every option and sub-command of ARGS is in its --help."""
    if len(args) < 2 or args[0] != "-m":
        return [f"`python {' '.join(args)}`: only `python -m MODULE` commands are checked"]
    module, rest = args[1], args[2:]
    status, text = module_help(module)
    if status != 0:
        return [f"`python -m {module} --help` failed (exit {status}): {text.strip()[-500:]}"]
    takes_value = set(re.findall(r"(--[\w-]+) [A-Z][A-Z_]*", text))
    problems, skip = [], False
    for arg in rest:
        if skip:
            skip = False
        elif arg.startswith("-"):
            name = arg.split("=", 1)[0]
            if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
                problems.append(f"`python -m {module}` has no option {name}")
            skip = name in takes_value and "=" not in arg
        elif not re.search(rf"(?<![\w-]){re.escape(arg)}(?![\w-])", text):
            problems.append(f"`python -m {module}` does not list {arg!r} in its --help")
    return problems


def check_command(argv: list[str], env_sourced: bool) -> list[str]:
    """Problems with one command of a runnable block (empty when it is fine)."""
    problems = []
    while argv and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", argv[0]):
        name = argv.pop(0).split("=", 1)[0]
        if not re.search(rf"\b{name}\b", variables_read()):
            problems.append(f"{name}: no script, Makefile or tool reads this variable")
    if argv[:1] == ["time"]:
        argv = argv[1:]
    if not argv:
        return problems
    program, args = argv[0], argv[1:]
    if program == "make":
        for arg in args:
            if "=" in arg:
                name = arg.split("=", 1)[0]
                if not re.search(rf"\b{name}\b", (ROOT / "Makefile").read_text()):
                    problems.append(f"make {arg}: the Makefile does not use {name}")
            elif not arg.startswith("-") and arg not in make_targets():
                problems.append(f"make {arg}: no such target in the Makefile")
        return problems
    if program in ("source", "."):
        if not args or not (ROOT / args[0]).is_file():
            problems.append(f"{program} {' '.join(args)}: no such file")
        return problems
    if not env_sourced:
        problems.append(f"`{' '.join(argv)}` runs before `source scripts/env.sh` in its block")
    if program in ("python", "python3"):
        return problems + check_python_module(args)
    if program == "airflow":
        if args[:2] in (["dags", "unpause"], ["dags", "pause"], ["dags", "trigger"]) and len(args) >= 3:
            if args[2] not in dag_ids():
                problems.append(f"airflow {' '.join(args)}: no DAG {args[2]!r} in dags/")
            return problems
        return problems + [f"airflow {' '.join(args)}: no check for this airflow command in tests/unit/test_readme.py"]
    if "/" in program:
        if not os.access(ROOT / program, os.X_OK):
            problems.append(f"{program}: no such executable file")
        return problems
    return problems + [
        f"`{program}`: no check for this command in tests/unit/test_readme.py (add one, or unmark the block)"
    ]


def check_block(block: str) -> list[str]:
    problems, env_sourced = [], False
    for argv in lines_of(block):
        problems += check_command(list(argv), env_sourced)
        if argv[:2] in (["source", "scripts/env.sh"], [".", "scripts/env.sh"]):
            env_sourced = True
    return problems


def check_readme(text: str) -> list[str]:
    return [f"README.md line {line}: {p}" for line, block in runnable_blocks(text) for p in check_block(block)]


# -------------------------------------------------------------------------------------------------- the README


def test_the_readme_marks_its_commands_runnable():
    text = README.read_text()
    blocks = runnable_blocks(text)
    # the two commands, Run it live's steps, and the shell commands that watch the minute
    assert len(blocks) >= 5, f"only {len(blocks)} runnable blocks in the README"
    run = [argv for _, block in blocks for argv in lines_of(block)]
    for expected in (["make", "demo"], ["make", "test"], ["make", "airflow"], ["source", "scripts/env.sh"]):
        assert expected in run, f"no runnable block runs {' '.join(expected)}"
    assert any(argv[:3] == ["python", "-m", "tools.cycles"] for argv in run)
    # every fence right after a marker is a bash block: a marker on another kind of block is a mistake
    for match in re.finditer(rf"^{re.escape(MARKER)}\n(.*)$", text, re.M):
        assert match.group(1) == "```bash", f"{MARKER} must come right before a ```bash fence, not {match.group(1)!r}"


def test_every_runnable_command_in_the_readme_exists():
    assert check_readme(README.read_text()) == []


# ----------------------------------------------------------------------------------------- the check itself


def readme(*lines: str) -> str:
    return "Intro\n\n" + MARKER + "\n```bash\n" + "\n".join(lines) + "\n```\n\nMore text.\n"


def test_blocks_and_commands_are_parsed_as_a_shell_would():
    text = readme(
        "source scripts/env.sh  # set up", "make demo && make test", "python -m tools.cycles \\", "  --last 3"
    )
    text += "```bash\nmake not-marked\n```\n"
    ((line, block),) = runnable_blocks(text)
    assert line == 4
    assert lines_of(block) == [
        ["source", "scripts/env.sh"],
        ["make", "demo"],
        ["make", "test"],
        ["python", "-m", "tools.cycles", "--last", "3"],
    ]


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (["make demo", "make deploy-to-prod"], "make deploy-to-prod: no such target"),
        (["NOT_A_PROJECT_VARIABLE=1 make demo"], "NOT_A_PROJECT_VARIABLE: no script"),
        (["make NOT_IN_MAKEFILE=1 bench"], "the Makefile does not use NOT_IN_MAKEFILE"),
        (["source scripts/missing-env"], "source scripts/missing-env: no such file"),
        (["python -m tools.cycles"], "runs before `source scripts/env.sh`"),
        (["source scripts/env.sh", "python -m tools.no_such_tool"], "`python -m tools.no_such_tool --help` failed"),
        (["source scripts/env.sh", "python -m tools.cycles --since 5"], "has no option --since"),
        (["source scripts/env.sh", "python -m tools.spark_connect restart"], "does not list 'restart'"),
        (["source scripts/env.sh", "airflow dags unpause no_such_dag"], "no DAG 'no_such_dag'"),
        (["source scripts/env.sh", "airflow db reset"], "no check for this airflow command"),
        (["docker compose up -d"], "`docker`: no check for this command"),
        (["scripts/no-such-script"], "scripts/no-such-script: no such executable file"),
    ],
)
def test_the_check_finds_a_command_that_would_not_work(lines, problem):
    problems = check_readme(readme(*lines))
    assert any(problem in p for p in problems), problems


def test_the_check_passes_commands_that_work():
    text = readme(
        "make demo",
        "AIRFLOW__API__PORT=8081 time make airflow",
        "source scripts/env.sh",
        "python -m tools.cycles --last 10",
        "python -m tools.spark_connect status",
        "airflow dags unpause build_inventory_analytics",
        "scripts/airflow.sh",
    )
    assert check_readme(text) == []
