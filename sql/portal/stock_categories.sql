-- The categories of the products in stock rows of the warehouses in `warehouse_ids` (the stock list's filter).
SELECT DISTINCT category
FROM analytics.current_stock
WHERE warehouse_id = ANY(%(warehouse_ids)s) AND category IS NOT NULL
ORDER BY category
