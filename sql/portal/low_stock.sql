-- The low-stock list with reorder suggestions (low_stock_data: the units on open purchase orders, and the order
-- net of them) for the warehouses in `warehouse_ids`: stock-outs first, then the fewest days of cover (no demand
-- last), at most `limit` rows; `total` counts them all.
SELECT product_id, sku, product_name, category, warehouse_id, warehouse_name, quantity, avg_daily_demand,
       lead_time, reorder_point, on_order_qty, suggested_order_qty, days_of_cover, is_stock_out,
       count(*) OVER () AS total
FROM analytics.low_stock_data
WHERE warehouse_id = ANY(%(warehouse_ids)s)
ORDER BY is_stock_out DESC, days_of_cover ASC NULLS LAST, quantity, product_name, warehouse_name, product_id
LIMIT %(limit)s
