-- The latest analytics publish: the dashboards show its as_of and poll its publish_id to notice the next one; its
-- settings (the run's thresholds, windows and period, null before they were recorded) label the figures.
SELECT publish_id, as_of, published_at, settings
FROM analytics.publish_log
ORDER BY publish_id DESC
LIMIT 1
