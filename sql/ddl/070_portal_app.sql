-- portal_app: the manager portal's own database role (include/portal). Least privilege:
--
--   reads    raw.warehouse_locations and raw.warehouse (master data: which warehouses a manager sees), and the
--            analytics tables as bi_reader (SET LOCAL ROLE; it is a member), like Power BI
--   writes   its own schema, portal (accounts, sessions, registrations, the alert recipients), and nothing else
--            but its own rows of the email outbox: kind 'account' in alerts.alert_log (row-level security below),
--            which it inserts and marks sent; it cannot see or change the low-stock or failure emails
--
-- It cannot write raw, staging, analytics or sim (tests/portal/test_portal_roles.py connects as it and tries).
-- Like 090_bi_reader.sql this file never changes a role that exists: who may log in as portal_app, and with which
-- password, is the deployment's business (docker/postgres-init.sh from PORTAL_DB_PASSWORD; the local cluster,
-- tools/localpg.py, with trust authentication). Grants are per database and idempotent.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'portal_app') THEN
        CREATE ROLE portal_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;

-- Membership in bi_reader needs that role's admin (a superuser, or whoever created both roles); a plain database
-- owner cannot grant it, so it is granted where the roles are made and only checked here.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bi_reader')
       AND NOT pg_has_role('portal_app', 'bi_reader', 'MEMBER') THEN
        GRANT bi_reader TO portal_app;
    END IF;
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE WARNING 'portal_app is not a member of bi_reader and this role cannot make it one: run GRANT bi_reader TO portal_app as a superuser, or the portal cannot read its dashboards';
END
$$;

GRANT USAGE ON SCHEMA portal TO portal_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA portal TO portal_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA portal TO portal_app;

GRANT USAGE ON SCHEMA raw TO portal_app;
GRANT SELECT ON raw.warehouse_locations, raw.warehouse TO portal_app;

GRANT USAGE ON SCHEMA alerts TO portal_app;
GRANT SELECT, INSERT ON alerts.alert_log TO portal_app;
GRANT UPDATE (status, attempts, last_error, message_id, sent_at) ON alerts.alert_log TO portal_app;
-- Row-level security: the table's owner (the alerting code) is not affected; portal_app sees and writes only the
-- portal's own emails. No other role has any grant on this table.
ALTER TABLE alerts.alert_log ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS portal_account_emails ON alerts.alert_log;
CREATE POLICY portal_account_emails ON alerts.alert_log TO portal_app
    USING (kind = 'account') WITH CHECK (kind = 'account');
