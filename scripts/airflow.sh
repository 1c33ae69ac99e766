#!/usr/bin/env bash
# `make airflow`: Airflow 3 (api-server, scheduler, dag-processor, triggerer via `airflow standalone`) with this
# project's DAGs and connections, sized for a 2-core machine. UI on http://localhost:${AIRFLOW__API__PORT}; the
# manager portal (include/portal) runs beside it on http://localhost:${PORTAL_PORT}, the Spark Connect server the
# minute's analytics run on (tools/spark_connect.py) on SPARK_CONNECT_PORT, and the local mail sink on
# MAIL_SINK_PORT (or a free port it says, with smtp_default moved there). A taken port of Airflow, the portal or
# Spark Connect stops it at once, naming the variable to set.
set -euo pipefail

require_free_port() {  # PORT VARIABLE WHAT
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        echo "Port $1 is taken by another program, so $3 cannot listen there: set $2 to a free port," \
            "e.g. \`$2=$(($1 + 1)) make airflow\`." >&2
        exit 1
    fi
}
require_free_port "$AIRFLOW__API__PORT" AIRFLOW__API__PORT "Airflow's API server"
require_free_port "$PORTAL_PORT" PORTAL_PORT "the manager portal"
# The log servers the scheduler and the triggerer start (Airflow's own settings; a second `make airflow` on the
# machine needs other ones).
require_free_port "${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-8793}" AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT \
    "the scheduler's task log server"
require_free_port "${AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT:-8794}" AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT \
    "the triggerer's log server"
# Spark Connect: free, or a server this project started (it is reused); another program there stops it here,
# before spark_connect_default could point the minute's analytics at that program.
python -m tools.spark_connect check || exit 1

# SimpleAuthManager: one admin user; standalone generates its password once and keeps it in this file.
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/passwords.json}"
# Two cores: a handful of local workers, not the default 32 idle ones.
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL="${AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL:-30}"
export AIRFLOW__API__WORKERS="${AIRFLOW__API__WORKERS:-1}"
mkdir -p "$AIRFLOW_HOME"

echo "==> Migrating Airflow's metadata database"
airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -20 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }

# The minute cycle on two cores (docs/performance.md): the DAG files are parsed every 2 minutes, not every 30 s
# (a new file still shows within dag_dir_list_interval), and task processes are forked from a server that has
# the Spark Connect client's libraries (pandas, pyarrow, grpc) imported already, instead of importing them for
# every task. Our own code is never preloaded: an edit reaches the next task run.
export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="${AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL:-120}"
export AIRFLOW__CORE__MP_START_METHOD="${AIRFLOW__CORE__MP_START_METHOD:-forkserver}"
export AIRFLOW__CORE__MP_FORKSERVER_PRELOAD="${AIRFLOW__CORE__MP_FORKSERVER_PRELOAD:-airflow,airflow.executors.local_executor,airflow.sdk,psycopg2,pyspark.sql.connect.session}"

pid=""
sink=""
portal=""
connect=""
stopped=""
stop() {
    # Every step may fail (a process already gone): none may cut the others short under `set -e`.
    [ -n "$stopped" ] && return 0
    stopped=1
    if [ -n "$pid" ]; then
        kill -TERM -- -"$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [ -n "$sink" ]; then kill "$sink" 2>/dev/null || true; fi
    if [ -n "$portal" ]; then kill "$portal" 2>/dev/null || true; fi
    if [ -n "$connect" ]; then python -m tools.spark_connect stop >/dev/null 2>&1 || true; fi
    echo "Airflow stopped."
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

mail="smtp_default ($AIRFLOW_CONN_SMTP_DEFAULT)"
if [ -n "${USE_MAIL_SINK:-}" ]; then
    # The sink writes the smtp_default that points at it once it listens (on MAIL_SINK_PORT, or a free port).
    conn_file="$AIRFLOW_HOME/smtp_default.json"
    rm -f "$conn_file"
    python -m tools.mailsink --smtp-default-file "$conn_file" --dir "$PROJECT_ROOT/.local/mail" &
    sink=$!
    for _ in $(seq 1 100); do
        [ -s "$conn_file" ] && break
        kill -0 "$sink" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$conn_file" ] || { echo "The local mail sink did not start (MAIL_SINK_PORT=$MAIL_SINK_PORT)." >&2; exit 1; }
    export AIRFLOW_CONN_SMTP_DEFAULT="$(cat "$conn_file")"
    mail="$PROJECT_ROOT/.local/mail/*.eml (local SMTP sink, smtp_default $AIRFLOW_CONN_SMTP_DEFAULT)"
fi

echo "==> Starting the Spark Connect server on 127.0.0.1:$SPARK_CONNECT_PORT (log: .local/spark-connect/server.log)"
# In the background, beside Airflow's own start: both take a while on two cores.
python -m tools.spark_connect start >"$AIRFLOW_HOME/spark-connect-start.log" 2>&1 &
connect=$!

echo "==> Starting Airflow (Ctrl-C stops it); logs in $AIRFLOW_HOME/standalone.log"
# Its own process group, so stopping this script stops every Airflow process it started.
setsid airflow standalone >"$AIRFLOW_HOME/standalone.log" 2>&1 &
pid=$!
# The manager portal (include/portal, `make portal` alone): its own process on its own port, next to Airflow.
python -m include.portal serve >"$AIRFLOW_HOME/portal.log" 2>&1 &
portal=$!
url="http://localhost:${AIRFLOW__API__PORT}"
up=""
for _ in $(seq 1 300); do
    if curl -fsS "$url/api/v2/monitor/health" >/dev/null 2>&1; then up=1; break; fi
    kill -0 $pid 2>/dev/null || { echo "Airflow exited; last lines of the log:"; tail -30 "$AIRFLOW_HOME/standalone.log"; exit 1; }
    sleep 1
done
admin_secret="$(python -c 'import json,sys; print(json.load(open(sys.argv[1])).get("admin",""))' "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" 2>/dev/null || true)"
echo
if [ -n "$up" ]; then
    echo "Airflow is up: $url"
else  # a busy machine: it keeps starting, this script keeps running
    echo "Airflow is not answering on $url after 5 minutes, still starting; log: $AIRFLOW_HOME/standalone.log"
fi
echo "  user: admin   password: ${admin_secret:-see $AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}"
echo "  DAGs from $AIRFLOW__CORE__DAGS_FOLDER; warehouse connection warehouse_db from AIRFLOW_CONN_WAREHOUSE_DB"
echo "  Alert emails: $mail"
if wait "$connect"; then
    echo "  Spark Connect (incremental analytics): sc://127.0.0.1:$SPARK_CONNECT_PORT"
else
    echo "  Spark Connect did NOT start (analytics runs fall back to spark-submit, slower):"
    sed 's/^/    /' "$AIRFLOW_HOME/spark-connect-start.log"
    connect=""
fi
portal_url="http://localhost:${PORTAL_PORT}"
if curl -fsS "$portal_url/healthz" >/dev/null 2>&1; then
    echo "Manager portal is up: $portal_url (log: $AIRFLOW_HOME/portal.log)"
else
    echo "Manager portal is not answering on $portal_url; last lines of $AIRFLOW_HOME/portal.log:"
    tail -5 "$AIRFLOW_HOME/portal.log" 2>/dev/null || true
fi
wait $pid
