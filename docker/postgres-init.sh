#!/usr/bin/env bash
# First start of the PostgreSQL container only (docker-entrypoint-initdb.d): one server, two databases, each
# with its own owner, and the BI role. Passwords come from the environment (docker-compose.yml, from .env) and
# reach SQL as psql variables (:'name'), never spliced into the text.
#
#   airflow    database `airflow`, Airflow's metadata; only this role may connect to it
#   inventory  database `inventory`, the warehouse; the pipeline's connection (warehouse_db) logs in as it
#   bi_reader  may connect to `inventory`, not to `airflow`; what it may read is granted by 090_bi_reader.sql when
#              the pipeline creates the schema. NOLOGIN unless BI_READER_PASSWORD is set (docs/powerbi.md).
#              `inventory` is a member, so the manager portal can read its dashboards as bi_reader.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
    -v airflow_pw="$AIRFLOW_DB_PASSWORD" \
    -v warehouse_pw="$WAREHOUSE_DB_PASSWORD" \
    -v bi_pw="${BI_READER_PASSWORD:-}" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE ROLE inventory LOGIN PASSWORD :'warehouse_pw';
CREATE ROLE bi_reader NOLOGIN;

CREATE DATABASE airflow OWNER airflow;
CREATE DATABASE inventory OWNER inventory;
REVOKE CONNECT, TEMPORARY ON DATABASE airflow FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE inventory FROM PUBLIC;
GRANT CONNECT ON DATABASE inventory TO bi_reader;
-- The manager portal logs in as inventory and reads its dashboards as bi_reader (SET LOCAL ROLE): a member.
GRANT bi_reader TO inventory;

SELECT :'bi_pw' <> '' AS bi_login \gset
\if :bi_login
ALTER ROLE bi_reader LOGIN PASSWORD :'bi_pw';
\endif
SQL
