-- Closing stock per day over the warehouses in `warehouse_ids`, the `days` days ending with the latest day
-- published (fact_inventory_reconciliation: one row per pair and day from the pair's first count; the closing
-- count of as_of's own day is the latest one at or before as_of). Units, value and pairs out of stock (closing
-- count 0, the rule of low_stock_data.is_stock_out). The value is at each product's cost price as published now
-- (dim_products): cost history is not published, so a changed cost price revalues the past days too.
WITH last AS (
    SELECT max(date_key) AS day
    FROM analytics.fact_inventory_reconciliation
    WHERE warehouse_id = ANY(%(warehouse_ids)s)
)
SELECT r.date_key,
       count(*) AS pairs,
       coalesce(sum(r.actual_closing_stock), 0)::bigint AS units,
       coalesce(sum(r.actual_closing_stock * p.cost_price), 0)::numeric(18, 2) AS stock_value,
       count(*) FILTER (WHERE r.actual_closing_stock = 0) AS stock_outs
FROM analytics.fact_inventory_reconciliation r
JOIN analytics.dim_products p USING (product_id)
CROSS JOIN last
WHERE r.warehouse_id = ANY(%(warehouse_ids)s) AND r.date_key > last.day - %(days)s::integer
GROUP BY r.date_key
ORDER BY r.date_key
