-- One row per warehouse in `warehouse_ids` that has stock rows: units, stock value and products on hand
-- (current_stock), and its low-stock counts (low_stock_by_warehouse; 0 when it has none).
SELECT c.warehouse_id,
       min(c.warehouse_name) AS warehouse_name,
       sum(c.quantity) AS units,
       sum(c.stock_value)::numeric(18, 2) AS stock_value,
       count(*) FILTER (WHERE c.quantity > 0) AS products_on_hand,
       coalesce(min(l.low_stock_products), 0) AS low_stock_products,
       coalesce(min(l.stock_out_products), 0) AS stock_out_products,
       coalesce(min(l.suggested_order_units), 0) AS suggested_order_units
FROM analytics.current_stock c
LEFT JOIN analytics.low_stock_by_warehouse l USING (warehouse_id)
WHERE c.warehouse_id = ANY(%(warehouse_ids)s)
GROUP BY c.warehouse_id
ORDER BY warehouse_name
