-- Aging bucket units add up to each pair's on-hand quantity exactly (violations).
SELECT count(*)
FROM (SELECT product_id, warehouse_id, sum(units) AS units FROM staging.inventory_aging GROUP BY 1, 2) a
FULL JOIN staging.current_stock c USING (product_id, warehouse_id)
WHERE a.units IS DISTINCT FROM c.quantity;
