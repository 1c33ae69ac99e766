-- Units and revenue of each warehouse in `warehouse_ids` over the sales period (sales_by_warehouse).
SELECT warehouse_id, warehouse_name, units, revenue
FROM analytics.sales_by_warehouse
WHERE warehouse_id = ANY(%(warehouse_ids)s)
ORDER BY warehouse_name
