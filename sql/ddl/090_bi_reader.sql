-- bi_reader: the read-only role Power BI (or any BI tool) uses. It may read every table in `analytics` and
-- nothing else. docs/powerbi.md says how a deployment lets it log in.
--
-- Roles are cluster-wide, not per database, and this file runs every time the schema is created: by the refresh
-- DAG, and by every test session, several of which may share one server at the same time. So it never changes a
-- role that already exists (an operator may have given it LOGIN and a password), and a concurrent creation of
-- the same role is not an error. The grants are per database and idempotent.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bi_reader') THEN
        -- NOLOGIN: nobody can connect as bi_reader until a deployment runs
        -- ALTER ROLE bi_reader LOGIN PASSWORD '...' itself.
        CREATE ROLE bi_reader NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
EXCEPTION
    -- Another session created it between our check and our CREATE: it exists, which is all we need.
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;

-- analytics: read every table, now and later. The default privilege covers tables created by the role running
-- this file (the pipeline's own user, which publishes); the publish step also re-grants SELECT on each table it
-- builds, so a table created by another role is covered too.
GRANT USAGE ON SCHEMA analytics TO bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO bi_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO bi_reader;

-- Every other layer: nothing, explicitly, even if a grant was made by hand (or to PUBLIC, which bi_reader is a
-- member of); `portal` holds password hashes. Schemas that do not exist (yet) in this database are skipped.
DO $$
DECLARE
    s text;
BEGIN
    FOR s IN
        SELECT nspname FROM pg_namespace WHERE nspname IN ('raw', 'staging', 'sim', 'alerts', 'portal') ORDER BY nspname
    LOOP
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM bi_reader, PUBLIC', s);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM bi_reader, PUBLIC', s);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM bi_reader, PUBLIC', s);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM bi_reader', s);
    END LOOP;
END
$$;
