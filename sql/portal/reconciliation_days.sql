-- Reconciliation per day over the warehouses in `warehouse_ids`, the `days` days ending with the latest
-- day published: pairs reconciled, pairs with a discrepancy, and the discrepancy in units and value
-- (fact_inventory_reconciliation; negative = stock lost without a sale).
WITH last AS (
    SELECT max(date_key) AS day FROM analytics.fact_inventory_reconciliation WHERE warehouse_id = ANY(%(warehouse_ids)s)
)
SELECT r.date_key,
       count(*) AS pairs,
       count(*) FILTER (WHERE r.discrepancy_amount <> 0) AS pairs_with_discrepancy,
       coalesce(sum(r.discrepancy_amount), 0)::bigint AS discrepancy_amount,
       coalesce(sum(r.discrepancy_value), 0)::numeric(18, 2) AS discrepancy_value
FROM analytics.fact_inventory_reconciliation r, last
WHERE r.warehouse_id = ANY(%(warehouse_ids)s) AND r.date_key > last.day - %(days)s::integer
GROUP BY r.date_key
ORDER BY r.date_key
