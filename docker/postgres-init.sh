#!/usr/bin/env bash
# The warehouse's databases and roles on a PostgreSQL server, from the environment; safe to run again (what
# exists is kept, passwords and grants are set anew). Run by
#   - docker-compose.yml's PostgreSQL when its volume is first created (docker-entrypoint-initdb.d, local socket);
#   - docker-compose.override.yml's inventory-db-init at every `astro dev start`, against astro's PostgreSQL
#     (PGHOST, PGPASSWORD).
# Passwords reach SQL as psql variables, quoted by psql (:'name') or format(%L), never spliced into the text.
#
#   inventory  database $WAREHOUSE_DB (default inventory), owned by the role $WAREHOUSE_DB_USER (default
#              inventory) that the pipeline's connection (warehouse_db) logs in as, password $WAREHOUSE_DB_PASSWORD
#   bi_reader  may connect to the warehouse; what it may read is granted by 090_bi_reader.sql when the pipeline
#              creates the schema. NOLOGIN unless BI_READER_PASSWORD is set (docs/powerbi.md).
#   portal_app the manager portal's own role: may connect to the warehouse, is a member of bi_reader (its
#              dashboards); sql/ddl/070_portal_app.sql grants it its own schema and nothing more. Logs in with
#              PORTAL_DB_PASSWORD (docker-compose.yml requires it); NOLOGIN without it.
#   airflow    database and role $AIRFLOW_DB (default airflow), Airflow's metadata, only when AIRFLOW_DB_PASSWORD is
#              set (Compose; astro keeps its metadata in the database `postgres`); only this role may connect to it
set -euo pipefail

psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v warehouse_db="${WAREHOUSE_DB:-inventory}" \
    -v warehouse_user="${WAREHOUSE_DB_USER:-inventory}" \
    -v warehouse_pw="${WAREHOUSE_DB_PASSWORD:?set WAREHOUSE_DB_PASSWORD}" \
    -v airflow_db="${AIRFLOW_DB:-airflow}" \
    -v airflow_pw="${AIRFLOW_DB_PASSWORD:-}" \
    -v bi_pw="${BI_READER_PASSWORD:-}" \
    -v portal_pw="${PORTAL_DB_PASSWORD:-}" <<'SQL'
SET client_min_messages TO warning;  -- a second run's "already a member" notices
SELECT format('CREATE ROLE %I', :'warehouse_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'warehouse_user') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'warehouse_user', :'warehouse_pw') \gexec
SELECT 'CREATE ROLE bi_reader NOLOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bi_reader') \gexec

SELECT format('CREATE DATABASE %I OWNER %I', :'warehouse_db', :'warehouse_user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'warehouse_db') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'warehouse_db', :'warehouse_user') \gexec
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', :'warehouse_db') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO bi_reader', :'warehouse_db') \gexec
SELECT 'CREATE ROLE portal_app NOLOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'portal_app') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO portal_app', :'warehouse_db') \gexec
-- The manager portal logs in as portal_app and reads its dashboards as bi_reader (SET LOCAL ROLE): a member.
GRANT bi_reader TO portal_app;
SELECT :'portal_pw' <> '' AS portal_login \gset
\if :portal_login
SELECT format('ALTER ROLE portal_app LOGIN PASSWORD %L', :'portal_pw') \gexec
\endif

SELECT :'bi_pw' <> '' AS bi_login \gset
\if :bi_login
ALTER ROLE bi_reader LOGIN PASSWORD :'bi_pw';
\endif

SELECT :'airflow_pw' <> '' AS with_airflow \gset
\if :with_airflow
SELECT format('CREATE ROLE %I', :'airflow_db') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'airflow_db') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'airflow_db', :'airflow_pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'airflow_db', :'airflow_db')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'airflow_db') \gexec
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', :'airflow_db') \gexec
\endif
SQL
echo "postgres-init: database ${WAREHOUSE_DB:-inventory} (owner ${WAREHOUSE_DB_USER:-inventory}), bi_reader and portal_app ready${AIRFLOW_DB_PASSWORD:+; database ${AIRFLOW_DB:-airflow} ready}"
