-- The latest analytics publish: the dashboards show its as_of and poll its publish_id to notice the next one.
SELECT publish_id, as_of, published_at
FROM analytics.publish_log
ORDER BY publish_id DESC
LIMIT 1
