-- The analytics data tables are created by the publish step from what the Spark job wrote to staging (their
-- columns are described in docs/metrics.md). This log records every publish: dashboards show its as_of, and
-- the next run starts its incremental window from its watermark.
CREATE TABLE IF NOT EXISTS analytics.publish_log (
    publish_id      bigserial PRIMARY KEY,
    run_id          text NOT NULL,
    as_of           timestamptz NOT NULL,
    from_date       date,
    watermark       timestamptz,
    tables          jsonb NOT NULL,
    published_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE analytics.publish_log IS 'One row per analytics publish: the data is complete up to as_of.';
