#!/usr/bin/env bash
# `make portal`: the manager portal alone (include/portal). Its emails (address confirmations, password resets)
# need an SMTP server: with no configured one (USE_MAIL_SINK, scripts/env.sh), the local sink runs beside it on
# MAIL_SINK_PORT (or a free port it says, smtp_default moved there) and writes them to .local/mail/*.eml, where you
# open the link. Ctrl-C stops both.
set -euo pipefail
sink=""
trap 'if [ -n "$sink" ]; then kill "$sink" 2>/dev/null || true; fi' EXIT
if [ -n "${USE_MAIL_SINK:-}" ]; then
    mkdir -p "$PROJECT_ROOT/.local/portal"
    conn_file="$PROJECT_ROOT/.local/portal/smtp_default.json"
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
    echo "The portal's emails land in $PROJECT_ROOT/.local/mail/*.eml (local SMTP sink, smtp_default $AIRFLOW_CONN_SMTP_DEFAULT)"
fi
python -m include.portal serve "$@"
