-- The reconciliation rows with a discrepancy (fact_inventory_reconciliation) in the warehouses in `warehouse_ids`,
-- over the `days` days ending with the latest day published: newest day first, largest value lost first, at most
-- `limit` rows; `total` counts them all.
WITH last AS (
    SELECT max(date_key) AS day FROM analytics.fact_inventory_reconciliation WHERE warehouse_id = ANY(%(warehouse_ids)s)
)
SELECT r.date_key, r.product_id, r.sku, r.product_name, r.warehouse_id, r.opening_stock, r.quantity_sold,
       r.quantity_received, r.expected_closing_stock, r.actual_closing_stock, r.discrepancy_amount,
       r.discrepancy_value,
       count(*) OVER () AS total
FROM analytics.fact_inventory_reconciliation r, last
WHERE r.warehouse_id = ANY(%(warehouse_ids)s) AND r.date_key > last.day - %(days)s::integer
  AND r.discrepancy_amount <> 0
ORDER BY r.date_key DESC, abs(r.discrepancy_value) DESC, r.product_name, r.warehouse_id
LIMIT %(limit)s
