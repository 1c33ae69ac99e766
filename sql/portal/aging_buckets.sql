-- On-hand units and their value per age bucket (inventory_aging) over the warehouses in `warehouse_ids`; the four
-- buckets add up to the on-hand quantity.
SELECT bucket_order, bucket, coalesce(sum(units), 0) AS units, coalesce(sum(value), 0)::numeric(18, 2) AS value
FROM analytics.inventory_aging
WHERE warehouse_id = ANY(%(warehouse_ids)s)
GROUP BY bucket_order, bucket
ORDER BY bucket_order
