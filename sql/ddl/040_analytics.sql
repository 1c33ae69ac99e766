-- The publish machinery. The published tables themselves are declared in spark_jobs/registry.py (their DDL:
-- 045_published_tables.sql). This log records every publish: dashboards show its as_of, and the next run starts
-- its incremental window from its watermark.
-- Freshness: as_of is the newest source minute a publish covers (the end of the last simulated window), so
-- lag_seconds (publish time - as_of) is how far behind the minute the readers were once it committed.
CREATE TABLE IF NOT EXISTS analytics.publish_log (
    publish_id      bigserial PRIMARY KEY,
    run_id          text NOT NULL,
    as_of           timestamptz NOT NULL,
    from_date       date,
    watermark       timestamptz,
    tables          jsonb NOT NULL,
    published_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Columns added after the first release (a table created by it gets them here too).
ALTER TABLE analytics.publish_log
    ADD COLUMN IF NOT EXISTS mode text NOT NULL DEFAULT 'full' CHECK (mode IN ('full', 'window', 'pairs')),
    ADD COLUMN IF NOT EXISTS pairs integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS settings jsonb,
    ADD COLUMN IF NOT EXISTS lag_seconds numeric(12, 3)
        GENERATED ALWAYS AS (round(extract(epoch FROM published_at - as_of), 3)) STORED;
ALTER TABLE analytics.publish_log ALTER COLUMN published_at SET DEFAULT clock_timestamp();
COMMENT ON TABLE analytics.publish_log IS
    'One row per analytics publish: the data is complete up to as_of (the newest source minute); lag_seconds = published_at - as_of.';
COMMENT ON COLUMN analytics.publish_log.mode IS
    'full: every table rebuilt; window: fact days from from_date, the rest whole; pairs: only the pairs the new batches touched.';
COMMENT ON COLUMN analytics.publish_log.tables IS 'Rows deleted and inserted per table (only rows that changed are written).';

-- What the Spark job staged, one row per table (the last thing it writes): which part of each published table
-- the staged rows replace. The publish step refuses a manifest of another run (build_analytics.manifest_rows).
CREATE TABLE IF NOT EXISTS staging.publish_manifest (
    table_name      text NOT NULL,
    key_columns     text,
    scope           text NOT NULL,
    from_date       date,
    as_of           timestamptz,
    run_id          text NOT NULL,
    refreshed_at    timestamptz NOT NULL
);
